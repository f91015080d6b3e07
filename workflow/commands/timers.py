"""Firing a case's due timers: what the escalation sweeper calls for each due ``timers`` row."""

from __future__ import annotations

from datetime import datetime

from ..actors import Actor
from ..errors import NotFound, PermissionDenied, ValidationError
from ..messages import msg
from ..models import Role, WorkItem
from ..permissions import can_view_case
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


def extend_deadline(uow: UnitOfWork, actor: Actor, item_id: int, new_due: datetime | None, reason: str, *,
                    expected_version: int | None = None) -> None:
    """A supervisor moves a task's SLA deadline later, with a reason.

    The 100% timer moves to ``new_due`` (its deadline is rewritten even if it already fired, so
    the task shows its new due time; an escalation it raised stays on record); the 200% timer
    keeps its business-time distance from it.
    """
    item = uow.session.get(WorkItem, item_id)
    if item is None or item.completed_at is not None or not can_view_case(actor, item.case):
        raise NotFound(msg("work item {item_id} not found", item_id=item_id))
    if not any(s.role == Role.SUPERVISOR and s.agency_id in (None, item.agency_id) for s in actor.scopes):
        raise PermissionDenied(msg("only a supervisor of the responsible agency can extend a deadline"))
    errors = {}
    if not (reason or "").strip():
        errors["reason"] = msg("this field is required")
    if new_due is None:
        errors["new_due"] = msg("this field is required")
    elif new_due.tzinfo is None:
        errors["new_due"] = msg("needs a time zone (for example +08:00)")
    elif item.due_at is None or new_due <= max(item.due_at, uow.clock.now()):
        errors["new_due"] = msg("the new deadline must be later than the current one and in the future")
    if errors:
        raise ValidationError(errors)
    case = item.case
    _case.check_version(uow, case, expected_version)
    refs = References(uow.session)
    uow.acting_on("extend_deadline", case.id)
    _case.lock(uow, case)
    workflow = _case.load_workflow(uow, case)
    before = _case.CaseView.of(case, uow.process.snapshot(workflow), refs)
    old_due = item.due_at
    moved = uow.process.move_deadline(workflow, item.bpmn_task_id, new_due)
    role = next(s.role for s in actor.scopes if s.role == Role.SUPERVISOR)
    _case.save(uow, case, workflow, actor=actor.ref(role), before=before, refs=refs, events=[{
        "action": "deadline_extended", "task_name": item.task_name, "reason": reason.strip(),
        "data": {"due_at": [old_due, new_due], "timers": moved}}])
