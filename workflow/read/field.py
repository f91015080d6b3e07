"""A QR officer's day: the open field tasks of their team, overdue and due first, each with what
the officer needs on the way: where (kelurahan, address, the point to navigate to), how late,
and what the coordinator said when dispatching (the previous step's values)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.access import Actor, items_workable
from workflow.engine.definition import ProcessDefinition
from workflow.read.handoff import Step, last_step
from workflow.read.inbox import sla_state
from workflow.store.models import Area, Attachment, Case, Category, Report, WorkItem
from workflow.vocabulary import Role

CARDS_SHOWN = 50


@dataclass(frozen=True)
class FieldCard:
    item_id: int
    case_id: int
    case_number: str
    task_name: str
    category: Category
    kecamatan: str
    kelurahan: str | None
    address: str
    lat: float
    lon: float
    exact: bool  # the reporter gave this point (else: a point inside the area they named)
    due_at: datetime | None
    sla: str
    assignee_id: int | None
    step: Step | None  # the dispatch: its instructions
    photos: tuple[int, ...] = ()  # the case's photos (attachment ids), kept on the phone with the task


def field_cards(session: Session, definition: ProcessDefinition, actor: Actor, now: datetime) -> list[FieldCard]:
    """The actor's team's open QR tasks, the most urgent first (no deadline last)."""
    rows = session.execute(
        select(WorkItem, Case, Report)
        .join(Case, Case.id == WorkItem.case_id).join(Report, Report.id == Case.report_id)
        .where(WorkItem.completed_at.is_(None), WorkItem.role == Role.QR_OFFICER, items_workable(actor))
        .order_by(WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.id).limit(CARDS_SHOWN)).all()
    areas = dict(session.execute(select(Area.id, Area.name)).all()) if rows else {}
    categories = {c.id: c for c in session.scalars(select(Category))} if rows else {}
    photos: dict[int, tuple[int, ...]] = {}
    for case_id, attachment_id in session.execute(select(Attachment.case_id, Attachment.id).where(
            Attachment.case_id.in_([case.id for _i, case, _r in rows])).order_by(Attachment.id)):
        photos[case_id] = (*photos.get(case_id, ()), attachment_id)
    cards = []
    for item, case, report in rows:
        cards.append(FieldCard(
            item_id=item.id, case_id=case.id, case_number=case.number, task_name=item.task_name,
            category=categories[case.category_id], kecamatan=areas[case.area_id],
            kelurahan=areas.get(report.kelurahan_id), address=report.address, lat=report.lat, lon=report.lon,
            exact=case.lat is not None, due_at=item.due_at, sla=sla_state(item.due_at, item.at_risk_at, now),
            assignee_id=item.assignee_id, step=last_step(session, definition, case.id),
            photos=photos.get(case.id, ())))
    return cards
