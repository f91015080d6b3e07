"""Engine and session factories.

SQLite: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for write units of work so
two writers queue instead of failing on a stale snapshot. The writers of one process (the
embedded server's request threads and its workers) queue on one lock of the engine before
SQLite's: SQLite's own busy handler polls, sleeping up to 100 ms between tries, so under load a
waiting writer slept long after the lock was free and writes took seconds; the process's lock
hands over at once, in turn. Writers of other processes (a separate ``tanggap escalation run``)
still meet SQLite's busy timeout. Readers take neither: in WAL mode they never wait for a writer.
PostgreSQL: psycopg 3, plain READ COMMITTED; the optimistic ``version`` check and row locks do
the coordination.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE_OPTION = "tanggap_write"
BUSY_SECONDS = 30  # how long a writer waits for the lock (this process's, then SQLite's)
WRITERS: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()  # SQLite engines' locks


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_SECONDS}, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No ping before every checkout (a round trip per unit of work and per request): a connection
    # the server dropped (a restart) fails its first statement as a disconnect, which makes the
    # pool drop every connection made before it; a unit of work then tries once more
    # (``workflow.store.uow``), and a request that fails is a 503 the client retries.
    kwargs.setdefault("pool_pre_ping", False)
    return create_engine(url, **kwargs)


def _md5(text: str | None) -> str | None:
    """PostgreSQL's ``md5(text)``, for SQLite (the reference data's fingerprint)."""
    return hashlib.md5(text.encode()).hexdigest() if text is not None else None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # REPLACE's implicit delete fires DELETE triggers (the audit table refuses it)
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.close()
        dbapi_connection.create_function("md5", 1, _md5, deterministic=True)

    writers = WRITERS[engine] = WriterLock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if not connection.get_execution_options().get(WRITE_OPTION, False):
            connection.exec_driver_sql("BEGIN")
            return
        raw = connection.connection.dbapi_connection
        writers.acquire(raw)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release(raw)
            raise

    # The transaction ends in the dialect's commit or rollback (a pool's reset on check-in too):
    # the lock is handed on once SQLite's is free.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection):
        try:
            commit(dbapi_connection)
        finally:
            writers.release(dbapi_connection)

    def do_rollback(dbapi_connection):
        try:
            rollback(dbapi_connection)
        finally:
            writers.release(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


class WriterLock:
    """One write transaction at a time among an engine's connections. Held from ``BEGIN
    IMMEDIATE`` to the commit or rollback of the connection that took it. A writer that cannot
    have it within ``BUSY_SECONDS`` (a thread that opened a second write transaction while
    holding one) goes on to SQLite's busy timeout, which fails it as it would have without this
    lock, instead of waiting for ever."""

    def __init__(self):
        self._lock = threading.Lock()
        self._holder: int | None = None  # id() of the DBAPI connection holding it
        self.queued = 0  # writers that found it held and waited for it (tests watch this)

    def acquire(self, dbapi_connection) -> None:
        if not self._lock.acquire(blocking=False):
            self.queued += 1
            if not self._lock.acquire(timeout=BUSY_SECONDS):
                return
        self._holder = id(_raw(dbapi_connection))

    def release(self, dbapi_connection) -> None:
        if self._holder is not None and self._holder == id(_raw(dbapi_connection)):
            self._holder = None
            self._lock.release()


def _raw(dbapi_connection):
    """The sqlite3 connection itself (a pool's reset passes its proxy)."""
    return getattr(dbapi_connection, "dbapi_connection", dbapi_connection)


AUDIT_KEYS = "audit_keys"


def make_session_factory(engine: Engine | Connection, audit_keys=None) -> sessionmaker[Session]:
    """Sessions of the app. ``audit_keys`` (``workflow.signing.AuditKeys``) travels in every
    session's ``info``: appending an audit event signs it (``workflow.store.audit``)."""
    return sessionmaker(engine, expire_on_commit=False, info={AUDIT_KEYS: audit_keys} if audit_keys else {})
