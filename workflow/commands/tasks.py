"""Working the task inbox: claim, release and complete work items.

Every task of the process is completed through :func:`complete_work_item` with the fields of its
form (``bpmn/tasks.yaml``). The named commands (:func:`transfer`, :func:`dispatch`, ...) are the
same call with the form filled in, for callers that think in actions rather than forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.actors import Actor
from workflow.commands import _case
from workflow.commands.case_extras import store_attachment
from workflow.engine.forms import clean
from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.permissions import can_view_case, role_for_item
from workflow.read.queries import task_choices
from workflow.store import audit
from workflow.store.attachments import PreparedImage
from workflow.store.models import Attachment, Case, Note, WorkItem
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.text import check
from workflow.vocabulary import OPEN_STATUSES, Action, AttachmentKind, CaseStatus, Operation, Outcome, Role


def workable_item(session: Session, actor: Actor, item_id: int) -> tuple[WorkItem, Role]:
    """The open work item and the role the actor works it under.

    Not found when the item does not exist or lies outside every scope of the actor; forbidden
    when the actor can see the case but has no role for this task; a conflict naming who
    completed it when it is no longer open.
    """
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(msg("work item {item_id} not found", item_id=item_id))
    role = role_for_item(actor, item)
    if role is None:
        if can_view_case(actor, item.case):
            raise PermissionDenied(msg("your role cannot work the {task} task", task=item.form_key))
        raise NotFound(msg("work item {item_id} not found", item_id=item_id))
    if item.completed_at is not None:
        who = item.completed_by.username if item.completed_by else "someone else"
        if item.outcome == Outcome.CANCELLED:
            raise Conflict(msg("This task is no longer open: the case moved on."))
        raise Conflict(msg("This task was just handled by {who}.", who=who), by=who)
    return item, role


def _assignee_name(item: WorkItem) -> str:
    return item.assignee.username if item.assignee else "someone else"


def claim(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None) -> WorkItem:
    item, role = workable_item(uow.session, actor, item_id)
    if item.assignee_id == actor.user_id:
        return item
    if item.assignee_id is not None:
        raise Conflict(msg("This task was already claimed by {who}.", who=_assignee_name(item)),
                       by=_assignee_name(item))
    case = item.case
    _case.check_version(uow, case, expected_version)
    _case.lock(uow, case)
    item.assignee_id, item.claimed_at = actor.user_id, uow.clock.now()
    audit.append(uow.session, case_id=case.id, actor=actor.ref(role), action=Action.TASK_CLAIMED,
                 occurred_at=uow.clock.now(), task_name=item.task_name,
                 data={"work_item": item.id, "assignee": actor.name})
    return item


def release(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None) -> WorkItem:
    item, role = workable_item(uow.session, actor, item_id)
    if item.assignee_id is None:
        return item
    if item.assignee_id != actor.user_id:
        raise PermissionDenied(msg("only {who}, who claimed it, can release this task", who=_assignee_name(item)))
    case = item.case
    _case.check_version(uow, case, expected_version)
    _case.lock(uow, case)
    item.assignee_id, item.claimed_at = None, None
    audit.append(uow.session, case_id=case.id, actor=actor.ref(role), action=Action.TASK_RELEASED,
                 occurred_at=uow.clock.now(), task_name=item.task_name,
                 data={"work_item": item.id})
    return item


def _resolver(uow: UnitOfWork, case: Case):
    def resolve(source: str) -> set[str]:
        return {o.code for o in task_choices(uow.session, case, source)}
    return resolve


def _check_domain(uow: UnitOfWork, case: Case, form_key: str, values: dict[str, Any]) -> Case | None:
    """Rules a form definition cannot express. Returns the merge target for a duplicate."""
    if form_key == "triage" and values.get("decision") == "duplicate":
        target = uow.session.scalar(select(Case).where(Case.number == values["duplicate_of"]))
        if target is None:
            raise ValidationError({"duplicate_of": msg("no case {number}", number=values["duplicate_of"])})
        if target.id == case.id:
            raise ValidationError({"duplicate_of": msg("a case cannot duplicate itself")})
        if target.status not in OPEN_STATUSES:
            raise ValidationError({"duplicate_of": msg("case {number} is no longer open", number=target.number)})
        return target
    if form_key == "field_work":
        attachment = uow.session.get(Attachment, values["after_photo"])
        if attachment is None or attachment.case_id != case.id or attachment.kind != "after":
            raise ValidationError({"after_photo": msg("upload an after-photo for this case first")})
        arrived: datetime = values["arrived_at"]
        if arrived > uow.clock.now():
            raise ValidationError({"arrived_at": msg("the arrival time is in the future")})
        if arrived < case.created_at:
            raise ValidationError({"arrived_at": msg("the arrival time is before the report came in")})
    return None


def complete_work_item(uow: UnitOfWork, actor: Actor, item_id: int, values: dict[str, Any], *,
                       expected_version: int | None = None, expected_form: str | None = None,
                       uploads: dict[str, PreparedImage] | None = None) -> _case.Snapshot:
    """Complete a READY task with its form data and run the process on to the next wait.

    ``uploads`` fills attachment fields with photos uploaded with the form (already checked by
    ``AttachmentStore.prepare``): each is stored as an attachment of the field's kind first.

    Locking: the case row is version-bumped before the workflow is loaded, so a second
    transaction acting on the same case either waits and then fails with ``Conflict``
    (PostgreSQL) or queues behind this one and finds the item gone (SQLite).
    """
    item, role = workable_item(uow.session, actor, item_id)
    if expected_form is not None and item.form_key != expected_form:
        raise DomainError(msg("work item {item_id} is a {task} task, not {expected}", item_id=item_id, task=item.form_key, expected=expected_form),
                          code="wrong_task")
    if item.assignee_id is not None and item.assignee_id != actor.user_id:
        raise Conflict(msg("This task was claimed by {who}.", who=_assignee_name(item)), by=_assignee_name(item))
    case = item.case
    _case.check_version(uow, case, expected_version)
    refs = References(uow.session)
    form = uow.definition.forms[item.form_key]
    uow.acting_on(Operation.COMPLETE_TASK.of(item.form_key), case.id)
    _case.lock(uow, case)
    values = dict(values)
    for name, image in (uploads or {}).items():
        field = form.field(name)
        if field.type != "attachment":
            raise ValidationError({name: msg("this field does not take a file")})
        values[name] = store_attachment(uow, case, image, kind=field.kind or AttachmentKind.EVIDENCE,
                                        actor=actor).id
    cleaned = clean(form, values, _resolver(uow, case))
    merge_target = _check_domain(uow, case, item.form_key, cleaned)

    workflow = _case.load_workflow(uow, case)
    before = _case.CaseView.of(case, uow.process.snapshot(workflow), refs)
    if uow.process.ready_task(workflow, item.bpmn_task_id) is None:
        raise Conflict(msg("This task was just completed by someone else."))
    uow.process.resolve_side_tasks(workflow, item.task_name)
    uow.process.complete(workflow, item.bpmn_task_id, cleaned)
    reason = cleaned.get("reason")
    events = [{"action": Action.TASK_COMPLETED, "task_name": item.task_name,
               "from_task": item.task_name, "reason": reason,
               "data": {"form": item.form_key, "values": cleaned}}]
    snap = _case.save(uow, case, workflow, actor=actor.ref(role), before=before, refs=refs,
                      reason=reason, events=events, completed_task=item.bpmn_task_id,
                      recipient=case.report.contact_email or case.report.contact_phone)
    if merge_target is not None:
        _merge_into(uow, actor.ref(role), case, merge_target, reason)
    return snap


def _merge_into(uow: UnitOfWork, actor_ref: audit.ActorRef, duplicate: Case, target: Case,
                reason: str | None) -> None:
    duplicate.merged_into_id = target.id
    _case.lock(uow, target)
    audit.append(uow.session, case_id=target.id, actor=actor_ref, action=Action.REPORT_MERGED,
                 occurred_at=uow.clock.now(), reason=reason,
                 data={"duplicate_case": duplicate.number})


# -- named actions over complete_work_item -------------------------------------------------------

def triage(uow, actor, item_id, *, decision, reason=None, duplicate_of=None,
           corrected_category=None, expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "decision": decision, "reason": reason, "duplicate_of": duplicate_of,
        "corrected_category": corrected_category}, expected_version=expected_version,
        expected_form="triage")


def merge_duplicate(uow, actor, item_id, *, into_case_number, reason, expected_version=None):
    return triage(uow, actor, item_id, decision="duplicate", duplicate_of=into_case_number,
                  reason=reason, expected_version=expected_version)


def accept(uow, actor, item_id, *, expected_version=None):
    return complete_work_item(uow, actor, item_id, {"decision": "accept"},
                              expected_version=expected_version, expected_form="disposition")


def transfer(uow, actor, item_id, *, to_agency, reason, expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "decision": "transfer", "transfer_to": to_agency, "reason": reason},
        expected_version=expected_version, expected_form="disposition")


def dispatch(uow, actor, item_id, *, team, instructions=None, expected_version=None):
    return complete_work_item(uow, actor, item_id, {"team": team, "instructions": instructions},
                              expected_version=expected_version, expected_form="dispatch")


def record_field_work(uow, actor, item_id, *, arrived_at, action_taken, after_photo,
                      expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "arrived_at": arrived_at, "action_taken": action_taken, "after_photo": after_photo},
        expected_version=expected_version, expected_form="field_work")


def verify(uow, actor, item_id, *, approve: bool, reason=None, expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "decision": "approve" if approve else "send_back", "reason": reason},
        expected_version=expected_version, expected_form="verification")


def close(uow, actor, item_id, *, closure_note, expected_version=None):
    return complete_work_item(uow, actor, item_id, {"closure_note": closure_note},
                              expected_version=expected_version, expected_form="closure")


def _case_for_code(uow: UnitOfWork, tracking_code: str) -> Case:
    report_id = uow.services.tracking.report_id(uow.session, tracking_code)
    case = uow.session.scalar(select(Case).where(Case.report_id == report_id)) if report_id else None
    if case is None:
        raise NotFound(msg("no report with this tracking code"))
    return case


def citizen_feedback(uow: UnitOfWork, tracking_code: str, *, decision: str, reason: str | None = None):
    """The citizen confirms the fix or disputes it, identified by the report's tracking code."""
    case = _case_for_code(uow, tracking_code)
    item = uow.session.scalar(select(WorkItem).where(
        WorkItem.case_id == case.id, WorkItem.form_key == "citizen_feedback",
        WorkItem.completed_at.is_(None)))
    if item is None or case.status != CaseStatus.RESOLVED:
        raise DomainError(msg("this case is not waiting for your confirmation"), code="not_resolved")
    return complete_work_item(uow, Actor.citizen(), item.id,
                              {"decision": decision, "reason": reason},
                              expected_form="citizen_feedback")


def dispute(uow: UnitOfWork, tracking_code: str, *, reason: str):
    return citizen_feedback(uow, tracking_code, decision="dispute", reason=reason)


def confirm(uow: UnitOfWork, tracking_code: str):
    return citizen_feedback(uow, tracking_code, decision="confirm")


# -- asking the citizen ----------------------------------------------------------------------

QUESTION_MAX = 1000
ASKING_TASKS = ("triage", "disposition")


def request_information(uow: UnitOfWork, actor: Actor, item_id: int, *, question: str,
                        expected_version: int | None = None) -> _case.Snapshot:
    """The officer working triage or disposition asks the reporter a question.

    The question goes to the citizen (status page, and the outbox for their contact) and into
    the case's public thread; the task stays with the officer and its SLA clock stops until the
    citizen answers or the answer window closes.
    """
    item, role = workable_item(uow.session, actor, item_id)
    if item.assignee_id is not None and item.assignee_id != actor.user_id:
        raise Conflict(msg("This task was claimed by {who}.", who=_assignee_name(item)), by=_assignee_name(item))
    if item.task_name not in ASKING_TASKS:
        raise DomainError(msg("the reporter can be asked during triage and disposition only"),
                          code="cannot_ask")
    text = (check(question, "question") or "").strip()
    if not text:
        raise ValidationError({"question": msg("this field is required")})
    if len(text) > QUESTION_MAX:
        raise ValidationError({"question": msg("write at most {limit} characters", limit=QUESTION_MAX)})
    case = item.case
    _case.check_version(uow, case, expected_version)
    if _open_question(uow.session, case) is not None:
        raise DomainError(msg("a question is already waiting for the reporter's answer"),
                          code="already_asked")
    refs = References(uow.session)
    uow.acting_on(Operation.REQUEST_INFORMATION, case.id)
    _case.lock(uow, case)
    workflow = _case.load_workflow(uow, case)
    before = _case.CaseView.of(case, uow.process.snapshot(workflow), refs)
    try:
        uow.process.send_message(workflow, "info_request", {"question": text, "asked_by": actor.name})
    except LookupError:
        raise DomainError(msg("the reporter can be asked during triage and disposition only"),
                          code="cannot_ask") from None
    uow.session.add(Note(case_id=case.id, author_id=actor.user_id, body=text, public=True,
                         created_at=uow.clock.now()))
    return _case.save(uow, case, workflow, actor=actor.ref(role), before=before, refs=refs,
                      events=[{"action": Action.INFORMATION_REQUESTED, "task_name": item.task_name,
                               "data": {"question": text}}],
                      recipient=case.report.contact_email or case.report.contact_phone)


def _open_question(session: Session, case: Case) -> WorkItem | None:
    return session.scalar(select(WorkItem).where(
        WorkItem.case_id == case.id, WorkItem.form_key == "citizen_info",
        WorkItem.completed_at.is_(None)))


def answer_information(uow: UnitOfWork, tracking_code: str, *, answer: str) -> _case.Snapshot:
    """The citizen answers the officer's question, identified by the report's tracking code.
    The answer joins the case's public thread; the asking task's SLA clock runs again."""
    case = _case_for_code(uow, tracking_code)
    item = _open_question(uow.session, case)
    if item is None:
        raise DomainError(msg("no question is waiting for your answer"), code="not_asked")
    snap = complete_work_item(uow, Actor.citizen(), item.id, {"answer": answer},
                              expected_form="citizen_info")
    uow.session.add(Note(case_id=case.id, author_id=None, body=str(answer).strip(), public=True,
                         created_at=uow.clock.now()))
    return snap
