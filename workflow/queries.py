"""Read models: the task inbox, case detail and case history.

All of them read projection and audit tables; none deserializes a workflow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from .actors import Actor
from .errors import NotFound, ValidationError
from .models import (
    Agency,
    Area,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Note,
    Role,
    Timer,
    User,
    WorkItem,
)
from .permissions import can_see_contact, can_view_case

INBOX_ROLES = (Role.TRIAGE, Role.COORDINATOR, Role.QR_OFFICER)
TABS = ("all", "unassigned", "mine")
SLA_STATES = ("on_time", "at_risk", "overdue")
SORTS = {
    "due": (WorkItem.due_at.asc().nulls_last(), WorkItem.id.asc()),
    "-due": (WorkItem.due_at.desc().nulls_last(), WorkItem.id.desc()),
    "newest": (WorkItem.created_at.desc(), WorkItem.id.desc()),
    "oldest": (WorkItem.created_at.asc(), WorkItem.id.asc()),
}
MAX_PER_PAGE = 100


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
            errors["tab"] = f"must be one of {', '.join(TABS)}"
        if self.sla and self.sla not in SLA_STATES:
            errors["sla"] = f"must be one of {', '.join(SLA_STATES)}"
        if self.sort not in SORTS:
            errors["sort"] = f"must be one of {', '.join(SORTS)}"
        if self.page < 1:
            errors["page"] = "must be 1 or more"
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            errors["per_page"] = f"must be between 1 and {MAX_PER_PAGE}"
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


@dataclass(frozen=True)
class Page:
    rows: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def sla_state(due_at: datetime | None, at_risk_at: datetime | None, now: datetime) -> str:
    if due_at is not None and now >= due_at:
        return "overdue"
    if at_risk_at is not None and now >= at_risk_at:
        return "at_risk"
    return "on_time"


def _scope_clause(actor: Actor):
    clauses = []
    for s in actor.scopes:
        if s.role in (Role.TRIAGE, Role.COORDINATOR) and s.agency_id is not None:
            clauses.append(and_(WorkItem.role == s.role, WorkItem.agency_id == s.agency_id))
        elif s.role == Role.QR_OFFICER and s.team_id is not None:
            clauses.append(and_(WorkItem.role == Role.QR_OFFICER, WorkItem.team_id == s.team_id))
    return or_(*clauses) if clauses else false()


def inbox(session: Session, actor: Actor, filters: InboxFilters, now: datetime) -> Page:
    """The work items the actor may work, newest deadline first by default."""
    filters.validate()
    where = [WorkItem.completed_at.is_(None), _scope_clause(actor)]
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
        where.append(WorkItem.due_at <= now)
    elif filters.sla == "at_risk":
        where.append(and_(WorkItem.at_risk_at <= now, WorkItem.due_at > now))
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
                     sla=sla_state(w.due_at, w.at_risk_at, now))
            for w, number, version, cat, cat_name, area, area_name, agency, who in session.execute(stmt)]
    return Page(rows=rows, total=total or 0, page=filters.page, per_page=filters.per_page)


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    category: Category
    area: Area
    kelurahan: Area | None
    agency: Agency | None
    reporter_name: str | None  # None when anonymous
    contact_email: str | None  # None unless the viewer may call back
    contact_phone: str | None
    work_items: list[WorkItem]
    timers: list[Timer]
    notes: list[Note]
    attachments: list[Attachment]
    history: list[dict] = field(default_factory=list)


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None or not can_view_case(actor, case):
        raise NotFound(f"case {case_id} not found")
    return case


def case_detail(session: Session, actor: Actor, case_id: int) -> CaseDetail:
    case = visible_case(session, actor, case_id)
    report = case.report
    contact = can_see_contact(actor, case)
    return CaseDetail(
        case=case, category=session.get(Category, case.category_id),
        area=session.get(Area, case.area_id),
        kelurahan=session.get(Area, report.kelurahan_id) if report.kelurahan_id else None,
        agency=session.get(Agency, case.agency_id) if case.agency_id else None,
        reporter_name=None if report.anonymous else report.reporter_name,
        contact_email=report.contact_email if contact else None,
        contact_phone=report.contact_phone if contact else None,
        work_items=list(session.scalars(select(WorkItem).where(
            WorkItem.case_id == case.id, WorkItem.completed_at.is_(None)).order_by(WorkItem.id))),
        timers=list(session.scalars(select(Timer).where(Timer.case_id == case.id)
                                    .order_by(Timer.due_at))),
        notes=list(session.scalars(select(Note).where(Note.case_id == case.id)
                                   .order_by(Note.created_at, Note.id))),
        attachments=list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                         .order_by(Attachment.id))),
        history=case_history(session, actor, case.id))


def case_history(session: Session, actor: Actor, case_id: int) -> list[dict]:
    """The case's audit trail, oldest first, as plain dicts."""
    visible_case(session, actor, case_id)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                             .order_by(CaseEvent.seq))
    return [{"seq": e.seq, "occurred_at": e.occurred_at, "actor": e.actor_name,
             "role": e.actor_role, "action": e.action, "task": e.task_name,
             "from_agency": e.from_agency, "to_agency": e.to_agency, "from_task": e.from_task,
             "to_task": e.to_task, "reason": e.reason, "data": json.loads(e.data),
             "hash": e.hash, "prev_hash": e.prev_hash} for e in events]
