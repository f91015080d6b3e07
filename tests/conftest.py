"""Fixtures: a fresh database per test on SQLite and, where reachable, on PostgreSQL.

SQLite tests copy a template file that was migrated and seeded once. PostgreSQL tests share a
database created for this run and truncate the case tables before each test. Without a
PostgreSQL server the PostgreSQL half skips with a message, except under CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.helpers import FAST_PASSWORDS, World
from workflow.clock import ManualClock
from workflow.config import REPO_ROOT, Settings
from workflow.engine.definition import load_definition
from workflow.services import build_services
from workflow.store import schema, seed
from workflow.store.db import make_engine

PG_URL = os.environ.get("TANGGAP_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 WITA

# Test deployments offer e-mail notices, so reports queue them as in production; nothing is
# sent unless a test runs the delivery worker (tests/test_notices.py, against a real SMTP server).
MAIL_OFFERED = {"TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": "9", "TANGGAP_SMTP_SECURITY": "none"}

CASE_TABLES = ("case_events", "escalations", "work_items", "timers", "case_states", "attachments", "notes",
               "outbox", "subscriptions", "incidents", "cases", "reports", "process_specs", "memberships", "users",
               "api_credentials", "sla_daily", "rate_counters", "key_checks", "security_events",
               "migration_refusals", "process_migrations", "log_pending", "log_entries", "log_nodes", "tree_heads")


def _prepare(url: str) -> None:
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
        with Session(engine) as session:
            seed.load_reference_data(session)
            session.commit()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def definition():
    return load_definition(REPO_ROOT / "bpmn")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _prepare(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database():
    url = make_url(PG_URL)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        conn = admin.connect()
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at {url.render_as_string(hide_password=True)}: {exc.orig}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message + " (set TANGGAP_TEST_POSTGRES_URL to run the PostgreSQL half)")
    name = f"tanggap_test_{os.getpid()}"
    with conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        # a throwaway database: commits need not wait for the disk (a crash of the client, as
        # the worker tests cause, still loses nothing; only a crash of the server would)
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    test_url = url.set(database=name).render_as_string(hide_password=False)
    _prepare(test_url)
    yield test_url
    if test_url in _EMPTYING:
        _EMPTYING.pop(test_url)[0].dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


_EMPTYING: dict[str, tuple] = {}  # url -> (engine, the case tables' id sequences)
_REFERENCE: dict[str, dict[str, list[dict]]] = {}  # url -> the seeded reference tables' rows
_CHANGED_REFERENCE: set[str] = set()  # urls whose reference data a test changed


def _reference_tables() -> list:
    """The tables a test does not empty (the city's seed data, settings), parents first."""
    from workflow.store.models import Base

    return [t for t in Base.metadata.sorted_tables if t.name not in CASE_TABLES and t.name not in ("security_chain", "log_state")]


def _restore_reference(engine, url: str) -> None:
    """Put the seeded reference data back as ``_prepare`` left it (PostgreSQL shares one
    database between tests; SQLite copies a fresh file for each)."""
    tables = _reference_tables()
    with engine.begin() as conn:
        if url not in _REFERENCE:
            _REFERENCE[url] = {t.name: [dict(r) for r in conn.execute(t.select()).mappings()] for t in tables}
            return
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in reversed(tables):
            conn.execute(table.delete())
        for table in tables:
            if _REFERENCE[url][table.name]:
                conn.execute(table.insert(), _REFERENCE[url][table.name])
            if "id" in table.c and table.c.id.autoincrement is not False:
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false) "
                                     f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL")


def _truncate_pg(url: str) -> None:
    """Empty the case tables and restart their ids. DELETE rather than TRUNCATE: on tables this
    small it takes 4 ms instead of 50 (TRUNCATE makes new files for every table), and a test
    run empties them hundreds of times."""
    if url not in _EMPTYING:
        # pinged: tests/test_db_restart.py drops every connection of the database, this one's too
        engine = create_engine(url, pool_pre_ping=True)
        with engine.connect() as conn:
            sequences = [r[0] for r in conn.exec_driver_sql(
                "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                "JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S' AND t.relname = ANY(%(t)s)",
                {"t": list(CASE_TABLES)})]
        _EMPTYING[url] = (engine, sequences)
        _restore_reference(engine, url)  # the first time: remembers them
    engine, sequences = _EMPTYING[url]
    if url in _CHANGED_REFERENCE:
        _restore_reference(engine, url)
        _CHANGED_REFERENCE.discard(url)
    with engine.begin() as conn:
        # Test set-up only: replica mode skips the append-only triggers and foreign-key checks.
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in CASE_TABLES:
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("SELECT " + ", ".join(f"setval('{s}', 1, false)" for s in sequences))
        conn.exec_driver_sql(f"UPDATE security_chain SET seq = 0, hash = '{'0' * 64}'")
        conn.exec_driver_sql("UPDATE log_state SET size = 0, frontier = '', legacy_pending_max = 0, rejected = 0, "
                             "backfill_closed = false")


@pytest.fixture
def reference_restored(db_url):
    """For a test that changes the city's reference data (agencies, categories, the calendar,
    ...): on PostgreSQL the next test finds it as seeded again."""
    yield
    if not db_url.startswith("sqlite"):
        _CHANGED_REFERENCE.add(db_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "tanggap.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    path = tmp_path / "tanggap.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback; ``smtp.box.messages`` is what it received."""
    from tests.mailserver import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock():
    return ManualClock(START)


@pytest.fixture
def settings(db_url, tmp_path):
    return Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": db_url,
                              **MAIL_OFFERED})


@pytest.fixture
def services(settings, clock, definition):
    svc = build_services(settings, clock=clock, definition=definition, passwords=FAST_PASSWORDS)
    yield svc
    svc.dispose()


@pytest.fixture
def world(services):
    return World(services)


@pytest.fixture
def app(services):
    from flask.testing import FlaskClient

    from web import create_app

    class ClosingClient(FlaskClient):
        """Werkzeug's test client spools a large request body to a temporary file and never
        closes it (a real WSGI server owns that stream); close it once the app is done."""

        def run_wsgi_app(self, environ, buffered=False):
            try:
                return super().run_wsgi_app(environ, buffered)
            finally:
                environ["wsgi.input"].close()

    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, services=services)
    app.test_client_class = ClosingClient
    return app


@pytest.fixture
def web(app):
    from tests.webclient import WebClient

    return WebClient(app)


@pytest.fixture
def settings_sqlite(sqlite_url, tmp_path):
    return Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": sqlite_url,
                              **MAIL_OFFERED})


def pytest_collection_modifyitems(items):
    """The slow tests (worker processes, the wheel build) first: spread over the xdist workers
    from the start, they overlap with the many short tests instead of trailing them, which
    would leave the other cores idle at the end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept otherwise


@pytest.fixture
def openssl():
    """A test that needs OpenSSL's time-stamp authority (``tests/tsa.py``) skips without it,
    except on CI, where a missing OpenSSL would otherwise silently drop it."""
    from tests.tsa import OPENSSL

    if not Path(OPENSSL).exists():
        message = f"{OPENSSL} is missing: the local TSA runs `openssl ts -reply`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def local_tsa(openssl):
    """A real RFC 3161 authority on loopback (OpenSSL's ``openssl ts -reply``), with a test CA."""
    from tests.tsa import LocalTSA

    with LocalTSA() as running:
        yield running
