"""The task inbox: the open work items an actor may work, filtered, sorted and paged."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, items_workable
from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.read.lateness import is_overdue, overdue
from workflow.read.paging import Page, paging_errors
from workflow.read.search import excerpt
from workflow.store.models import (
    Agency,
    Area,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Note,
    Report,
    User,
    WorkItem,
)
from workflow.vocabulary import Action, AttachmentKind

TABS = ("all", "unassigned", "mine")


SLA_STATES = ("on_time", "at_risk", "overdue")


SORTS = {
    "due": (WorkItem.due_at.asc().nulls_last(), WorkItem.id.asc()),
    "-due": (WorkItem.due_at.desc().nulls_last(), WorkItem.id.desc()),
    "newest": (WorkItem.created_at.desc(), WorkItem.id.desc()),
    "oldest": (WorkItem.created_at.asc(), WorkItem.id.asc()),
}


@dataclass(frozen=True)
class InboxFilters:
    tab: str = "all"
    category: str | None = None
    area: str | None = None  # kecamatan code
    stage: str | None = None  # form key
    sla: str | None = None
    sort: str = "due"
    page: int = 1
    per_page: int = 25

    def validate(self) -> InboxFilters:
        errors = {}
        if self.tab not in TABS:
            errors["tab"] = msg("must be one of {choices}", choices=", ".join(TABS))
        if self.sla and self.sla not in SLA_STATES:
            errors["sla"] = msg("must be one of {choices}", choices=", ".join(SLA_STATES))
        if self.sort not in SORTS:
            errors["sort"] = msg("must be one of {choices}", choices=", ".join(SORTS))
        errors.update(paging_errors(self.page, self.per_page))
        if errors:
            raise ValidationError(errors)
        return self


@dataclass(frozen=True)
class InboxRow:
    item_id: int
    case_id: int
    case_number: str
    case_version: int
    task_name: str
    form_key: str
    category: str
    category_name: str
    area: str
    area_name: str
    agency: str | None
    priority: str
    created_at: datetime
    due_at: datetime | None
    assignee: str | None
    sla: str
    paused: bool = False  # the SLA clock stands still: waiting for the reporter
    instructions: int = 0  # supervisors' instructions on this task
    excerpt: str = ""  # the start of the report
    photo_id: int | None = None  # the report's first photo (a photo of the problem, not of the fix)
    answered: bool = False  # the reporter answered a question while this task was open


def sla_state(due_at: datetime | None, at_risk_at: datetime | None, now: datetime) -> str:
    if is_overdue(due_at, now):
        return "overdue"
    if at_risk_at is not None and now >= at_risk_at:
        return "at_risk"
    return "on_time"


def inbox(session: Session, actor: Actor, filters: InboxFilters, now: datetime,
          question_task: str | None = None) -> Page:
    """The work items the actor may work, newest deadline first by default. ``question_task``:
    the reporter's task of answering an officer's question (its answers mark the rows)."""
    filters.validate()
    where = [WorkItem.completed_at.is_(None), items_workable(actor)]
    if filters.tab == "unassigned":
        where.append(WorkItem.assignee_id.is_(None))
    elif filters.tab == "mine":
        where.append(WorkItem.assignee_id == actor.user_id)
    if filters.category:
        where.append(Category.code == filters.category)
    if filters.area:
        where.append(Area.code == filters.area)
    if filters.stage:
        where.append(WorkItem.form_key == filters.stage)
    if filters.sla == "overdue":
        where.append(overdue(now))
    elif filters.sla == "at_risk":
        where.append(and_(WorkItem.at_risk_at <= now, not_(overdue(now))))
    elif filters.sla == "on_time":
        where.append(or_(WorkItem.at_risk_at.is_(None), WorkItem.at_risk_at > now))

    base = (select(WorkItem.id).join(Case, Case.id == WorkItem.case_id)
            .join(Category, Category.id == Case.category_id)
            .join(Area, Area.id == Case.area_id).where(*where))
    total = session.scalar(select(func.count()).select_from(base.subquery()))

    assignee = aliased(User)
    stmt = (select(WorkItem, Case.number, Case.version, Category.code, Category.name_id, Area.code,
                   Area.name, Agency.code, assignee.username)
            .join(Case, Case.id == WorkItem.case_id)
            .join(Category, Category.id == Case.category_id)
            .join(Area, Area.id == Case.area_id)
            .outerjoin(Agency, Agency.id == Case.agency_id)
            .outerjoin(assignee, assignee.id == WorkItem.assignee_id)
            .where(*where).order_by(*SORTS[filters.sort])
            .limit(filters.per_page).offset((filters.page - 1) * filters.per_page))
    rows = [InboxRow(item_id=w.id, case_id=w.case_id, case_number=number, case_version=version,
                     task_name=w.task_name, form_key=w.form_key, category=cat, category_name=cat_name,
                     area=area, area_name=area_name, agency=agency, priority=w.priority,
                     created_at=w.created_at, due_at=w.due_at, assignee=who,
                     sla=sla_state(w.due_at, w.at_risk_at, now), paused=w.sla_paused_since is not None)
            for w, number, version, cat, cat_name, area, area_name, agency, who in session.execute(stmt)]
    if rows:
        rows = _details(session, rows, question_task)
    return Page(rows=rows, total=total or 0, page=filters.page, per_page=filters.per_page)


def _details(session: Session, rows: list[InboxRow], question_task: str | None) -> list[InboxRow]:
    """What a row shows beside its task: the instructions on it, the report's start and first
    photo, and whether the reporter answered a question since the task opened."""
    item_ids, case_ids = [r.item_id for r in rows], {r.case_id for r in rows}
    counts = dict(session.execute(select(Note.work_item_id, func.count()).where(Note.work_item_id.in_(item_ids))
                                  .group_by(Note.work_item_id)).all())
    texts = dict(session.execute(select(Case.id, Report.description).join(Report, Report.id == Case.report_id)
                                 .where(Case.id.in_(case_ids))).all())
    photos = dict(session.execute(select(Attachment.case_id, func.min(Attachment.id))
                                  .where(Attachment.case_id.in_(case_ids), Attachment.kind == AttachmentKind.BEFORE)
                                  .group_by(Attachment.case_id)).all())
    answers: dict[int, list[datetime]] = {}
    if question_task:
        for case_id, at in session.execute(select(CaseEvent.case_id, CaseEvent.occurred_at).where(
                CaseEvent.case_id.in_(case_ids), CaseEvent.action == Action.TASK_COMPLETED,
                CaseEvent.task_name == question_task)):
            answers.setdefault(case_id, []).append(at)
    return [replace(r, instructions=counts.get(r.item_id, 0), excerpt=excerpt(texts.get(r.case_id, "")),
                    photo_id=photos.get(r.case_id),
                    answered=any(at >= r.created_at for at in answers.get(r.case_id, ())))
            for r in rows]
