"""Case history for auditors, built from the audit trail alone: search, timeline, time per
stage and per OPD, breaches and escalations, the path through the process, exports, and the
chain heads an auditor keeps outside the system.

Auditors read every case; a supervisor reads the cases of the OPDs they supervise (or all, at
city level). Nothing here writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, false, func, select
from sqlalchemy.orm import Session

from workflow.access import Actor, Screen, histories_readable, may_use
from workflow.engine.definition import ProcessDefinition
from workflow.errors import NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.ranges import check_day
from workflow.read.paging import Page, check_one_of, paging_errors
from workflow.store import audit
from workflow.store.models import Agency, Area, Case, CaseEvent, Category, ProcessSpec, Report, User
from workflow.store.reference import city_zone
from workflow.store.tracking import TrackingCodes, withheld_links, without_secrets
from workflow.vocabulary import FINAL_STATUSES, STATUS_ACTIONS, Action, CaseStatus

ENDING = {STATUS_ACTIONS[s]: s for s in FINAL_STATUSES}  # audit action -> the status it ends in


def require_reader(actor: Actor) -> None:
    if not may_use(actor, Screen.HISTORY):
        raise PermissionDenied(msg("case histories are for auditors and supervisors"))


def readable_case(session: Session, actor: Actor, case_id: int) -> Case:
    require_reader(actor)
    case = session.scalar(select(Case).where(Case.id == case_id, histories_readable(actor)))
    if case is None:
        raise NotFound(msg("case {case_id} not found", case_id=case_id))
    return case


# -- search -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryFilters:
    tracking_code: str | None = None  # searched by its keyed hash; never shown
    number: str | None = None
    agency: str | None = None
    category: str | None = None
    area: str | None = None
    status: str | None = None
    date_from: date | None = None  # received on or after (a day of the city's time zone)
    date_to: date | None = None  # received on or before
    actor: str | None = None  # username: cases this user acted on
    page: int = 1
    per_page: int = 25

    def validate(self) -> HistoryFilters:
        errors = paging_errors(self.page, self.per_page)
        check_day(self.date_from, "date_from", errors)
        check_day(self.date_to, "date_to", errors)
        check_one_of(self.status, "status", CaseStatus, errors)
        if not errors and self.date_from and self.date_to and self.date_from > self.date_to:
            errors["date_to"] = msg("the end date is before the start date")
        if errors:
            raise ValidationError(errors)
        return self


@dataclass(frozen=True)
class CaseRow:
    case_id: int
    number: str
    status: str
    stage: str | None
    agency: str | None
    category: str
    area: str
    received_at: datetime
    closed_at: datetime | None
    transfer_count: int


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def search_cases(session: Session, actor: Actor, filters: HistoryFilters,
                 codes: TrackingCodes) -> Page:
    """A citizen who calls with their tracking code can be found by it (its keyed hash); the
    results never show a code."""
    require_reader(actor)
    filters.validate()
    where = [histories_readable(actor), Case.number.is_not(None)]
    if filters.tracking_code:
        where.append(Report.tracking_hash == (codes.lookup(filters.tracking_code) or ""))
    if filters.number:
        where.append(Case.number == filters.number.strip())
    if filters.agency:
        where.append(Agency.code == filters.agency)
    if filters.category:
        where.append(Category.code == filters.category)
    if filters.area:
        where.append(Area.code == filters.area)
    if filters.status:
        where.append(Case.status == CaseStatus(filters.status))
    if filters.date_from:
        where.append(Case.created_at >= _day_start(filters.date_from, city_zone(session)))
    if filters.date_to:
        where.append(Case.created_at < _day_start(filters.date_to + timedelta(days=1), city_zone(session)))
    if filters.actor:
        user_id = session.scalar(select(User.id).where(User.username == filters.actor.strip()))
        where.append(exists().where(CaseEvent.case_id == Case.id, CaseEvent.actor_user_id == user_id)
                     if user_id is not None else false())
    base = (select(Case, Agency.code, Category.name_id, Area.name)
            .join(Report, Report.id == Case.report_id)
            .join(Category, Category.id == Case.category_id)
            .join(Area, Area.id == Case.area_id)
            .outerjoin(Agency, Agency.id == Case.agency_id).where(*where))
    total = session.scalar(select(func.count()).select_from(base.with_only_columns(Case.id).subquery()))
    rows = session.execute(base.order_by(Case.created_at.desc(), Case.id.desc())
                           .limit(filters.per_page).offset((filters.page - 1) * filters.per_page))
    return Page(rows=[CaseRow(case_id=c.id, number=c.number, status=str(c.status),
                              stage=c.stage, agency=agency, category=category, area=area,
                              received_at=c.created_at, closed_at=c.closed_at,
                              transfer_count=c.transfer_count)
                      for c, agency, category, area in rows],
                total=total or 0, page=filters.page, per_page=filters.per_page)


@dataclass(frozen=True)
class ActorEvent:
    case_id: int
    case_number: str
    seq: int
    occurred_at: datetime
    role: str
    action: str
    task_name: str | None
    from_agency: str | None
    to_agency: str | None
    reason: str | None


def actor_events(session: Session, actor: Actor, username: str, *, page: int = 1,
                 per_page: int = 50) -> Page:
    """Everything ``username`` did, newest first, in the cases the reader may see."""
    require_reader(actor)
    errors = paging_errors(page, per_page)
    if errors:
        raise ValidationError(errors)
    user_id = session.scalar(select(User.id).where(User.username == (username or "").strip()))
    if user_id is None:
        raise NotFound(msg("no user {username}", username=username))
    where = [CaseEvent.actor_user_id == user_id, histories_readable(actor)]
    base = select(CaseEvent, Case.number).join(Case, Case.id == CaseEvent.case_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.with_only_columns(CaseEvent.id).subquery()))
    rows = session.execute(base.order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc())
                           .limit(per_page).offset((page - 1) * per_page))
    return Page(rows=[ActorEvent(case_id=e.case_id, case_number=number, seq=e.seq,
                                 occurred_at=e.occurred_at, role=e.actor_role, action=e.action,
                                 task_name=e.task_name, from_agency=e.from_agency,
                                 to_agency=e.to_agency, reason=e.reason) for e, number in rows],
                total=total or 0, page=page, per_page=per_page)


# -- one case -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    name: str
    start: datetime
    end: datetime | None  # None: still there
    elapsed: timedelta
    business: timedelta


@dataclass(frozen=True)
class Timeline:
    case: Case
    events: list[CaseEvent]
    stages: list[Span]
    agencies: list[Span]
    breaches: list[CaseEvent]  # SLA timers that fired
    escalations: list[CaseEvent]
    transfers: list[CaseEvent]
    chain_ok: bool
    chain_problem: str | None
    taken: set[str]  # BPMN element ids the case passed through
    current: set[str]  # where it is now
    diagram: str | None  # case.bpmn of the process version the case runs
    data: list[dict] = field(default_factory=list)  # each event's data, parsed


def _tasks(value: str | None) -> list[str]:
    return [t for t in (value or "").split(",") if t]


def _spans(changes: list[tuple[datetime, str | None]], end: datetime, calendar) -> list[Span]:
    spans = []
    for i, (start, name) in enumerate(changes):
        if name is None:
            continue
        stop = changes[i + 1][0] if i + 1 < len(changes) else None
        until = stop or end
        spans.append(Span(name=name, start=start, end=stop, elapsed=until - start,
                          business=calendar.business_time_between(start, until)))
    return spans


def timeline(session: Session, actor: Actor, case_id: int, *, now: datetime, calendar,
             definition: ProcessDefinition) -> Timeline:
    """The case's history from its audit trail. Side tasks of the process (escalation
    reviews, questions) do not count as stages; the path through the diagram is the tasks,
    timers, script tasks (``auditAction``) and end event the events name."""
    case = readable_case(session, actor, case_id)
    calendar.refresh(session)  # working time by the city's calendar as it is now
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                  .order_by(CaseEvent.seq)))
    breaks = audit.verify(session, case.id)
    finished = next((e.occurred_at for e in reversed(events) if e.action in ENDING), None)
    end = finished or now
    side_tasks = definition.side_tasks

    stage_changes: list[tuple[datetime, str | None]] = []
    agency_changes: list[tuple[datetime, str | None]] = []
    taken: set[str] = {definition.start_event}
    ends: list[tuple[str, str | None]] = []  # (status, end event named by the event, if any)
    for e in events:
        main = next((t for t in _tasks(e.to_task) if t not in side_tasks), None)
        if not stage_changes or stage_changes[-1][1] != main:
            stage_changes.append((e.occurred_at, main))
        if e.action in (Action.CASE_ROUTED, Action.CASE_TRANSFERRED) and e.to_agency:
            agency_changes.append((e.occurred_at, e.to_agency))
        taken.update(_tasks(e.from_task), _tasks(e.to_task))
        if e.task_name:
            taken.add(e.task_name)
        data = json.loads(e.data)
        if e.action == Action.TIMER_FIRED and data.get("timer"):
            taken.add(data["timer"])
        if e.action in ENDING:
            ends.append((ENDING[e.action], data.get("end_event")))
        if e.action in definition.script_actions:
            taken.add(definition.script_actions[e.action])
    for status, named in ends:  # events before end events were recorded: found from the path
        reached = named or definition.end_event_for(status, taken)
        if reached:
            taken.add(reached)
    current = set(_tasks(events[-1].to_task)) if events and finished is None else set()

    spec = session.get(ProcessSpec, case.spec_id)
    return Timeline(
        case=case, events=events, stages=_spans(stage_changes, end, calendar),
        agencies=_spans(agency_changes, end, calendar),
        breaches=[e for e in events if e.action == Action.TIMER_FIRED],
        escalations=[e for e in events if e.action.startswith("escalation_")],
        transfers=[e for e in events if e.action in (Action.CASE_TRANSFERRED,)],
        chain_ok=not breaks, chain_problem=str(breaks[0]) if breaks else None,
        taken=taken, current=current, diagram=(spec.source or {}).get("case.bpmn") if spec else None,
        data=[without_secrets(json.loads(e.data)) for e in events])


# -- exports and chain heads --------------------------------------------------------------------

EXPORT_FIELDS = ("id", *audit.HASHED_FIELDS, "prev_hash", "hash")


def export_events(session: Session, actor: Actor, case_id: int) -> dict:
    """The case's trail with everything needed to verify it offline
    (``tanggap audit verify --file``)."""
    case = readable_case(session, actor, case_id)
    rows = withheld_links([{"id": e.id, **audit.row_payload(e), "prev_hash": e.prev_hash, "hash": e.hash}
                           for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                                    .order_by(CaseEvent.seq))])
    return {"format": "tanggap-audit-export/1", "case_id": case.id, "case_number": case.number,
            "events": rows}


def verify_export(document: Any) -> list[str]:
    """Problems found in an exported trail (empty: it verifies)."""
    if not isinstance(document, dict) or document.get("format") != "tanggap-audit-export/1":
        return ["not a Tanggap audit export"]
    events = document.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
        return ["the export holds no events"]
    missing = [f for f in EXPORT_FIELDS if f not in events[0]]
    if missing:
        return [f"events lack {', '.join(missing)}"]
    problems = [str(b) for b in audit.verify_rows(sorted(events, key=lambda e: (e["case_id"], e["seq"])))]
    if {e["case_id"] for e in events} != {document.get("case_id")}:
        problems.append("events of another case are in the export")
    return problems


def redacted_events(document: dict) -> int:
    """Events of an export whose tracking code, and hash, were left out."""
    return sum(1 for e in document.get("events") or [] if isinstance(e, dict) and e.get("redacted") is True)


def chain_heads(session: Session, actor: Actor, now: datetime) -> dict:
    """The last (seq, hash) of every readable case's chain, and one digest over them: kept
    outside the system, it proves later that no chain was rewritten up to these heads."""
    require_reader(actor)
    last = (select(CaseEvent.case_id, func.max(CaseEvent.seq).label("seq"))
            .group_by(CaseEvent.case_id).subquery())
    rows = session.execute(
        select(CaseEvent.case_id, Case.number, CaseEvent.seq, CaseEvent.hash)
        .join(last, and_(last.c.case_id == CaseEvent.case_id, last.c.seq == CaseEvent.seq))
        .join(Case, Case.id == CaseEvent.case_id).where(histories_readable(actor))
        .order_by(CaseEvent.case_id))
    heads = [{"case_id": c, "case_number": n, "seq": s, "hash": h} for c, n, s, h in rows]
    return {"format": "tanggap-chain-heads/1", "generated_at": audit.utc_iso(now), "heads": heads,
            "digest": heads_digest(heads)}


def heads_digest(heads: list[dict]) -> str:
    return hashlib.sha256(audit.canonical_json(heads).encode()).hexdigest()


def verify_heads(session: Session, document: Any) -> list[str]:
    """Problems between a kept chain-heads file and the database (empty: every chain still
    holds the event the file recorded, with the same hash)."""
    if not isinstance(document, dict) or document.get("format") != "tanggap-chain-heads/1":
        return ["not a Tanggap chain-heads file"]
    heads = document.get("heads") or []
    if heads_digest(heads) != document.get("digest"):
        return ["the file's digest does not match its heads (the file was changed)"]
    problems = []
    for head in heads:
        stored = session.scalar(select(CaseEvent.hash).where(CaseEvent.case_id == head["case_id"],
                                                             CaseEvent.seq == head["seq"]))
        if stored is None:
            problems.append(f"case {head['case_number']}: event {head['seq']} is gone")
        elif stored != head["hash"]:
            problems.append(f"case {head['case_number']}: event {head['seq']} was rewritten")
    return problems
