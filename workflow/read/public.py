"""What the reporter sees of their case, by tracking code: status, public replies, photos."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.definition import ProcessDefinition
from workflow.errors import NotFound
from workflow.messages import msg
from workflow.store.models import (
    Agency,
    Area,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Note,
    OutboxMessage,
    Subscription,
    WorkItem,
)
from workflow.store.tracking import TrackingCodes
from workflow.text import mask
from workflow.vocabulary import PUBLIC_PHOTO_KINDS, Action, Following, Role


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the tracking code may see: no contact details, no internal notes."""

    tracking_code: str
    case_number: str
    status: str
    stage: str | None
    category: Category
    area: Area
    agency: Agency | None
    submitted_at: datetime
    updated_at: datetime
    description: str
    replies: list[Note]
    closure_note: str | None
    photos: list[Attachment]
    awaiting_feedback: bool
    merged_into: str | None
    question: str | None = None  # an officer's question waiting for the reporter's answer
    notices: tuple[SentNotice, ...] = ()  # what the reporter was sent, newest first


@dataclass(frozen=True)
class SentNotice:
    topic: str  # the audit action it told of
    channel: str
    to: str  # masked: a***@gmail.com
    sent_at: datetime


def sent_notices(session: Session, case: Case, shown: Case) -> tuple[SentNotice, ...]:
    """The notices sent to the reporter of ``case``: about it, and (a merged duplicate) about
    the case it joined, to the same address."""
    mine = list(session.scalars(select(Subscription).where(
        Subscription.case_id == case.id, Subscription.following == Following.REPORTER)))
    if not mine:
        return ()
    subscriptions = {s.id for s in mine}
    if shown is not case:
        subscriptions |= set(session.scalars(select(Subscription.id).where(
            Subscription.case_id == shown.id, Subscription.following == Following.DUPLICATE,
            Subscription.address.in_({s.address for s in mine}))))
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.subscription_id.in_(subscriptions), OutboxMessage.sent_at.is_not(None))
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc()).limit(50))
    return tuple(SentNotice(topic=r.topic, channel=str(r.channel), to=mask(r.recipient or ""),
                            sent_at=r.sent_at) for r in rows)


def closing_note_query(definition: ProcessDefinition):
    """(task names, field) of the form whose field the reporter reads as the closing note."""
    if definition.closing_note is None:
        return (), None
    form_key, field_name = definition.closing_note
    return tuple(t.name for t in definition.tasks.values() if t.form_key == form_key), field_name


def closing_note(session: Session, definition: ProcessDefinition, case: Case) -> str | None:
    """The latest closing note of the case, as the reporter reads it."""
    closing_tasks, note_field = closing_note_query(definition)
    data = session.scalar(select(CaseEvent.data).where(
        CaseEvent.case_id == case.id, CaseEvent.action == Action.TASK_COMPLETED,
        CaseEvent.task_name.in_(closing_tasks)).order_by(CaseEvent.seq.desc()).limit(1))
    return json.loads(data)["values"].get(note_field) if data else None


def public_status(session: Session, codes: TrackingCodes, definition: ProcessDefinition,
                  tracking_code: str) -> PublicStatus:
    """What the holder of a tracking code sees. A report merged into another case shows that
    case's progress (status, OPD, staff replies, closing note) but nothing of its reporter:
    not their description, photos or answers."""
    report_id = codes.report_id(session, tracking_code)
    case = session.scalar(select(Case).where(Case.report_id == report_id)) if report_id else None
    if case is None:
        raise NotFound(msg("no report with this tracking code"))
    shown = case
    if case.merged_into_id is not None:
        shown = session.get(Case, case.merged_into_id)
    closure = closing_note(session, definition, shown)
    photos = [] if case.report.confidential else list(session.scalars(
        select(Attachment).where(Attachment.case_id == case.id,
                                 Attachment.kind.in_(PUBLIC_PHOTO_KINDS)).order_by(Attachment.id)))
    waiting = set(session.scalars(select(WorkItem.task_name).where(
        WorkItem.case_id == case.id, WorkItem.role == Role.CITIZEN,
        WorkItem.completed_at.is_(None))))
    question_task, feedback_task = definition.question_task, definition.feedback_task
    question = None
    if question_task is not None and question_task.name in waiting:
        asked = session.scalar(select(CaseEvent.data).where(
            CaseEvent.case_id == case.id, CaseEvent.action == Action.INFORMATION_REQUESTED)
            .order_by(CaseEvent.seq.desc()).limit(1))
        question = json.loads(asked)["question"] if asked else None
    replies = select(Note).where(Note.case_id == shown.id, Note.public.is_(True))
    if shown is not case:  # the other reporter's answers are theirs, not this reporter's
        replies = replies.where(Note.author_id.is_not(None))
    return PublicStatus(
        tracking_code=codes.normalize(tracking_code), case_number=case.number,
        status=str(shown.status), stage=shown.stage,
        category=session.get(Category, case.category_id), area=session.get(Area, case.area_id),
        agency=session.get(Agency, shown.agency_id) if shown.agency_id else None,
        submitted_at=case.report.submitted_at, updated_at=shown.updated_at,
        description=case.report.description,
        replies=list(session.scalars(replies.order_by(Note.created_at, Note.id))),
        closure_note=closure, photos=photos,
        awaiting_feedback=feedback_task is not None and feedback_task.name in waiting,
        merged_into=shown.number if shown is not case else None, question=question,
        notices=sent_notices(session, case, shown))


def public_photo(session: Session, codes: TrackingCodes, definition: ProcessDefinition,
                 tracking_code: str, attachment_id: int) -> Attachment:
    status = public_status(session, codes, definition, tracking_code)
    for photo in status.photos:
        if photo.id == attachment_id:
            return photo
    raise NotFound(msg("photo not found"))
