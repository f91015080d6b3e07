"""The task inbox: the open work items an actor may work, filtered, sorted and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, literal, not_, or_, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, items_workable
from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.read.lateness import is_overdue, overdue
from workflow.read.paging import Page, capped_count, nulls_last_page, paging_errors
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


# the sorts: (column, descending); the item id breaks ties; items without a deadline come last
SORTS = {
    "due": (WorkItem.due_at, False),
    "-due": (WorkItem.due_at, True),
    "newest": (WorkItem.created_at, True),
    "oldest": (WorkItem.created_at, False),
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
    the reporter's task of answering an officer's question (its answers mark the rows).

    Every filter is a column of the open item itself (its category and kecamatan are kept with
    it), so the page is read in deadline order from a partial index of open items and the count
    stops at :data:`COUNT_LIMIT`; only the rows of the page are joined to their case."""
    filters.validate()
    where = [WorkItem.completed_at.is_(None), items_workable(actor)]
    if filters.tab == "unassigned":
        where.append(WorkItem.assignee_id.is_(None))
    elif filters.tab == "mine":
        where.append(WorkItem.assignee_id == actor.user_id)
    if filters.category:
        where.append(WorkItem.category_id == select(Category.id).where(Category.code == filters.category)
                     .scalar_subquery())
    if filters.area:
        where.append(WorkItem.area_id == select(Area.id).where(Area.code == filters.area).scalar_subquery())
    if filters.stage:
        where.append(WorkItem.form_key == filters.stage)
    if filters.sla == "overdue":
        where.append(overdue(now))
    elif filters.sla == "at_risk":
        where.append(and_(WorkItem.at_risk_at <= now, not_(overdue(now))))
    elif filters.sla == "on_time":
        where.append(or_(WorkItem.at_risk_at.is_(None), WorkItem.at_risk_at > now))
    total, capped = capped_count(session, select(WorkItem.id).where(*where))

    # the page's items, in the order asked for, from the index
    offset = (filters.page - 1) * filters.per_page
    items = select(WorkItem.id).where(*where)
    key, descending = SORTS[filters.sort]
    if key is WorkItem.due_at:
        ids = [r.id for r in nulls_last_page(session, items, key, WorkItem.id, descending=descending,
                                             offset=offset, limit=filters.per_page)]
    else:
        order = (key.desc(), WorkItem.id.desc()) if descending else (key.asc(), WorkItem.id.asc())
        ids = list(session.scalars(items.order_by(*order).limit(filters.per_page).offset(offset)))
    rows = _rows(session, ids, now, question_task) if ids else []
    return Page(rows=rows, total=total, page=filters.page, per_page=filters.per_page, capped=capped)


def _rows(session: Session, ids: list[int], now: datetime, question_task: str | None) -> list[InboxRow]:
    """The page's rows, in the order of ``ids``, with what each shows beside its task: the
    instructions on it, the report's start and first photo, and whether the reporter answered a
    question since the task opened. One statement: the columns per row are read for these rows only."""
    assignee = aliased(User)
    instructions = (select(func.count()).where(Note.work_item_id == WorkItem.id).correlate(WorkItem)
                    .scalar_subquery())
    photo = (select(func.min(Attachment.id)).where(Attachment.case_id == WorkItem.case_id,
                                                   Attachment.kind == AttachmentKind.BEFORE)
             .correlate(WorkItem).scalar_subquery())
    answered = (exists().where(CaseEvent.case_id == WorkItem.case_id, CaseEvent.action == Action.TASK_COMPLETED,
                               CaseEvent.task_name == question_task, CaseEvent.occurred_at >= WorkItem.created_at)
                .correlate(WorkItem) if question_task else literal(False))
    stmt = (select(WorkItem, Case.number, Case.version, Category.code, Category.name_id, Area.code,
                   Area.name, Agency.code, assignee.username, Report.description, instructions, photo, answered)
            .join(Case, Case.id == WorkItem.case_id)
            .join(Report, Report.id == Case.report_id)
            .join(Category, Category.id == Case.category_id)
            .join(Area, Area.id == Case.area_id)
            .outerjoin(Agency, Agency.id == Case.agency_id)
            .outerjoin(assignee, assignee.id == WorkItem.assignee_id)
            .where(WorkItem.id.in_(ids)))
    found = {}
    for (w, number, version, cat, cat_name, area, area_name, agency, who, text, notes, photo_id,
         was_answered) in session.execute(stmt):
        found[w.id] = InboxRow(
            item_id=w.id, case_id=w.case_id, case_number=number, case_version=version, task_name=w.task_name,
            form_key=w.form_key, category=cat, category_name=cat_name, area=area, area_name=area_name,
            agency=agency, priority=w.priority, created_at=w.created_at, due_at=w.due_at, assignee=who,
            sla=sla_state(w.due_at, w.at_risk_at, now), paused=w.sla_paused_since is not None,
            instructions=notes or 0, excerpt=excerpt(text or ""), photo_id=photo_id, answered=bool(was_answered))
    return [found[i] for i in ids if i in found]
