"""The work lists at city scale: the inbox (a coordinator's, and filtered by kecamatan), the
supervisors' escalation view, and the ``/inbox`` and ``/escalations`` pages, on a database of a
city's history against the same on a small one.

Two databases are filled by :mod:`bench.generate` (years of closed cases, a few percent open at
every stage, late ones escalated): the *baseline* with 10k cases, the *measured* with 1M
(``--full``; 100k with ``--quick``). Each figure is timed on both alternately, round after round,
so the ratio (the growth with the city's history) holds on a shared machine. The queries are
called as the pages call them; the pages are requested through the app (server time, no network),
logged in as the coordinator of the busiest OPD and as the city's supervisor.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy import func, select

from bench import generate
from bench.report import Figure, interleaved, percentile
from bench.setup import fresh_services
from workflow.access import actor_for_user
from workflow.read.escalations import EscalationFilters, escalation_view
from workflow.read.inbox import InboxFilters, inbox
from workflow.services import Services
from workflow.store.models import Area, Case, Membership, User, WorkItem
from workflow.vocabulary import Role

SIZES = {"smoke": (300, 600), "quick": (10_000, 100_000), "full": (10_000, 1_000_000)}
ROUNDS = {"smoke": 1, "quick": 30, "full": 60}
TEMPLATES = {"smoke": 40, "quick": 200, "full": 300}
SUPERVISOR = generate.SUPERVISOR


@dataclass
class City:
    """One filled database and who works on it."""

    services: Services
    cases: int
    coordinator: object  # Actor
    coordinator_name: str
    supervisor: object
    kecamatan: str
    client: object = None  # a logged-in WebClient per user, made on demand

    def clients(self):
        if self.client is None:
            from tests.webclient import WebClient
            from web import create_app

            app = create_app({"TESTING": True, "SECRET_KEY": "bench"}, services=self.services)
            self.client = {}
            for name in (self.coordinator_name, SUPERVISOR):
                web = WebClient(app)
                web.login(name, generate.PASSWORD)
                self.client[name] = web
        return self.client


def city(database_url: str | None, cases: int, templates: int, notes: list[str]) -> City:
    """A database of ``cases`` cases, checked: a sample of the copies is stepped by the engine
    and their audit chains verify (a problem is a FAILED note)."""
    services = fresh_services(database_url, generate.NOW)
    pool = generate.templates(services, templates)
    made = generate.generate(services, cases - len(pool), pool=pool, closed_events=False,
                             start_number=len(pool) + 1)
    db = "PostgreSQL" if database_url else "SQLite"
    problems = generate.check_sample(services)
    notes.append(f"work lists, {db}, {_size(cases)} cases ({made.open + sum(t.open for t in pool)} open) "
                 f"generated in {made.seconds:.0f} s; "
                 + ("the engine stepped a sample of the copies and their chains verify"
                    if not problems else "FAILED: the sample check found " + "; ".join(problems[:3])))
    with services.reading() as session:
        # the OPD with the most open coordinator work, and its busiest kecamatan
        agency_id, _n = session.execute(
            select(WorkItem.agency_id, func.count()).where(WorkItem.completed_at.is_(None),
                                                           WorkItem.role == Role.COORDINATOR)
            .group_by(WorkItem.agency_id).order_by(func.count().desc()).limit(1)).one()
        kecamatan = session.scalar(
            select(Area.code).join(Case, Case.area_id == Area.id).join(WorkItem, WorkItem.case_id == Case.id)
            .where(WorkItem.completed_at.is_(None), WorkItem.agency_id == agency_id,
                   WorkItem.role == Role.COORDINATOR)
            .group_by(Area.code).order_by(func.count().desc(), Area.code).limit(1))
        user_id, username = session.execute(
            select(User.id, User.username).join(Membership, Membership.user_id == User.id)
            .where(Membership.role == Role.COORDINATOR, Membership.agency_id == agency_id)
            .order_by(User.id).limit(1)).one()
        supervisor = session.scalar(select(User.id).where(User.username == SUPERVISOR))
        coordinator, chief = actor_for_user(session, user_id), actor_for_user(session, supervisor)
    return City(services, cases, coordinator, username, chief, kecamatan)


def _measures(c: City) -> dict[str, object]:
    """What is timed on each database: name -> a call."""
    services, now = c.services, c.services.clock.now()
    question = services.definition.question_task
    levels = services.definition.levels

    def query_inbox(filters: InboxFilters):
        def run():
            with services.reading() as session:
                page = inbox(session, c.coordinator, filters, now, question.name if question else None)
            assert page.rows, "the coordinator's inbox is empty: nothing was measured"
        return run

    def query_escalations():
        with services.reading() as session:
            page, _counts = escalation_view(session, c.supervisor, EscalationFilters(), now, levels)
        assert page.rows, "no open escalations: nothing was measured"

    def page(user: str, path: str):
        def run():
            response = c.clients()[user].get(path)
            assert response.status_code == 200, (path, response.status_code)
        return run

    return {
        "inbox query, coordinator": query_inbox(InboxFilters()),
        "inbox query, filtered by kecamatan": query_inbox(InboxFilters(area=c.kecamatan)),
        "escalation view query, city-wide": query_escalations,
        "/inbox page, server time": page(c.coordinator_name, "/inbox"),
        "/escalations page, server time": page(SUPERVISOR, "/escalations"),
    }


TARGETS = {  # p95 ms at the large size, growth from the baseline size
    "inbox query, coordinator": (20, 1.5),
    "inbox query, filtered by kecamatan": (20, 1.5),
    "escalation view query, city-wide": (50, 1.5),
    "/inbox page, server time": (50, None),
    "/escalations page, server time": (50, None),
}


def figures(profile: str, database_url: str | None, notes: list[str]) -> list[Figure]:
    small_n, large_n = SIZES[profile]
    rounds = ROUNDS[profile]
    db = "PostgreSQL" if database_url else "SQLite"
    small = city(database_url, small_n, TEMPLATES[profile], notes)
    large = city(database_url, large_n, TEMPLATES[profile], notes)
    try:
        ours, base = _measures(large), _measures(small)
        out = []
        for name, (target, growth) in TARGETS.items():
            measured, baseline = interleaved(ours[name], base[name], rounds, warmup=2)
            out.append(Figure(
                group=f"work lists ({db})", name=f"{name}, p95 at {_size(large_n)} cases",
                value=percentile(measured, 95), unit="ms", baseline=f"p95 at {_size(small_n)}",
                baseline_value=percentile(baseline, 95), target=target, ratio_target=growth,
                note=f"median {statistics.median(measured):.1f} ms"))
        return out
    finally:
        small.services.dispose()
        large.services.dispose()


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def main(argv: list[str] | None = None) -> None:
    import argparse

    from bench.report import table

    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=tuple(SIZES), default="quick")
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    notes: list[str] = []
    print(table(figures(args.profile, args.database_url, notes)))
    for n in notes:
        print("note:", n)


if __name__ == "__main__":
    main()

