"""Reports near a point: open ones of a category, for a citizen about to report the same problem;
recent ones of related categories, for triage looking for duplicates; and the public map.

Each query is an index range (``ix_cases_open_place``, ``ix_cases_recent_place``): a box of the
radius around the point on the case's copied ``lat``/``lon``, then the exact distance in Python.
Confidential reports never leave this module for the public side.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflow import geo
from workflow.errors import NotFound
from workflow.messages import msg
from workflow.store.models import OPEN_CASE, Attachment, Case, Category, Report, Subscription
from workflow.vocabulary import OPEN_STATUSES, AttachmentKind, CaseStatus, Following

NEARBY_SHOWN = 10
CANDIDATES_SHOWN = 8
METRES_PER_DEGREE_LAT = 110_574.0


def box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """(lat0, lat1, lon0, lon1) of a square around the point, ``metres`` each way."""
    dlat = metres / METRES_PER_DEGREE_LAT
    dlon = metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


@dataclass(frozen=True)
class Nearby:
    case_id: int
    number: str
    category_id: int
    status: CaseStatus
    created_at: datetime
    distance_m: float
    lat: float
    lon: float
    photo_id: int | None = None
    supporters: int = 0


def supporters(session: Session, case_ids: list[int]) -> dict[int, int]:
    """Citizens behind each case besides its reporter: those who followed it (each address once,
    also after they stopped its messages), and the reports merged into it."""
    if not case_ids:
        return {}
    counts = dict.fromkeys(case_ids, 0)
    for case_id, n in session.execute(  # each address once: following again is not more support
            select(Subscription.case_id, func.count(func.distinct(func.lower(Subscription.address)))).where(
                Subscription.case_id.in_(case_ids), Subscription.following == Following.FOLLOWER)
            .group_by(Subscription.case_id)):
        counts[case_id] += n
    for case_id, n in session.execute(
            select(Case.merged_into_id, func.count()).where(Case.merged_into_id.in_(case_ids))
            .group_by(Case.merged_into_id)):
        counts[case_id] += n
    return counts


def _photos(session: Session, case_ids: list[int]) -> dict[int, int]:
    """The first photo sent with each report."""
    if not case_ids:
        return {}
    return dict(session.execute(
        select(Attachment.case_id, func.min(Attachment.id)).where(
            Attachment.case_id.in_(case_ids), Attachment.kind == AttachmentKind.BEFORE)
        .group_by(Attachment.case_id)).all())


def _within(rows, lat: float, lon: float, metres: float) -> list[tuple[float, object]]:
    out = []
    for row in rows:
        d = geo.distance_km((lat, lon), (row.lat, row.lon)) * 1000
        if d <= metres:
            out.append((d, row))
    return out


def open_nearby(session: Session, category: Category, lat: float, lon: float, *,
                limit: int = NEARBY_SHOWN, exclude: int | None = None) -> list[Nearby]:
    """Open, not confidential reports of ``category`` within its ``nearby_m``, nearest first,
    with a photo and the number of supporters."""
    lat0, lat1, lon0, lon1 = box(lat, lon, category.nearby_m)
    rows = session.execute(
        select(Case.id, Case.number, Case.category_id, Case.status, Case.created_at, Case.lat, Case.lon)
        .join(Report, Report.id == Case.report_id)
        .where(Case.category_id == category.id, OPEN_CASE, Case.lat.between(lat0, lat1),
               Case.lon.between(lon0, lon1), Report.confidential.is_(False))).all()
    near = sorted(((d, r) for d, r in _within(rows, lat, lon, category.nearby_m) if r.id != exclude),
                  key=lambda pair: (pair[0], pair[1].id))[:limit]
    ids = [r.id for _d, r in near]
    photos, backers = _photos(session, ids), supporters(session, ids)
    return [Nearby(r.id, r.number, r.category_id, r.status, r.created_at, d, r.lat, r.lon,
                   photos.get(r.id), backers.get(r.id, 0)) for d, r in near]


@dataclass(frozen=True)
class Candidate:
    """A possible duplicate of the case in triage, with what ranked it."""

    case_id: int
    number: str
    category_id: int
    status: CaseStatus
    created_at: datetime
    distance_m: float
    similarity: float  # 0..100, of the descriptions
    score: float  # higher is likelier
    description: str


def related(session: Session, category_id: int) -> list[Category]:
    """A category and the others of its seed ``group``: the reports that may be the same problem."""
    own = session.get(Category, category_id)
    if not own.group:
        return [own]
    return list(session.scalars(select(Category).where(Category.group == own.group)))


def duplicate_candidates(session: Session, case: Case, *, days: int, now: datetime,
                         limit: int = CANDIDATES_SHOWN) -> list[Candidate]:
    """Cases of the case's category and its group (``related``) reported in the last ``days``
    within the widest of their radii, not merged, not the case itself; ranked by nearness,
    recency and how alike the descriptions read (rapidfuzz's token-set ratio)."""
    if case.lat is None:
        return []
    categories = related(session, case.category_id)
    metres = max(c.nearby_m for c in categories)
    lat0, lat1, lon0, lon1 = box(case.lat, case.lon, metres)
    since = now - timedelta(days=days)
    rows = session.execute(
        select(Case.id, Case.number, Case.category_id, Case.status, Case.created_at, Case.lat, Case.lon,
               Report.description)
        .join(Report, Report.id == Case.report_id)
        .where(Case.category_id.in_([c.id for c in categories]), Case.created_at >= since,
               Case.lat.between(lat0, lat1), Case.lon.between(lon0, lon1), Case.id != case.id,
               Case.status != CaseStatus.MERGED)).all()
    text = case.report.description
    out = []
    for d, r in _within(rows, case.lat, case.lon, metres):
        similarity = fuzz.token_set_ratio(text, r.description, processor=str.lower)
        age_days = max((now - r.created_at).total_seconds() / 86400, 0.0)
        same = 1.0 if r.category_id == case.category_id else 0.6
        score = same * (1 - d / (metres + 1)) * 40 + (1 - min(age_days / days, 1)) * 20 + similarity * 0.4
        out.append(Candidate(r.id, r.number, r.category_id, r.status, r.created_at, d, similarity,
                             round(score, 1), r.description))
    out.sort(key=lambda c: (-c.score, c.case_id))
    return out[:limit]


class MapStatus(enum.StrEnum):
    """The public map's status filter."""

    OPEN = "open"
    CLOSED = "closed"  # closed lately


def nearby_photo(session: Session, attachment_id: int) -> Attachment:
    """A photo the nearby list may show: sent with an open, not confidential report."""
    attachment = session.get(Attachment, attachment_id)
    case = session.get(Case, attachment.case_id) if attachment is not None else None
    if case is None or attachment.kind != AttachmentKind.BEFORE or case.report.confidential \
            or case.status not in OPEN_STATUSES:
        raise NotFound(msg("photo not found"))
    return attachment


@dataclass(frozen=True)
class MapPage:
    features: list[dict]
    total: int
    page: int
    pages: int


MAP_PAGE = 500


def map_cases(session: Session, *, now: datetime, recent_days: int, category_id: int | None = None,
              status: MapStatus | None = None, area_id: int | None = None, since: datetime | None = None,
              until: datetime | None = None, page: int = 1, per_page: int = MAP_PAGE) -> MapPage:
    """Open reports and those closed in the last ``recent_days``, confidential ones never, as
    GeoJSON features (the point, category, status, kecamatan, dates), newest first, paged."""
    closed_since = now - timedelta(days=recent_days)
    shown = or_(OPEN_CASE, and_(Case.status == CaseStatus.CLOSED, Case.closed_at >= closed_since))
    where = [shown, Report.confidential.is_(False), Case.lat.is_not(None)]
    if category_id is not None:
        where.append(Case.category_id == category_id)
    if status == MapStatus.OPEN:
        where.append(OPEN_CASE)
    elif status == MapStatus.CLOSED:
        where.append(Case.status == CaseStatus.CLOSED)
    if area_id is not None:
        where.append(Case.area_id == area_id)
    if since is not None:
        where.append(Case.created_at >= since)
    if until is not None:
        where.append(Case.created_at < until)
    base = select(Case.id).join(Report, Report.id == Case.report_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    pages = max(1, math.ceil(total / per_page))
    rows = session.execute(
        select(Case.id, Case.number, Case.category_id, Case.area_id, Case.status, Case.created_at,
               Case.closed_at, Case.lat, Case.lon)
        .join(Report, Report.id == Case.report_id).where(*where)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(per_page).offset((min(page, pages) - 1) * per_page)).all()
    features = [{"type": "Feature", "id": r.number,
                 "geometry": {"type": "Point", "coordinates": [round(r.lon, 5), round(r.lat, 5)]},
                 "properties": {"number": r.number, "category_id": r.category_id, "area_id": r.area_id,
                                "status": str(r.status), "reported_at": r.created_at,
                                "closed_at": r.closed_at}} for r in rows]
    return MapPage(features, total, min(page, pages), pages)
