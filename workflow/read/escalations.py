"""The supervisors' escalation view: late work in their scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, escalations_visible
from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.read.paging import Page, paging_errors
from workflow.store.models import Agency, Area, Case, Category, Escalation, WorkItem


@dataclass(frozen=True)
class EscalationFilters:
    agency: str | None = None
    category: str | None = None
    area: str | None = None
    level: str | None = None
    state: str = "open"  # open / all
    page: int = 1
    per_page: int = 25

    def validate(self, levels) -> EscalationFilters:
        """``levels``: the escalation levels the process knows."""
        errors = {}
        if self.level and self.level not in levels:
            errors["level"] = msg("must be one of {choices}", choices=", ".join(levels))
        if self.state not in ("open", "all"):
            errors["state"] = msg("must be one of {choices}", choices="open, all")
        errors.update(paging_errors(self.page, self.per_page))
        if errors:
            raise ValidationError(errors)
        return self


@dataclass(frozen=True)
class EscalationRow:
    escalation_id: int
    case_id: int
    case_number: str
    task_name: str
    level: str
    agency: str | None
    category_name: str
    area_name: str
    raised_at: datetime
    due_at: datetime | None
    late_by: Any  # timedelta | None
    acknowledged: bool
    resolved: bool
    review_item_id: int | None
    late_item_id: int | None  # the late task's open work item (its deadline can be extended)


def escalation_view(session: Session, actor: Actor, filters: EscalationFilters,
                    now: datetime, levels) -> tuple[Page, dict[str, int]]:
    """Escalations in the supervisor's scope, the latest task first; and open counts by level.
    ``levels``: the process's escalation levels (a filter on another is refused)."""
    filters.validate(levels)
    case_agency = aliased(Agency)
    where = [escalations_visible(actor)]
    if filters.state == "open":
        where.append(Escalation.resolved_at.is_(None))
    if filters.level:
        where.append(Escalation.level == filters.level)
    if filters.agency:
        where.append(case_agency.code == filters.agency)
    if filters.category:
        where.append(Category.code == filters.category)
    if filters.area:
        where.append(Area.code == filters.area)
    late = aliased(WorkItem)
    base = (select(Escalation, Case.number, Case.due_at, case_agency.code, Category.name_id, Area.name,
                   WorkItem.id, WorkItem.completed_at, late.id)
            .join(Case, Case.id == Escalation.case_id)
            .outerjoin(late, and_(late.case_id == Escalation.case_id, late.task_name == Escalation.task_name,
                                  late.completed_at.is_(None)))
            .join(Category, Category.id == Case.category_id).join(Area, Area.id == Case.area_id)
            .outerjoin(case_agency, case_agency.id == Case.agency_id)
            .join(WorkItem, WorkItem.id == Escalation.work_item_id).where(*where))
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    stmt = (base.order_by(Case.due_at.asc().nulls_last(), Escalation.id)
            .limit(filters.per_page).offset((filters.page - 1) * filters.per_page))
    rows = [EscalationRow(
        escalation_id=e.id, case_id=e.case_id, case_number=number, task_name=e.task_name,
        level=e.level, agency=agency, category_name=category, area_name=area, raised_at=e.raised_at,
        due_at=due, late_by=(now - due) if due else None, acknowledged=e.acknowledged_at is not None,
        resolved=e.resolved_at is not None, review_item_id=item_id if item_done is None else None,
        late_item_id=late_id)
        for e, number, due, agency, category, area, item_id, item_done, late_id in session.execute(stmt)]
    counts = dict(session.execute(
        select(Escalation.level, func.count()).where(escalations_visible(actor),
                                                     Escalation.resolved_at.is_(None))
        .group_by(Escalation.level)).all())
    return Page(rows=rows, total=total or 0, page=filters.page, per_page=filters.per_page), counts
