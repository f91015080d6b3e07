"""The city dashboard (supervisors, city leadership, auditors): figures per OPD, category and
kecamatan for a period, as tables with bar charts, a choropleth of open cases by kecamatan, and a CSV of each table."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from workflow.access import Screen, sees_every_case
from workflow.areas import AreaMap, area_map
from workflow.errors import ValidationError
from workflow.read.dashboard import AGE_BUCKETS, UNASSIGNED, Dashboard, Named, Period, build
from workflow.store.models import Agency
from workflow.vocabulary import CaseStatus

from .helpers import actor, csv_cell, only_for, services
from .i18n import duration_text, local_time, tr, zone_name
from .labels import CHANNELS, level_label, task_label

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
TABLES = {
    "open_by_agency": _l("Open cases by OPD"), "open_by_category": _l("Open cases by category"),
    "open_by_area": _l("Open cases by kecamatan"), "closed_by_agency": _l("Closed by OPD"),
    "closed_by_category": _l("Closed by category"), "closed_by_area": _l("Closed by kecamatan"),
    "time_to_close": _l("Time to close"), "sla": _l("SLA compliance by OPD and stage"),
    "backlog": _l("Open cases by age"), "transfers": _l("Transfers between OPDs"),
    "escalations": _l("Escalations by OPD"), "weekly": _l("Received and closed per week"),
    "notices": _l("Messages to reporters and staff"),
    "ratings": _l("Reporters' ratings of the handling"),
}


only_for(bp, Screen.DASHBOARD)


def _load() -> Dashboard:
    now = services().clock.now()
    zone = services().zone
    period = Period.parse(request.args.get("start"), request.args.get("end"), now.astimezone(zone).date(), zone)
    with services().reading() as session:
        return build(session, period, now)


@dataclass(frozen=True)
class Figure:
    """A number on the dashboard that opens the list of its cases (``/cases`` with ``args``, the
    same filters the figure counts by); plain in the CSV."""

    value: object
    args: dict | None = None

    def __str__(self) -> str:
        return str(self.value)


def hours(delta: timedelta | None) -> float | None:
    return round(delta.total_seconds() / 3600, 1) if delta is not None else None


def rows(d: Dashboard, table: str, *, for_csv: bool = False) -> tuple[list[str], list[list]]:
    """A table's header and rows, as the page shows them (counts are :class:`Figure` links) and,
    with ``for_csv``, as the CSV has them: durations as numbers of hours, shares as numbers,
    times in the city's zone."""
    period = {"start": d.period.start.isoformat(), "end": d.period.end.isoformat()}
    closed = {"status": "closed", "closed_from": period["start"], "closed_to": period["end"]}

    def share(ok, n):
        if not n:
            return None if for_csv else "—"
        return round(100 * ok / n, 1) if for_csv else f"{100 * ok / n:.1f}%"

    def duration(delta):
        return hours(delta) if for_csv else duration_text(delta)

    def by(dimension: str, n: Named) -> dict:
        if n is UNASSIGNED:
            return {"status": CaseStatus.TRIAGE.value}
        return {dimension: n.code}

    if table.startswith(("open_by", "closed_by")):
        dimension = {"agency": "agency", "category": "category", "area": "area"}[table.rsplit("_", 1)[1]]
        scope = {"state": "open"} if table.startswith("open_by") else closed
        opened = table.startswith("open_by")
        return [str(_l("Name")), str(_l("Code")), str(_l("Cases"))], [
            [n.name if n is not UNASSIGNED else str(_l("No OPD yet (triage)")), n.code,
             Figure(c, {**scope, **by(dimension, n)} if opened or n is not UNASSIGNED else None)]
            for n, c in getattr(d, table)]
    if table == "time_to_close":
        unit = f" ({_l('hours')})" if for_csv else ""
        return ([str(_l("OPD")), str(_l("Closed")), str(_l("Median")) + unit, str(_l("90th percentile")) + unit],
                [[n.name if n else str(_l("Whole city")), Figure(count, {**closed, **({"agency": n.code} if n else {})}),
                  duration(median), duration(p90)]
                 for n, count, median, p90 in d.time_to_close])
    if table == "sla":
        return ([str(_l("OPD")), str(_l("Stage")), str(_l("Completed in the period")), str(_l("On time")),
                 str(_l("Compliance")), str(_l("Open now")), str(_l("Late now")), str(_l("Open and on time"))],
                [[r.agency.name, task_label(r.stage), r.completed, r.on_time, share(r.on_time, r.completed),
                  Figure(r.open, {"stage": r.stage, **_opd(r.agency, r.stage)}),
                  Figure(r.late, {"stage": r.stage, "late": "1", **_opd(r.agency, r.stage)}),
                  share(r.open - r.late, r.open)] for r in d.sla])
    if table == "backlog":
        return [str(_l("Age")), str(_l("Cases"))], [
            [_age_label(ages), Figure(count, {"state": "open", **ages})]
            for (_label, count), ages in zip(d.backlog, _ages(), strict=True)]
    if table == "transfers":
        return ([str(_l("OPD")), str(_l("Transferred away")), str(_l("Received"))],
                [[n.name, away, got] for n, away, got in d.transfers])
    if table == "escalations":
        levels = list(services().definition.levels)
        return ([str(_l("OPD")), *(level_label(level) for level in levels)],
                [[n.name if n else str(_l("City level")), *(e.get(level, 0) for level in levels)]
                 for n, e in d.escalations])
    if table == "notices":
        when = (lambda t: t.astimezone(services().zone).strftime("%Y-%m-%d %H:%M")) if for_csv else local_time
        since = str(_l("Waiting since")) + (f" ({zone_name(services().clock.now())})" if for_csv else "")
        return ([str(_l("Channel")), str(_l("Sent")), str(_l("Could not be sent")), str(_l("Stopped by the recipient")),
                 str(_l("Waiting now")), since],
                [[str(CHANNELS[n.channel]), n.sent, n.given_up, n.stopped, n.waiting,
                  when(n.waiting_since) if n.waiting_since else ("" if for_csv else "—")] for n in d.notices])
    if table == "ratings":
        return ([str(_l("OPD")), str(_l("Ratings")), str(_l("Average"))],
                [[n.name if n else str(_l("Whole city")), count,
                  (round(average, 1) if for_csv else f"{average:.1f}") if average is not None else ("" if for_csv else "—")]
                 for n, count, average in d.ratings])
    if table == "weekly":
        def week(monday):
            last = min(monday + timedelta(days=6), d.period.end)
            first = max(monday, d.period.start)
            return first.isoformat(), last.isoformat()

        return ([str(_l("Week from")), str(_l("Received")), str(_l("Closed"))],
                [[w.isoformat(), Figure(received, {"received_from": week(w)[0], "received_to": week(w)[1]}),
                  Figure(done, {"status": "closed", "closed_from": week(w)[0], "closed_to": week(w)[1]})]
                 for w, received, done in d.weekly])
    raise KeyError(table)


def _may_list():
    """Which figures may open their list for this viewer: all, for one who sees every case; for
    an OPD's supervisor only those of their OPD (the list shows only the cases they may see,
    which would not add up to a city-wide figure)."""
    if sees_every_case(actor()):
        return lambda args: True
    with services().reading() as session:
        own = set(session.scalars(select(Agency.code).where(
            Agency.id.in_([s.agency_id for s in actor().scopes if s.agency_id is not None]))))
    return lambda args: args.get("agency") in own


def _linked(table: tuple[list, list], may_list) -> tuple[list, list]:
    header, body = table
    return header, [[Figure(c.value, c.args if c.args and may_list(c.args) else None) if isinstance(c, Figure) else c
                     for c in row] for row in body]


def _opd(agency: Named, stage: str) -> dict:
    """The OPD filter of an open stage's cases: the case's OPD, except at triage, which the
    command center works before the case has one."""
    return {} if services().definition.status_of_form(stage) == CaseStatus.TRIAGE else {"agency": agency.code}


def _age_label(ages: dict) -> str:
    if not ages["age_min"]:
        return str(_l("under %(days)s days", days=ages["age_max"]))
    if "age_max" not in ages:
        return str(_l("over %(days)s days", days=ages["age_min"]))
    return str(_l("%(low)s to %(high)s days", low=ages["age_min"], high=ages["age_max"]))


def _ages() -> list[dict]:
    """The backlog's age buckets as the case search's filters (whole days, as AGE_BUCKETS)."""
    out, lower = [], 0
    for limit, _label in AGE_BUCKETS:
        days = limit.days if limit is not None else None
        out.append({"age_min": lower, **({"age_max": days} if days is not None else {})})
        lower = days or lower
    return out


def chart_rows(table: tuple[list, list], label: int = 0, value: int = 2) -> list[tuple[str, int]]:
    """(label, value) pairs of a table, for a bar chart."""
    return [(str(row[label]), int(str(row[value]))) for row in table[1]]


SHADES = 5  # classes of the choropleth, lightest for none; each area also says its count


def city_map(shapes: AreaMap, counts: list) -> Markup:
    """Open cases per kecamatan as a choropleth: each kecamatan's polygon shaded by its count
    (``SHADES`` classes up to the largest), with its name and count written on it; the same
    figures are in the table beside it. Lat/lon as a plain grid (the city is small enough)."""
    by_id = {area.id: n for area, n in counts}
    drawn = [s for s in shapes.kecamatan]
    if not drawn:
        return Markup("")
    lon0, lat0, lon1, lat1 = shapes.city.bounds
    scale = 460 / max(lon1 - lon0, lat1 - lat0, 1e-6)

    def xy(lon: float, lat: float) -> str:
        return f"{10 + (lon - lon0) * scale:.1f},{10 + (lat1 - lat) * scale:.1f}"

    top = max(by_id.values(), default=0)
    width, height = 20 + (lon1 - lon0) * scale, 20 + (lat1 - lat0) * scale
    parts = [f'<svg class="city-map" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
             f'aria-label="{escape(_l("Open cases by kecamatan"))}">']
    labels = []
    for s in drawn:
        n = by_id.get(s.area_id, 0)
        shade = 0 if n == 0 else 1 + (SHADES - 2) * (n - 1) // max(top - 1, 1)  # the largest: the darkest
        rings = []
        for polygon in getattr(s.geometry, "geoms", [s.geometry]):
            for ring in [polygon.exterior, *polygon.interiors]:
                rings.append("M" + " L".join(xy(x, y) for x, y in ring.coords) + " Z")
        parts.append(f'<g class="map-area map-c{shade}" data-area="{escape(s.code)}" data-count="{n}">'
                     f'<title>{escape(s.name)}: {n}</title><path d="{" ".join(rings)}" /></g>')
        p = s.geometry.representative_point()
        x, y = xy(p.x, p.y).split(",")
        labels.append(f'<text x="{x}" y="{y}" text-anchor="middle"><tspan x="{x}">{escape(s.name)}</tspan>'
                      f'<tspan x="{x}" dy="1.1em" class="count">{n}</tspan></text>')
    parts += labels  # above every polygon
    parts.append("</svg>")
    return Markup("".join(parts))


@bp.get("")
def index():
    try:
        d = _load()
    except ValidationError as exc:
        return render_template("dashboard/index.html", d=None, errors={k: tr(v) for k, v in exc.errors.items()}), 400
    with services().reading() as session:
        shapes = area_map(session)
    may_list = _may_list()
    tables = {name: _linked(rows(d, name), may_list) for name in TABLES}
    return render_template("dashboard/index.html", d=d, tables=tables, titles=TABLES, errors={},
                           shapes=shapes, chart_rows=chart_rows, city_map=city_map)


@bp.get("/<any(" + ", ".join(TABLES) + "):table>.csv")
def export(table: str):
    """A table as CSV: with ``sep=;`` for a spreadsheet set to Indonesian (a semicolon between
    cells, a decimal comma), otherwise commas and decimal points."""
    d = _load()
    header, body = rows(d, table, for_csv=True)
    semicolon = request.args.get("sep") == ";"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if semicolon else ",")
    writer.writerow(header)
    writer.writerows([csv_cell(_number(cell.value if isinstance(cell, Figure) else cell, semicolon))
                      for cell in row] for row in body)
    name = f"{table}-{d.period.start.isoformat()}-{d.period.end.isoformat()}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _number(value, decimal_comma: bool):
    if isinstance(value, float) and decimal_comma:
        return f"{value}".replace(".", ",")
    return value
