"""Finding a case at the desk when a citizen calls: one search box that reads what was typed as
a case number, a tracking code, the reporter's phone or e-mail, or words of the report; with
filters by kelurahan, kecamatan, category, OPD and state, and "cases I worked on" (done tasks
do not vanish). Every staff role searches the cases it may see (``access.cases_visible``); a
phone or e-mail matches only the cases whose contact the searcher may see
(``access.contacts_visible``), so a search cannot tell who reported what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from workflow.access import CONTACT_DESKS, Actor, Screen, cases_visible, contacts_visible, may_use
from workflow.errors import PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.ranges import check_day
from workflow.read.lateness import open_sla_work, overdue
from workflow.read.paging import Page, check_one_of, paging_errors
from workflow.store.models import Agency, Area, Case, CaseEvent, Category, Report, WorkItem
from workflow.store.reference import city_zone
from workflow.store.tracking import TrackingCodes
from workflow.text import BAD_TEXT, bad_text
from workflow.vocabulary import FINAL_STATUSES, OPEN_STATUSES, CaseStatus

KINDS = ("number", "tracking_code", "phone", "email", "text")
STATES = ("all", "open", "over")
MAX_QUERY = 200
MAX_AGE_DAYS = 36500
EXCERPT = 160  # characters of the report shown in a row

_NUMBER = re.compile(r"^20\d{2}-\d+$")  # a year, then the serial (however many digits were typed)
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_PHONE_DIGITS = 8  # fewer digits than this match too many numbers to be a phone search
_PHONE_PUNCTUATION = (" ", "-", "+", "(", ")", ".")


def query_kind(text: str) -> str:
    """What a typed query is taken for (shown beside the results, so nobody wonders)."""
    if _NUMBER.match(text):
        return "number"
    if "@" in text and " " not in text:
        return "email"
    if _PHONE.match(text) and sum(c.isdigit() for c in text) >= _PHONE_DIGITS:
        return "phone"
    if TrackingCodes.normalize(text):
        return "tracking_code"
    return "text"


def phone_core(text: str) -> str:
    """The subscriber digits of an Indonesian phone number, whichever way it was written
    (``0812-3456-7890``, ``+62 812 3456 7890``, ``6281234567890`` all give ``81234567890``)."""
    digits = "".join(c for c in text if c.isdigit())
    for prefix in ("62", "0"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    return digits


def _stored_digits(column):
    for mark in _PHONE_PUNCTUATION:
        column = func.replace(column, mark, "")
    return column


@dataclass(frozen=True)
class CaseSearch:
    q: str | None = None
    kelurahan: str | None = None  # area code of a kelurahan
    area: str | None = None  # kecamatan code
    category: str | None = None
    agency: str | None = None
    state: str = "all"  # all / open / over (closed, rejected or merged)
    mine: bool = False  # only cases the searcher acted on
    # what the dashboard's figures link to (each figure's cases, counted the same way):
    status: str | None = None  # one status exactly
    stage: str | None = None  # form key of the current task
    late: bool = False  # the current stage is past its deadline
    age_min: int | None = None  # open for at least this many days
    age_max: int | None = None  # ... and less than this many
    received_from: date | None = None  # days of the city's time zone, both ends included
    received_to: date | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    page: int = 1
    per_page: int = 25

    @property
    def text(self) -> str:
        return (self.q or "").strip()

    @property
    def kind(self) -> str | None:
        return query_kind(self.text) if self.text else None

    def validate(self, actor: Actor, stages=()) -> CaseSearch:
        """``stages``: the form keys a case can be at (a filter on another is refused)."""
        errors = paging_errors(self.page, self.per_page)
        check_one_of(self.state, "state", STATES, errors)
        check_one_of(self.status, "status", CaseStatus, errors)
        check_one_of(self.stage, "stage", stages, errors)
        for name in ("age_min", "age_max"):
            if getattr(self, name) is not None and not 0 <= getattr(self, name) <= MAX_AGE_DAYS:
                errors[name] = msg("must be between 0 and {limit}", limit=MAX_AGE_DAYS)
        for name in ("received_from", "received_to", "closed_from", "closed_to"):
            check_day(getattr(self, name), name, errors)
        for first, last in (("received_from", "received_to"), ("closed_from", "closed_to")):
            if last not in errors and first not in errors and getattr(self, first) and getattr(self, last) \
                    and getattr(self, first) > getattr(self, last):
                errors[last] = msg("the end date is before the start date")
        if len(self.text) > MAX_QUERY:
            errors["q"] = msg("at most {limit} characters", limit=MAX_QUERY)
        elif bad_text(self.text):
            errors["q"] = BAD_TEXT
        elif self.kind in ("phone", "email") and not actor.has_role(*CONTACT_DESKS):
            errors["q"] = msg("only the triage desk and OPD coordinators search by the reporter's phone or e-mail")
        elif self.kind == "phone" and len(phone_core(self.text)) < _PHONE_DIGITS - 1:
            errors["q"] = msg("give the whole phone number")
        if errors:
            raise ValidationError(errors)
        return self


@dataclass(frozen=True)
class FoundCase:
    case_id: int
    number: str
    status: str
    stage: str | None
    agency: str | None
    category_id: str
    category_en: str
    area: str
    kelurahan: str | None
    address: str
    excerpt: str
    received_at: datetime
    due_at: datetime | None


def _match(search: CaseSearch, actor: Actor, codes: TrackingCodes):
    text, kind = search.text, search.kind
    if kind == "number":
        return Case.number == text
    if kind == "email":
        return contacts_visible(actor) & (func.lower(Report.contact_email) == text.lower())
    if kind == "phone":
        return contacts_visible(actor) & _stored_digits(Report.contact_phone).like(
            "%" + phone_core(text))  # the core is digits only: nothing to escape
    words = or_(func.lower(Report.description).contains(text.lower(), autoescape=True),
                func.lower(Report.address).contains(text.lower(), autoescape=True))
    if kind == "tracking_code":  # eight letters may also be a word of a report
        return or_(Report.tracking_hash == codes.lookup(text), words)
    return words


def find_cases(session: Session, actor: Actor, search: CaseSearch, codes: TrackingCodes, *,
               now: datetime, stages=()) -> Page:
    """The cases matching ``search`` that ``actor`` may see, the newest first. ``stages``: the
    process's form keys; ``now``: what "late" and "open for days" are measured from."""
    if not may_use(actor, Screen.SEARCH):
        raise PermissionDenied(msg("case search is for staff"))
    search.validate(actor, stages)
    kelurahan = aliased(Area)
    where = [cases_visible(actor), Case.number.is_not(None)]
    if search.text:
        where.append(_match(search, actor, codes))
    if search.kelurahan:
        where.append(kelurahan.code == search.kelurahan)
    if search.area:
        where.append(Area.code == search.area)
    if search.category:
        where.append(Category.code == search.category)
    if search.agency:
        where.append(Agency.code == search.agency)
    if search.state == "open":
        where.append(Case.status.in_(OPEN_STATUSES))
    elif search.state == "over":
        where.append(Case.status.in_(FINAL_STATUSES))
    if search.mine:
        where.append(exists().where(CaseEvent.case_id == Case.id, CaseEvent.actor_user_id == actor.user_id))
    where.extend(_figure_filters(session, search, now))
    base = (select(Case, Report.description, Report.address, Agency.code, Category.name_id, Category.name_en,
                   Area.name, kelurahan.name)
            .join(Report, Report.id == Case.report_id)
            .join(Category, Category.id == Case.category_id)
            .join(Area, Area.id == Case.area_id)
            .outerjoin(kelurahan, kelurahan.id == Report.kelurahan_id)
            .outerjoin(Agency, Agency.id == Case.agency_id).where(*where))
    total = session.scalar(select(func.count()).select_from(base.with_only_columns(Case.id).subquery()))
    rows = session.execute(base.order_by(Case.created_at.desc(), Case.id.desc())
                           .limit(search.per_page).offset((search.page - 1) * search.per_page))
    return Page(rows=[FoundCase(case_id=c.id, number=c.number, status=str(c.status), stage=c.stage,
                                agency=agency, category_id=name_id, category_en=name_en, area=area,
                                kelurahan=kel, address=address, excerpt=excerpt(description),
                                received_at=c.created_at,
                                due_at=c.due_at if c.status in OPEN_STATUSES else None)
                      for c, description, address, agency, name_id, name_en, area, kel in rows],
                total=total or 0, page=search.page, per_page=search.per_page)


def _figure_filters(session: Session, search: CaseSearch, now: datetime) -> list:
    zone = city_zone(session)

    def day_start(day: date) -> datetime:
        return datetime.combine(day, time(0), zone)

    where = []
    if search.status:
        where.append(Case.status == CaseStatus(search.status))
    if search.stage or search.late:  # an open task of the case: at that stage, past its deadline
        task = [WorkItem.case_id == Case.id, open_sla_work()]
        if search.stage:
            task.append(WorkItem.form_key == search.stage)
        if search.late:
            task.append(overdue(now))
        where.append(exists().where(*task))
    if search.age_min is not None:
        where.append(Case.created_at <= now - timedelta(days=search.age_min))
    if search.age_max is not None:
        where.append(Case.created_at > now - timedelta(days=search.age_max))
    if search.received_from:
        where.append(Case.created_at >= day_start(search.received_from))
    if search.received_to:
        where.append(Case.created_at < day_start(search.received_to + timedelta(days=1)))
    if search.closed_from:
        where.append(Case.closed_at >= day_start(search.closed_from))
    if search.closed_to:
        where.append(Case.closed_at < day_start(search.closed_to + timedelta(days=1)))
    return where


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a report on one line, cut at a word with an ellipsis when longer."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + "…"

