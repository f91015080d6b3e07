"""Test factories: users with scoped roles, reports, and a short way to work a case's open task."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property

import pytest
from argon2 import PasswordHasher
from PIL import Image
from sqlalchemy import func, select, text

from tanggap.scenario import Scenario
from tests import actions
from workflow import commands
from workflow.access import Actor, actor_for_user
from workflow.config import Settings
from workflow.passwords import Passwords
from workflow.store import audit
from workflow.store.models import Base, Case, CaseEvent, WorkItem
from workflow.vocabulary import AttachmentKind

# Test users' hashes are cheap to make and check; production parameters are tested apart.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
PASSWORD = "correct horse battery"


def jpeg_bytes(size=(32, 24), color=(200, 30, 30), exif=None) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


class World(Scenario):
    """A database with the standard cast of users, and helpers to drive cases (the steps run on
    the same ``Scenario`` as the demo data)."""

    def __init__(self, services):
        super().__init__(services, step=timedelta(minutes=30))

    def user(self, username: str, *roles: tuple[str, str | None]) -> Actor:
        with self.services.uow() as uow:
            user = commands.create_user(uow, username=username, full_name=username.title(),
                                        password=PASSWORD, roles=roles)
            uow.commit()
            return actor_for_user(uow.session, user.id)

    @cached_property
    def triage(self) -> Actor:
        return self.user("triase", ("triage", "KOMINFO"))

    @cached_property
    def dlh(self) -> Actor:
        return self.user("koor.dlh", ("coordinator", "DLH"))

    @cached_property
    def dpu(self) -> Actor:
        return self.user("koor.dpu", ("coordinator", "DPU"))

    @cached_property
    def dishub(self) -> Actor:
        return self.user("koor.dishub", ("coordinator", "DISHUB"))

    @cached_property
    def dinsos(self) -> Actor:
        return self.user("koor.dinsos", ("coordinator", "DINSOS"))

    @cached_property
    def qr_mariso(self) -> Actor:
        return self.user("qr.mariso", ("qr_officer", "qr-mariso-1"))

    @cached_property
    def auditor(self) -> Actor:
        return self.user("inspektorat", ("auditor", None))

    def report(self, **overrides) -> commands.Submitted:
        values = dict(category="sampah", description="Sampah menumpuk di depan pasar sejak Senin.",
                      lat=-5.1560, lon=119.4050, area="mariso", kelurahan="mariso/lette",
                      address="Jl. Rajawali No. 1", reporter_name="Daeng Ngai",
                      contact_email="daeng@example.id", contact_phone="+62 811 4000 123")
        if "area" in overrides and "lat" not in overrides:  # the point is Mariso's: use one in the area
            values.update(lat=None, lon=None, kelurahan=None)
        values.update(overrides)
        with self.services.uow() as uow:
            submitted = commands.submit_report(uow, commands.ReportInput(**values))
            uow.commit()
        return submitted

    def approved(self, **report) -> commands.Submitted:
        """A new report worked by DLH and the Mariso QR team up to an approved verification:
        the case waits for the OPD's closure."""
        sub = self.report(**report)
        self.do(actions.triage, self.triage, sub.case_id, decision="valid")
        self.do(actions.accept, self.dlh, sub.case_id)
        self.do(actions.dispatch, self.dlh, sub.case_id, team="qr-mariso-1")
        self.field_work(self.qr_mariso, sub.case_id)
        self.do(actions.verify, self.dlh, sub.case_id, approve=True)
        return sub

    def item(self, case_id: int) -> WorkItem:
        """The case's one open task, side tasks (escalation reviews, a question to the citizen)
        aside."""
        try:
            return super().item(case_id)
        except LookupError as exc:
            raise AssertionError(str(exc)) from None

    def case(self, case_id: int) -> Case:
        with self.services.reading() as session:
            return session.get(Case, case_id)

    def actions(self, case_id: int) -> list[str]:
        return [e.action for e in self.events(case_id)]

    def events(self, case_id: int) -> list[CaseEvent]:
        with self.services.reading() as session:
            return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                        .order_by(CaseEvent.seq)))

    def chain_breaks(self) -> list:
        with self.services.reading() as session:
            return audit.verify(session)

    def after_photo(self, actor: Actor, case_id: int) -> int:
        return self.photo(actor, case_id, jpeg_bytes(), AttachmentKind.AFTER)

    def field_work(self, actor: Actor, case_id: int, action: str = "Sampah diangkut."):
        photo = self.after_photo(actor, case_id)
        return self.do(actions.record_field_work, actor, case_id,
                       arrived_at=self.services.clock.now() - timedelta(minutes=5),
                       action_taken=action, after_photo=photo)

    def table_counts(self) -> dict[str, int]:
        """Row count of every table: to prove a failed command changed nothing (rate-limit
        counters aside: counting requests is what they are for)."""
        with self.services.reading() as session:
            return {t.name: session.scalar(select(func.count()).select_from(t))
                    for t in Base.metadata.sorted_tables if t.name != "rate_counters"}

    def event_data(self, event: CaseEvent) -> dict:
        return json.loads(event.data)


GUARDED = ("case_events", "security_events", "log_entries", "log_nodes", "tree_heads")


@contextmanager
def insider(engine):
    """A connection as an insider with the database's owner rights has it: the append-only
    triggers and foreign keys off (dropped on SQLite, replica mode on PostgreSQL)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")  # before BEGIN
            for table in GUARDED:
                for verb in ("update", "delete", "replace"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn
        conn.commit()
        if engine.dialect.name == "sqlite":
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


def tamper(engine, sql: str) -> None:
    """What an insider with database rights could do: switch the append-only guard off, then
    run ``sql`` on the audit trail."""
    with insider(engine) as conn:
        conn.execute(text(sql))


tamper_security = tamper  # the same guard covers the security log


def verify_cli(settings):
    """``tanggap audit verify`` on the test's database, as an operator would run it."""
    from click.testing import CliRunner

    from tanggap.cli import main

    env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    return CliRunner().invoke(main, ["audit", "verify"], env=env)


def mail_settings(db_url: str, tmp_path, smtp, public_url: str) -> Settings:
    """Settings that send e-mail notices to the tests' SMTP server on loopback."""
    return Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": db_url,
                              "TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": str(smtp.port),
                              "TANGGAP_SMTP_SECURITY": "none", "TANGGAP_SMTP_TIMEOUT": "5",
                              "TANGGAP_MAIL_FROM": "Tanggap Makassar <lapor@example.id>",
                              "TANGGAP_PUBLIC_URL": public_url})


@contextmanager
def empty_database(backend: str, tmp_path, name: str):
    """An engine on an empty database of ``backend`` ("sqlite" or "postgresql"), for walking
    migrations from an old revision; a scratch PostgreSQL database is dropped afterwards (a
    skip without a server, a failure under CI)."""
    import os

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from workflow.store.db import make_engine

    admin = scratch = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    else:
        base = make_url(os.environ.get("TANGGAP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        scratch = f"tanggap_test_{os.getpid()}_{name}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        except OperationalError as exc:
            admin.dispose()
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL not reachable: {exc.orig}")
            pytest.skip(f"PostgreSQL not reachable: {exc.orig}")
        url = base.set(database=scratch).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            admin.dispose()
