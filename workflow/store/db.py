"""Engine and session factories.

SQLite: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for write units of work so
two writers queue instead of failing on a stale snapshot. PostgreSQL: psycopg 3, plain
READ COMMITTED; the optimistic ``version`` check and row locks do the coordination.
"""

from __future__ import annotations

import hashlib
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
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # REPLACE's implicit delete fires DELETE triggers (the audit table refuses it)
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.close()
        dbapi_connection.create_function("md5", 1, _md5, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


AUDIT_KEYS = "audit_keys"


def make_session_factory(engine: Engine | Connection, audit_keys=None) -> sessionmaker[Session]:
    """Sessions of the app. ``audit_keys`` (``workflow.signing.AuditKeys``) travels in every
    session's ``info``: appending an audit event signs it (``workflow.store.audit``)."""
    return sessionmaker(engine, expire_on_commit=False, info={AUDIT_KEYS: audit_keys} if audit_keys else {})
