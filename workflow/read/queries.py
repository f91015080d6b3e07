"""Read models: the task inbox, case detail and case history.

All of them read projection and audit tables; none deserializes a workflow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from workflow.access import (
    Actor,
    Screen,
    can_see_contact,
    can_see_reporter,
    can_view_case,
    escalations_visible,
    items_workable,
    may_use,
    memberships_working,
)
from workflow.engine.definition import ProcessDefinition
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.ranges import MAX_PAGE
from workflow.store.models import (
    Agency,
    Area,
    Attachment,
    Case,
    CaseEvent,
    Category,
    Escalation,
    Membership,
    Note,
    Timer,
    User,
    WorkItem,
)
from workflow.store.tracking import TrackingCodes, withheld_links
from workflow.vocabulary import PUBLIC_PHOTO_KINDS, Action, Operation, Role

TABS = ("all", "unassigned", "mine")
SLA_STATES = ("on_time", "at_risk", "overdue")
SORTS = {
    "due": (WorkItem.due_at.asc().nulls_last(), WorkItem.id.asc()),
    "-due": (WorkItem.due_at.desc().nulls_last(), WorkItem.id.desc()),
    "newest": (WorkItem.created_at.desc(), WorkItem.id.desc()),
    "oldest": (WorkItem.created_at.asc(), WorkItem.id.asc()),
}
MAX_PER_PAGE = 100


def _paging_errors(page: int, per_page: int) -> dict:
    errors = {}
    if not 1 <= page <= MAX_PAGE:
        errors["page"] = msg("must be between 1 and {limit}", limit=MAX_PAGE)
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = msg("must be between 1 and {limit}", limit=MAX_PER_PAGE)
    return errors


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
        errors.update(_paging_errors(self.page, self.per_page))
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


def inbox(session: Session, actor: Actor, filters: InboxFilters, now: datetime) -> Page:
    """The work items the actor may work, newest deadline first by default."""
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
                     sla=sla_state(w.due_at, w.at_risk_at, now), paused=w.sla_paused_since is not None)
            for w, number, version, cat, cat_name, area, area_name, agency, who in session.execute(stmt)]
    if rows:
        counts = dict(session.execute(
            select(Note.work_item_id, func.count()).where(Note.work_item_id.in_([r.item_id for r in rows]))
            .group_by(Note.work_item_id)).all())
        rows = [replace(r, instructions=counts.get(r.item_id, 0)) for r in rows]
    return Page(rows=rows, total=total or 0, page=filters.page, per_page=filters.per_page)


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    category: Category
    area: Area
    kelurahan: Area | None
    agency: Agency | None
    reporter_name: str | None  # None when anonymous (see access.can_see_reporter)
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
        raise NotFound(msg("case {case_id} not found", case_id=case_id))
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
        reporter_name=report.reporter_name if can_see_reporter(actor, case) else None,
        contact_email=report.contact_email if contact else None,
        contact_phone=report.contact_phone if contact else None,
        work_items=list(session.scalars(select(WorkItem).where(
            WorkItem.case_id == case.id, WorkItem.completed_at.is_(None)).order_by(WorkItem.id))),
        timers=list(session.scalars(select(Timer).where(Timer.case_id == case.id)
                                    .order_by(Timer.due_at))),
        notes=list(session.scalars(select(Note).where(Note.case_id == case.id)
                                   .options(selectinload(Note.author))
                                   .order_by(Note.created_at, Note.id))),
        attachments=list(session.scalars(select(Attachment).where(Attachment.case_id == case.id)
                                         .order_by(Attachment.id))),
        history=case_history(session, actor, case.id))


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


def closing_note_query(definition: ProcessDefinition):
    """(task names, field) of the form whose field the reporter reads as the closing note."""
    if definition.closing_note is None:
        return (), None
    form_key, field_name = definition.closing_note
    return tuple(t.name for t in definition.tasks.values() if t.form_key == form_key), field_name


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
    closure = None
    closing_tasks, note_field = closing_note_query(definition)
    for event in session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == shown.id, CaseEvent.action == Action.TASK_COMPLETED,
            CaseEvent.task_name.in_(closing_tasks)).order_by(CaseEvent.seq.desc()).limit(1)):
        closure = json.loads(event.data)["values"].get(note_field)
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
        merged_into=shown.number if shown is not case else None, question=question)


def public_photo(session: Session, codes: TrackingCodes, definition: ProcessDefinition,
                 tracking_code: str, attachment_id: int) -> Attachment:
    status = public_status(session, codes, definition, tracking_code)
    for photo in status.photos:
        if photo.id == attachment_id:
            return photo
    raise NotFound(msg("photo not found"))


def attachment_for(session: Session, actor: Actor, attachment_id: int) -> Attachment:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound(msg("photo not found"))
    visible_case(session, actor, attachment.case_id)
    return attachment


@dataclass(frozen=True)
class ReportOptions:
    categories: list[Category]
    kecamatan: list[Area]
    kelurahan: dict[int, list[Area]]  # by kecamatan id


def report_options(session: Session) -> ReportOptions:
    categories = list(session.scalars(select(Category).where(Category.active.is_(True))
                                      .order_by(Category.group, Category.name_id)))
    areas = list(session.scalars(select(Area).order_by(Area.name)))
    kecamatan = [a for a in areas if a.parent_id is None]
    kelurahan: dict[int, list[Area]] = {k.id: [] for k in kecamatan}
    for a in areas:
        if a.parent_id is not None:
            kelurahan[a.parent_id].append(a)
    return ReportOptions(categories=categories, kecamatan=kecamatan, kelurahan=kelurahan)


@dataclass(frozen=True)
class ChoiceOption:
    code: str
    name_id: str
    name_en: str


def task_choices(session: Session, case: Case, source: str) -> list[ChoiceOption]:
    """The options of a form field whose choices come from the database, for this case:
    categories, the OPDs a case can be transferred to, the QR teams of the case's kecamatan."""
    if source == "categories":
        rows = session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.name_id))
        return [ChoiceOption(c.code, c.name_id, c.name_en) for c in rows]
    if source == "agencies":
        rows = session.scalars(select(Agency).where(
            Agency.active.is_(True), Agency.handles_reports.is_(True),
            Agency.id != (case.agency_id or 0)).order_by(Agency.name))
        return [ChoiceOption(a.code, a.name, a.name) for a in rows]
    if source == "teams":
        from workflow.store.models import QrTeam

        rows = session.scalars(select(QrTeam).where(
            QrTeam.active.is_(True), QrTeam.area_id == case.area_id).order_by(QrTeam.code))
        return [ChoiceOption(t.code, t.name, t.name) for t in rows]
    raise ValueError(f"unknown choice source {source!r}")




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
        errors.update(_paging_errors(self.page, self.per_page))
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


def assignees_for(session: Session, item: WorkItem) -> list[ChoiceOption]:
    """Active users who could work ``item`` (a supervisor reassigning it picks one of these)."""
    query = (select(User).join(Membership).where(User.active.is_(True), memberships_working(item))
             .order_by(User.username).distinct())
    return [ChoiceOption(u.username, f"{u.full_name} ({u.username})", f"{u.full_name} ({u.username})")
            for u in session.scalars(query) if u.id != item.assignee_id]


def instructions_for(session: Session, item_ids: list[int]) -> dict[int, list[Note]]:
    """Supervisors' instructions on these work items, oldest first."""
    found: dict[int, list[Note]] = {}
    if not item_ids:
        return found
    for note in session.scalars(select(Note).where(Note.work_item_id.in_(item_ids))
                                .options(selectinload(Note.author)).order_by(Note.created_at, Note.id)):
        found.setdefault(note.work_item_id, []).append(note)
    return found


@dataclass(frozen=True)
class IncidentRow:
    id: int
    occurred_at: datetime
    case_id: int | None
    case_number: str | None
    operation: str
    task_name: str | None
    error: str
    attempts: int | None
    resolved_at: datetime | None
    resolved_by: str | None
    retryable: bool


def incidents(session: Session, actor: Actor, *, state: str = "open", page: int = 1,
              per_page: int = 25) -> Page:
    """Failed steps for administrators, newest first: ``open`` ones or ``all``."""
    from workflow.errors import PermissionDenied

    if not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can see incidents"))
    errors = _paging_errors(page, per_page)
    if state not in ("open", "all"):
        errors["state"] = msg("must be one of {choices}", choices="open, all")
    if errors:
        raise ValidationError(errors)
    from workflow.store.models import Incident

    where = [Incident.resolved_at.is_(None)] if state == "open" else []
    total = session.scalar(select(func.count()).select_from(Incident).where(*where))
    resolver = aliased(User)
    stmt = (select(Incident, Case.number, resolver.username)
            .outerjoin(Case, Case.id == Incident.case_id)
            .outerjoin(resolver, resolver.id == Incident.resolved_by_id)
            .where(*where).order_by(Incident.occurred_at.desc(), Incident.id.desc())
            .limit(per_page).offset((page - 1) * per_page))
    rows = [IncidentRow(
        id=i.id, occurred_at=i.occurred_at, case_id=i.case_id, case_number=number,
        operation=i.operation, task_name=i.task_name, error=i.error,
        attempts=(i.details or {}).get("attempts"), resolved_at=i.resolved_at, resolved_by=who,
        retryable=i.resolved_at is None and i.operation == Operation.FIRE_TIMERS and i.case_id is not None)
        for i, number, who in session.execute(stmt)]
    return Page(rows=rows, total=total or 0, page=page, per_page=per_page)
