"""What a supervisor does about late or bouncing work: extend a deadline, reassign a task to
another user or QR team, force a transfer to another OPD, leave an instruction on a task.

Each action needs a reason, is checked against the supervisor's scope (their OPD, or city-wide)
and lands in the case's audit trail. Acknowledging an escalation is completing its review task
(``complete_work_item``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from workflow.access import (
    Actor,
    actor_for_user,
    can_see_escalation,
    can_view_case,
    overseeing_role,
    role_for_item,
    supervising_role,
)
from workflow.commands.change import CaseChange
from workflow.commands.tasks import complete_work_item
from workflow.engine.runtime import Snapshot
from workflow.errors import DomainError, NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.ranges import OUT_OF_RANGE, moment_in_range
from workflow.read.options import task_choices
from workflow.store.models import Case, Escalation, Note, User, WorkItem
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, bad_text, check
from workflow.vocabulary import Action, CaseStatus, Operation, Role

REASON_MAX = 1000
INSTRUCTION_MAX = 2000


def _open_item(uow: UnitOfWork, actor: Actor, item_id: int) -> WorkItem:
    item = uow.session.get(WorkItem, item_id)
    if item is None or item.completed_at is not None or not can_view_case(actor, item.case):
        raise NotFound(msg("work item {item_id} not found", item_id=item_id))
    return item


def _supervised_item(uow: UnitOfWork, actor: Actor, item_id: int) -> WorkItem:
    """An open work item the actor supervises: not found outside their view, forbidden when
    they see the case but do not supervise the item's OPD."""
    item = _open_item(uow, actor, item_id)
    if supervising_role(actor, item.agency_id) is None:
        raise PermissionDenied(msg("only a supervisor of the responsible agency can do this"))
    return item


def _text(value: str | None) -> str:
    return (value or "").strip()


def _check_reason(errors: dict, reason: str, *, field: str = "reason", limit: int = REASON_MAX) -> None:
    if bad_text(reason):
        errors[field] = BAD_TEXT
    elif not reason:
        errors[field] = msg("this field is required")
    elif len(reason) > limit:
        errors[field] = msg("write at most {limit} characters", limit=limit)


def extend_deadline(uow: UnitOfWork, actor: Actor, item_id: int, new_due: datetime | None, reason: str, *,
                    expected_version: int | None = None) -> None:
    """Move a task's SLA deadline later, with a reason.

    The 100% timer moves to ``new_due`` (its deadline is rewritten even if it already fired, so
    the task shows its new due time; an escalation it raised stays on record); the 200% timer
    keeps its business-time distance from it.
    """
    item = _supervised_item(uow, actor, item_id)
    reason = _text(reason)
    errors: dict = {}
    _check_reason(errors, reason)
    if item.sla_paused_since is not None:
        errors["new_due"] = msg("the SLA clock is stopped while the case waits for the citizen")
    elif new_due is None:
        errors["new_due"] = msg("this field is required")
    elif new_due.tzinfo is None:
        errors["new_due"] = msg("needs a time zone (for example +08:00)")
    elif not moment_in_range(new_due):
        errors["new_due"] = OUT_OF_RANGE
    elif item.due_at is None or new_due <= max(item.due_at, uow.clock.now()):
        errors["new_due"] = msg("the new deadline must be later than the current one and in the future")
    if errors:
        raise ValidationError(errors)
    with CaseChange(uow, item.case, actor.ref(Role.SUPERVISOR), expected_version=expected_version,
                    operation=Operation.EXTEND_DEADLINE) as change:
        old_due = item.due_at
        moved = change.process.move_deadline(change.workflow, item.bpmn_task_id, new_due)
        change.save(events=[{"action": Action.DEADLINE_EXTENDED, "task_name": item.task_name,
                             "reason": reason, "data": {"due_at": [old_due, new_due], "timers": moved}}])


def reassign(uow: UnitOfWork, actor: Actor, item_id: int, *, reason: str,
             to_user: str | None = None, to_team: str | None = None,
             expected_version: int | None = None) -> WorkItem:
    """Give a task to another user (who must be able to work it: the actor too, taking it
    over), or field work to another QR team of the case's kecamatan. The new user holds the
    task as if they had claimed it; a team change drops the old team's claim. Supervisors of the
    task's OPD may, and for field work its coordinators (:func:`overseeing_role`)."""
    item = _open_item(uow, actor, item_id)
    role = overseeing_role(actor, item)
    if role is None:
        raise PermissionDenied(msg("only a supervisor of the responsible agency can do this"))
    reason = _text(reason)
    to_user, to_team = _text(check(to_user, "to_user")), _text(check(to_team, "to_team"))
    errors: dict = {}
    _check_reason(errors, reason)
    if bool(to_user) == bool(to_team):
        errors["to_user" if item.role != Role.QR_OFFICER else "to_team"] = msg(
            "choose either a user or a QR team")
    target: User | None = None
    if to_user:
        target = uow.session.scalar(select(User).where(User.username == to_user))
        if target is None or not target.active:
            errors["to_user"] = msg("no active user {username}", username=to_user)
        elif role_for_item(actor_for_user(uow.session, target.id), item) is None:
            errors["to_user"] = msg("{username} cannot work this task", username=to_user)
        elif target.id == item.assignee_id:
            errors["to_user"] = msg("{username} already holds this task", username=to_user)
    if to_team:
        teams = {o.code for o in task_choices(uow.session, item.case, "teams")}
        if item.role != Role.QR_OFFICER:
            errors["to_team"] = msg("only field work goes to a QR team")
        elif to_team not in teams:
            errors["to_team"] = msg("not a QR team of this kecamatan")
        elif item.team_id is not None and References(uow.session).team_code(item.team_id) == to_team:
            errors["to_team"] = msg("this team already has the task")
    if errors:
        raise ValidationError(errors)

    with CaseChange(uow, item.case, actor.ref(role), expected_version=expected_version,
                    operation=Operation.REASSIGN) as change:
        if target is not None:
            old = item.assignee.username if item.assignee else None
            item.assignee_id, item.claimed_at = target.id, uow.clock.now()
            change.record(Action.TASK_REASSIGNED, task_name=item.task_name, reason=reason,
                          data={"work_item": item.id, "assignee": [old, target.username]})
            return item
        variable = change.definition.lanes[item.lane].team  # the process variable naming the team
        old_team = change.process.set_variable(change.workflow, item.bpmn_task_id, variable, to_team)
        change.save(reason=reason, events=[{
            "action": Action.TASK_REASSIGNED, "task_name": item.task_name, "reason": reason,
            "data": {"work_item": item.id, "team": [old_team, to_team]}}])
    return item


def force_transfer(uow: UnitOfWork, actor: Actor, case_id: int, *, to_agency: str, reason: str,
                   expected_version: int | None = None) -> Snapshot:
    """Take the case from the OPD holding it and give it to another, whatever stage it is at
    (disposition to closure). The receiving OPD starts at disposition. Does not count as one of
    the OPDs' own transfers (ping-pong counts those)."""
    case = uow.session.get(Case, case_id)
    if case is None or not can_view_case(actor, case):
        raise NotFound(msg("case {case_id} not found", case_id=case_id))
    if supervising_role(actor, case.agency_id) is None:
        raise PermissionDenied(msg("only a supervisor of the responsible agency can do this"))
    if case.status != CaseStatus.IN_PROGRESS or case.stage not in uow.definition.transfer_stages:
        raise DomainError(msg("a transfer can only be forced while an OPD works the case"),
                          code="not_transferable")
    reason, to_agency = _text(reason), _text(check(to_agency, "to_agency"))
    errors: dict = {}
    _check_reason(errors, reason)
    if not to_agency:
        errors["to_agency"] = msg("this field is required")
    elif to_agency not in {o.code for o in task_choices(uow.session, case, "agencies")}:
        errors["to_agency"] = msg("choose another OPD that handles reports")
    if errors:
        raise ValidationError(errors)

    with CaseChange(uow, case, actor.ref(Role.SUPERVISOR), expected_version=expected_version,
                    operation=Operation.FORCE_TRANSFER) as change:
        held_at = change.snapshot.main_task.name
        from_agency = change.before.agency
        change.process.resolve_side_tasks(change.workflow, held_at)
        try:
            change.process.send_message(change.workflow, change.definition.messages.force_transfer,
                                     {"agency": to_agency, "reason": reason, "by": actor.name})
        except LookupError:
            raise DomainError(msg("a transfer can only be forced while an OPD works the case"),
                              code="not_transferable") from None
        return change.save(reason=reason, events=[{
            "action": Action.TRANSFER_FORCED, "task_name": held_at, "reason": reason,
            "from_agency": from_agency, "to_agency": to_agency,
            "data": {"agency": [from_agency, to_agency]}}])


def instruct(uow: UnitOfWork, actor: Actor, item_id: int, *, text: str,
             expected_version: int | None = None) -> Note:
    """An instruction for whoever works the task: shown on the task and marked in the inbox."""
    item = _supervised_item(uow, actor, item_id)
    body = _text(text)
    errors: dict = {}
    _check_reason(errors, body, field="text", limit=INSTRUCTION_MAX)
    if errors:
        raise ValidationError(errors)
    with CaseChange(uow, item.case, actor.ref(Role.SUPERVISOR), expected_version=expected_version) as change:
        note = Note(case_id=item.case_id, author_id=actor.user_id, body=body, public=False,
                    work_item_id=item.id, created_at=uow.clock.now())
        uow.session.add(note)
        uow.session.flush()
        change.record(Action.INSTRUCTION_GIVEN, task_name=item.task_name, reason=body,
                      data={"note_id": note.id, "work_item": item.id})
    return note


def acknowledge_late_task(uow: UnitOfWork, actor: Actor, item_id: int, note: str, *,
                          expected_version: int | None = None) -> int:
    """Acknowledge every open escalation of the late task ``item_id`` the actor may answer
    (a city supervisor answers the OPD's breach and the city's critical one at once): each
    review task is completed with ``note`` in its text fields, each in the audit trail. The
    number acknowledged."""
    item = _supervised_item(uow, actor, item_id)
    note = _text(note)
    errors: dict = {}
    _check_reason(errors, note, field="note", limit=INSTRUCTION_MAX)
    if errors:
        raise ValidationError(errors)
    reviews = [review for escalation, review in uow.session.execute(
        select(Escalation, WorkItem).join(WorkItem, WorkItem.id == Escalation.work_item_id)
        .where(Escalation.case_id == item.case_id, Escalation.task_name == item.task_name,
               Escalation.resolved_at.is_(None), WorkItem.completed_at.is_(None))
        .order_by(Escalation.raised_at.desc(), Escalation.id.desc()))
        if can_see_escalation(actor, escalation) and role_for_item(actor, review) is not None]
    if not reviews:
        raise DomainError(msg("no open escalation of this task is yours to acknowledge"), code="nothing_to_do")
    for n, review in enumerate(reviews):
        form = uow.services.versions.form(uow.session, review.case.spec_id, review.form_key)
        values = {f.name: note for f in form.fields if f.type == "text"}
        complete_work_item(uow, actor, review.id, values,
                           expected_version=expected_version if n == 0 else None)
    return len(reviews)
