"""A case as staff see it: its report, work, notes, photos and audit trail (as far as the
actor's role lets them see it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from workflow.access import Actor, can_see_contact, can_see_reporter, can_view_case
from workflow.errors import NotFound
from workflow.messages import msg
from workflow.read.nearby import supporters
from workflow.store.models import (
    Agency,
    Area,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Note,
    OutboxMessage,
    Timer,
    WorkItem,
)
from workflow.store.tracking import withheld_links
from workflow.text import mask


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    category: Category
    area: Area
    kelurahan: Area | None
    agency: Agency | None
    reporter_name: str | None  # None when anonymous (see access.can_see_reporter)
    # whether the reporter left an e-mail or phone the viewer may call back on; the contact
    # itself is never part of the case: commands.contacts.reveal_contact reads it, logged
    contact_available: bool
    work_items: list[WorkItem]
    timers: list[Timer]
    notes: list[Note]
    attachments: list[Attachment]
    history: list[dict] = field(default_factory=list)
    notices: list[NoticeState] = field(default_factory=list)  # the latest, newest first
    notice_count: int = 0
    supporters: int = 0  # followers and merged reports (workflow.read.nearby.supporters)


@dataclass(frozen=True)
class NoticeState:
    """A message about the case, as its outbox row stands: to a masked address."""

    id: int
    action: str  # the audit action it tells of
    channel: str | None
    to: str
    queued_at: datetime
    state: str  # sent | waiting | given_up | stopped
    at: datetime | None  # sent, given up or stopped at; waiting: the next attempt (None: now)
    attempts: int
    last_error: str | None
    incident_id: int | None


NOTICES_SHOWN = 50


def notice_states(session: Session, case_id: int) -> tuple[list[NoticeState], int]:
    """The case's latest messages (at most :data:`NOTICES_SHOWN`) and how many there are."""
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.case_id == case_id))
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)
                           .order_by(OutboxMessage.id.desc()).limit(NOTICES_SHOWN))
    states = []
    for r in rows:
        if r.sent_at is not None:
            state, at = "sent", r.sent_at
        elif r.failed_at is not None:
            state, at = ("given_up" if r.incident_id else "stopped"), r.failed_at
        else:
            state, at = "waiting", r.next_attempt_at
        states.append(NoticeState(id=r.id, action=r.topic, channel=r.channel, to=mask(r.recipient or ""),
                                  queued_at=r.created_at, state=state, at=at, attempts=r.attempts,
                                  last_error=r.last_error if state != "sent" else None,
                                  incident_id=r.incident_id))
    return states, total or 0


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None or not can_view_case(actor, case):
        raise NotFound(msg("case {case_id} not found", case_id=case_id))
    return case


def case_detail(session: Session, actor: Actor, case_id: int) -> CaseDetail:
    case = visible_case(session, actor, case_id)
    report = case.report
    contact = can_see_contact(actor, case)
    notices, notice_count = notice_states(session, case.id)
    return CaseDetail(
        supporters=supporters(session, [case.id])[case.id],
        case=case, category=session.get(Category, case.category_id),
        area=session.get(Area, case.area_id),
        kelurahan=session.get(Area, report.kelurahan_id) if report.kelurahan_id else None,
        agency=session.get(Agency, case.agency_id) if case.agency_id else None,
        reporter_name=report.reporter_name if can_see_reporter(actor, case) else None,
        contact_available=contact and bool(report.contact_email or report.contact_phone),
        work_items=list(session.scalars(select(WorkItem).where(
            WorkItem.case_id == case.id, WorkItem.completed_at.is_(None)).order_by(WorkItem.id))),
        timers=list(session.scalars(select(Timer).where(Timer.case_id == case.id)
                                    .order_by(Timer.due_at))),
        notes=list(session.scalars(select(Note).where(Note.case_id == case.id)
                                   .options(selectinload(Note.author))
                                   .order_by(Note.created_at, Note.id))),
        attachments=list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                         .order_by(Attachment.id))),
        history=case_history(session, actor, case.id), notices=notices, notice_count=notice_count)


def case_history(session: Session, actor: Actor, case_id: int, *, after_seq: int = 0,
                 limit: int | None = None) -> list[dict]:
    """The case's audit trail, oldest first, as plain dicts (from ``after_seq`` on, at most
    ``limit`` events), with any tracking code an older event carried, and the hashes that would
    give it away, left out (``tracking.withheld_links``)."""
    visible_case(session, actor, case_id)
    first = max(after_seq, 1)  # the event before the page decides whether its link is withheld
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                     CaseEvent.seq >= first)
                             .order_by(CaseEvent.seq).limit(None if limit is None else limit + 1))
    rows = withheld_links([
        {"seq": e.seq, "occurred_at": e.occurred_at, "actor": e.actor_name,
         "role": e.actor_role, "action": e.action, "task": e.task_name,
         "from_agency": e.from_agency, "to_agency": e.to_agency, "from_task": e.from_task,
         "to_task": e.to_task, "reason": e.reason, "data": json.loads(e.data),
         "hash": e.hash, "prev_hash": e.prev_hash} for e in events])
    rows = [r for r in rows if r["seq"] > after_seq]
    return rows[:limit] if limit is not None else rows


def attachment_for(session: Session, actor: Actor, attachment_id: int) -> Attachment:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(msg("photo not found"))
    visible_case(session, actor, attachment.case_id)
    return attachment


def instructions_for(session: Session, item_ids: list[int]) -> dict[int, list[Note]]:
    """Supervisors' instructions on these work items, oldest first."""
    found: dict[int, list[Note]] = {}
    if not item_ids:
        return found
    for note in session.scalars(select(Note).where(Note.work_item_id.in_(item_ids))
                                .options(selectinload(Note.author)).order_by(Note.created_at, Note.id)):
        found.setdefault(note.work_item_id, []).append(note)
    return found
