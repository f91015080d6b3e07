"""What the reporter sees of their case, by tracking code: status, a dated timeline of the
public events, the expected completion, photos."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
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
    Escalation,
    OutboxMessage,
    Subscription,
    WorkItem,
)
from workflow.store.reference import References
from workflow.store.tracking import TrackingCodes
from workflow.text import mask
from workflow.vocabulary import PUBLIC_PHOTO_KINDS, Action, CaseStatus, Following, Role


class Milestone(enum.StrEnum):
    """What the reporter's timeline tells, each read from one audit event."""

    RECEIVED = "received"  # report_submitted
    ROUTED = "routed"  # verified and handed to an OPD (case_routed)
    TRANSFERRED = "transferred"  # from one OPD to another
    DISPATCHED = "dispatched"  # a field team was sent
    ESCALATED = "escalated"  # raised to the supervisors
    QUESTION = "question"  # an officer asked the reporter
    ANSWER = "answer"  # the reporter answered
    REPLY = "reply"  # a public reply from staff
    RESOLVED = "resolved"  # the OPD closed its work; the reporter may confirm or dispute
    CONFIRMED = "confirmed"  # the reporter confirmed the fix (the case closed)
    DISPUTED = "disputed"  # the reporter disputed it (the case reopened)
    REOPENED = "reopened"  # reopened, the reporter of another report disputing
    CLOSED = "closed"  # closed without the reporter (the dispute window ran out)
    REJECTED = "rejected"
    MERGED = "merged"  # joined another case


@dataclass(frozen=True)
class Entry:
    """One dated line of the timeline. No person is named: ``agency`` is the OPD concerned (the
    one the case was handed to, the one whose officer asked or wrote, the one handling it)."""

    kind: Milestone
    at: datetime
    agency: Agency | None = None  # None for an escalation: the city's supervisors
    previous: Agency | None = None  # a transfer's OPD before
    body: str | None = None  # a question, an answer, a public reply, a dispute's reason, a rating's comment
    rating: int | None = None  # a confirmation's rating


THREAD = (Milestone.QUESTION, Milestone.ANSWER, Milestone.REPLY)
# What the reporter of a duplicate sees of the case their report joined: its progress and the
# OPD's public replies, not the other reporter's report, questions, answers or words.
SEEN_BY_ANOTHER = {Milestone.ROUTED: Milestone.ROUTED, Milestone.TRANSFERRED: Milestone.TRANSFERRED,
                   Milestone.DISPATCHED: Milestone.DISPATCHED, Milestone.ESCALATED: Milestone.ESCALATED,
                   Milestone.REPLY: Milestone.REPLY, Milestone.RESOLVED: Milestone.RESOLVED,
                   Milestone.CONFIRMED: Milestone.CLOSED, Milestone.DISPUTED: Milestone.REOPENED,
                   Milestone.REOPENED: Milestone.REOPENED, Milestone.CLOSED: Milestone.CLOSED}
TOLD = (Action.REPORT_SUBMITTED, Action.CASE_ROUTED, Action.CASE_TRANSFERRED, Action.TEAM_DISPATCHED,
        Action.ESCALATION_RAISED, Action.INFORMATION_REQUESTED, Action.NOTE_ADDED, Action.CASE_RESOLVED,
        Action.CASE_CLOSED, Action.CASE_REOPENED, Action.CASE_REJECTED, Action.CASE_MERGED)
EXPECTING = (CaseStatus.TRIAGE, CaseStatus.IN_PROGRESS)  # statuses with an expected completion
NOTE_IS_CURRENT = (CaseStatus.RESOLVED, CaseStatus.CLOSED)  # a dispute reopens: the note no longer holds


@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the tracking code may see: no contact details, no staff names, no
    internal notes."""

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
    closure_note: str | None  # only while the case stands resolved or closed
    photos: list[Attachment]
    awaiting_feedback: bool
    merged_into: str | None
    question: str | None = None  # an officer's question waiting for the reporter's answer
    notices: tuple[SentNotice, ...] = ()  # what the reporter was sent, newest first
    timeline: tuple[Entry, ...] = ()  # oldest first
    expected_at: datetime | None = None  # while the case is being handled: its expected completion
    escalated_at: datetime | None = None  # the latest time the case was raised to the supervisors

    @property
    def replies(self) -> list[Entry]:
        """The thread: officers' questions, the reporter's answers, public replies; oldest first."""
        return [e for e in self.timeline if e.kind in THREAD]

    def late(self, now: datetime) -> bool:
        """Past its expected completion and still being handled."""
        return self.expected_at is not None and now > self.expected_at


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
    case's progress (status, OPD, expected completion, its timeline since the merge, staff
    replies, closing note) but nothing of its reporter: not their description, photos, answers
    or confirmation."""
    case = case_of(session, codes, tracking_code)
    shown = case
    if case.merged_into_id is not None:
        shown = session.get(Case, case.merged_into_id)
    closure = closing_note(session, definition, shown) if shown.status in NOTE_IS_CURRENT else None
    photos = _photos(session, case)
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
    refs = References(session)
    entries = timeline(session, definition, refs, case)
    if shown is not case:
        merged_at = max((e.at for e in entries if e.kind == Milestone.MERGED), default=case.updated_at)
        entries = sorted([*entries, *seen_by_another(timeline(session, definition, refs, shown), merged_at)],
                         key=lambda e: e.at)
    return PublicStatus(
        tracking_code=codes.normalize(tracking_code), case_number=case.number,
        status=str(shown.status), stage=shown.stage,
        category=session.get(Category, case.category_id), area=session.get(Area, case.area_id),
        agency=session.get(Agency, shown.agency_id) if shown.agency_id else None,
        submitted_at=case.report.submitted_at, updated_at=shown.updated_at,
        description=case.report.description, closure_note=closure, photos=photos,
        awaiting_feedback=feedback_task is not None and feedback_task.name in waiting,
        merged_into=shown.number if shown is not case else None, question=question,
        notices=sent_notices(session, case, shown), timeline=tuple(entries),
        expected_at=shown.expected_at if shown.status in EXPECTING else None,
        escalated_at=session.scalar(select(func.max(Escalation.raised_at)).where(Escalation.case_id == shown.id)))


def timeline(session: Session, definition: ProcessDefinition, refs: References, case: Case) -> list[Entry]:
    """The public events of one case from its audit trail, oldest first. Who acted is never
    named; an officer's words are their OPD's (the one holding the case then, the command
    center before any)."""
    question_task, feedback_task = definition.question_task, definition.feedback_task
    citizen_tasks = [t.name for t in (question_task, feedback_task) if t is not None]
    rows = session.execute(select(CaseEvent.action, CaseEvent.occurred_at, CaseEvent.actor_role,
                                  CaseEvent.task_name, CaseEvent.from_agency, CaseEvent.to_agency,
                                  CaseEvent.reason, CaseEvent.data)
                           .where(CaseEvent.case_id == case.id,
                                  or_(CaseEvent.action.in_(TOLD),
                                      (CaseEvent.action == Action.TASK_COMPLETED)
                                      & CaseEvent.task_name.in_(citizen_tasks)))
                           .order_by(CaseEvent.seq))
    answer_fields = [f.name for f in definition.forms[question_task.form_key].fields
                     if f.type == "text"] if question_task else []
    rating = definition.rating
    holder: Agency | None = refs.command_center
    rated: tuple[int | None, str | None] = (None, None)
    entries: list[Entry] = []

    def add(kind: Milestone, at: datetime, **facts) -> None:
        entries.append(Entry(kind=kind, at=at, **facts))

    for action, at, role, task_name, from_code, to_code, reason, raw in rows:
        data = json.loads(raw) if raw else {}
        by_reporter = role == Role.CITIZEN
        if action == Action.REPORT_SUBMITTED:
            add(Milestone.RECEIVED, at)
        elif action == Action.CASE_ROUTED:
            holder = refs.agencies.get(to_code)
            add(Milestone.ROUTED, at, agency=holder)
        elif action == Action.CASE_TRANSFERRED:
            previous, holder = refs.agencies.get(from_code), refs.agencies.get(to_code)
            add(Milestone.TRANSFERRED, at, agency=holder, previous=previous)
        elif action == Action.TEAM_DISPATCHED:
            add(Milestone.DISPATCHED, at, agency=refs.agencies.get(to_code) or holder)
        elif action == Action.ESCALATION_RAISED:
            add(Milestone.ESCALATED, at, agency=refs.agencies.get(to_code) if to_code else None)
        elif action == Action.INFORMATION_REQUESTED:
            add(Milestone.QUESTION, at, agency=holder, body=data.get("question"))
        elif action == Action.NOTE_ADDED:
            if data.get("public") and data.get("body"):
                add(Milestone.REPLY, at, agency=holder, body=data["body"])
        elif action == Action.TASK_COMPLETED:
            values = data.get("values") or {}
            if question_task is not None and task_name == question_task.name:
                add(Milestone.ANSWER, at, body="\n".join(str(values[n]) for n in answer_fields if values.get(n)))
            elif rating is not None and feedback_task is not None and task_name == feedback_task.name:
                score = values.get(rating.score)
                rated = (int(score) if score is not None else None,
                         values.get(rating.comment) if rating.comment else None)
        elif action == Action.CASE_RESOLVED:
            add(Milestone.RESOLVED, at, agency=holder)
        elif action == Action.CASE_CLOSED:
            if by_reporter:
                add(Milestone.CONFIRMED, at, rating=rated[0], body=rated[1])
            else:
                add(Milestone.CLOSED, at)
        elif action == Action.CASE_REOPENED:
            if by_reporter:
                add(Milestone.DISPUTED, at, agency=holder, body=reason)
            else:
                add(Milestone.REOPENED, at, agency=holder)
        elif action == Action.CASE_REJECTED:
            add(Milestone.REJECTED, at)
        elif action == Action.CASE_MERGED:
            add(Milestone.MERGED, at)
    return entries


def seen_by_another(entries: list[Entry], since: datetime) -> list[Entry]:
    """A case's timeline as the reporter of a duplicate merged into it at ``since`` sees it:
    its progress from then on and the OPD's public replies, nothing of its own reporter."""
    shown = []
    for e in entries:
        kind = SEEN_BY_ANOTHER.get(e.kind)
        if kind is None or (e.at < since and kind != Milestone.REPLY):
            continue
        shown.append(Entry(kind=kind, at=e.at, agency=e.agency, previous=e.previous,
                           body=e.body if kind == Milestone.REPLY else None))
    return shown


def case_of(session: Session, codes: TrackingCodes, tracking_code: str) -> Case:
    report_id = codes.report_id(session, tracking_code)
    case = session.scalar(select(Case).where(Case.report_id == report_id)) if report_id else None
    if case is None:
        raise NotFound(msg("no report with this tracking code"))
    return case


def _photos(session: Session, case: Case) -> list[Attachment]:
    """The report's photos the status page shows: none of a confidential report."""
    if case.report.confidential:
        return []
    return list(session.scalars(select(Attachment).where(
        Attachment.case_id == case.id, Attachment.kind.in_(PUBLIC_PHOTO_KINDS)).order_by(Attachment.id)))


def public_photo(session: Session, codes: TrackingCodes, tracking_code: str, attachment_id: int) -> Attachment:
    """One of the photos the status page of ``tracking_code`` shows."""
    for photo in _photos(session, case_of(session, codes, tracking_code)):
        if photo.id == attachment_id:
            return photo
    raise NotFound(msg("photo not found"))
