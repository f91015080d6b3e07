"""The public view of cases as Open311 service requests: what anyone may list and look up, and
how each request changed (the mySociety ``servicerequestupdates`` extension).

No contact details, no names, no internal notes; confidential reports are left out entirely.
A request is ``open`` while its case is in triage or being handled, and ``closed`` once the OPD
has resolved it (waiting for the reporter's confirmation, as FixMyStreet reads "fixed"), it is
closed, rejected or merged; the reporter's dispute opens it again. Its ``status_notes`` are
written for anyone reading: who has it now, or why it ended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from workflow.engine.definition import ProcessDefinition
from workflow.errors import NotFound, ValidationError
from workflow.messages import Message, msg
from workflow.ranges import check_moment
from workflow.read.public import closing_note_query
from workflow.store.models import Agency, Case, CaseEvent, Category, Report
from workflow.store.reference import References
from workflow.store.tracking import TrackingCodes
from workflow.vocabulary import STATUS_ACTIONS, Action, CaseStatus

DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
OPEN = (CaseStatus.TRIAGE, CaseStatus.IN_PROGRESS)  # what Open311 calls open; the rest is closed
ROUTING = (Action.CASE_ROUTED, Action.CASE_TRANSFERRED)  # the OPD that has the case changes
STATUS_CHANGES = (*STATUS_ACTIONS.values(), Action.CASE_REOPENED)  # their data says [before, after]
# the reason of these is public (the triage's); a dispute's reason is the reporter's own words, and is not
ENDING_WITH_REASON = (Action.CASE_REJECTED, Action.CASE_MERGED)


def open311_status(status: CaseStatus | str) -> str:
    return "open" if status in OPEN else "closed"


@dataclass(frozen=True)
class PublicState:
    """What the public reads of a request at one moment, from its audit trail."""

    status: CaseStatus = CaseStatus.TRIAGE
    agency: str | None = None  # code of the OPD that has it
    closing_note: str | None = None  # the OPD's latest closing note
    reason: str | None = None  # why it was rejected, or merged
    reopened: bool = False  # the reporter disputed the fix and the OPD works it again


@dataclass(frozen=True)
class ServiceRequest:
    case: Case
    report: Report
    category: Category
    agency: Agency | None
    status_notes: Message

    @property
    def status(self) -> str:
        return open311_status(self.case.status)


@dataclass(frozen=True)
class RequestUpdate:
    """One change of what a request shows: its status or its status notes."""

    update_id: int  # the audit event that made it
    service_request_id: str
    status: str
    updated_at: datetime
    description: Message


@dataclass(frozen=True)
class RequestFilters:
    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()


def _moment(args, name: str, errors: dict) -> datetime | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        errors[name] = msg("give an ISO 8601 date and time with a time zone")
        return None
    return check_moment(value, name, errors)


def _check_range(start: datetime | None, end: datetime | None, errors: dict) -> None:
    if start and end and start > end:
        errors["end_date"] = msg("end_date is before start_date")
    elif start and end and end - start > DEFAULT_WINDOW:
        errors["end_date"] = msg("at most {days} days from start_date", days=DEFAULT_WINDOW.days)


def _bounds(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime | None]:
    """At most 90 days: the last 90, the 90 up to ``end`` or from ``start``, or between the two."""
    since = start or ((end or now) - DEFAULT_WINDOW)
    return since, end or (since + DEFAULT_WINDOW if start else None)


def parse_filters(args) -> RequestFilters:
    """Read the GeoReport v2 query parameters; a 400 names each bad one."""
    errors: dict = {}

    def listed(name: str) -> tuple[str, ...]:
        return tuple(v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip())

    ids = listed("service_request_id")
    if ids:  # "all other parameters are ignored" (GeoReport v2), also when they would be wrong
        if len(ids) > MAX_RESULTS:
            raise ValidationError({"service_request_id": msg("at most {limit} ids", limit=MAX_RESULTS)})
        return RequestFilters(service_request_ids=ids)
    statuses = listed("status")
    if any(s not in ("open", "closed") for s in statuses):
        errors["status"] = msg("must be one of {choices}", choices="open, closed")
    filters = RequestFilters(service_codes=listed("service_code"), start=_moment(args, "start_date", errors),
                             end=_moment(args, "end_date", errors), statuses=statuses)
    _check_range(filters.start, filters.end, errors)
    if errors:
        raise ValidationError(errors)
    return filters


def parse_window(args) -> tuple[datetime | None, datetime | None]:
    """``start_date`` and ``end_date`` of the updates feed, checked as for requests."""
    errors: dict = {}
    start, end = _moment(args, "start_date", errors), _moment(args, "end_date", errors)
    _check_range(start, end, errors)
    if errors:
        raise ValidationError(errors)
    return start, end


def _public(query):
    return query.where(Report.confidential.is_(False), Case.number.is_not(None))


def list_requests(session: Session, definition: ProcessDefinition, filters: RequestFilters,
                  now: datetime) -> list[ServiceRequest]:
    """Requests by id (other filters then ignored, as the spec says), or the newest first within
    at most 90 days (see ``_bounds``; ``parse_filters`` refuses a longer range); at most 1000."""
    query = _public(select(Case).join(Report, Report.id == Case.report_id))
    if filters.service_request_ids:
        query = query.where(Case.number.in_(filters.service_request_ids))
    else:
        if filters.service_codes:
            query = query.join(Category, Category.id == Case.category_id).where(
                Category.code.in_(filters.service_codes))
        start, end = _bounds(filters.start, filters.end, now)
        query = query.where(Report.submitted_at >= start)
        if end:
            query = query.where(Report.submitted_at <= end)
        if filters.statuses == ("open",):
            query = query.where(Case.status.in_(OPEN))
        elif filters.statuses == ("closed",):
            query = query.where(Case.status.not_in(OPEN))
    query = query.order_by(Report.submitted_at.desc(), Case.id.desc()).limit(MAX_RESULTS)
    return _views(session, definition, list(session.scalars(query)))


def get_request(session: Session, definition: ProcessDefinition, number: str) -> ServiceRequest:
    case = session.scalar(_public(select(Case).join(Report, Report.id == Case.report_id))
                          .where(Case.number == number))
    if case is None:
        raise NotFound(msg("service request {number} not found", number=number))
    return _views(session, definition, [case])[0]


def by_token(session: Session, definition: ProcessDefinition, codes: TrackingCodes,
             token: str) -> ServiceRequest:
    """The token is the report's tracking code (the citizen's status page uses it too)."""
    report_id = codes.report_id(session, token)
    case = session.scalar(_public(select(Case).join(Report, Report.id == Case.report_id))
                          .where(Case.report_id == report_id)) if report_id else None
    if case is None:
        raise NotFound(msg("token {token} not found", token=token))
    return _views(session, definition, [case])[0]


def list_updates(session: Session, definition: ProcessDefinition, start: datetime | None,
                 end: datetime | None, now: datetime) -> list[RequestUpdate]:
    """Each change of a public request's status or status notes made within at most 90 days
    (the same window as requests), oldest first, at most 1000 events looked at: a client asks
    again from the last ``updated_datetime`` it has. A change is a routing, a transfer, or a
    status the case reached; what it shows is the request as ``status_notes`` read then."""
    since, until = _bounds(start, end, now)
    query = _public(select(CaseEvent.id, CaseEvent.case_id).join(Case, Case.id == CaseEvent.case_id)
                    .join(Report, Report.id == Case.report_id)).where(
        CaseEvent.action.in_((*ROUTING, *STATUS_CHANGES)), CaseEvent.occurred_at >= since)
    if until:
        query = query.where(CaseEvent.occurred_at <= until)
    candidates = dict(session.execute(query.order_by(CaseEvent.occurred_at, CaseEvent.id)
                                      .limit(MAX_RESULTS)).all())
    if not candidates:
        return []
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(set(candidates.values()))))}
    notes = StatusNotes(session, cases.values())
    updates = []
    for case_id, steps in _histories(session, definition, list(cases)).items():
        before = (open311_status(CaseStatus.TRIAGE), str(notes.of(cases[case_id], PublicState())))
        for event, state in steps:
            note = notes.of(cases[case_id], state)
            now_shown = (open311_status(state.status), str(note))
            if event.id in candidates and now_shown != before:
                updates.append(RequestUpdate(update_id=event.id, service_request_id=cases[case_id].number,
                                             status=now_shown[0], updated_at=event.occurred_at,
                                             description=note))
            before = now_shown
    return sorted(updates, key=lambda u: (u.updated_at, u.update_id))


def _views(session: Session, definition: ProcessDefinition, cases: list[Case]) -> list[ServiceRequest]:
    """The requests of ``cases``: what their trails say, with the status and OPD of the case row."""
    refs = References(session)
    notes = StatusNotes(session, cases)
    histories = _histories(session, definition, [c.id for c in cases])
    views = []
    for c in cases:
        steps = histories.get(c.id)
        state = replace(steps[-1][1] if steps else PublicState(), status=c.status,
                        agency=refs.agency_code(c.agency_id))
        views.append(ServiceRequest(case=c, report=c.report, category=refs.categories_by_id[c.category_id],
                                    agency=refs.agencies_by_id.get(c.agency_id) if c.agency_id else None,
                                    status_notes=notes.of(c, state)))
    return views


class StatusNotes:
    """Status notes for the public: third person, never addressed to the reporter."""

    def __init__(self, session: Session, cases):
        refs = References(session)
        self.agencies, self.command_center = refs.agencies, refs.command_center
        targets = {c.merged_into_id for c in cases if c.merged_into_id}
        self.numbers: dict[int, str] = {}  # the cases duplicates joined: their numbers
        if targets:
            self.numbers = dict(session.execute(select(Case.id, Case.number).where(Case.id.in_(targets))).all())

    def of(self, case: Case, state: PublicState) -> Message:
        if state.status == CaseStatus.TRIAGE:
            return msg("Being checked by {agency}", agency=self.command_center.short_name)
        if state.status == CaseStatus.IN_PROGRESS:
            agency = self.agencies.get(state.agency or "")
            if agency is None:
                return msg("Being handled")
            if state.reopened:
                return msg("Disputed by the reporter; being handled again by {agency}", agency=agency.short_name)
            return msg("Being handled by {agency}", agency=agency.short_name)
        if state.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            return msg("Closed: {note}", note=state.closing_note) if state.closing_note else msg("Closed")
        if state.status == CaseStatus.REJECTED:
            return msg("Rejected: {reason}", reason=state.reason) if state.reason else msg("Rejected")
        number = self.numbers.get(case.merged_into_id, "")
        if state.reason:
            return msg("Merged with report {number}: {reason}", number=number, reason=state.reason)
        return msg("Merged with report {number}", number=number)


def _histories(session: Session, definition: ProcessDefinition,
               case_ids: list[int]) -> dict[int, list[tuple[CaseEvent, PublicState]]]:
    """Per case, in one query: each event that changes what the public reads, with the state
    after it. The closing note is the field of the closing form the reporter reads too; a
    rejection or a merge gives its reason; a dispute marks the case as worked again."""
    if not case_ids:
        return {}
    closing_tasks, note_field = closing_note_query(definition)
    rows = session.scalars(select(CaseEvent).where(
        CaseEvent.case_id.in_(case_ids),
        or_(CaseEvent.action.in_((*ROUTING, *STATUS_CHANGES)),
            and_(CaseEvent.action == Action.TASK_COMPLETED, CaseEvent.task_name.in_(closing_tasks))))
        .order_by(CaseEvent.case_id, CaseEvent.seq))
    histories: dict[int, list[tuple[CaseEvent, PublicState]]] = {}
    for event in rows:
        steps = histories.setdefault(event.case_id, [])
        state = steps[-1][1] if steps else PublicState()
        if event.action in ROUTING:
            status = CaseStatus.IN_PROGRESS if state.status == CaseStatus.TRIAGE else state.status
            state = replace(state, status=status, agency=event.to_agency)
        elif event.action == Action.TASK_COMPLETED:
            state = replace(state, closing_note=json.loads(event.data)["values"].get(note_field) or state.closing_note)
        else:
            state = replace(state, status=CaseStatus(json.loads(event.data)["status"][1]),
                            reason=event.reason if event.action in ENDING_WITH_REASON else None,
                            reopened=event.action == Action.CASE_REOPENED)
        steps.append((event, state))
    return histories
