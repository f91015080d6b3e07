"""Cases as an integration lists them: the cases in the actor's scope, filtered, newest first
(by case id, the order they were filed in) and paged by a keyset, with the total; and a case
found by its number (what Open311 calls its ``service_request_id``).

Filters come from outside as text and are checked here: an unknown status, stage or code, or
a moment without its offset, is a :class:`ValidationError` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, cases_visible
from workflow.engine.definition import ProcessDefinition
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.ranges import parse_moment
from workflow.store.models import Agency, Area, Case, Category, QrTeam, Report
from workflow.store.reference import References
from workflow.vocabulary import CaseStatus

CODES = ("agency", "category", "area", "kelurahan")  # filters naming reference data by code
MOMENTS = ("created_since", "created_until", "updated_since")


@dataclass(frozen=True)
class CaseFilters:
    """Resolved filters: ids of reference data, aware datetimes. ``created_since`` and
    ``updated_since`` include the moment given; ``created_until`` is the first moment left out."""

    status: CaseStatus | None = None
    stage: str | None = None  # form key of the case's current main task
    agency_id: int | None = None
    category_id: int | None = None
    area_id: int | None = None  # kecamatan
    kelurahan_id: int | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None
    updated_since: datetime | None = None


def stage_names(definition: ProcessDefinition) -> list[str]:
    """The values a case's ``stage`` takes: the form keys of the process's main tasks, in the
    order of the process."""
    return list(definition.open_statuses)


def case_filters(session: Session, definition: ProcessDefinition, args: Mapping[str, str]) -> CaseFilters:
    """Read the filters from query parameters; each one present must be valid (an empty value
    is not "no filter")."""
    errors: dict = {}
    statuses = [str(s) for s in CaseStatus]
    stages = stage_names(definition)
    if "status" in args and args["status"] not in statuses:
        errors["status"] = msg("must be one of {choices}", choices=", ".join(statuses))
    if "stage" in args and args["stage"] not in stages:
        errors["stage"] = msg("must be one of {choices}", choices=", ".join(stages))
    refs = References(session)
    ids: dict[str, int | None] = dict.fromkeys(CODES)
    known = {
        "agency": lambda code: refs.agencies.get(code),
        "category": lambda code: refs.categories.get(code),
        "area": lambda code: (a if (a := refs.areas.get(code)) is not None and a.is_kecamatan else None),
        "kelurahan": lambda code: (a if (a := refs.areas.get(code)) is not None and not a.is_kecamatan else None),
    }
    unknown = {"agency": "unknown agency {value}", "category": "unknown category {value}",
               "area": "unknown kecamatan {value}", "kelurahan": "unknown kelurahan {value}"}
    for name in CODES:
        if name not in args:
            continue
        found = known[name](args[name])
        if found is None:
            errors[name] = msg(unknown[name], value=repr(args[name][:50]))
        else:
            ids[name] = found.id
    moments = {}
    for name in MOMENTS:
        if name in args and not args[name].strip():
            errors[name] = msg("give an ISO 8601 date and time with a time zone")
        elif name in args:
            moments[name] = parse_moment(args[name], name, errors)
    since, until = moments.get("created_since"), moments.get("created_until")
    if since and until and until <= since:
        errors["created_until"] = msg("must be later than created_since")
    if errors:
        raise ValidationError(errors)
    return CaseFilters(
        status=CaseStatus(args["status"]) if "status" in args else None, stage=args.get("stage"),
        agency_id=ids["agency"], category_id=ids["category"], area_id=ids["area"],
        kelurahan_id=ids["kelurahan"], created_since=since, created_until=until,
        updated_since=moments.get("updated_since"))


@dataclass(frozen=True)
class CaseRow:
    id: int
    number: str
    version: int
    status: str
    stage: str | None
    priority: str
    category: str
    area: str
    kelurahan: str | None
    agency: str | None
    team: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    expected_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class CaseList:
    rows: list[CaseRow]
    total: int  # every case the filters match, on every page
    more: bool  # a page follows: ask with ``before_id`` = the last row's id


def list_cases(session: Session, actor: Actor, filters: CaseFilters, *, limit: int,
               before_id: int | None = None) -> CaseList:
    """The cases the actor may see that match ``filters``, newest first: at most ``limit``,
    those with an id below ``before_id`` when given. A keyset rather than an offset: cases
    filed while an integration pages do not shift the pages it has yet to read."""
    where = [cases_visible(actor)]
    for column, value in ((Case.status, filters.status), (Case.stage, filters.stage),
                          (Case.agency_id, filters.agency_id), (Case.category_id, filters.category_id),
                          (Case.area_id, filters.area_id), (Report.kelurahan_id, filters.kelurahan_id)):
        if value is not None:
            where.append(column == value)
    if filters.created_since:
        where.append(Case.created_at >= filters.created_since)
    if filters.created_until:
        where.append(Case.created_at < filters.created_until)
    if filters.updated_since:
        where.append(Case.updated_at >= filters.updated_since)
    total = session.scalar(select(func.count()).select_from(Case)
                           .join(Report, Report.id == Case.report_id).where(*where))
    kelurahan = aliased(Area)
    page = where + ([Case.id < before_id] if before_id is not None else [])
    stmt = (select(Case.id, Case.number, Case.version, Case.status, Case.stage, Case.priority,
                   Category.code, Area.code, kelurahan.code, Agency.code, QrTeam.code,
                   Case.created_at, Case.updated_at, Case.due_at, Case.expected_at, Case.closed_at)
            .join(Report, Report.id == Case.report_id)
            .join(Category, Category.id == Case.category_id)
            .join(Area, Area.id == Case.area_id)
            .outerjoin(kelurahan, kelurahan.id == Report.kelurahan_id)
            .outerjoin(Agency, Agency.id == Case.agency_id)
            .outerjoin(QrTeam, QrTeam.id == Case.team_id)
            .where(*page).order_by(Case.id.desc()).limit(limit + 1))
    rows = [CaseRow(id=r[0], number=r[1], version=r[2], status=str(r[3]), stage=r[4], priority=r[5],
                    category=r[6], area=r[7], kelurahan=r[8], agency=r[9], team=r[10], created_at=r[11],
                    updated_at=r[12], due_at=r[13], expected_at=r[14], closed_at=r[15])
            for r in session.execute(stmt)]
    return CaseList(rows=rows[:limit], total=total or 0, more=len(rows) > limit)


def case_id_by_number(session: Session, actor: Actor, number: str) -> int:
    """The id of the case with this number; not found when there is none or the actor may not
    see it (the same answer, so a number outside the scope does not give away that it exists)."""
    case_id = session.scalar(select(Case.id).where(Case.number == number, cases_visible(actor)))
    if case_id is None:
        raise NotFound(msg("case {number} not found", number=number[:40]))
    return case_id
