"""Engine and session factories.

SQLite: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for write units of work so
two writers queue instead of failing on a stale snapshot. PostgreSQL: psycopg 3, plain
READ COMMITTED; the optimistic ``version`` check and row locks do the coordination.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE_OPTION = "tanggap_write"


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event, not the driver, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # REPLACE's implicit delete fires DELETE triggers (the audit table refuses it)
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


AUDIT_KEYS = "audit_keys"


def make_session_factory(engine: Engine | Connection, audit_keys=None) -> sessionmaker[Session]:
    """Sessions of the app. ``audit_keys`` (``workflow.signing.AuditKeys``) travels in every
    session's ``info``: appending an audit event signs it (``workflow.store.audit``)."""
    return sessionmaker(engine, expire_on_commit=False, info={AUDIT_KEYS: audit_keys} if audit_keys else {})
