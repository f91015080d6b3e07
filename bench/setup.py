"""A fresh benchmark database: migrated, with the city's reference data, and its services."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.services import Services, build_services
from workflow.store import schema, seed
from workflow.store.db import make_engine


def fresh_services(database_url: str | None, now: datetime, env: dict[str, str] | None = None) -> Services:
    """Services on ``database_url`` (default: a new SQLite file in a temporary folder) with a
    manual clock at ``now``; ``env``: more settings."""
    workdir = Path(tempfile.mkdtemp(prefix="tanggap-bench-"))
    url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    with Session(engine) as session:
        seed.load_reference_data(session)
        session.commit()
    return build_services(Settings.from_env({"TANGGAP_INSTANCE": str(workdir), "DATABASE_URL": url, **(env or {})}),
                          clock=ManualClock(now), engine=engine)
