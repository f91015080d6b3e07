"""The work lists page and count as they did before they read their indexes: every sort pages
through each item once in the order asked (items without a deadline last), counts stop at the
limit and say so on the page and in the API, and an open escalation follows its late task's
deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from escalation.sweeper import Sweeper
from tests import actions
from tests.webclient import WebClient
from workflow import commands
from workflow.access import actor_for_user
from workflow.commands import credentials
from workflow.read import paging
from workflow.read.escalations import EscalationFilters, escalation_view
from workflow.read.inbox import SORTS, InboxFilters, inbox
from workflow.store.models import Escalation, User, WorkItem


@pytest.fixture
def dispositions(world):
    """Seven DLH cases at disposition, three of them without a deadline."""
    w = world
    for _ in range(7):
        sub = w.report()
        w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    with w.services.uow() as uow:
        ids = list(uow.session.scalars(select(WorkItem.id).where(WorkItem.completed_at.is_(None),
                                                                WorkItem.role == "coordinator").order_by(WorkItem.id)))
        uow.session.execute(update(WorkItem).where(WorkItem.id.in_(ids[1::2])).values(due_at=None))
        uow.commit()
    return w


def _expected(world, sort: str) -> list[int]:
    with world.services.reading() as s:
        items = list(s.scalars(select(WorkItem).where(WorkItem.completed_at.is_(None), WorkItem.role == "coordinator")))
    key, descending = SORTS[sort]
    name = key.key
    keyed = sorted((i for i in items if getattr(i, name) is not None),
                   key=lambda i: (getattr(i, name), i.id), reverse=descending)
    rest = sorted((i for i in items if getattr(i, name) is None), key=lambda i: i.id, reverse=descending)
    return [i.id for i in keyed + rest]


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("per_page", [1, 2, 3])
def test_every_sort_pages_through_each_item_once_in_order(dispositions, sort, per_page):
    w, now = dispositions, dispositions.services.clock.now()
    seen, page = [], 1
    while True:
        with w.services.reading() as s:
            result = inbox(s, w.dlh, InboxFilters(sort=sort, page=page, per_page=per_page), now)
        seen += [r.item_id for r in result.rows]
        assert result.total == 7 and not result.capped
        if not result.has_next:
            break
        page += 1
    assert seen == _expected(w, sort)
    assert page == -(-7 // per_page)


def test_a_count_past_the_limit_says_more_than_on_the_page_and_in_the_api(dispositions, app, monkeypatch):
    w = dispositions
    monkeypatch.setattr(paging, "COUNT_LIMIT", 4)
    with w.services.reading() as s:
        first = inbox(s, w.dlh, InboxFilters(per_page=3), w.services.clock.now())
        last = inbox(s, w.dlh, InboxFilters(per_page=3, page=3), w.services.clock.now())
    assert (first.total, first.capped, first.has_next) == (4, True, True)
    assert len(last.rows) == 1 and not last.has_next  # the pages go on past the count, to the last item
    web = WebClient(app)
    web.login("koor.dlh")
    html = web.get("/inbox?per_page=3").get_data(as_text=True)
    assert "Lebih dari 4 tugas" in html and "Halaman 1<" in html and "dari" not in html.split("Halaman 1")[1][:10]
    assert "page=2" in html
    with w.services.uow() as uow:
        _row, token = credentials.issue(uow, "token", "token koor.dlh", username="koor.dlh")
        uow.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    answer = api.get("/api/v1/tasks?limit=3", headers=headers).get_json()
    assert answer["total"] == 4 and answer["total_capped"] is True and answer["next_cursor"]
    monkeypatch.setattr(paging, "COUNT_LIMIT", 7)
    answer = api.get("/api/v1/tasks?limit=3", headers=headers).get_json()
    assert answer["total"] == 7 and answer["total_capped"] is False


def _late(world, count: int):
    """``count`` DLH cases late at disposition, escalated; the city's supervisor."""
    w = world
    subs = [w.report() for _ in range(count)]
    for sub in subs:
        w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.advance(timedelta(hours=20))
    Sweeper(w.services, worker="test").run_once()
    with w.services.reading() as s:
        chief = s.scalar(select(User.id).where(User.username == "sup.kota"))
        if chief is not None:
            return subs, actor_for_user(s, chief)
    return subs, w.user("sup.kota", ("supervisor", None))


def test_escalation_counts_stop_at_the_limit(world, monkeypatch):
    subs, chief = _late(world, 3)
    monkeypatch.setattr(paging, "COUNT_LIMIT", 2)
    levels = world.services.definition.levels
    with world.services.reading() as s:
        page, counts = escalation_view(s, chief, EscalationFilters(), world.services.clock.now(), levels)
    assert page.total == 2 and page.capped and len(page.rows) == 3
    assert counts and all(n == 2 for n in counts.values()) and counts.capped == frozenset(counts)
    monkeypatch.setattr(paging, "COUNT_LIMIT", 1000)
    with world.services.reading() as s:
        page, counts = escalation_view(s, chief, EscalationFilters(), world.services.clock.now(), levels)
    assert page.total == 3 and not page.capped and all(n == 3 for n in counts.values()) and not counts.capped


def test_an_open_escalation_follows_its_late_tasks_deadline(world):
    (first, second), chief = _late(world, 2)
    levels = world.services.definition.levels
    now = world.services.clock.now()

    def order():
        with world.services.reading() as s:
            page, _counts = escalation_view(s, chief, EscalationFilters(), world.services.clock.now(), levels)
        return [(r.case_id, r.due_at) for r in page.rows]

    assert [case for case, _due in order()] == [first.case_id, second.case_id]
    new_due = now + timedelta(days=3)
    world.do(commands.extend_deadline, chief, first.case_id, new_due=new_due, reason="Menunggu alat berat.")
    rows = order()
    assert [case for case, _due in rows] == [second.case_id, first.case_id]  # due first on top
    assert rows[1][1] == new_due
    with world.services.reading() as s:
        dues = set(s.scalars(select(Escalation.due_at).where(Escalation.case_id == first.case_id,
                                                             Escalation.resolved_at.is_(None))))
    assert dues == {new_due}


def _statements_of(services, web, path: str) -> int:
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(services.engine, "before_cursor_execute", listener)
    try:
        assert web.get(path).status_code == 200
    finally:
        event.remove(services.engine, "before_cursor_execute", listener)
    return len(seen)


@pytest.mark.parametrize("path", ["/escalations", "/inbox"])
def test_a_work_list_page_reads_the_same_statements_for_few_rows_and_many(world, app, path):
    """No statement per row: the page with six rows costs what the page with two costs."""
    _subs, _chief = _late(world, 2)
    assert world.dlh  # the coordinator's account
    web = WebClient(app)
    web.login("sup.kota" if path == "/escalations" else "koor.dlh")
    web.get(path)  # warm: the process's caches
    few = _statements_of(world.services, web, path)
    _late(world, 4)
    many = _statements_of(world.services, web, path)
    assert many == few, f"{path}: {few} statements with 2 rows, {many} with 6"
