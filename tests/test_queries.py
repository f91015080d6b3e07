"""The inbox and case detail read models: scope, tabs, filters, SLA state, order, pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import actions
from workflow import commands
from workflow.errors import NotFound, ValidationError
from workflow.read.cases import case_detail, case_history
from workflow.read.inbox import InboxFilters, inbox


@pytest.fixture
def cases(world):
    """Three DLH cases (two in Mariso, one in Tallo) and one Dishub case, all past triage."""
    w = world
    for who in ("triage", "dlh", "dishub", "qr_mariso", "auditor"):
        getattr(w, who)
    subs = [w.report(), w.report(description="Sampah di selokan depan sekolah."),
            w.report(area="tallo", kelurahan="tallo/buloa", lat=-5.115, lon=119.44),
            w.report(category="kemacetan", description="Macet total di depan mal setiap sore.")]
    for sub in subs:
        w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    return subs


def _inbox(world, actor, **filters):
    with world.services.reading() as session:
        return inbox(session, actor, InboxFilters(**filters), world.services.clock.now())


def test_inbox_shows_only_the_actors_scope(world, cases):
    assert _inbox(world, world.dlh).total == 3
    assert [r.case_number for r in _inbox(world, world.dishub).rows] == [cases[3].case_number]
    assert _inbox(world, world.qr_mariso).total == 0
    assert _inbox(world, world.auditor).total == 0
    triage_desk = _inbox(world, world.triage)
    assert triage_desk.total == 0  # nothing left to triage
    world.report()
    assert _inbox(world, world.triage).total == 1


def test_tabs_unassigned_and_mine(world, cases):
    item = world.item(cases[0].case_id)
    with world.services.uow() as uow:
        commands.claim(uow, world.dlh, item.id)
        uow.commit()
    mine = _inbox(world, world.dlh, tab="mine")
    assert [r.item_id for r in mine.rows] == [item.id]
    assert mine.rows[0].assignee == "koor.dlh"
    assert _inbox(world, world.dlh, tab="unassigned").total == 2


def test_filters(world, cases):
    assert {r.case_number for r in _inbox(world, world.dlh, area="tallo").rows} == {cases[2].case_number}
    assert _inbox(world, world.dlh, category="kemacetan").total == 0
    assert _inbox(world, world.dlh, stage="disposition").total == 3
    world.do(actions.accept, world.dlh, cases[1].case_id)
    assert {r.case_number for r in _inbox(world, world.dlh, stage="dispatch").rows} == {cases[1].case_number}


def test_sla_states_follow_the_clock(world, cases):
    # DLH disposition target is 8 hours, at risk from 75% (6 hours); the three items were
    # opened 30 minutes apart.
    rows = _inbox(world, world.dlh).rows
    assert {r.sla for r in rows} == {"on_time"}
    assert [r.due_at - r.created_at for r in rows] == [timedelta(hours=8)] * 3
    last_due = max(r.due_at for r in rows)
    world.services.clock.set(last_due - timedelta(minutes=90))  # past every 6 h mark, before any due
    assert {r.sla for r in _inbox(world, world.dlh).rows} == {"at_risk"}
    assert _inbox(world, world.dlh, sla="at_risk").total == 3
    world.services.clock.set(last_due)  # the deadline itself is the last moment on time
    assert {r.sla for r in _inbox(world, world.dlh).rows} == {"overdue", "at_risk"}
    assert _inbox(world, world.dlh, sla="at_risk").total == 1
    world.services.clock.set(last_due + timedelta(seconds=1))
    assert {r.sla for r in _inbox(world, world.dlh).rows} == {"overdue"}
    assert _inbox(world, world.dlh, sla="overdue").total == 3
    assert _inbox(world, world.dlh, sla="on_time").total == 0


def test_sorted_by_due_and_paginated(world, cases):
    page1 = _inbox(world, world.dlh, per_page=2)
    page2 = _inbox(world, world.dlh, per_page=2, page=2)
    assert (page1.total, page1.pages, len(page1.rows), len(page2.rows)) == (3, 2, 2, 1)
    dues = [r.due_at for r in page1.rows + page2.rows]
    assert dues == sorted(dues)
    newest = _inbox(world, world.dlh, sort="newest").rows
    assert [r.item_id for r in newest] == sorted((r.item_id for r in newest), reverse=True)


@pytest.mark.parametrize("filters, field", [
    ({"tab": "everything"}, "tab"), ({"sla": "late"}, "sla"), ({"sort": "random"}, "sort"),
    ({"page": 0}, "page"), ({"per_page": 1000}, "per_page"),
])
def test_bad_filters_name_the_field(world, cases, filters, field):
    with pytest.raises(ValidationError) as info:
        _inbox(world, world.dlh, **filters)
    assert field in info.value.errors


def test_contact_details_only_for_roles_that_call_back(world, cases):
    w = world
    w.do(actions.accept, w.dlh, cases[0].case_id)
    w.do(actions.dispatch, w.dlh, cases[0].case_id, team="qr-mariso-1")
    with w.services.reading() as session:
        coordinator = case_detail(session, w.dlh, cases[0].case_id)
        officer = case_detail(session, w.qr_mariso, cases[0].case_id)
        auditor = case_detail(session, w.auditor, cases[0].case_id)
    # whether there is a contact to ask for; the contact itself is read only by reveal_contact
    assert (coordinator.contact_available, officer.contact_available, auditor.contact_available) == (True, False, False)
    assert not hasattr(coordinator, "contact_email") and not hasattr(coordinator, "contact_phone")
    assert [i.task_name for i in officer.work_items] == ["field_work"]
    assert auditor.history[0]["action"] == "report_submitted"


def test_anonymous_reporter_name_is_hidden(world):
    sub = world.report(anonymous=True)
    with world.services.reading() as session:
        detail = case_detail(session, world.triage, sub.case_id)
    assert detail.reporter_name is None


def test_foreign_case_detail_and_history_are_not_found(world, cases):
    with world.services.reading() as session:
        with pytest.raises(NotFound):
            case_detail(session, world.dishub, cases[0].case_id)
        with pytest.raises(NotFound):
            case_history(session, world.qr_mariso, cases[0].case_id)
