"""The migrations build exactly the schema the models describe, and can be walked back."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from workflow.store import schema
from workflow.store.models import Base


def _diff(engine):
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_migrations_match_the_models(services):
    engine = services.engine
    head = ScriptDirectory.from_config(schema.alembic_config()).get_current_head()
    assert head == "0024" and schema.current_revision(engine) == head
    assert _diff(engine) == []


def test_downgrade_to_nothing_and_up_again(sqlite_url):
    from workflow.store.db import make_engine

    engine = make_engine(sqlite_url)
    try:
        cfg = schema.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert schema.current_revision(engine) is None
        schema.upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()
