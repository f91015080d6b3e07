"""Gaps in the append-only guarantee, closed: no row replaced on SQLite, no chain shortened or
removed unnoticed, and a PostgreSQL deployment whose app role cannot switch the guard off."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, ProgrammingError

from escalation.sweeper import Sweeper
from tanggap.cli import main
from tests import actions
from tests.helpers import FAST_PASSWORDS, World, tamper, verify_cli
from workflow.config import Settings
from workflow.services import build_services
from workflow.store import audit, merkle_log


@pytest.fixture
def routed(world):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.transfer, world.dlh, sub.case_id, to_agency="DPU", reason="Bukan urusan DLH")
    return sub


def test_insert_or_replace_cannot_rewrite_an_event_on_sqlite(world, routed, settings):
    if world.services.engine.dialect.name != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    first = world.events(routed.case_id)[0]
    path = make_url(settings.database_url).database
    raw = sqlite3.connect(path)  # a bare connection: none of the app's pragmas
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("INSERT OR REPLACE INTO case_events (id, case_id, seq, occurred_at, actor_name, "
                        "actor_role, action, data, prev_hash, hash) VALUES (?, ?, 1, '2026-11-23 00:00:00', "
                        "'citizen', 'citizen', 'report_submitted', '{}', ?, ?)",
                        (first.id, routed.case_id, "0" * 64, "f" * 64))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("REPLACE INTO case_events (id, case_id, seq, occurred_at, actor_name, actor_role, "
                        "action, data, prev_hash, hash) VALUES (999, ?, 1, '2026-11-23 00:00:00', 'x', 'x', "
                        "'case_closed', '{}', ?, ?)", (routed.case_id, "0" * 64, "f" * 64))
    finally:
        raw.close()
    assert world.events(routed.case_id)[0].hash == first.hash
    assert world.chain_breaks() == []


def test_verify_finds_a_chain_whose_last_rows_were_deleted(world, routed, settings):
    count = len(world.events(routed.case_id))
    tamper(world.services.engine, f"DELETE FROM case_events WHERE case_id = {routed.case_id} AND seq >= {count - 1}")
    result = verify_cli(settings)
    assert result.exit_code == 1, result.output
    assert f"case {routed.case_id}, seq {count - 1}" in result.output and "rows deleted" in result.output


def test_verify_finds_a_case_whose_whole_chain_was_deleted(world, routed, settings):
    other = world.report(description="Laporan lain yang rapi, tidak disentuh.")
    count = len(world.events(routed.case_id))
    tamper(world.services.engine, f"DELETE FROM case_events WHERE case_id = {routed.case_id}")
    result = verify_cli(settings)
    assert result.exit_code == 1
    assert f"case {routed.case_id}, seq 1 (missing event): all {count} events of the case are missing" in result.output
    assert f"case {other.case_id}" not in result.output
    with world.services.reading() as session:
        assert [b.case_id for b in audit.verify(session)] == [routed.case_id]
        assert audit.verify(session, other.case_id) == []


def test_every_event_lengthens_the_chain_the_case_records(world, routed):
    case = world.case(routed.case_id)
    assert case.event_count == len(world.events(routed.case_id)) == world.events(routed.case_id)[-1].seq


def test_postgresql_refuses_truncate_of_the_audit_trail(world, routed):
    if world.services.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is guarded by a PostgreSQL trigger")
    for table in ("case_events", "log_entries", "tree_heads"):  # CASCADE: past the foreign keys to the trigger
        with world.services.engine.connect() as conn:
            with pytest.raises(DatabaseError, match=f"{table} is append-only"):
                conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
            conn.rollback()
    assert len(world.events(routed.case_id)) > 0


@pytest.fixture
def owner_and_app_roles(pg_database, tmp_path):
    """A database owned by a migration role, used by an app role with only its grants."""
    url = make_url(pg_database)
    tag = os.getpid()
    owner, app, name = f"tanggap_owner_{tag}", f"tanggap_app_{tag}", f"tanggap_roles_{tag}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (app, owner):
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        conn.exec_driver_sql(f'CREATE ROLE "{owner}" LOGIN')
        conn.exec_driver_sql(f'CREATE ROLE "{app}" LOGIN')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    db = url.set(database=name)
    owner_url = db.set(username=owner).render_as_string(hide_password=False)
    app_url = db.set(username=app).render_as_string(hide_password=False)
    env = {"DATABASE_URL": owner_url, "TANGGAP_INSTANCE": str(tmp_path / "instance")}
    runner = CliRunner()
    for args in (["db", "upgrade"], ["seed"], ["db", "grant", app]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
    yield owner_url, app_url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (app, owner):
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
    admin.dispose()


@pytest.mark.postgres_only
def test_an_app_role_without_owner_rights_runs_cases_but_cannot_touch_the_trail(owner_and_app_roles, tmp_path, clock, definition):
    _owner_url, app_url = owner_and_app_roles
    settings = Settings.from_env({"DATABASE_URL": app_url, "TANGGAP_INSTANCE": str(tmp_path / "instance")})
    services = build_services(settings, clock=clock, definition=definition, passwords=FAST_PASSWORDS)
    try:
        world = World(services)
        sub = world.report()
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
        clock.advance(timedelta(days=3))
        assert Sweeper(services, worker="roles").run_once().fired > 0  # deletes fired timer rows
        assert world.chain_breaks() == []
        assert merkle_log.LogKeeper(services).run_once().logged > 0  # deletes pending rows, signs a head
        with services.reading() as session:
            assert merkle_log.verify(session, services.audit_keys).problems == []
        for statement in ("ALTER TABLE case_events DISABLE TRIGGER ALL", "TRUNCATE case_events",
                          "DELETE FROM case_events", "UPDATE case_events SET reason = 'x'",
                          "SET session_replication_role = replica", "DROP TRIGGER case_events_no_change ON case_events",
                          "ALTER TABLE cases DROP COLUMN event_count", "DELETE FROM cases",
                          "DELETE FROM log_entries", "UPDATE log_entries SET leaf_hash = ''", "TRUNCATE log_entries",
                          "DELETE FROM log_nodes", "DELETE FROM tree_heads", "UPDATE tree_heads SET size = 0",
                          "ALTER TABLE tree_heads DISABLE TRIGGER ALL"):
            with services.engine.connect() as conn:
                with pytest.raises((ProgrammingError, DatabaseError)) as refused:
                    conn.exec_driver_sql(statement)
                conn.rollback()
            assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value), statement
    finally:
        services.dispose()
