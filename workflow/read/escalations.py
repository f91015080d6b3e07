"""The supervisors' escalation view: late work in their scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, escalations_visible
from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.read.paging import Page, capped_counts, paging_errors
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
class LevelState:
    """One escalation of a late task: the level it was raised to and where it stands."""

    escalation_id: int
    level: str
    raised_at: datetime
    acknowledged: bool
    resolved: bool
    review_item_id: int | None  # the supervisor's review task, while it is open


@dataclass(frozen=True)
class EscalationRow:
    """A late task, once, with every escalation it raised (breach, then critical; ping-pong)."""

    case_id: int
    case_number: str
    case_version: int
    task_name: str
    agency: str | None
    category_name: str
    area_name: str
    due_at: datetime | None
    late_by: Any  # timedelta | None
    late_item_id: int | None  # the late task's open work item (its deadline can be extended)
    levels: tuple[LevelState, ...]  # the latest raised first

    @property
    def headline(self) -> LevelState:
        return self.levels[0]

    @property
    def escalation_id(self) -> int:
        return self.headline.escalation_id

    @property
    def level(self) -> str:
        return self.headline.level

    @property
    def raised_at(self) -> datetime:
        return min(s.raised_at for s in self.levels)

    @property
    def acknowledged(self) -> bool:
        return all(s.acknowledged for s in self.levels)

    @property
    def resolved(self) -> bool:
        return all(s.resolved for s in self.levels)

    @property
    def review_item_ids(self) -> tuple[int, ...]:
        """The open review tasks of this late task, the latest level first."""
        return tuple(s.review_item_id for s in self.levels if s.review_item_id is not None)

    @property
    def review_item_id(self) -> int | None:
        return next(iter(self.review_item_ids), None)


class LevelCounts(dict):
    """Open escalations per level, each counted up to :data:`COUNT_LIMIT`; ``capped``: the
    levels that have more."""

    def __init__(self, counts: dict[str, int], capped: frozenset[str] = frozenset()):
        super().__init__(counts)
        self.capped = capped


def escalation_view(session: Session, actor: Actor, filters: EscalationFilters,
                    now: datetime, levels) -> tuple[Page, LevelCounts]:
    """The late tasks in the supervisor's scope, each once (however many levels it reached),
    the one due first on top; and open escalations by level.
    ``levels``: the process's escalation levels (a filter on another is refused).

    An escalation keeps its late task's deadline (``due_at``), so the open ones are read a page
    at a time in deadline order from a partial index, city-wide or per OPD; only the page's
    rows are joined to their cases. The counts stop at :data:`COUNT_LIMIT`."""
    filters.validate(levels)
    visible = escalations_visible(actor)
    where = [visible]
    if filters.state == "open":
        where.append(Escalation.resolved_at.is_(None))
    if filters.level:
        where.append(Escalation.level == filters.level)
    case_filters = []
    if filters.agency:
        case_filters.append(Case.agency_id == select(Agency.id).where(Agency.code == filters.agency)
                            .scalar_subquery())
    if filters.category:
        case_filters.append(Case.category_id == select(Category.id).where(Category.code == filters.category)
                            .scalar_subquery())
    if filters.area:
        case_filters.append(Case.area_id == select(Area.id).where(Area.code == filters.area).scalar_subquery())
    if case_filters:
        where.append(exists().where(Case.id == Escalation.case_id, *case_filters).correlate(Escalation))

    offset = (filters.page - 1) * filters.per_page
    if filters.state == "open":
        # the open escalations of a late task all carry its deadline: a late task is one
        # (due_at, case, task) group, streamed from the index in that order
        tasks = (select(Escalation.case_id, Escalation.task_name).where(*where)
                 .group_by(Escalation.due_at, Escalation.case_id, Escalation.task_name))
        in_order = tasks.order_by(Escalation.due_at, Escalation.case_id, Escalation.task_name)
    else:  # with the resolved history: a task's escalations may have had different deadlines
        tasks = (select(Escalation.case_id, Escalation.task_name).where(*where)
                 .group_by(Escalation.case_id, Escalation.task_name))
        in_order = tasks.order_by(func.min(Escalation.due_at), Escalation.case_id, Escalation.task_name)
    # the late tasks and the open escalations of each level, counted in one statement
    (total, capped), *per_level = capped_counts(session, [tasks, *(
        select(Escalation.id).where(visible, Escalation.resolved_at.is_(None), Escalation.level == level)
        for level in levels)])
    page = session.execute(in_order.limit(filters.per_page).offset(offset)).all()
    wanted = list(dict.fromkeys((case_id, task) for case_id, task in page))
    rows = _rows(session, wanted, where, now)
    counts = {level: n for level, (n, _more) in zip(levels, per_level) if n}
    over = {level for level, (_n, more) in zip(levels, per_level) if more}
    return (Page(rows=rows, total=total, page=filters.page, per_page=filters.per_page, capped=capped),
            LevelCounts(counts, frozenset(over)))


def _rows(session: Session, wanted: list[tuple[int, str]], where: list, now: datetime) -> list[EscalationRow]:
    """The rows of the late tasks ``wanted``, in that order, each with its escalations (the
    latest raised first) and its open work item."""
    if not wanted:
        return []
    found: dict[tuple[int, str], list] = {key: [] for key in wanted}
    late = aliased(WorkItem)
    details = (  # columns, not entities: a page's rows are read on every look at the view
        select(Escalation.id, Escalation.case_id, Escalation.task_name, Escalation.level, Escalation.raised_at,
               Escalation.acknowledged_at, Escalation.resolved_at, Escalation.work_item_id, Escalation.due_at,
               Case.number, Case.version, Agency.code.label("agency"), Category.name_id.label("category"),
               Area.name.label("area"), WorkItem.completed_at.label("review_done"), late.id.label("late_id"))
        .select_from(Escalation)
        .join(Case, Case.id == Escalation.case_id)
        .join(Category, Category.id == Case.category_id).join(Area, Area.id == Case.area_id)
        .outerjoin(Agency, Agency.id == Case.agency_id)
        .outerjoin(late, and_(late.case_id == Escalation.case_id, late.task_name == Escalation.task_name,
                              late.completed_at.is_(None)))
        .join(WorkItem, WorkItem.id == Escalation.work_item_id)
        .where(*where, Escalation.case_id.in_({c for c, _t in wanted}))
        .order_by(Escalation.raised_at.desc(), Escalation.id.desc()))
    for row in session.execute(details):
        key = (row.case_id, row.task_name)
        if key in found:
            found[key].append(row)
    rows = []
    for key in wanted:
        if not found[key]:  # resolved between the two reads (state=open): gone from the list
            continue
        first = found[key][0]  # the latest raised
        due = min(e.due_at for e in found[key])
        rows.append(EscalationRow(
            case_id=key[0], case_number=first.number, case_version=first.version, task_name=key[1],
            agency=first.agency, category_name=first.category, area_name=first.area, due_at=due,
            late_by=now - due, late_item_id=first.late_id,
            levels=tuple(LevelState(escalation_id=e.id, level=e.level, raised_at=e.raised_at,
                                    acknowledged=e.acknowledged_at is not None, resolved=e.resolved_at is not None,
                                    review_item_id=e.work_item_id if e.review_done is None else None)
                         for e in found[key])))
    return rows
