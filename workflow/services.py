"""Everything a command needs, built once per process and passed in (no globals)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from workflow.clock import Clock, SystemClock
from workflow.config import Settings
from workflow.engine.definition import ProcessDefinition, load_definition
from workflow.engine.runtime import ProcessEngine
from workflow.engine.sla import SlaCalendar
from workflow.store.attachments import AttachmentStore
from workflow.store.db import make_engine, make_session_factory
from workflow.store.uow import UnitOfWork
from workflow.tracking import TrackingCodes


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    definition: ProcessDefinition
    process: ProcessEngine
    storage: AttachmentStore
    tracking: TrackingCodes
    spec_cache: dict[int, tuple] = field(default_factory=dict)  # restored specs by process_specs.id

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
                   calendar: SlaCalendar | None = None,
                   engine: Engine | None = None,
                   definition: ProcessDefinition | None = None) -> Services:
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    definition = definition or load_definition(settings.bpmn_dir)
    return Services(
        settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock,
        definition=definition, process=ProcessEngine(definition, clock, calendar),
        storage=AttachmentStore(settings.upload_dir, settings.max_upload_bytes),
        tracking=TrackingCodes(settings.tracking_key))
