"""Process versions in the database: each stored once, by content hash, and numbered.

New cases start on the version deployed last. A worker keeps the versions it has parsed
(:class:`ProcessVersions`) and asks the database which one is current at the start of every
unit of work and request (one indexed row), so a deployment made by any worker or the CLI is
what the next case of every worker starts on.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from workflow.engine.definition import ProcessDefinition, definition_from_source
from workflow.engine.runtime import ProcessEngine
from workflow.store.models import ProcessSpec

RELEASE_NOTE = "the process files of this release (bpmn/)"
_REFRESHED = "process_version_read"  # session.info: this transaction read the current version


def _current_row(session: Session):
    return session.execute(select(ProcessSpec.id, ProcessSpec.content_hash)
                           .order_by(ProcessSpec.deployed_at.desc(), ProcessSpec.id.desc()).limit(1)).first()


def lock_versions(session: Session) -> None:
    """Until commit, this transaction alone deploys (PostgreSQL: a transaction-level advisory lock;
    SQLite's write transactions are one at a time already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('tanggap.process_versions'))"))


def store_version(session: Session, definition: ProcessDefinition, now: datetime, *,
                  deployed_by_id: int | None = None, note: str = "") -> ProcessSpec:
    """Make ``definition`` the version new cases start on: a new numbered row, or, for content
    stored before, that row deployed again."""
    row = session.scalar(select(ProcessSpec).where(ProcessSpec.content_hash == definition.content_hash))
    latest = session.scalar(select(func.max(ProcessSpec.deployed_at)))
    if latest is not None and latest >= now:  # the latest deployment is the current one, ties too
        now = latest + timedelta(microseconds=1)
    if row is None:
        number = (session.scalar(select(func.max(ProcessSpec.version))) or 0) + 1
        row = ProcessSpec(content_hash=definition.content_hash, process_id=definition.process_id,
                          spec_json=definition.spec_json, source=definition.source, created_at=now,
                          version=number, deployed_at=now, deployed_by_id=deployed_by_id, note=note)
        session.add(row)
    else:  # deployed again: it is current from now on; what it was first deployed as stays
        row.deployed_at, row.deployed_by_id = now, deployed_by_id
    session.flush()
    return row


def deploy_release(session: Session, definition: ProcessDefinition, now: datetime) -> ProcessSpec | None:
    """After an upgrade (``tanggap db upgrade``): the release's own files (``bpmn/``) become a
    version the first time they are seen; once stored they are never deployed again, so a
    version an administrator deployed since stays current. None when they were stored before,
    and on a database without versions, whose first case (or the demo) deploys them."""
    if session.scalar(select(ProcessSpec.id).limit(1)) is None:
        return None
    if session.scalar(select(ProcessSpec.id).where(ProcessSpec.content_hash == definition.content_hash)):
        return None
    return store_version(session, definition, now, note=RELEASE_NOTE)


class ProcessVersions:
    """The versions one process (web worker, sweeper, CLI) has parsed, and the current one.
    Shared by threads: parsing happens under a lock, the current version is swapped whole."""

    def __init__(self, files: ProcessDefinition, make_engine: Callable[[ProcessDefinition], ProcessEngine]):
        self.files = files  # the release's bpmn/: current until the database names a version
        self._make_engine = make_engine
        self._by_hash: dict[str, ProcessDefinition] = {files.content_hash: files}
        self._engines: dict[str, ProcessEngine] = {}
        self._lock = threading.Lock()
        self._now: tuple[int | None, ProcessDefinition] = (None, files)  # swapped whole: threads share it

    @property
    def current(self) -> ProcessDefinition:
        """The version new cases start on, as last read (``refresh``)."""
        return self._now[1]

    @property
    def current_id(self) -> int | None:
        return self._now[0]

    def with_engines(self, make_engine: Callable[[ProcessDefinition], ProcessEngine]) -> ProcessVersions:
        """The same versions with engines of another kind (the demo's own clock)."""
        other = ProcessVersions(self.files, make_engine)
        other._by_hash = self._by_hash
        other._now = self._now
        return other

    def engine(self, definition: ProcessDefinition | None = None) -> ProcessEngine:
        definition = definition or self.current
        engine = self._engines.get(definition.content_hash)
        if engine is None:
            with self._lock:
                engine = self._engines.setdefault(definition.content_hash, self._make_engine(definition))
        return engine

    def refresh(self, session: Session, current: tuple[int, str] | None | bool = False) -> ProcessDefinition:
        """The current version as the database says (the release's files while it has none);
        parsed the first time it is seen. ``current``: its (id, content hash) when the caller has
        read them already in this transaction (None: there is no version), else they are read."""
        row = _current_row(session) if current is False else current
        session.info[_REFRESHED] = True
        if row is not None:
            session.info.setdefault("process_hashes", {})[row[0]] = row[1]
        if row is None:
            self._now = (None, self.files)
        elif row[0] != self.current_id or row[1] != self.current.content_hash:
            self._now = (row[0], self.definition_of(session, row[0]))
        return self.current

    def ensure_current(self, session: Session, now: datetime) -> ProcessSpec:
        """The row of the version a new case starts on (the files of the release on a database
        that has none yet, stored in the caller's transaction)."""
        return session.get(ProcessSpec, self.ensure_current_id(session, now))

    def ensure_current_id(self, session: Session, now: datetime) -> int:
        """``ensure_current``'s id, without reading the row; nor the current version again when
        this transaction read it already (a unit of work does, first thing)."""
        if session.info.get(_REFRESHED) is None:
            self.refresh(session)
        if self.current_id is None:  # the first case of a database: one transaction deploys
            lock_versions(session)
            self.refresh(session)
        if self.current_id is None:
            row = store_version(session, self.files, now, note=RELEASE_NOTE)
            self._now = (row.id, self.files)  # until the next refresh
        return self.current_id

    def definition_of(self, session: Session, spec_id: int) -> ProcessDefinition:
        """The definition of a stored version, parsed from its files once. Known by content
        hash, never by id alone: an id seen in a transaction that rolled back may name another
        version later (SQLite reuses row ids); the hash is looked up once per transaction."""
        hashes = session.info.setdefault("process_hashes", {})
        if spec_id not in hashes:
            hashes[spec_id] = session.scalar(select(ProcessSpec.content_hash).where(ProcessSpec.id == spec_id))
        content_hash = hashes[spec_id]
        if content_hash is None:
            raise LookupError(f"no process version with id {spec_id}")
        known = self._by_hash.get(content_hash)
        if known is not None:
            return known
        row = session.get(ProcessSpec, spec_id)
        with self._lock:
            definition = self._by_hash.get(content_hash)
            if definition is None:
                definition = definition_from_source(row.source, row.process_id)
                self._by_hash[content_hash] = definition
        return definition

    def form(self, session: Session, spec_id: int, form_key: str):
        """The form of a task of a case running version ``spec_id``: today's (the current
        version's) where it has one, else that version's own (a step the current version no
        longer has, on a case not migrated)."""
        form = self.current.forms.get(form_key)
        return form if form is not None else self.definition_of(session, spec_id).forms[form_key]

    def adopt(self, definition: ProcessDefinition) -> None:
        """A version this process just deployed: known without parsing it again."""
        with self._lock:
            self._by_hash.setdefault(definition.content_hash, definition)


def fields_unread(session: Session, definition: ProcessDefinition, spec_id: int, form) -> set[str]:
    """The fields of ``form`` (today's ``tasks.yaml``) that the process reads by name but the
    process version ``spec_id`` a case runs does not: that version would ignore their value (a
    choice added to today's process, such as sending a report to another OPD than the routing
    table's). Fields no version reads (a reason, a note) are only recorded: none of these."""
    if session.info.get("process_hashes", {}).get(spec_id) == definition.content_hash:
        return set()  # the case runs the version the form is of (known in this transaction)
    row = session.get(ProcessSpec, spec_id)
    if row is None or row.content_hash == definition.content_hash:
        return set()

    def reads(source: dict, name: str) -> bool:
        return any(re.search(rf"\b{re.escape(name)}\b", text) for name_, text in source.items()
                   if name_ != "tasks.yaml")

    return {f.name for f in form.fields if reads(definition.source, f.name) and not reads(row.source or {}, f.name)}
