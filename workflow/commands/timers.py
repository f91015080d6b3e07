"""Firing a case's due timers: what the escalation sweeper calls for each due ``timers`` row."""

from __future__ import annotations

from ..actors import Actor
from ..reference import References
from ..uow import UnitOfWork
from . import _case


def fire_timers(uow: UnitOfWork, case_id: int) -> int:
    """Fire every timer of the case that is due by the clock (deadline reached), run the
    process on, and return how many fired.

    Each fired timer is written to the audit trail as ``timer_fired`` by the system actor,
    followed by whatever it caused (an SLA escalation message, an automatic closure).
    """
    case = _case.get_case(uow, case_id)
    refs = References(uow.session)
    uow.acting_on("fire_timers", case.id)
    _case.lock(uow, case)
    workflow = _case.load_workflow(uow, case)
    snapshot = uow.process.snapshot(workflow)
    before = _case.CaseView.of(case, snapshot, refs)
    due = [t for t in snapshot.timers if t.due_at <= uow.clock.now()]
    uow.process.refresh_timers(workflow)
    _case.save(uow, case, workflow, actor=Actor.system().ref(), before=before, refs=refs)
    return len(due)
