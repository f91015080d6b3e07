"""The public view of cases as Open311 service requests: what anyone may list and look up.

No contact details, no names, no internal notes; confidential reports are left out entirely.
A request is ``closed`` once its case is closed, rejected or merged, and ``open`` before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.definition import ProcessDefinition
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.ranges import check_moment
from workflow.read.public import closing_note_query
from workflow.store.models import Agency, Case, CaseEvent, Category, Report
from workflow.store.reference import References
from workflow.store.tracking import TrackingCodes
from workflow.vocabulary import FINAL_STATUSES, Action

DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000


@dataclass(frozen=True)
class ServiceRequest:
    case: Case
    report: Report
    category: Category
    agency: Agency | None
    closing_note: str | None  # closure note, rejection reason, or the case merged into

    @property
    def status(self) -> str:
        return "closed" if self.case.status in FINAL_STATUSES else "open"


@dataclass(frozen=True)
class RequestFilters:
    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()


def parse_filters(args) -> RequestFilters:
    """Read the GeoReport v2 query parameters; a 400 names each bad one."""
    errors: dict = {}

    def listed(name: str) -> tuple[str, ...]:
        return tuple(v.strip() for raw in args.getlist(name) for v in raw.split(",") if v.strip())

    def moment(name: str) -> datetime | None:
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

    ids = listed("service_request_id")
    if ids:  # "all other parameters are ignored" (GeoReport v2), also when they would be wrong
        if len(ids) > MAX_RESULTS:
            raise ValidationError({"service_request_id": msg("at most {limit} ids", limit=MAX_RESULTS)})
        return RequestFilters(service_request_ids=ids)
    statuses = listed("status")
    if any(s not in ("open", "closed") for s in statuses):
        errors["status"] = msg("must be one of {choices}", choices="open, closed")
    filters = RequestFilters(service_codes=listed("service_code"), start=moment("start_date"),
                             end=moment("end_date"), statuses=statuses)
    if filters.start and filters.end and filters.start > filters.end:
        errors["end_date"] = msg("end_date is before start_date")
    elif filters.start and filters.end and filters.end - filters.start > DEFAULT_WINDOW:
        errors["end_date"] = msg("at most {days} days from start_date", days=DEFAULT_WINDOW.days)
    if errors:
        raise ValidationError(errors)
    return filters


def _public(query):
    return query.where(Report.confidential.is_(False), Case.number.is_not(None))


def list_requests(session: Session, definition: ProcessDefinition, filters: RequestFilters,
                  now: datetime) -> list[ServiceRequest]:
    """Requests by id (other filters then ignored, as the spec says), or the newest first within
    at most 90 days: the last 90, the 90 up to ``end`` or from ``start``, or between the two
    (``parse_filters`` refuses a longer range); at most 1000."""
    query = _public(select(Case).join(Report, Report.id == Case.report_id))
    if filters.service_request_ids:
        query = query.where(Case.number.in_(filters.service_request_ids))
    else:
        if filters.service_codes:
            query = query.join(Category, Category.id == Case.category_id).where(
                Category.code.in_(filters.service_codes))
        start = filters.start or ((filters.end or now) - DEFAULT_WINDOW)
        end = filters.end or (start + DEFAULT_WINDOW if filters.start else None)
        query = query.where(Report.submitted_at >= start)
        if end:
            query = query.where(Report.submitted_at <= end)
        if filters.statuses == ("open",):
            query = query.where(Case.status.not_in(FINAL_STATUSES))
        elif filters.statuses == ("closed",):
            query = query.where(Case.status.in_(FINAL_STATUSES))
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
    """The token handed out when a request was filed is the report's tracking code."""
    report_id = codes.report_id(session, token)
    case = session.scalar(_public(select(Case).join(Report, Report.id == Case.report_id))
                          .where(Case.report_id == report_id)) if report_id else None
    if case is None:
        raise NotFound(msg("token {token} not found", token=token))
    return _views(session, definition, [case])[0]


def _views(session: Session, definition: ProcessDefinition, cases: list[Case]) -> list[ServiceRequest]:
    refs = References(session)
    notes = _closing_notes(session, definition, [c for c in cases if c.status in FINAL_STATUSES])
    return [ServiceRequest(case=c, report=c.report, category=refs.categories_by_id[c.category_id],
                           agency=refs.agencies_by_id.get(c.agency_id) if c.agency_id else None,
                           closing_note=notes.get(c.id)) for c in cases]


def _closing_notes(session: Session, definition: ProcessDefinition, cases: list[Case]) -> dict[int, str]:
    """Per closed case, in one query: the closure note, the rejection reason, or where it was
    merged (the last such event wins)."""
    if not cases:
        return {}
    merged = {c.id: c.merged_into_id for c in cases if c.merged_into_id}
    numbers = dict(session.execute(select(Case.id, Case.number).where(Case.id.in_(set(merged.values())))).all()) if merged else {}
    found: dict[int, str] = {}
    closing_tasks, note_field = closing_note_query(definition)
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.action, CaseEvent.task_name, CaseEvent.reason, CaseEvent.data)
        .where(CaseEvent.case_id.in_([c.id for c in cases]),
               CaseEvent.action.in_((Action.TASK_COMPLETED, Action.CASE_REJECTED)))
        .order_by(CaseEvent.case_id, CaseEvent.seq))
    for case_id, action, task, reason, data in rows:
        if action == Action.CASE_REJECTED and reason:
            found[case_id] = reason
        elif action == Action.TASK_COMPLETED and task in closing_tasks:
            found[case_id] = json.loads(data)["values"].get(note_field) or found.get(case_id, "")
    for case_id, target in merged.items():
        found[case_id] = f"{found.get(case_id, '')} [{numbers.get(target, '')}]".strip()
    return found
