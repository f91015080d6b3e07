"""The work lists keep their query plans: the inbox, the inbox filtered by kecamatan and the
escalation view read their page in order from the partial index meant for them, and count
without sorting or joining every open row to its case (bench/queries.py measures what this buys
at 1M cases). The statements are the ones the read functions run, captured and explained on the
database under test, with the planner's statistics fresh as autovacuum keeps them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from escalation.sweeper import Sweeper
from tests import actions
from tests.bulk import clone_case
from workflow.access import actor_for_user
from workflow.read.escalations import EscalationFilters, escalation_view
from workflow.read.inbox import InboxFilters, inbox
from workflow.store.models import User

COPIES = 300  # enough rows that a plan reading them all costs more than one reading the index


@pytest.fixture
def late_city(world):
    """Open DLH cases at disposition, late and escalated, among many copies of open work."""
    w = world
    for _ in range(3):
        sub = w.report()
        w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.advance(timedelta(hours=20))
    Sweeper(w.services, worker="test").run_once()
    w.user("sup.kota", ("supervisor", None))
    clone_case(w.services, sub.case_id, COPIES)
    with w.services.engine.begin() as conn:  # the copies' escalations, on their copied review tasks
        conn.execute(text(
            "INSERT INTO escalations (case_id, work_item_id, task_name, level, agency_id, raised_at, due_at) "
            "SELECT copy.case_id, copy.id, e.task_name, e.level, e.agency_id, e.raised_at, e.due_at "
            "FROM escalations e JOIN work_items review ON review.id = e.work_item_id "
            "JOIN work_items copy ON copy.task_name = review.task_name AND copy.role = review.role "
            "AND copy.case_id <> review.case_id AND copy.completed_at IS NULL "
            "WHERE e.case_id = :case AND copy.case_id > :case"), {"case": sub.case_id})
    with w.services.engine.begin() as conn:  # the copies over the city's kecamatan, as reports come
        areas = [r[0] for r in conn.execute(text("SELECT id FROM areas WHERE parent_id IS NULL ORDER BY id"))]
        for n, area in enumerate(areas):
            conn.execute(text("UPDATE cases SET area_id = :area WHERE id > :case AND id % :n = :k"),
                         {"area": area, "case": sub.case_id, "n": len(areas), "k": n})
        conn.execute(text("UPDATE work_items SET area_id = (SELECT area_id FROM cases WHERE cases.id = work_items.case_id)"))
    if w.services.engine.dialect.name == "postgresql":  # statistics and visibility, as autovacuum keeps them
        with w.services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) work_items, escalations, cases")
    else:
        with w.services.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return w


def _statements(services, read) -> list[tuple[str, object]]:
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(services.engine, "before_cursor_execute", keep)
    try:
        with services.reading() as session:
            read(session)
    finally:
        event.remove(services.engine, "before_cursor_execute", keep)
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]


def _plan(services, statement: str, parameters) -> str:
    raw = services.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if services.engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN " + statement, parameters)
            return "\n".join(r[0] for r in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(r[-1] for r in cursor.fetchall())
    finally:
        raw.close()


def _sorts(plan: str) -> bool:
    """Whether the plan sorts rows itself (instead of reading them in index order)."""
    return bool(re.search(r"TEMP B-TREE FOR ORDER BY|(?<![\w ])Sort\b|Incremental Sort", plan))


def _check(services, read, table: str, index: str, what: str) -> None:
    """The page of ``read`` comes from ``index`` in order; its count reads ``table`` alone."""
    statements = [(s, p) for s, p in _statements(services, read) if re.search(rf"FROM {table}\b", s)]
    paged = [(s, p) for s, p in statements if "LIMIT" in s and "ORDER BY" in s and "count(" not in s]
    counted = [(s, p) for s, p in statements if re.match(r"SELECT (\(SELECT )?count\(", s.lstrip())]
    assert paged and counted, f"{what}: no paged or counted statement among {statements}"
    statement, parameters = paged[0]
    plan = _plan(services, statement, parameters)
    assert index in plan, f"{what}: {index} not used by\n{statement}\n{plan}"
    assert not _sorts(plan), f"{what}: sorts instead of reading {index} in order:\n{statement}\n{plan}"
    for statement, parameters in (paged[0], counted[0]):
        assert not re.search(r"\bJOIN cases\b", statement), f"{what}: joined to cases before the page:\n{statement}"
    statement, parameters = counted[0]
    plan = _plan(services, statement, parameters)
    assert not _sorts(plan), f"{what}: the count sorts:\n{statement}\n{plan}"


def test_the_inbox_reads_its_page_from_the_open_items_index(world, late_city):
    now = world.services.clock.now()
    _check(world.services, lambda s: inbox(s, world.dlh, InboxFilters(), now), "work_items",
           "ix_work_items_inbox", "inbox")


def test_the_inbox_by_kecamatan_reads_the_area_index(world, late_city):
    now = world.services.clock.now()
    _check(world.services, lambda s: inbox(s, world.dlh, InboxFilters(area="mariso"), now),
           "work_items", "ix_work_items_inbox_area", "inbox by kecamatan")


def test_the_escalation_view_reads_open_escalations_in_deadline_order(world, late_city):
    with world.services.reading() as s:
        chief = actor_for_user(s, s.scalar(select(User.id).where(User.username == "sup.kota")))
        now, levels = world.services.clock.now(), world.services.definition.levels
        page, _counts = escalation_view(s, chief, EscalationFilters(), now, levels)
    assert len(page.rows) == page.per_page, "the fixture made too few open escalations"
    _check(world.services, lambda s: escalation_view(s, chief, EscalationFilters(), now, levels),
           "escalations", "ix_escalations_open_due", "escalation view")
