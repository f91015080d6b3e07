"""The escalation ladder: breach at 100% of the SLA target to the OPD's supervisor, critical at
200% to the city level; completing the late task resolves it; supervisors acknowledge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from escalation.sweeper import Sweeper
from tests import actions
from workflow import commands
from workflow.errors import NotFound, ValidationError
from workflow.store.models import Agency, Escalation, Timer, WorkItem
from workflow.vocabulary import Role


def _sweep(world):
    return Sweeper(world.services, worker="test").run_once()


def _escalations(world, case_id):
    with world.services.reading() as session:
        rows = session.scalars(select(Escalation).where(Escalation.case_id == case_id)
                               .order_by(Escalation.id))
        codes = {a.id: a.code for a in session.scalars(select(Agency))}
        return [(e.level, e.task_name, codes.get(e.agency_id), e.acknowledged_at is not None,
                 e.resolved_at is not None) for e in rows]


def _reviews(world, case_id):
    return [(i.task_name, i.role, i.agency_id) for i in world.open_items(case_id)
            if i.role == Role.SUPERVISOR]


@pytest.fixture
def waiting_disposition(world):
    """A DLH case whose 8-hour disposition target started now."""
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    return sub, item


def test_breach_then_critical_then_resolved_by_completing_the_task(world, waiting_disposition):
    w = world
    sub, item = waiting_disposition
    dlh_id = item.agency_id
    w.services.clock.set(item.due_at - timedelta(seconds=1))
    assert _sweep(w).fired == 0
    assert _escalations(w, sub.case_id) == []

    w.services.clock.set(item.due_at)
    assert _sweep(w).fired == 1
    assert _escalations(w, sub.case_id) == [("breach", "disposition", "DLH", False, False)]
    assert _reviews(w, sub.case_id) == [("sla_escalation", "supervisor", dlh_id)]
    raised = [e for e in w.events(sub.case_id) if e.action == "escalation_raised"]
    assert [(e.task_name, e.to_agency, e.actor_name) for e in raised] == [("disposition", "DLH", "system")]

    w.services.clock.set(item.due_at + timedelta(hours=8) - timedelta(seconds=1))  # 200% - 1 s
    assert _sweep(w).fired == 0
    w.services.clock.set(item.due_at + timedelta(hours=8))
    assert _sweep(w).fired == 1
    assert _escalations(w, sub.case_id) == [("breach", "disposition", "DLH", False, False),
                                            ("critical", "disposition", None, False, False)]
    assert sorted(_reviews(w, sub.case_id), key=str) == sorted(
        [("sla_escalation", "supervisor", dlh_id), ("critical_escalation", "supervisor", None)], key=str)
    assert w.case(sub.case_id).stage == "disposition"  # escalations run beside the task

    w.do(actions.accept, w.dlh, sub.case_id)
    assert _escalations(w, sub.case_id) == [("breach", "disposition", "DLH", False, True),
                                            ("critical", "disposition", None, False, True)]
    assert _reviews(w, sub.case_id) == []
    assert [i.task_name for i in w.open_items(sub.case_id)] == ["dispatch"]
    assert [e.action for e in w.events(sub.case_id)][-3:] == [
        "task_completed", "escalation_resolved", "escalation_resolved"]
    assert w.chain_breaks() == []


def test_supervisors_acknowledge_within_their_scope(world, waiting_disposition):
    w = world
    sub, item = waiting_disposition
    own = w.user("sup.dlh", ("supervisor", "DLH"))
    other = w.user("sup.dinsos", ("supervisor", "DINSOS"))
    city = w.user("sup.kota", ("supervisor", None))
    w.services.clock.set(item.due_at + timedelta(hours=8))
    _sweep(w)
    with w.services.reading() as session:
        reviews = {i.task_name: i for i in session.scalars(select(WorkItem).where(
            WorkItem.case_id == sub.case_id, WorkItem.role == Role.SUPERVISOR))}
    with pytest.raises(NotFound):
        with w.services.uow() as uow:
            commands.complete_work_item(uow, other, reviews["sla_escalation"].id, {"note": "x"})
    with w.services.uow() as uow:
        commands.complete_work_item(uow, own, reviews["sla_escalation"].id,
                                    {"note": "Sudah ditegur, dikerjakan hari ini"})
        uow.commit()
    with w.services.uow() as uow:
        commands.complete_work_item(uow, city, reviews["critical_escalation"].id,
                                    {"note": "Dipantau kota"})
        uow.commit()
    assert _escalations(w, sub.case_id) == [("breach", "disposition", "DLH", True, True),
                                            ("critical", "disposition", None, True, True)]
    assert w.case(sub.case_id).stage == "disposition"  # the late task is still DLH's to do
    assert [e.action for e in w.events(sub.case_id)].count("escalation_acknowledged") == 2


def test_late_triage_escalates_to_the_command_centers_supervisors(world):
    w = world
    sub = w.report()
    item = w.item(sub.case_id)
    w.services.clock.set(item.due_at)
    _sweep(w)
    assert _escalations(w, sub.case_id) == [("breach", "triage", "KOMINFO", False, False)]


def test_extending_the_deadline_moves_both_timers(world, waiting_disposition):
    w = world
    sub, item = waiting_disposition
    supervisor = w.user("sup.dlh", ("supervisor", "DLH"))
    other = w.user("sup.dinsos", ("supervisor", "DINSOS"))
    new_due = item.due_at + timedelta(hours=24)
    with pytest.raises(NotFound):
        with w.services.uow() as uow:
            commands.extend_deadline(uow, other, item.id, new_due, "bukan wewenang")
    with pytest.raises(ValidationError) as info:
        with w.services.uow() as uow:
            commands.extend_deadline(uow, supervisor, item.id, item.due_at - timedelta(hours=1), " ")
    assert set(info.value.errors) == {"reason", "new_due"}
    with w.services.uow() as uow:
        commands.extend_deadline(uow, supervisor, item.id, new_due, "Menunggu alat berat")
        uow.commit()

    moved = w.item(sub.case_id)
    assert moved.due_at == new_due and w.case(sub.case_id).due_at == new_due
    with w.services.reading() as session:
        timers = {t.timer_name: t.due_at for t in session.scalars(
            select(Timer).where(Timer.case_id == sub.case_id))}
    assert timers == {"disposition_sla": new_due, "disposition_critical": new_due + timedelta(hours=8)}
    event = w.events(sub.case_id)[-1]
    assert (event.action, event.actor_name, event.reason) == ("deadline_extended", "sup.dlh",
                                                              "Menunggu alat berat")
    w.services.clock.set(item.due_at)  # the old deadline: nothing fires any more
    assert _sweep(w).fired == 0
    w.services.clock.set(new_due)
    assert _sweep(w).fired == 1
    assert _escalations(w, sub.case_id) == [("breach", "disposition", "DLH", False, False)]
    assert w.chain_breaks() == []
