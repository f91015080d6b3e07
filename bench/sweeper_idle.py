"""Cost of a sweep with nothing due, at 1k, 10k and 100k open cases.

The sweeper claims due rows through the ``timers.due_at`` index, so its cost should not grow with
the number of open cases: the ratio of each size to the smallest should stay near 1. As a
baseline in the same run, a naive sweep that scans the open cases for due deadlines is timed too;
it grows with the table.

The open cases are inserted in bulk: a report and a case row each, with the two SLA timers of a
case waiting in triage, due in the future. No workflow state is written: a sweep with nothing
due never reads it (that is the point being measured).

    .venv/bin/python -m bench.sweeper_idle [--sizes 1000,10000,100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from bench.setup import fresh_services
from bench.timing import median_ms
from escalation.sweeper import Sweeper
from workflow.store.models import Agency, Area, Case, Category, Report, Timer
from workflow.vocabulary import CaseStatus, Channel

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)


def add_open_cases(services, count: int, start: int) -> None:
    with services.uow() as uow:
        s = uow.session
        spec = services.versions.ensure_current(s, NOW)
        category = s.scalar(select(Category.id).limit(1))
        area = s.scalar(select(Area.id).where(Area.parent_id.is_(None)).limit(1))
        agency = s.scalar(select(Agency.id).where(Agency.code == "DLH"))
        for chunk in range(start, start + count, 5000):
            n = min(5000, start + count - chunk)
            reports = s.scalars(insert(Report).returning(Report.id, sort_by_parameter_order=True), [
                {"tracking_hash": f"B{chunk + k:063d}", "channel": Channel.DEMO, "category_id": category,
                 "description": "bench", "lat": -5.15, "lon": 119.42, "address": "", "area_id": area,
                 "anonymous": False, "confidential": False, "submitted_at": NOW} for k in range(n)]).all()
            cases = s.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True), [
                {"number": f"B{chunk + k:09d}", "report_id": rid, "spec_id": spec.id,
                 "status": CaseStatus.IN_PROGRESS, "stage": "disposition", "category_id": category,
                 "area_id": area, "agency_id": agency, "priority": "normal", "transfer_count": 0,
                 "reopen_count": 0, "rework_count": 0, "due_at": NOW + timedelta(hours=8),
                 "created_at": NOW, "updated_at": NOW, "version": 1}
                for k, rid in enumerate(reports)]).all()
            s.execute(insert(Timer), [
                {"case_id": cid, "bpmn_task_id": str(uuid.uuid4()), "timer_name": name,
                 "guards_task": "disposition", "interrupting": False, "attempts": 0,
                 "due_at": NOW + timedelta(hours=hours)}
                for cid in cases for name, hours in (("disposition_sla", 8), ("disposition_critical", 16))])
        uow.commit()



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]

    services = fresh_services(args.database_url, NOW)
    engine = services.engine
    sweeper = Sweeper(services, worker="bench")

    def naive():
        with services.reading() as session:  # what a sweep without the timers index would do
            session.execute(select(Case.id, Case.due_at).where(
                Case.status.in_([CaseStatus.TRIAGE, CaseStatus.IN_PROGRESS])).order_by(Case.id)).all()

    print(f"database: {engine.dialect.name}")
    print(f"{'open cases':>12}{'sweep ms':>10}{'ratio':>8}{'naive scan ms':>15}{'ratio':>8}")
    have, base = 0, None
    for size in sizes:
        add_open_cases(services, size - have, have)
        have = size
        with services.reading() as session:
            assert session.scalar(select(func.count()).select_from(Case)) == size
        assert sweeper.run_once().claimed == 0
        sweep_ms, naive_ms = median_ms(sweeper.run_once, args.rounds), median_ms(naive, max(3, args.rounds // 5))
        base = base or (sweep_ms, naive_ms)
        print(f"{size:>12}{sweep_ms:>10.2f}{sweep_ms / base[0]:>8.2f}{naive_ms:>15.1f}{naive_ms / base[1]:>8.1f}")
    services.dispose()


if __name__ == "__main__":
    main()
