"""The city dashboard (supervisors, city leadership, auditors): figures per OPD, category and
kecamatan for a period, as tables with bar charts, a choropleth of open cases by kecamatan, and a CSV of each table."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from workflow.access import Screen
from workflow.areas import AreaMap, area_map
from workflow.errors import ValidationError
from workflow.read.dashboard import UNASSIGNED, Dashboard, Period, build

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
    "ratings": _l("Reporters' ratings of the handling"),
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
    if table == "ratings":
        return ([str(_l("OPD")), str(_l("Ratings")), str(_l("Average"))],
                [[n.name if n else str(_l("Whole city")), count, f"{average:.1f}" if average is not None else "—"]
                 for n, count, average in d.ratings])
    if table == "weekly":
        return ([str(_l("Week from")), str(_l("Received")), str(_l("Closed"))],
                [[w.isoformat(), received, closed] for w, received, closed in d.weekly])
    raise KeyError(table)


def chart_rows(table: tuple[list, list], label: int = 0, value: int = 2) -> list[tuple[str, int]]:
    """(label, value) pairs of a table, for a bar chart."""
    return [(str(row[label]), int(row[value])) for row in table[1]]


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
    tables = {name: rows(d, name) for name in TABLES}
    return render_template("dashboard/index.html", d=d, tables=tables, titles=TABLES, errors={},
                           shapes=shapes, chart_rows=chart_rows, city_map=city_map)


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
