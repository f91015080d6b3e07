"""A fresh benchmark database: migrated, with the city's reference data, and its services."""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.services import Services, build_services
from workflow.store import schema, seed
from workflow.store.db import make_engine


def fresh_services(database_url: str | None, now: datetime, env: dict[str, str] | None = None) -> Services:
    """Services on a new, empty database with a manual clock at ``now``; ``env``: more settings.
    The database is a new SQLite file in a temporary folder, or with ``database_url`` a new
    database on that PostgreSQL server (dropped when the benchmark ends), so every run starts
    from the same state. The temporary folder (the instance: SQLite file, keys, uploads) is
    removed when the process exits: a 1M-case SQLite file takes gigabytes."""
    workdir = Path(tempfile.mkdtemp(prefix="tanggap-bench-"))
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    url = scratch_database(database_url) if database_url else f"sqlite:///{workdir / 'bench.sqlite3'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with Session(engine) as session:
        seed.load_reference_data(session)
        session.commit()
    return build_services(Settings.from_env({"TANGGAP_INSTANCE": str(workdir), "DATABASE_URL": url, **(env or {})}),
                          clock=ManualClock(now), engine=engine)


def scratch_database(server_url: str) -> str:
    """A new database on the PostgreSQL server of ``server_url``; its URL. It is dropped when
    the process exits."""
    url = make_url(server_url)
    if not url.get_backend_name().startswith("postgresql"):
        raise SystemExit("--database-url: a PostgreSQL server (the default is a new SQLite file)")
    name = f"tanggap_bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return url.set(database=name).render_as_string(hide_password=False)
