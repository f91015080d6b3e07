"""Server time of the dashboard and of a case-history page with 1k, 100k and 1M cases.

One database grows through the sizes. Cases are inserted in bulk with what the two pages read:
a report and a case row each, over the past year (recent ones still open, the rest closed or
rejected, with their time to close), three work items per closed case (on time or late), an
escalation for 4% and a transfer event for 5% of them. One case is driven through the real
commands (transfers, a breach, field work) and its history page is timed. The figures are the
median of several requests through the app (test client, logged in as an auditor) with the
default period (the last 30 days); the ratio is against the smallest size in the same run.

    .venv/bin/python -m bench.dashboard [--sizes 1000,100000,1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.setup import fresh_services
from bench.timing import median_ms
from escalation.sweeper import Sweeper
from tanggap.scenario import Scenario
from workflow import commands
from workflow.access import actor_for_user
from workflow.store.models import Agency, Area, Case, Category, Report, WorkItem
from workflow.store.reference import city_zone

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
PASSWORD = "bench-password-123"
BATCH = 20000


def db_moment(moment: datetime | None, dialect: str):
    """A moment as a bulk insert passes it: as is to PostgreSQL, as the UTC text SQLAlchemy
    stores to SQLite."""
    if moment is None or dialect == "postgresql":
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _bulk(raw, dialect: str, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Insert rows through the driver: COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    cursor = raw.cursor()
    if dialect == "postgresql":
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    cursor.close()


def add_cases(services, count: int, start: int, rng: random.Random) -> None:
    """``count`` synthetic cases (numbers from ``start``), one transaction per batch, written
    through the driver (ORM inserts would make the 1M-case run take most of an hour)."""
    with services.uow() as uow:
        spec_id = services.versions.ensure_current(uow.session, NOW).id
        uow.commit()
    dialect = services.engine.dialect.name
    with Session(services.engine) as s:
        agencies = [a.id for a in s.scalars(select(Agency).where(Agency.handles_reports.is_(True)))]
        command = s.scalar(select(Agency.id).where(Agency.is_command_center.is_(True)))
        codes = {a.id: a.code for a in s.scalars(select(Agency))}
        categories = list(s.scalars(select(Category.id)))
        zone = city_zone(s)
        areas = list(s.scalars(select(Area.id).where(Area.parent_id.is_(None))))
        next_id = {t: (s.scalar(select(func.max(m.id))) or 0) + 1
                   for t, m in (("reports", Report), ("cases", Case), ("work_items", WorkItem))}

    def when(moment: datetime | None):
        return db_moment(moment, dialect)

    true, false = (True, False) if dialect == "postgresql" else (1, 0)
    for first in range(start, start + count, BATCH):
        n = min(BATCH, start + count - first)
        reports, cases, items, escalations, events = [], [], [], [], []
        sla: dict[tuple, list[int]] = {}
        for k in range(n):
            number = first + k
            report_id, case_id = next_id["reports"], next_id["cases"]
            next_id["reports"] += 1
            next_id["cases"] += 1
            created = NOW - timedelta(seconds=rng.uniform(0, 365 * 86400))
            recent = NOW - created < timedelta(days=10)
            closing = timedelta(hours=rng.uniform(2, 240))
            if (recent and rng.random() < 0.5) or created + closing > NOW:
                status, closed = rng.choice(["triage", "in_progress", "resolved"]), None
            else:
                status = "closed" if rng.random() < 0.97 else "rejected"
                closed = created + closing
            agency, category, area = rng.choice(agencies), rng.choice(categories), rng.choice(areas)
            reports.append((report_id, f"B{number:09d}", "demo", category, "bench", -5.15, 119.42, "", area,
                            false, false, when(created)))
            cases.append((case_id, f"B{number:09d}", report_id, spec_id, status,
                           None if closed else "disposition", category, area,
                           None if status == "triage" else agency, "normal", 0, 0, 0,
                           None if closed else when(created + timedelta(hours=8)), when(created),
                           when(closed or created), when(closed),
                           (closed - created).total_seconds() if status == "closed" else None, 1))
            steps = ([("triage", "triage", command, 4), ("disposition", "coordinator", agency, 8),
                      ("dispatch", "coordinator", agency, 8)] if closed else
                     [("disposition", "coordinator", agency, 8)])
            at, first_item = created, next_id["work_items"]
            for form, role, agency_id, hours in steps:
                done = at + timedelta(hours=rng.uniform(0.2, 1.3 * hours)) if closed else None
                items.append((next_id["work_items"], case_id, str(uuid.uuid4()), form, form, "OPD", role,
                              agency_id, category, area, when(at), when(at + timedelta(hours=hours)), "normal",
                              when(done), "completed" if done else None))
                if done:  # what projections.count_sla adds as the task completes
                    key = (done.astimezone(zone).date(), agency_id, form)
                    counts = sla.setdefault(key, [0, 0])
                    counts[0] += 1
                    counts[1] += int(done <= at + timedelta(hours=hours))
                next_id["work_items"] += 1
                at = done or at
            if rng.random() < 0.04:
                escalations.append((case_id, first_item, "disposition", "breach", agency,
                                    when(created + timedelta(hours=9)), when(created + timedelta(hours=8))))
            if rng.random() < 0.05:
                events.append((case_id, 1, when(created + timedelta(hours=1)), "bench", "coordinator",
                               "case_transferred", codes[rng.choice(agencies)], codes[agency], "{}",
                               "0" * 64, secrets.token_hex(32)))
        raw = services.engine.raw_connection()
        if dialect == "sqlite":  # a throwaway database: no need to wait for the disk
            raw.cursor().execute("PRAGMA synchronous=OFF")
        try:
            _bulk(raw, dialect, "reports", ["id", "tracking_hash", "channel", "category_id", "description", "lat",
                                            "lon", "address", "area_id", "anonymous", "confidential",
                                            "submitted_at"], reports)
            _bulk(raw, dialect, "cases", ["id", "number", "report_id", "spec_id", "status", "stage", "category_id",
                                          "area_id", "agency_id", "priority", "transfer_count", "reopen_count",
                                          "rework_count", "due_at", "created_at", "updated_at", "closed_at",
                                          "close_seconds", "version"], cases)
            _bulk(raw, dialect, "work_items", ["id", "case_id", "bpmn_task_id", "task_name", "form_key", "lane",
                                               "role", "agency_id", "category_id", "area_id", "created_at", "due_at",
                                               "priority", "completed_at", "outcome"], items)
            _bulk(raw, dialect, "escalations", ["case_id", "work_item_id", "task_name", "level", "agency_id",
                                                "raised_at", "due_at"], escalations)
            _bulk(raw, dialect, "case_events", ["case_id", "seq", "occurred_at", "actor_name", "actor_role",
                                                "action", "from_agency", "to_agency", "data", "prev_hash",
                                                "hash"], events)
            mark = "%s" if dialect == "postgresql" else "?"
            cursor = raw.cursor()
            cursor.executemany(
                f"INSERT INTO sla_daily (day, agency_id, form_key, completed, on_time) "
                f"VALUES ({', '.join([mark] * 5)}) ON CONFLICT (day, agency_id, form_key) DO UPDATE SET "
                "completed = sla_daily.completed + excluded.completed, "
                "on_time = sla_daily.on_time + excluded.on_time",
                [(day if dialect == "postgresql" else day.isoformat(), agency_id, form, n, ok)
                 for (day, agency_id, form), (n, ok) in sla.items()])
            cursor.close()
            raw.commit()
        finally:
            raw.close()
    if dialect == "postgresql":  # ids were given explicitly: move the sequences past them
        with services.engine.begin() as conn:
            for table in ("reports", "cases", "work_items"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")


def real_case(services) -> int:
    """One case through the real commands: transferred twice, late once, worked in the field."""
    clock = services.clock
    with services.uow() as uow:
        for username, role, scope in (("b.triage", "triage", "KOMINFO"), ("b.dlh", "coordinator", "DLH"),
                                      ("b.dpu", "coordinator", "DPU"), ("b.qr", "qr_officer", "qr-mariso-1"),
                                      ("b.auditor", "auditor", None)):
            commands.create_user(uow, username=username, full_name=username, password=PASSWORD,
                                 roles=[(role, scope)])
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di saluran depan pasar.", lat=-5.156,
            lon=119.405, area="mariso"))
        uow.commit()
    with services.reading() as s:
        from workflow.store.models import User
        users = {u.username: actor_for_user(s, u.id) for u in s.scalars(select(User))}

    scenario = Scenario(services, step=timedelta(hours=1))

    def step(who, **values):
        scenario.do(commands.complete_work_item, users[who], submitted.case_id, values=values)

    step("b.triage", decision="valid")
    step("b.dlh", decision="transfer", transfer_to="DPU", reason="Saluran")
    step("b.dpu", decision="transfer", transfer_to="DLH", reason="Sampah")
    clock.advance(timedelta(hours=8))
    Sweeper(services, worker="bench", batch=100).run_once()
    step("b.dlh", decision="accept")
    step("b.dlh", team="qr-mariso-1")
    return submitted.case_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]

    from tests.webclient import WebClient
    from web import create_app

    services = fresh_services(args.database_url, NOW - timedelta(days=2))
    engine, clock = services.engine, services.clock
    case_id = real_case(services)
    clock.set(NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "bench"}, services=services)
    web = WebClient(app)
    web.login("b.auditor", PASSWORD)

    def get(path):
        def run():
            response = web.get(path)
            assert response.status_code == 200, (path, response.status_code)
        return run

    rng = random.Random(7)
    print(f"database: {engine.dialect.name}")
    print(f"{'cases':>10}{'dashboard ms':>14}{'ratio':>8}{'history ms':>12}{'ratio':>8}")
    have, base = 1, None
    for size in sizes:
        add_cases(services, size - have, have, rng)
        have = size
        # after a bulk load: planner statistics, and on PostgreSQL the visibility map that lets
        # the covering indexes answer alone (autovacuum does this on a live system)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        get("/dashboard")()  # warm the caches once
        dashboard_ms = median_ms(get("/dashboard"), args.rounds)
        history_ms = median_ms(get(f"/audit/cases/{case_id}"), args.rounds)
        base = base or (dashboard_ms, history_ms)
        flag = "  (over 500 ms)" if dashboard_ms > 500 else ""
        print(f"{size:>10}{dashboard_ms:>14.1f}{dashboard_ms / base[0]:>8.2f}{history_ms:>12.1f}"
              f"{history_ms / base[1]:>8.2f}{flag}", flush=True)
    services.dispose()


if __name__ == "__main__":
    main()
