"""A city's worth of cases, fast: N cases over the past years, a few percent still open at every
stage of the process, made of what the engine writes.

The rows are the engine's own. First a few hundred *template* cases are driven through the real
commands along the demo's stops (``tanggap/demo_cases.yaml``: triage, transfers, ping-pong,
dispatch, field work, rework, closure, disputes, rejections), and the escalation worker runs over
the ones left late. Then each of the N cases is a copy of a template: its report, case row,
work items, timers, escalations, notes and audit events under new ids and new task ids, the
audit chain hashed anew for its own case id and times. Closed cases are moved back in time over
``years`` (every time of the copy by the same amount); open cases keep their template's times, so
that their timers, deadlines and serialized state agree exactly. The copies are written through
the driver (COPY on PostgreSQL, executemany on SQLite), each value converted by its column's own
SQLAlchemy type, as the ORM would.

:func:`check_sample` proves the copies are what the engine wrote: it loads open copies through the
engine, works their open task through the real command, and verifies their audit chains.

Left out of the copies, and why: the serialized workflow state of *closed* cases (26 KB each, 26 GB
at 1M cases; nothing measured here reads it, and a closed case's state is never loaded again
unless a dispute reopens it within days), attachments (files on disk), reporters' subscriptions
and notices, and the transparency log's entries for the copied events (bench.audit measures the
log at its own sizes). With ``closed_events=False`` (``--no-closed-events``; bench.queries at 1M)
the closed copies' audit events are left out too: about 14 rows a case, most of the loading time,
and none of the work lists reads them.

    python -m bench.generate --cases 100000 [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from escalation.sweeper import Sweeper
from tanggap import demo
from workflow import commands
from workflow.access import actor_for_user
from workflow.services import Services
from workflow.store import audit
from workflow.store.models import (
    Base,
    Case,
    CaseEvent,
    CaseState,
    Escalation,
    Membership,
    Note,
    Report,
    Timer,
    User,
    WorkItem,
)
from workflow.vocabulary import OPEN_STATUSES, CaseStatus, Role

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
PASSWORD = "bench-password-123-xyz"
SUPERVISOR = "supervisor.kota"  # the demo's city-wide supervisor (tanggap.demo.demo_users)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BATCH = 5000  # cases per transaction
REJECTED_SHARE = 0.08  # of the cases no longer open

# Tables copied with each case, parents first; the key of each table's rows in a template.
TABLES: tuple[type[Base], ...] = (Report, Case, CaseState, WorkItem, Timer, Escalation, Note, CaseEvent)


@dataclass
class Template:
    """One real case: its rows, by table name, as column dicts."""

    case_id: int
    open: bool
    rows: dict[str, list[dict]]
    task_ids: list[str]

    @property
    def case(self) -> dict:
        return self.rows["cases"][0]


@dataclass
class Generated:
    cases: int = 0
    open: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    templates: int = 0


def templates(services: Services, count: int = 300, seed: int = 7) -> list[Template]:
    """About ``count`` real cases, made as a city makes them (the clock of ``services`` must stand
    at ``NOW``; it is moved). The older two thirds are reported over the four weeks up to nine
    days ago and stop along the demo's stops; the escalation worker raises their late tasks, the
    city supervisor acknowledges every escalation, and half of the late cases are then worked
    to the end (closed with an escalation in their history). The newest third is reported over
    the last two days; at ``NOW`` the worker raises what is late among them (left open, as a
    supervisor finds it in the morning) and closes the resolved cases whose dispute window ran out."""
    clock = services.clock
    rng = random.Random(seed)
    demo.demo_users(services, PASSWORD)
    clock.set(NOW - timedelta(days=9))
    demo.demo_cases(services, count * 2 // 3, seed=seed, days=26)
    _sweep(services)
    with services.reading() as session:
        chief = actor_for_user(session, session.scalar(select(User.id).where(User.username == SUPERVISOR)))
        late = list(session.execute(
            select(WorkItem.id, WorkItem.case_id).join(Escalation, Escalation.case_id == WorkItem.case_id)
            .where(Escalation.resolved_at.is_(None), WorkItem.completed_at.is_(None),
                   WorkItem.task_name == Escalation.task_name).distinct()))
    for item_id, _case in late:
        with services.uow() as uow:
            commands.acknowledge_late_task(uow, chief, item_id, "Sudah dikoordinasikan dengan OPD.")
            uow.commit()
    plan = demo.load_plan()
    driver = demo._Driver(services, clock, rng, NOW, plan["steps"])
    for _item, case_id in rng.sample(late, len(late) // 2):
        _work_to_the_end(services, driver, case_id, plan)
    clock.set(NOW)
    demo.demo_cases(services, count - count * 2 // 3, seed=seed + 1, days=2)
    _sweep(services)
    out = []
    with services.reading() as session:
        for case in session.scalars(select(Case).where(Case.merged_into_id.is_(None)).order_by(Case.id)):
            rows: dict[str, list[dict]] = {}
            for model in TABLES:
                table: Table = model.__table__
                key = table.c.id if model in (Report, Case) else table.c.case_id
                wanted = case.report_id if model is Report else case.id
                order = table.c.seq if model is CaseEvent else list(table.primary_key.columns)[0]
                rows[table.name] = [dict(r._mapping) for r in session.execute(
                    select(table).where(key == wanted).order_by(order))]
            state = rows["case_states"][0]["state_json"] if rows["case_states"] else ""
            out.append(Template(case_id=case.id, open=case.status in OPEN_STATUSES, rows=rows,
                                task_ids=sorted(set(UUID.findall(state)))))
    return out


def _sweep(services: Services) -> None:
    sweeper = Sweeper(services, worker="bench-generate", batch=500)
    for _ in range(50):  # bounded: each pass fires what is due; a few suffice
        if not sweeper.run_once().fired:
            break


def _work_to_the_end(services: Services, driver, case_id: int, plan: dict) -> None:
    """Work the case along the demo's ``closed`` stop from the task it waits at, up to the
    reporter's confirmation (the dispute window's timer closes it later)."""
    with services.reading() as session:
        case = session.get(Case, case_id)
        sub = SimpleNamespace(case_id=case.id, case_number=case.number, tracking_code=None)
        area_id = case.area_id
    steps = plan["stops"]["closed"]["steps"]
    for _ in range(len(steps) * 2):  # bounded: a step moves the case on or the loop ends
        item = driver.item(case_id) if driver.open_items(case_id) else None
        if item is None or item.role == Role.CITIZEN:
            return
        names = [n for n in steps if plan["steps"][n].get("task") == item.task_name]
        if not names:
            return
        driver.run(sub, area_id, names[:1], [])


class _Writer:
    """Rows to the database through the driver, each value bound as its column's type binds it."""

    def __init__(self, services: Services):
        self.engine = services.engine
        self.dialect = self.engine.dialect
        self.pg = self.dialect.name == "postgresql"
        self.columns: dict[str, list[str]] = {}
        self.processors: dict[str, list] = {}
        for model in TABLES:
            table = model.__table__
            self.columns[table.name] = [c.name for c in table.columns]
            self.processors[table.name] = [c.type.dialect_impl(self.dialect).bind_processor(self.dialect)
                                           for c in table.columns]

    def next_ids(self) -> dict[str, int]:
        with Session(self.engine) as s:
            return {m.__tablename__: (s.scalar(select(func.max(m.__table__.c.id))) or 0) + 1
                    for m in TABLES if "id" in m.__table__.c and m is not CaseState}

    def drop_indexes(self) -> None:
        """Bulk loading: the secondary indexes go, and :meth:`finish` builds them again in one
        sorted pass each (much faster than keeping them up to date row by row)."""
        with self.engine.begin() as conn:
            for model in TABLES:
                for index in model.__table__.indexes:
                    index.drop(conn, checkfirst=True)

    def write(self, batch: dict[str, list[dict]]) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if not self.pg:  # a throwaway database: no need to wait for the disk
                cursor.execute("PRAGMA synchronous=OFF")
            for model in TABLES:
                name = model.__tablename__
                rows = batch.get(name)
                if not rows:
                    continue
                columns, processors = self.columns[name], self.processors[name]
                values = [tuple(p(r[c]) if p is not None and r[c] is not None else r[c]
                                for c, p in zip(columns, processors)) for r in rows]
                if self.pg:
                    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in values:
                            copy.write_row(row)
                else:
                    marks = ", ".join("?" for _ in columns)
                    cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", values)
            cursor.close()
            raw.commit()
        finally:
            raw.close()

    def finish(self) -> None:
        """The indexes back; ids were given explicitly: on PostgreSQL, move the sequences past
        them; then the planner's statistics (and PostgreSQL's visibility map), as autovacuum
        keeps them live."""
        with self.engine.begin() as conn:
            for model in TABLES:
                for index in model.__table__.indexes:
                    index.create(conn, checkfirst=True)
        if self.pg:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for model in TABLES:
                    if model is not CaseState:
                        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{model.__tablename__}', 'id'), "
                                             f"(SELECT max(id) FROM {model.__tablename__}))")
                conn.exec_driver_sql("VACUUM (ANALYZE)")
        else:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")


def _shift(row: dict, by: timedelta) -> dict:
    if not by:
        return dict(row)
    return {k: (v + by if isinstance(v, datetime) else v) for k, v in row.items()}


def _copy(t: Template, ids: dict[str, int], number: int, by: timedelta, out: dict[str, list[dict]],
          events: bool = True) -> dict:
    """The rows of one copy of ``t``, moved in time by ``by``, appended to ``out``; its case row.
    ``events``: with its audit events (without, its case row says it has none)."""
    mapping: dict[str, str] = {}

    def task_id(old: str) -> str:
        new = mapping.get(old)
        if new is None:
            new = mapping[old] = str(uuid.uuid4())
        return new

    def new_id(table: str) -> int:
        value = ids[table]
        ids[table] += 1
        return value

    report = _shift(t.rows["reports"][0], by)
    report.update(id=new_id("reports"), tracking_hash=f"bench-{number:058d}")
    out["reports"].append(report)
    case = _shift(t.case, by)
    case_id = new_id("cases")
    case.update(id=case_id, report_id=report["id"], number=f"B{number:09d}")
    out["cases"].append(case)
    for state in t.rows["case_states"]:
        if t.open:
            out["case_states"].append({**state, "case_id": case_id, "state_json": UUID.sub(
                lambda m: task_id(m.group(0)), state["state_json"])})
    items: dict[int, int] = {}
    for item in t.rows["work_items"]:
        row = _shift(item, by)
        items[item["id"]] = row["id"] = new_id("work_items")
        row.update(case_id=case_id, bpmn_task_id=task_id(item["bpmn_task_id"]))
        out["work_items"].append(row)
    for timer in t.rows["timers"]:
        row = _shift(timer, by)
        row.update(id=new_id("timers"), case_id=case_id, bpmn_task_id=task_id(timer["bpmn_task_id"]))
        out["timers"].append(row)
    for esc in t.rows["escalations"]:
        row = _shift(esc, by)
        row.update(id=new_id("escalations"), case_id=case_id, work_item_id=items[esc["work_item_id"]])
        out["escalations"].append(row)
    for note in t.rows["notes"]:
        row = _shift(note, by)
        row.update(id=new_id("notes"), case_id=case_id,
                   work_item_id=items.get(note["work_item_id"]) if note["work_item_id"] else None)
        out["notes"].append(row)
    if not events:
        case["event_count"] = 0
        return case
    prev = audit.GENESIS
    for event in t.rows["case_events"]:
        row = _shift(event, by)
        row.update(id=new_id("case_events"), case_id=case_id, prev_hash=prev)
        row["hash"] = prev = audit.compute_hash(prev, audit.row_payload(row))
        out["case_events"].append(row)
    return case


def generate(services: Services, count: int, *, open_share: float = 0.03, years: float = 3.0,
             start_number: int = 1, pool: list[Template] | None = None, seed: int = 11,
             closed_events: bool = True) -> Generated:
    """``count`` copies of ``pool`` (default: :func:`templates`), ``open_share`` of them open
    (at the stages their templates stopped at), the rest closed, rejected or resolved over the
    past ``years``. Case numbers ``B000000001``... from ``start_number``. ``closed_events``:
    False leaves the audit events of the closed copies out (about 14 rows a case, most of the
    loading time, read by none of the queries of the open work)."""
    began = time.perf_counter()
    pool = pool if pool is not None else templates(services)
    rng = random.Random(seed + start_number)
    opened = [t for t in pool if t.open]
    done = [t for t in pool if not t.open]
    rejected = sum(t.case["status"] == CaseStatus.REJECTED for t in done)
    # as many rejected among the closed as the city sees (the demo's stops have more)
    weights = [REJECTED_SHARE / rejected if t.case["status"] == CaseStatus.REJECTED
               else (1 - REJECTED_SHARE) / (len(done) - rejected) for t in done]
    writer = _Writer(services)
    ids = writer.next_ids()
    writer.drop_indexes()
    result = Generated(templates=len(pool))
    span = timedelta(days=365 * years).total_seconds()
    for first in range(0, count, BATCH):
        batch: dict[str, list[dict]] = {m.__tablename__: [] for m in TABLES}
        for k in range(first, min(count, first + BATCH)):
            if rng.random() < open_share:
                t, by = rng.choice(opened), timedelta(0)
            else:
                t = rng.choices(done, weights)[0]
                # closed some time in the past years (the newest a month before the templates)
                by = -timedelta(days=30) - timedelta(seconds=rng.uniform(0, span))
            case = _copy(t, ids, start_number + k, by, batch, events=t.open or closed_events)
            status = case["status"].value
            result.by_status[status] = result.by_status.get(status, 0) + 1
            result.open += t.open
        writer.write(batch)
        result.cases += min(count, first + BATCH) - first
    writer.finish()
    result.seconds = time.perf_counter() - began
    return result


def check_sample(services: Services, size: int = 5, seed: int = 3) -> list[str]:
    """Problems with the copies (none: they are what the engine writes): ``size`` open copies
    waiting at a triage or coordinator's task, their workflow loaded by the engine and the task
    worked by the real command as someone of its scope; the chains of those and of a hundred
    copies drawn at random (open and closed) verify, before and after."""
    problems: list[str] = []
    rng = random.Random(seed)
    side = services.definition.side_tasks
    with services.reading() as session:
        copies = list(session.scalars(select(Case.id).where(Case.number.like("B%")).order_by(Case.id)))
        waiting = list(session.execute(
            select(WorkItem.id, WorkItem.case_id, WorkItem.task_name).join(Case, Case.id == WorkItem.case_id)
            .where(Case.number.like("B%"), WorkItem.completed_at.is_(None),
                   WorkItem.role.in_((Role.TRIAGE, Role.COORDINATOR)), WorkItem.task_name.not_in(side))
            .order_by(WorkItem.id)))
        actors = {}
        for m in session.scalars(select(Membership).order_by(Membership.user_id)):
            actors.setdefault((m.role, m.agency_id, m.team_id), m.user_id)
    steppable = [w for w in waiting if _values(w.task_name) is not None]
    chosen = rng.sample(steppable, min(size, len(steppable)))
    sample = sorted(set(rng.sample(copies, min(len(copies), 100))) | {w.case_id for w in chosen})
    problems += [f"case {b.case_id}: {b.problem}" for b in audit.verify_rows(_events(services, sample))]
    if not chosen:
        problems.append("no open copy waits at a triage or coordinator's task to step")
    for item_id, case_id, task_name in chosen:
        with services.reading() as session:
            item = session.get(WorkItem, item_id)
            user_id = actors.get((item.role, item.agency_id, None))
            actor = actor_for_user(session, user_id) if user_id else None
        if actor is None:
            problems.append(f"case {case_id}: nobody may work its {task_name}")
            continue
        try:
            with services.uow() as uow:
                commands.complete_work_item(uow, actor, item_id, values=_values(task_name))
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - a copy the engine cannot step is the finding
            problems.append(f"case {case_id}: the engine could not complete {task_name}: {exc!r}")
    problems += [f"case {b.case_id} after the step: {b.problem}"
                 for b in audit.verify_rows(_events(services, sample))]
    return problems


def _events(services: Services, case_ids: Iterable[int]) -> list[CaseEvent]:
    with services.reading() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(list(case_ids)))
                                    .order_by(CaseEvent.case_id, CaseEvent.seq)))


def _values(task_name: str) -> dict | None:
    """The demo's values for the step of ``task_name`` that moves a case forward, when they
    need nothing filled in (None: no such step)."""
    for step in demo.load_plan()["steps"].values():  # the first listed for a task moves it on
        if step.get("task") == task_name and not any("{" in str(v) for v in step["values"].values()):
            return dict(step["values"])
    return None


def main(argv: list[str] | None = None) -> None:
    from bench.setup import fresh_services

    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--templates", type=int, default=300)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a new SQLite file)")
    parser.add_argument("--no-closed-events", action="store_true", help="closed copies without audit events")
    args = parser.parse_args(argv)
    services = fresh_services(args.database_url, NOW)
    pool = templates(services, args.templates)
    got = generate(services, args.cases, pool=pool, closed_events=not args.no_closed_events)
    print(f"{got.cases} cases ({got.open} open, {json.dumps(got.by_status)}) from {got.templates} templates "
          f"in {got.seconds:.0f} s: {got.cases / got.seconds:.0f} cases/s")
    problems = check_sample(services)
    print("sample check:", "ok" if not problems else "\n  ".join(["PROBLEMS"] + problems))
    services.dispose()


if __name__ == "__main__":
    main()
