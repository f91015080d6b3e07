"""What the administration's catalogue pages show: categories with their open cases and what
the routing table does with them, response templates by the field they fill, the kecamatan and
kelurahan as a tree, a template filled in with a sample case's facts, and who last changed an
object (from the security log)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from workflow import responses
from workflow.read.paging import Page
from workflow.store.models import Area, Case, Category, Report, ResponseTemplate, SecurityEvent
from workflow.vocabulary import OPEN_STATUSES, SecurityAction

PER_PAGE = 50


# -- routing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """What the routing table gives reports of a category, found by dry runs of the process
    (``ProcessEngine.route_preview``) in every kecamatan: the OPDs it sends them to (with the
    kecamatan each gets), the kecamatan where it gives none (a report from there cannot be
    filed: the process stops at routing and an incident is recorded), and whether one of the
    table's rules names the category's code (if not, a rule for every category routes it)."""

    known: bool  # False: the process has no route preview to ask
    routes: tuple[tuple[str, tuple[str, ...]], ...]  # (agency code, kecamatan names), most kecamatan first
    unrouted: tuple[str, ...]  # kecamatan names
    named: bool

    @property
    def routed(self) -> int:
        """Kecamatan the table routes reports from."""
        return sum(len(places) for _agency, places in self.routes)

    @property
    def total(self) -> int:
        return self.routed + len(self.unrouted)

    @property
    def nowhere(self) -> bool:
        return self.known and not self.routes

    @property
    def everywhere(self) -> bool:
        return self.known and not self.unrouted


def named_by_tables(source: dict[str, str], code: str) -> bool:
    """Whether a rule of a decision table (the ``.dmn`` files of the process) tests for ``code``
    as a literal ("sampah", or one of a list)."""
    literal = f'"{code}"'
    for name, text in source.items():
        if not name.endswith(".dmn"):
            continue
        for element in ET.fromstring(text).iter():
            if element.tag.endswith("inputEntry") and any(
                    literal in (t.text or "") for t in element if t.tag.endswith("text")):
                return True
    return False


def routing_of(process, definition, kecamatan: list[Area], code: str) -> Routing:
    if definition.route_preview is None:
        return Routing(False, (), (), named_by_tables(definition.source, code))
    by_agency: dict[str, list[str]] = {}
    unrouted = []
    for k in kecamatan:
        answer = process.route_preview(code, k.code)
        if answer is None or not answer.agency:
            unrouted.append(k.name)
        else:
            by_agency.setdefault(answer.agency, []).append(k.name)
    routes = tuple(sorted(((a, tuple(names)) for a, names in by_agency.items()), key=lambda r: (-len(r[1]), r[0])))
    return Routing(True, routes, tuple(unrouted), named_by_tables(definition.source, code))


def kecamatan_of(session: Session) -> list[Area]:
    return list(session.scalars(select(Area).options(defer(Area.geometry)).where(Area.parent_id.is_(None))
                                .order_by(Area.name)))


# -- categories ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRow:
    category: Category
    open_cases: int
    routing: Routing


def category_list(session: Session, process, definition, *, state: str = "all", page: int = 1) -> Page:
    """Every category (``state`` "active" or "inactive": those only), by group and name, with
    its open cases and its routing."""
    query = select(Category)
    if state in ("active", "inactive"):
        query = query.where(Category.active.is_(state == "active"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Category.group, Category.name_id, Category.code)
                                .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    counts = open_cases(session, [c.id for c in rows])
    kecamatan = kecamatan_of(session)
    return Page([CategoryRow(c, counts.get(c.id, 0), routing_of(process, definition, kecamatan, c.code))
                 for c in rows], total, page, PER_PAGE)


def open_cases(session: Session, category_ids: list[int]) -> dict[int, int]:
    if not category_ids:
        return {}
    return dict(session.execute(select(Case.category_id, func.count()).where(
        Case.status.in_(OPEN_STATUSES), Case.category_id.in_(category_ids)).group_by(Case.category_id)).all())


def category_in_use(session: Session, category_id: int) -> bool:
    """Reports use it: its code (their Open311 service_code) is fixed."""
    return session.scalar(select(func.count()).select_from(
        select(Report.id).where(Report.category_id == category_id).limit(1).subquery())) > 0 or \
        session.scalar(select(func.count()).select_from(
            select(Case.id).where(Case.category_id == category_id).limit(1).subquery())) > 0


def groups(session: Session) -> list[str]:
    """The groups categories use, for the form to offer."""
    return list(session.scalars(select(Category.group).where(Category.group != "").distinct().order_by(Category.group)))


# -- response templates --------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRow:
    template: ResponseTemplate
    category: Category | None


def template_list(session: Session, *, place: str | None = None, category: str | None = None,
                  page: int = 1) -> Page:
    """Templates by the field they fill (``place`` "form:field"), then category (every
    category's last), then title; ``category`` a code, or "*" for those of every category."""
    query = select(ResponseTemplate, Category).outerjoin(Category, Category.id == ResponseTemplate.category_id)
    if place and ":" in place:
        form_key, field = place.split(":", 1)
        query = query.where(ResponseTemplate.form_key == form_key, ResponseTemplate.field == field)
    if category == "*":
        query = query.where(ResponseTemplate.category_id.is_(None))
    elif category:
        query = query.where(Category.code == category)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(ResponseTemplate.form_key, ResponseTemplate.field,
                                          ResponseTemplate.category_id.is_(None), Category.name_id,
                                          ResponseTemplate.title_id)
                           .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return Page([TemplateRow(t, c) for t, c in rows], total, page, PER_PAGE)


@dataclass(frozen=True)
class Preview:
    case_number: str
    text_id: str
    text_en: str


SAMPLE_CASES = 50  # the newest cases looked at for one that has every fact a text names


def preview(session: Session, category_id: int | None, text_id: str, text_en: str) -> Preview | None:
    """The texts filled in with the facts of a recent case (of the category, else of any) that
    has every fact they name, as ``workflow.responses`` fills them on the forms; None when no
    case has them all (no team is sent before dispatch)."""
    try:
        names = responses.placeholders_of(text_id) | responses.placeholders_of(text_en)
    except ValueError:
        return None
    having = select(Case).where(Case.number.is_not(None))
    if "team" in names:
        having = having.where(Case.team_id.is_not(None))
    if "kelurahan" in names:
        having = having.join(Report, Report.id == Case.report_id).where(Report.kelurahan_id.is_not(None))
    tried = [having.where(Case.category_id == category_id)] if category_id is not None else []
    tried.append(having)
    for query in tried:
        for case in session.scalars(query.order_by(Case.id.desc()).limit(SAMPLE_CASES)):
            filled_id = responses.fill(text_id, responses.case_facts(session, case, "id"))
            filled_en = responses.fill(text_en, responses.case_facts(session, case, "en"))
            if filled_id is not None and filled_en is not None:
                return Preview(case.number, filled_id, filled_en)
    return None


# -- areas ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaNode:
    id: int
    code: str
    name: str
    lat: float | None
    lon: float | None
    has_boundary: bool
    kelurahan: tuple[AreaNode, ...] = ()


def area_tree(session: Session) -> list[AreaNode]:
    """The kecamatan by name, each with its kelurahan by name (the polygons are not read)."""
    rows = session.execute(select(Area.id, Area.code, Area.name, Area.parent_id, Area.lat, Area.lon,
                                  Area.geometry.is_not(None).label("has_boundary")).order_by(Area.name)).all()
    children: dict[int, list[AreaNode]] = {}
    for r in rows:
        if r.parent_id is not None:
            children.setdefault(r.parent_id, []).append(
                AreaNode(r.id, r.code, r.name, r.lat, r.lon, bool(r.has_boundary)))
    return [AreaNode(r.id, r.code, r.name, r.lat, r.lon, bool(r.has_boundary), tuple(children.get(r.id, ())))
            for r in rows if r.parent_id is None]


# -- who changed it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LastChange:
    actor_name: str
    occurred_at: datetime


def last_change(session: Session, entity: str, key: str) -> LastChange | None:
    """The latest administrator's change of ``entity`` ``key`` in the security log."""
    row = session.execute(select(SecurityEvent.actor_name, SecurityEvent.occurred_at).where(
        SecurityEvent.action == str(SecurityAction.ADMIN_CHANGED), SecurityEvent.subject == f"{entity}:{key}"[:200])
        .order_by(SecurityEvent.seq.desc()).limit(1)).first()
    return LastChange(row.actor_name, row.occurred_at) if row else None
