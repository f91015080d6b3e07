"""The city dashboard (supervisors, city leadership, auditors): figures per OPD, category and
kecamatan for a period, as tables with bar charts, a map of open cases, and a CSV of each table."""

from __future__ import annotations

import csv
import io
import math

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from workflow.access import Screen
from workflow.errors import ValidationError
from workflow.read.dashboard import UNASSIGNED, Dashboard, Period, build
from workflow.store.models import City

from .helpers import csv_cell, only_for, services
from .i18n import duration_text, local_time, tr
from .labels import CHANNELS

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
TABLES = {
    "open_by_agency": _l("Open cases by OPD"), "open_by_category": _l("Open cases by category"),
    "open_by_area": _l("Open cases by kecamatan"), "closed_by_agency": _l("Closed by OPD"),
    "closed_by_category": _l("Closed by category"), "closed_by_area": _l("Closed by kecamatan"),
    "time_to_close": _l("Time to close"), "sla": _l("SLA compliance by OPD and stage"),
    "backlog": _l("Open cases by age"), "transfers": _l("Transfers between OPDs"),
    "escalations": _l("Escalations by OPD"), "weekly": _l("Received and closed per week"),
    "notices": _l("Messages to reporters and staff"),
}


only_for(bp, Screen.DASHBOARD)


def _load() -> Dashboard:
    now = services().clock.now()
    zone = services().zone
    period = Period.parse(request.args.get("start"), request.args.get("end"), now.astimezone(zone).date(), zone)
    with services().reading() as session:
        return build(session, period, now)


def rows(d: Dashboard, table: str) -> tuple[list[str], list[list]]:
    """A table's header and rows, as the page and the CSV show them."""
    def share(ok, n):
        return f"{100 * ok / n:.1f}%" if n else "—"

    if table.startswith(("open_by", "closed_by")):
        return [str(_l("Name")), str(_l("Code")), str(_l("Cases"))], [
            [n.name if n is not UNASSIGNED else str(_l("No OPD yet (triage)")), n.code, c]
            for n, c in getattr(d, table)]
    if table == "time_to_close":
        return ([str(_l("OPD")), str(_l("Closed")), str(_l("Median")), str(_l("90th percentile"))],
                [[n.name if n else str(_l("Whole city")), count, duration_text(median), duration_text(p90)]
                 for n, count, median, p90 in d.time_to_close])
    if table == "sla":
        return ([str(_l("OPD")), str(_l("Stage")), str(_l("Completed")), str(_l("On time")), str(_l("Compliance"))],
                [[n.name, stage, count, ok, share(ok, count)] for n, stage, count, ok in d.sla])
    if table == "backlog":
        return [str(_l("Age")), str(_l("Cases"))], [[label, count] for label, count in d.backlog]
    if table == "transfers":
        return ([str(_l("OPD")), str(_l("Transferred away")), str(_l("Received"))],
                [[n.name, away, got] for n, away, got in d.transfers])
    if table == "escalations":
        return ([str(_l("OPD")), "breach", "critical", "pingpong"],
                [[n.name if n else str(_l("City level")), e.get("breach", 0), e.get("critical", 0),
                  e.get("pingpong", 0)] for n, e in d.escalations])
    if table == "notices":
        return ([str(_l("Channel")), str(_l("Sent")), str(_l("Could not be sent")), str(_l("Stopped by the recipient")),
                 str(_l("Waiting now")), str(_l("Waiting since"))],
                [[str(CHANNELS[n.channel]), n.sent, n.given_up, n.stopped, n.waiting,
                  local_time(n.waiting_since) if n.waiting_since else "—"] for n in d.notices])
    if table == "weekly":
        return ([str(_l("Week from")), str(_l("Received")), str(_l("Closed"))],
                [[w.isoformat(), received, closed] for w, received, closed in d.weekly])
    raise KeyError(table)


def chart_rows(table: tuple[list, list], label: int = 0, value: int = 2) -> list[tuple[str, int]]:
    """(label, value) pairs of a table, for a bar chart."""
    return [(str(row[label]), int(row[value])) for row in table[1]]


def city_map(boundary: list, points: list) -> Markup:
    """Open cases per kecamatan as circles (area ∝ count) at the kecamatan centres, over the
    city boundary, projected plainly (the city is small enough for lat/lon as a grid)."""
    ring = [pt for polygon in boundary for pt in polygon]
    located = [(area, n) for area, n in points if area.lat is not None]
    every = ring + [[a.lat, a.lon] for a, _n in located]
    if not every:
        return Markup("")
    lat0, lat1 = min(p[0] for p in every), max(p[0] for p in every)
    lon0, lon1 = min(p[1] for p in every), max(p[1] for p in every)
    scale = 380 / max(lon1 - lon0, lat1 - lat0, 1e-6)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return 10 + (lon - lon0) * scale, 10 + (lat1 - lat) * scale

    width, height = xy(lat0, lon1)
    parts = [f'<svg class="city-map" viewBox="0 0 {width + 10:.0f} {height + 10:.0f}" role="img">']
    for polygon in boundary:
        points_attr = " ".join("{:.1f},{:.1f}".format(*xy(lat, lon)) for lat, lon in polygon)
        parts.append(f'<polygon class="map-city" points="{points_attr}" />')
    top = max((n for _a, n in located), default=1)
    for area, n in located:
        x, y = xy(area.lat, area.lon)
        r = 4 + 22 * math.sqrt(n / top)
        parts.append(f'<g class="map-area" data-area="{escape(area.code)}"><title>{escape(area.name)}: {n}</title>'
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" />'
                     f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{n}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


@bp.get("")
def index():
    try:
        d = _load()
    except ValidationError as exc:
        return render_template("dashboard/index.html", d=None, errors={k: tr(v) for k, v in exc.errors.items()}), 400
    with services().reading() as session:
        city = session.scalars(select(City)).first()
    tables = {name: rows(d, name) for name in TABLES}
    return render_template("dashboard/index.html", d=d, tables=tables, titles=TABLES, errors={},
                           boundary=(city.boundary or {}).get("polygons", []) if city else [],
                           chart_rows=chart_rows, city_map=city_map)


@bp.get("/<any(" + ", ".join(TABLES) + "):table>.csv")
def export(table: str):
    d = _load()
    header, body = rows(d, table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in body)
    name = f"{table}-{d.period.start.isoformat()}-{d.period.end.isoformat()}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
