"""Working the task inbox: claim, release and complete work items.

Every task of the process is completed through :func:`complete_work_item` with the fields of its
form (``bpmn/tasks.yaml``); the reporter's tasks (answering a question, confirming the fix) go
through the same call, found by tracking code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.access import Actor, can_view_case, role_for_item
from workflow.commands.case_extras import store_attachment
from workflow.commands.change import CaseChange, check_version, open_items_with
from workflow.engine.definition import TaskDefinition
from workflow.engine.forms import FormDefinition, check_count, clean
from workflow.engine.runtime import Snapshot
from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.notify import notices
from workflow.read.options import task_choices
from workflow.store import audit
from workflow.store.attachments import PreparedImage
from workflow.store.models import Attachment, Case, Note, WorkItem
from workflow.store.specs import fields_unread
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
        if item.outcome == Outcome.CANCELLED:
            raise Conflict(msg("This task is no longer open: the case moved on."))
        if item.completed_by is None:
            raise Conflict(msg("This task was just handled by someone else."))
        who = item.completed_by.username
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
    with CaseChange(uow, item.case, actor.ref(role), expected_version=expected_version) as change:
        item.assignee_id, item.claimed_at = actor.user_id, uow.clock.now()
        change.record(Action.TASK_CLAIMED, task_name=item.task_name,
                      data={"work_item": item.id, "assignee": actor.name})
    return item


def release(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None) -> WorkItem:
    item, role = workable_item(uow.session, actor, item_id)
    if item.assignee_id is None:
        return item
    if item.assignee_id != actor.user_id:
        raise PermissionDenied(msg("only {who}, who claimed it, can release this task", who=_assignee_name(item)))
    unassign(uow, item, actor.ref(role), expected_version=expected_version)
    return item


def unassign(uow: UnitOfWork, item: WorkItem, by: audit.ActorRef, *, expected_version: int | None = None,
             **data: Any) -> None:
    """Give a claimed task back to its queue: the case's version moves and a ``task_released``
    event says who let it go (``by``: the holder, or an administrator whose change to the
    holder's account took the task from them, which ``data`` says)."""
    with CaseChange(uow, item.case, by, expected_version=expected_version) as change:
        item.assignee_id, item.claimed_at = None, None
        change.record(Action.TASK_RELEASED, task_name=item.task_name, data={"work_item": item.id, **data})


def _resolver(uow: UnitOfWork, case: Case):
    def resolve(source: str) -> set[str]:
        return {o.code for o in task_choices(uow.session, case, source, uow.refs)}
    return resolve


def _check_references(uow: UnitOfWork, case: Case, form: FormDefinition,
                      values: dict[str, Any]) -> Case | None:
    """What a form definition says of its fields but only the database can check: a case
    reference names another open case, an attachment is a photo of this case of the field's
    kind, a moment that ``happened`` lies between the report and now. Returns the case a
    ``merge_into`` reference names (the case merges into it if the process ends it as merged)."""
    merge_target = None
    for f in form.fields:
        value = values.get(f.name)
        if value is None:
            continue
        if f.type == "case_ref":
            target = uow.session.scalar(select(Case).where(Case.number == value))
            if target is None:
                raise ValidationError({f.name: msg("no case {number}", number=value)})
            if target.id == case.id:
                raise ValidationError({f.name: msg("a case cannot duplicate itself")})
            if target.status not in OPEN_STATUSES:
                raise ValidationError({f.name: msg("case {number} is no longer open", number=target.number)})
            if f.merge_into:
                merge_target = target
        elif f.type == "attachment":
            for attachment_id in value if f.multiple else [value]:
                attachment = uow.session.get(Attachment, attachment_id)
                if attachment is None or attachment.case_id != case.id or (f.kind and attachment.kind != f.kind):
                    raise ValidationError({f.name: msg("upload the photo for this field first")})
        elif f.type == "datetime" and f.happened:
            moment: datetime = value
            if moment > uow.clock.now():
                raise ValidationError({f.name: msg("this time is in the future")})
            # a form gives the minute (datetime-local): one in the report's own minute is not before it
            if moment < case.created_at.replace(second=0, microsecond=0):
                raise ValidationError({f.name: msg("this time is before the report came in")})
    return merge_target


def complete_work_item(uow: UnitOfWork, actor: Actor, item_id: int, values: dict[str, Any], *,
                       expected_version: int | None = None, expected_form: str | None = None,
                       uploads: dict[str, PreparedImage | list[PreparedImage]] | None = None) -> Snapshot:
    """Complete a READY task with its form data and run the process on to the next wait.

    ``uploads`` fills attachment fields with photos uploaded with the form (already checked by
    ``AttachmentStore.prepare``): each is stored as an attachment of the field's kind first; a
    field taking several photos takes a list (added to the ids the values name already).
    ``expected_form``: refuse unless the item is a task of this form (a caller that knows
    which step it means to take).

    Locking: the case row is version-bumped before the workflow is loaded, so a second
    transaction acting on the same case either waits and then fails with ``Conflict``
    (PostgreSQL) or queues behind this one and finds the item gone (SQLite).
    """
    _item, open_items, state = open_items_with(uow.session, item_id)  # what the step reads, in one statement
    item, role = workable_item(uow.session, actor, item_id)
    if expected_form is not None and item.form_key != expected_form:
        raise DomainError(msg("work item {item_id} is a {task} task, not {expected}", item_id=item_id, task=item.form_key, expected=expected_form),
                          code="wrong_task")
    if item.assignee_id is not None and item.assignee_id != actor.user_id:
        raise Conflict(msg("This task was claimed by {who}.", who=_assignee_name(item)), by=_assignee_name(item))
    case = item.case
    form = uow.services.versions.form(uow.session, case.spec_id, item.form_key)
    ignored = [name for name in sorted(fields_unread(uow.session, uow.definition, case.spec_id, form))
               if values.get(name) not in (None, "", [])]
    if ignored:
        raise ValidationError({name: msg("this case runs an earlier version of the process, which does not "
                                         "take this field") for name in ignored})
    with CaseChange(uow, case, actor.ref(role), expected_version=expected_version,
                    operation=Operation.COMPLETE_TASK.of(item.form_key), open_items=open_items,
                    state=state) as change:
        values = dict(values)
        for name, upload in (uploads or {}).items():
            field = form.field(name)
            if field.type != "attachment":
                raise ValidationError({name: msg("this field does not take a file")})
            images = upload if isinstance(upload, list) else [upload]
            try:
                check_count(field, len(images))
            except ValueError as exc:
                raise ValidationError({name: exc.args[0]}) from None
            ids = [store_attachment(uow, case, image, kind=field.kind or AttachmentKind.EVIDENCE,
                                    actor=actor).id for image in images]
            if field.multiple:
                named = values.get(name)
                values[name] = [*(named if isinstance(named, list) else [named] if named else []), *ids]
            else:
                values[name] = ids[0]
        cleaned = clean(form, values, _resolver(uow, case))
        merge_target = _check_references(uow, case, form, cleaned)
        if not change.process.is_ready(change.workflow, item.bpmn_task_id):
            raise Conflict(msg("This task was just completed by someone else."))
        change.process.resolve_side_tasks(change.workflow, item.task_name, change.loaded_snapshot.tasks)
        change.process.complete(change.workflow, item.bpmn_task_id, cleaned)
        _keep_rating(uow, case, item.form_key, cleaned)
        reason = cleaned.get("reason")
        claimed = []
        if item.assignee_id is None and actor.user_id is not None:  # done without claiming: claimed with it
            item.assignee_id, item.claimed_at = actor.user_id, uow.clock.now()
            claimed = [{"action": Action.TASK_CLAIMED, "task_name": item.task_name,
                        "data": {"work_item": item.id, "assignee": actor.name}}]
        snap = change.save(reason=reason, completed_task=item.bpmn_task_id, events=[*claimed,
            {"action": Action.TASK_COMPLETED, "task_name": item.task_name, "from_task": item.task_name,
             "reason": reason, "data": {"form": item.form_key, "values": cleaned}}])
    if merge_target is not None and case.status == CaseStatus.MERGED:
        _merge_into(uow, actor.ref(role), case, merge_target, reason)
    return snap


def _keep_rating(uow: UnitOfWork, case: Case, form_key: str, cleaned: dict[str, Any]) -> None:
    """The reporter's rating of the handling and its comment (the fields marked ``rating:`` in
    tasks.yaml), kept on the case for the dashboard; the completion's audit event carries them
    too. A completion without either leaves the case unrated."""
    rating = uow.definition.rating
    if rating is None or rating.form_key != form_key:
        return
    score = cleaned.get(rating.score)
    comment = cleaned.get(rating.comment) if rating.comment else None
    if score is None and comment is None:
        return
    case.rating = int(score) if score is not None else None
    case.rating_comment = comment
    case.rated_at = uow.clock.now()


def _merge_into(uow: UnitOfWork, actor_ref: audit.ActorRef, duplicate: Case, target: Case,
                reason: str | None) -> None:
    duplicate.merged_into_id = target.id
    notices.follow_merged(uow, duplicate, target)
    with CaseChange(uow, target, actor_ref) as change:
        change.record(Action.REPORT_MERGED, reason=reason, data={"duplicate_case": duplicate.number})


# -- the reporter's tasks, by tracking code -------------------------------------------------------

def _case_for_code(uow: UnitOfWork, tracking_code: str) -> Case:
    report_id = uow.services.tracking.report_id(uow.session, tracking_code)
    case = uow.session.scalar(select(Case).where(Case.report_id == report_id)) if report_id else None
    if case is None:
        raise NotFound(msg("no report with this tracking code"))
    return case


def _open_item(session: Session, case: Case, task: TaskDefinition | None) -> WorkItem | None:
    if task is None:
        return None
    return session.scalar(select(WorkItem).where(
        WorkItem.case_id == case.id, WorkItem.task_name == task.name, WorkItem.completed_at.is_(None)))


def citizen_feedback(uow: UnitOfWork, tracking_code: str, **values: Any) -> Snapshot:
    """The reporter confirms the fix or disputes it (the process's feedback task), identified by
    the report's tracking code. ``values``: the answers by field of the task's form in
    ``bpmn/tasks.yaml`` (the decision, a dispute's reason, a confirmation's rating and comment)."""
    case = _case_for_code(uow, tracking_code)
    task = uow.definition.feedback_task
    item = _open_item(uow.session, case, task)
    if item is None or case.status != CaseStatus.RESOLVED:
        raise DomainError(msg("this case is not waiting for your confirmation"), code="not_resolved")
    return complete_work_item(uow, Actor.citizen(), item.id, values, expected_form=task.form_key)


# -- asking the citizen ----------------------------------------------------------------------

QUESTION_MAX = 1000


def request_information(uow: UnitOfWork, actor: Actor, item_id: int, *, question: str,
                        expected_version: int | None = None) -> Snapshot:
    """The officer working a task that may ask the reporter (``asks_citizen`` in the process)
    asks a question.

    The question goes to the citizen (status page, and the outbox for their contact) and into
    the case's public thread; the task stays with the officer and its SLA clock stops until the
    citizen answers or the answer window closes.
    """
    item, role = workable_item(uow.session, actor, item_id)
    if item.assignee_id is not None and item.assignee_id != actor.user_id:
        raise Conflict(msg("This task was claimed by {who}.", who=_assignee_name(item)), by=_assignee_name(item))
    task = uow.definition.task(item.task_name)
    if task is None or not task.asks_citizen:
        raise DomainError(msg("the reporter cannot be asked a question at this step"), code="cannot_ask")
    text = (check(question, "question") or "").strip()
    if not text:
        raise ValidationError({"question": msg("this field is required")})
    if len(text) > QUESTION_MAX:
        raise ValidationError({"question": msg("write at most {limit} characters", limit=QUESTION_MAX)})
    case = item.case
    check_version(uow, case, expected_version)
    if _open_item(uow.session, case, uow.definition.question_task) is not None:
        raise DomainError(msg("a question is already waiting for the reporter's answer"),
                          code="already_asked")
    with CaseChange(uow, case, actor.ref(role), operation=Operation.REQUEST_INFORMATION) as change:
        try:
            change.process.send_message(change.workflow, change.definition.messages.ask_citizen,
                                     {"question": text, "asked_by": actor.name})
        except LookupError:
            raise DomainError(msg("the reporter cannot be asked a question at this step"),
                              code="cannot_ask") from None
        uow.session.add(Note(case_id=case.id, author_id=actor.user_id, body=text, public=True,
                             created_at=uow.clock.now()))
        return change.save(events=[{"action": Action.INFORMATION_REQUESTED, "task_name": item.task_name,
                                    "data": {"question": text}}])


def answer_information(uow: UnitOfWork, tracking_code: str, *, answer: str) -> Snapshot:
    """The citizen answers the officer's question, identified by the report's tracking code.
    The answer joins the case's public thread; the asking task's SLA clock runs again."""
    case = _case_for_code(uow, tracking_code)
    task = uow.definition.question_task
    item = _open_item(uow.session, case, task)
    if item is None:
        raise DomainError(msg("no question is waiting for your answer"), code="not_asked")
    snap = complete_work_item(uow, Actor.citizen(), item.id, {"answer": answer},
                              expected_form=task.form_key)
    uow.session.add(Note(case_id=case.id, author_id=None, body=str(answer).strip(), public=True,
                         created_at=uow.clock.now()))
    return snap
