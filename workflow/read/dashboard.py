"""The figures a city uses to manage its OPDs, from indexed queries on the projections
(``cases``, ``work_items``, ``escalations``), the audit table and the outbox; no workflow is
deserialized.

Every figure but the snapshot of open cases is for a period of local days (in the city's time zone), by default the last
30. Percentiles are nearest-rank (the median of 4 values is the 2nd). Each query reads one index
range (see migration 0007), so the cost follows the period's cases, not the size of the database.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session, defer

from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.ranges import check_day
from workflow.read.lateness import open_sla_work, overdue
from workflow.store.models import (
    Agency,
    Area,
    Case,
    CaseEvent,
    Category,
    Escalation,
    OutboxMessage,
    SlaDaily,
    WorkItem,
)
from workflow.vocabulary import OPEN_STATUSES, Action, CaseStatus, NoticeChannel

DEFAULT_DAYS = 30
MAX_DAYS = 366
AGE_BUCKETS = ((timedelta(days=1), "< 1 d"), (timedelta(days=3), "1–3 d"), (timedelta(days=7), "3–7 d"),
               (timedelta(days=30), "7–30 d"), (None, "> 30 d"))


@dataclass(frozen=True)
class Period:
    start: date  # first day
    end: date  # last day (inclusive)
    zone: ZoneInfo  # the city's: where its days begin

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), self.zone)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), self.zone)

    @classmethod
    def parse(cls, start: str | None, end: str | None, today: date, zone: ZoneInfo) -> Period:
        errors = {}

        def day(name: str, raw: str | None) -> date | None:
            if not raw:
                return None
            try:
                return check_day(date.fromisoformat(raw), name, errors)
            except ValueError:
                errors[name] = msg("give the date as YYYY-MM-DD")
                return None

        last = day("end", end) or today
        first = day("start", start) or last - timedelta(days=DEFAULT_DAYS - 1)
        if errors:
            raise ValidationError(errors)
        if first > last:
            errors["end"] = msg("the end date is before the start date")
        elif (last - first).days >= MAX_DAYS:
            errors["start"] = msg("choose a period of at most {days} days", days=MAX_DAYS)
        if errors:
            raise ValidationError(errors)
        return cls(first, last, zone)


@dataclass(frozen=True)
class Named:
    code: str
    name: str


@dataclass
class Dashboard:
    period: Period
    open_by_agency: list[tuple[Named, int]]
    open_by_category: list[tuple[Named, int]]
    open_by_area: list[tuple[Named, int]]
    closed_by_agency: list[tuple[Named, int]]
    closed_by_category: list[tuple[Named, int]]
    closed_by_area: list[tuple[Named, int]]
    time_to_close: list[tuple[Named | None, int, timedelta | None, timedelta | None]]  # (OPD or city, n, median, p90)
    sla: list[StageCompliance]  # per OPD and stage
    backlog: list[tuple[str, int]]
    transfers: list[tuple[Named, int, int]]  # (OPD, transferred away, received)
    escalations: list[tuple[Named | None, dict[str, int]]]  # (OPD or city level, by level)
    weekly: list[tuple[date, int, int]]  # (week's Monday, received, closed; within the period)
    map: list[tuple[Area, int]] = field(default_factory=list)  # open cases per kecamatan
    notices: list[Notices] = field(default_factory=list)  # per channel
    ratings: list[tuple[Named | None, int, float | None]] = field(default_factory=list)  # (OPD or city, rated, average)


@dataclass(frozen=True)
class StageCompliance:
    """SLA compliance of one OPD at one stage, counted once (``workflow.read.lateness``): of the
    stages completed in the period, how many on time; of the stages open now, how many late."""

    agency: Named
    stage: str  # form key
    completed: int = 0
    on_time: int = 0
    open: int = 0
    late: int = 0


@dataclass(frozen=True)
class Notices:
    """A channel's notices: sent, given up (an incident) and stopped by the recipient in the
    period; waiting now, and since when the oldest of those waits."""

    channel: NoticeChannel
    sent: int = 0
    given_up: int = 0
    stopped: int = 0
    waiting: int = 0
    waiting_since: datetime | None = None


def _names(session: Session, model) -> dict[int, Named]:
    if model is Category:
        return {c.id: Named(c.code, c.name_id) for c in session.scalars(select(Category))}
    if model is Agency:
        return {a.id: Named(a.code, a.short_name or a.name) for a in session.scalars(select(Agency))}
    return {a.id: Named(a.code, a.name) for a in session.scalars(select(Area).options(defer(Area.geometry)).where(Area.parent_id.is_(None)))}


UNASSIGNED = Named("-", "—")  # no OPD yet (at triage)


def _counted(rows, names: dict[int, Named]) -> list[tuple[Named, int]]:
    out = [(names[k] if k is not None else UNASSIGNED, n) for k, n in rows if k is None or k in names]
    return sorted(out, key=lambda pair: (-pair[1], pair[0].name))


def _ranks(ascending: list[float]) -> tuple[timedelta | None, timedelta | None]:
    """Median and 90th percentile, nearest rank (the median of 4 values is the 2nd)."""
    if not ascending:
        return None, None
    n = len(ascending)
    return timedelta(seconds=ascending[(n + 1) // 2 - 1]), timedelta(seconds=ascending[(9 * n + 9) // 10 - 1])


def build(session: Session, period: Period, now: datetime) -> Dashboard:
    agencies, categories, areas = _names(session, Agency), _names(session, Category), _names(session, Area)
    agency_codes = {n.code: n for n in agencies.values()}
    open_cases = Case.status.in_(OPEN_STATUSES)

    core = session.connection()  # plain rows: the ORM's per-row work would dominate at 1M cases

    def grouped(column, *where):
        # "column + 0": grouping by an expression keeps SQLite on the range index of the WHERE
        # clause (grouping by the bare column makes it scan that column's whole index to skip
        # a sort, which grows with the table)
        key = (column + 0).label("key")
        return core.execute(select(key, func.count()).where(*where).group_by(key)).all()

    def open_by(column, names):
        return _counted(grouped(column, open_cases), names)

    in_period = and_(Case.closed_at >= period.since, Case.closed_at < period.until)
    closed_in_period = (in_period, Case.status == CaseStatus.CLOSED)
    def closed_by(column, names):
        return _counted(grouped(column, *closed_in_period), names)

    # Exact percentiles need every duration of the period; the database hands them over as one
    # comma-joined string per OPD (tens of thousands of row objects cost more than the sort).
    joined = (func.string_agg(cast(Case.close_seconds, String), ",")
              if session.get_bind().dialect.name == "postgresql" else func.group_concat(Case.close_seconds, ","))
    durations = {agency_id: sorted(map(float, text.split(","))) for agency_id, text in core.execute(
        select(Case.agency_id, joined).where(*closed_in_period, Case.close_seconds.is_not(None))
        .group_by(Case.agency_id)) if text}
    city = sorted(v for values in durations.values() for v in values)
    time_to_close = [(None, len(city), *_ranks(city))]
    for agency_id in sorted((k for k in durations if k in agencies), key=lambda k: agencies[k].name):
        time_to_close.append((agencies[agency_id], len(durations[agency_id]), *_ranks(durations[agency_id])))

    sla_rows = session.execute(
        select(SlaDaily.agency_id, SlaDaily.form_key, func.sum(SlaDaily.completed), func.sum(SlaDaily.on_time))
        .where(SlaDaily.day >= period.start, SlaDaily.day <= period.end)
        .group_by(SlaDaily.agency_id, SlaDaily.form_key)).all()
    stages: dict[tuple[int, str], dict] = defaultdict(dict)
    for a, stage, n, ok in sla_rows:
        stages[(a, stage)].update(completed=int(n or 0), on_time=int(ok or 0))
    for a, stage, n, late in core.execute(
            select(WorkItem.agency_id, WorkItem.form_key, func.count(), func.sum(when((overdue(now), 1), else_=0)))
            .where(open_sla_work(), WorkItem.agency_id.is_not(None)).group_by(WorkItem.agency_id, WorkItem.form_key)):
        stages[(a, stage)].update(open=int(n or 0), late=int(late or 0))
    sla = sorted((StageCompliance(agencies[a], stage, **figures) for (a, stage), figures in stages.items()
                  if a in agencies), key=lambda r: (r.agency.name, r.stage))

    bounds = [now - limit for limit, _label in AGE_BUCKETS if limit is not None]
    ages = session.execute(select(*[
        func.sum(when((and_(Case.created_at <= (bounds[i - 1] if i else now), Case.created_at > bound), 1), else_=0))
        for i, bound in enumerate(bounds)], func.sum(when((Case.created_at <= bounds[-1], 1), else_=0)))
        .where(open_cases)).one()
    backlog = [(label, int(n or 0)) for (_limit, label), n in zip(AGE_BUCKETS, ages, strict=True)]

    moved = session.execute(
        select(CaseEvent.from_agency, CaseEvent.to_agency)
        .where(CaseEvent.action == Action.CASE_TRANSFERRED, CaseEvent.occurred_at >= period.since,
               CaseEvent.occurred_at < period.until)).all()
    away, received = Counter(f for f, _t in moved), Counter(t for _f, t in moved)
    transfers = sorted(((agency_codes[c], away.get(c, 0), received.get(c, 0))
                        for c in set(away) | set(received) if c in agency_codes),
                       key=lambda r: (-r[1], r[0].name))

    escalated: dict[int | None, dict[str, int]] = defaultdict(dict)
    for agency_id, level, n in session.execute(
            select(Escalation.agency_id, Escalation.level, func.count())
            .where(Escalation.raised_at >= period.since, Escalation.raised_at < period.until)
            .group_by(Escalation.agency_id, Escalation.level)):
        escalated[agency_id][level] = n
    escalations = sorted(((agencies.get(k) if k is not None else None, v) for k, v in escalated.items()),
                         key=lambda r: (r[0] is None, -sum(r[1].values())))

    weekly = []
    monday = period.start - timedelta(days=period.start.weekday())
    while monday <= period.end:
        lo = max(datetime.combine(monday, time(0), period.zone), period.since)
        hi = min(datetime.combine(monday + timedelta(days=7), time(0), period.zone), period.until)
        came_in = session.scalar(select(func.count()).select_from(Case).where(
            Case.created_at >= lo, Case.created_at < hi))
        done = session.scalar(select(func.count()).select_from(Case).where(
            Case.closed_at >= lo, Case.closed_at < hi, Case.status == CaseStatus.CLOSED))
        weekly.append((monday, came_in or 0, done or 0))
        monday += timedelta(days=7)

    open_area = open_by(Case.area_id, areas)
    notices = _notices(core, period)
    ratings = _ratings(core, period, agencies)
    by_code = {a.code: a for a in session.scalars(select(Area).options(defer(Area.geometry)).where(Area.parent_id.is_(None)))}
    return Dashboard(
        period=period, open_by_agency=open_by(Case.agency_id, agencies),
        open_by_category=open_by(Case.category_id, categories), open_by_area=open_area,
        closed_by_agency=closed_by(Case.agency_id, agencies),
        closed_by_category=closed_by(Case.category_id, categories),
        closed_by_area=closed_by(Case.area_id, areas), time_to_close=time_to_close, sla=sla,
        backlog=backlog, transfers=transfers, escalations=escalations,
        weekly=weekly,
        map=[(by_code[n.code], count) for n, count in open_area if n.code in by_code], notices=notices,
        ratings=ratings)


def _ratings(core, period: Period, agencies: dict[int, Named]) -> list[tuple[Named | None, int, float | None]]:
    """The reporters' ratings of the handling given in the period: how many and their average,
    for the whole city (first) and per OPD that handled the case, by name. Cases confirmed
    without a rating do not count."""
    rows = core.execute(select(Case.agency_id, func.count(Case.rating), func.sum(Case.rating)).where(
        Case.rated_at >= period.since, Case.rated_at < period.until, Case.rating.is_not(None))
        .group_by(Case.agency_id)).all()
    rated = sum(n for _a, n, _s in rows)
    total = sum(int(s or 0) for _a, _n, s in rows)
    per_agency = sorted(((agencies[a], n, int(s) / n) for a, n, s in rows if a in agencies and n),
                        key=lambda r: r[0].name)
    return [(None, rated, total / rated if rated else None), *per_agency]


def _notices(core, period: Period) -> list[Notices]:
    """Each channel's notices (see :class:`Notices`); channels with none are left out."""
    figures: dict[NoticeChannel, dict] = defaultdict(dict)
    for channel, n in core.execute(select(OutboxMessage.channel, func.count()).where(
            OutboxMessage.sent_at >= period.since, OutboxMessage.sent_at < period.until)
            .group_by(OutboxMessage.channel)):
        figures[channel]["sent"] = n
    for channel, incident, n in core.execute(
            select(OutboxMessage.channel, OutboxMessage.incident_id.is_not(None), func.count()).where(
                OutboxMessage.failed_at >= period.since, OutboxMessage.failed_at < period.until)
            .group_by(OutboxMessage.channel, OutboxMessage.incident_id.is_not(None))):
        figures[channel]["given_up" if incident else "stopped"] = n
    for channel, n, since in core.execute(
            select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.created_at)).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
            .group_by(OutboxMessage.channel)):
        figures[channel].update(waiting=n, waiting_since=since)
    return [Notices(channel=c, **figures[c]) for c in NoticeChannel if c in figures]
