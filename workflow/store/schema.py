"""Schema management through Alembic (the only way tables are created, tests included)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, tracking_key: str | None = None,
            calendar_file: Path | None = None) -> None:
    """Migrate to ``revision``. ``tracking_key``: for migration 0008, which hashes the
    tracking codes of existing reports; ``calendar_file``: the deployment's old
    ``calendar.yaml``, whose values migration 0022 moves into the database."""
    cfg = alembic_config()
    cfg.attributes["tracking_key"] = tracking_key
    cfg.attributes["calendar_file"] = calendar_file
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def revision(url: str, message: str, autogenerate: bool = True) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=autogenerate)


APPEND_ONLY = ("case_events", "security_events", "log_entries", "log_nodes", "tree_heads")  # rows added, never changed
# projections and counters the app removes; calendar days and template texts administrators remove;
# signed events the log's worker has moved into the log
DELETED_BY_THE_APP = ("timers", "rate_counters", "calendar_days", "notice_templates", "log_pending")


def app_grants(role: str, database: str) -> list[str]:
    """PostgreSQL statements giving the application's role what it needs and nothing more:
    run them as the owner of the tables (the role migrations run as). The app role owns nothing,
    so it cannot ALTER a table, disable or drop the audit triggers, or TRUNCATE; it may not
    UPDATE or DELETE ``case_events`` either. Run again after every migration (new tables)."""
    from sqlalchemy.dialects import postgresql

    from workflow.store.models import Base

    quote = postgresql.dialect().identifier_preparer.quote

    statements = [f"GRANT CONNECT ON DATABASE {quote(database)} TO {quote(role)}",
                  f"GRANT USAGE ON SCHEMA public TO {quote(role)}",
                  f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quote(role)}",
                  f"GRANT SELECT ON alembic_version TO {quote(role)}",
                  f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}"]
    for table in Base.metadata.sorted_tables:
        rights = ["SELECT", "INSERT"]
        if table.name not in APPEND_ONLY:
            rights.append("UPDATE")
        if table.name in DELETED_BY_THE_APP:
            rights.append("DELETE")
        statements.append(f"GRANT {', '.join(rights)} ON {quote(table.name)} TO {quote(role)}")
    return statements
