"""Everything a command needs, built once per process and passed in (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from workflow.clock import Clock, SystemClock
from workflow.config import Settings
from workflow.engine.definition import ProcessDefinition, load_definition
from workflow.engine.runtime import ProcessEngine
from workflow.engine.sla import SlaCalendar
from workflow.passwords import Passwords
from workflow.signing import AuditKeys
from workflow.store.attachments import AttachmentStore
from workflow.store.db import make_engine, make_session_factory
from workflow.store.reference import ReferenceCache, city_zone
from workflow.store.specs import ProcessVersions
from workflow.store.tracking import TrackingCodes
from workflow.store.uow import UnitOfWork


class CityZone:
    """The city's time zone, read from the reference data when first needed: the services are
    built before a fresh database is seeded."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions
        self._zone: ZoneInfo | None = None

    def __call__(self) -> ZoneInfo:
        if self._zone is None:
            with self._sessions() as session:
                self._zone = city_zone(session)
        return self._zone


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    versions: ProcessVersions
    storage: AttachmentStore
    tracking: TrackingCodes
    city_zone: Callable[[], ZoneInfo]
    audit_keys: AuditKeys
    passwords: Passwords = field(default_factory=Passwords)
    references: ReferenceCache = field(default_factory=ReferenceCache)  # agencies, categories, ... by fingerprint

    @property
    def definition(self) -> ProcessDefinition:
        """The process version new cases start on, as last read from the database (each unit of
        work and each web request reads it again: ``versions.refresh``)."""
        return self.versions.current

    @property
    def process(self) -> ProcessEngine:
        """The engine of the current version."""
        return self.versions.engine()

    @property
    def zone(self) -> ZoneInfo:
        """The city's time zone: local days, the times shown and the times typed in forms."""
        return self.city_zone()

    def uow(self, *, record_incidents: bool = True) -> UnitOfWork:
        return UnitOfWork(self, record_incidents=record_incidents)

    @contextmanager
    def reading(self):
        """A session for queries; it never commits. Objects stay readable after the block
        (closing ends the transaction without expiring what was loaded)."""
        session = self.sessions()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def build_services(settings: Settings, *, clock: Clock | None = None,
                   calendar: Callable[[sessionmaker[Session], Callable[[], ZoneInfo]], SlaCalendar] | None = None,
                   engine: Engine | None = None,
                   definition: ProcessDefinition | None = None,
                   passwords: Passwords | None = None) -> Services:
    """``calendar`` builds the SLA calendar given the sessions and the city's zone (without one,
    deadlines count elapsed time)."""
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    definition = definition or load_definition(settings.bpmn_dir)
    audit_keys = AuditKeys.from_pem(settings.audit_key, settings.audit_public_keys)
    sessions = make_session_factory(engine, audit_keys)
    zone = CityZone(sessions)
    sla_calendar = calendar(sessions, zone) if calendar else None
    return Services(
        settings=settings, engine=engine, sessions=sessions, clock=clock,
        versions=ProcessVersions(definition, lambda d: ProcessEngine(d, clock, sla_calendar)),
        storage=AttachmentStore(settings.upload_dir, settings.max_upload_bytes),
        tracking=TrackingCodes(settings.tracking_key), city_zone=zone,
        audit_keys=audit_keys, passwords=passwords or Passwords())
