"""Unit of work: one transaction per command; leaving the block without ``commit()`` rolls back.

Commands take the unit of work as their argument and never commit; the caller (a view, the CLI,
a worker, a test) commits once. Failures are translated here, in one place:

* a stale ``version`` (someone else changed the case first) becomes :class:`Conflict`;
* a failed BPMN step rolls back everything and is recorded as an :class:`Incident` in its own
  transaction, then surfaces as :class:`ProcessError` naming the incident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflow.clock import Clock
from workflow.config import Settings
from workflow.engine.definition import ProcessDefinition
from workflow.engine.runtime import ProcessEngine, StepFailed
from workflow.errors import Conflict, ProcessError
from workflow.messages import msg
from workflow.passwords import Passwords
from workflow.store.attachments import AttachmentStore
from workflow.store.db import WRITE_OPTION
from workflow.store.models import City, Incident, ProcessSpec
from workflow.store.reference import ReferenceCache, References, fingerprint
from workflow.store.specs import ProcessVersions
from workflow.store.tracking import TrackingCodes

CONFLICT_MESSAGE = msg("This case was just changed by someone else. Reload it and try again.")


class Needs(Protocol):
    """What a unit of work and the commands run in it use of ``workflow.services.Services``."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    versions: ProcessVersions
    storage: AttachmentStore
    tracking: TrackingCodes
    passwords: Passwords
    references: ReferenceCache


_GENERATIONS: dict[str, Any] = {}  # by dialect: built once


def generations(session: Session):
    """What every unit of work must see as of its own transaction, in one statement: the process
    version new cases start on, the calendar's hash and the reference data's fingerprint (the
    caches of this process are kept while they hold)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _GENERATIONS:
        spec = (select(ProcessSpec.id, ProcessSpec.content_hash)
                .order_by(ProcessSpec.deployed_at.desc(), ProcessSpec.id.desc()).limit(1).subquery())
        city = select(City.id, City.calendar_hash).order_by(City.id).limit(1).subquery()
        _GENERATIONS[dialect] = select(select(spec.c.id).scalar_subquery().label("spec_id"),
                                       select(spec.c.content_hash).scalar_subquery().label("spec_hash"),
                                       select(city.c.id).scalar_subquery().label("city_id"),
                                       select(city.c.calendar_hash).scalar_subquery().label("calendar_hash"),
                                       fingerprint(session).label("references"))
    return _GENERATIONS[dialect]


class UnitOfWork:
    session: Session
    refs: References  # reference data, from the process's cache (``workflow.store.reference``)

    def __init__(self, services: Needs, *, record_incidents: bool = True):
        self.services = services
        self.clock = services.clock
        self.settings = services.settings
        self.storage = services.storage
        self._on_rollback: list[Callable[[], None]] = []
        self._committed = False
        self.operation: str | None = None
        self.case_id: int | None = None
        self.context: dict = {}
        self.record_incidents = record_incidents

    def __enter__(self) -> UnitOfWork:
        for attempt in (1, 2):
            self.session = self.services.sessions()
            try:
                # On SQLite this starts the transaction with BEGIN IMMEDIATE: writers queue.
                self.session.connection(execution_options={WRITE_OPTION: True})
                now = self.session.execute(generations(self.session)).one()
                break
            except DBAPIError as exc:
                self.session.close()
                # The database restarted since this pooled connection was last used: the pool has
                # dropped it (and every connection as old), and nothing was done yet; once more on
                # a new one. A database that is down fails again and propagates (a 503).
                if attempt == 2 or not exc.connection_invalidated:
                    raise
            except BaseException:
                self.session.close()
                raise
        try:
            spec = (now.spec_id, now.spec_hash) if now.spec_id is not None else None
            self.definition: ProcessDefinition = self.services.versions.refresh(self.session, spec)
            self.process: ProcessEngine = self.services.versions.engine(self.definition)
            # a calendar, or reference data, changed by another worker
            self.process.calendar.refresh(self.session, (now.city_id is not None, now.calendar_hash))
            self.refs = References(self.session, self.services.references.rows(self.session, now.references))
        except BaseException:
            self.session.close()
            raise
        return self

    def acting_on(self, operation: str, case_id: int | None = None, **context) -> None:
        """Name what is being done, for the incident record if the process fails. ``case_id``
        only for a case that already exists outside this transaction."""
        self.operation = operation
        self.case_id = case_id
        self.context = context

    def on_rollback(self, hook: Callable[[], None]) -> None:
        """Undo something done outside the database (a stored file) if the work is not committed."""
        self._on_rollback.append(hook)

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as exc:
            raise Conflict(CONFLICT_MESSAGE) from exc
        except IntegrityError as exc:
            if "case_seq" in str(exc.orig) or "case_events" in str(exc.orig):
                raise Conflict(CONFLICT_MESSAGE) from exc
            raise
        self._committed = True

    def __exit__(self, exc_type, exc, tb):
        if not self._committed:
            self.session.rollback()
            for hook in self._on_rollback:
                hook()
        self.session.close()
        if isinstance(exc, StepFailed) and not self.record_incidents:
            raise ProcessError(msg("The process could not continue ({error}). Nothing was saved.",
                                   error=exc)) from exc
        if isinstance(exc, StepFailed):
            incident_id = self.record_incident(str(exc), exc.task_name, exc.details)
            raise ProcessError(
                msg("The process could not continue ({error}). Nothing was saved; incident "
                    "#{incident} was recorded for the administrators.",
                    error=exc, incident=incident_id), incident_id=incident_id) from exc
        if isinstance(exc, StaleDataError):
            raise Conflict(CONFLICT_MESSAGE) from exc
        if isinstance(exc, IntegrityError) and "case_seq" in str(exc.orig):
            raise Conflict(CONFLICT_MESSAGE) from exc
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            raise Conflict(msg("The database is busy; please try again.")) from exc
        return False

    def record_incident(self, error: str, task_name: str | None = None,
                        details: dict | None = None) -> int:
        """Write an incident in its own transaction (this one is being rolled back)."""
        with self.services.sessions() as session, session.begin():
            incident = Incident(occurred_at=self.clock.now(), case_id=self.case_id,
                                operation=self.operation or "unknown", task_name=task_name,
                                error=error, details={**(details or {}), **self.context})
            session.add(incident)
            session.flush()
            return incident.id
