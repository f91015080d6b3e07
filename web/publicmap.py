"""The public map ``/peta``: open reports and those closed lately, filtered by category, status,
kecamatan and period, as a clustered map (Leaflet) over a paged table that works without
JavaScript; and the same data as open GeoJSON (``/peta.geojson``, paged). Confidential reports
are never in either (workflow.read.nearby.map_cases)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.ranges import check_day
from workflow.read.nearby import MapStatus, map_cases
from workflow.store.reference import References

from .extensions import limiter
from .helpers import services, whole_number
from .i18n import tr
from .labels import STATUS_LABELS
from .public import _name, map_centre
from .ratelimit import client_ip, setting

bp = Blueprint("publicmap", __name__)

RECENTLY_CLOSED_DAYS = 30  # closed reports stay on the map this long
TABLE_PAGE = 50
FEED_PAGE, FEED_PAGE_MAX = 500, 1000
LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
STATUS_FILTERS = {MapStatus.OPEN: _l("Open"), MapStatus.CLOSED: _l("Closed lately")}


def _filters(refs: References) -> tuple[dict, dict]:
    """The query's filters, checked (a ValidationError names the field), and as typed."""
    args = request.args
    typed = {k: (args.get(k) or "").strip() for k in ("category", "status", "area", "start", "end")}
    errors, out = {}, {}
    if typed["category"]:
        category = refs.categories.get(typed["category"])
        if category is None:
            errors["category"] = msg("unknown category {value}", value=repr(typed["category"][:50]))
        else:
            out["category_id"] = category.id
    if typed["status"]:
        if typed["status"] not in STATUS_FILTERS:
            errors["status"] = msg("must be one of {choices}", choices=", ".join(STATUS_FILTERS))
        else:
            out["status"] = MapStatus(typed["status"])
    if typed["area"]:
        area = refs.areas.get(typed["area"])
        if area is None or not area.is_kecamatan:
            errors["area"] = msg("unknown kecamatan {value}", value=repr(typed["area"][:50]))
        else:
            out["area_id"] = area.id
    zone = refs.zone
    for name, key in (("start", "since"), ("end", "until")):
        if typed[name]:
            try:
                day = check_day(date.fromisoformat(typed[name]), name, errors)
            except ValueError:
                errors[name] = msg("give the date as YYYY-MM-DD")
                continue
            if day is not None:
                moment = datetime.combine(day + timedelta(days=1 if name == "end" else 0), time(0), zone)
                out[key] = moment
    if "since" in out and "until" in out and out["since"] >= out["until"]:
        errors["end"] = msg("the end date is before the start date")
    if errors:
        raise ValidationError(errors)
    return out, typed


def _feature(f: dict, refs: References) -> dict:
    """A map feature as the public reads it: names, not ids."""
    p = f["properties"]
    category = refs.categories_by_id[p["category_id"]]
    return {"type": "Feature", "id": f["id"], "geometry": f["geometry"], "properties": {
        "number": p["number"], "category": category.code, "category_name": _name(category),
        "status": p["status"], "status_name": tr(STATUS_LABELS[p["status"]]),
        "kecamatan": refs.areas_by_id[p["area_id"]].name,
        "reported_at": p["reported_at"].isoformat(),
        "reported_on": p["reported_at"].astimezone(refs.zone).date().isoformat(),  # the city's day
        "closed_at": p["closed_at"].isoformat() if p["closed_at"] else None}}


@bp.get("/peta")
@limiter.limit(setting("TANGGAP_MAP_LIMIT"), key_func=client_ip)
def page():
    page_number = whole_number(request.args.get("page"), 1) or 1
    with services().reading() as session:
        refs = References(session)
        categories = sorted(refs.categories.values(), key=lambda c: (c.group, _name(c)))
        kecamatan = sorted((a for a in refs.areas.values() if a.is_kecamatan), key=lambda a: a.name)
        try:
            filters, typed = _filters(refs)
        except ValidationError as exc:
            return render_template("public/map.html", errors={k: tr(v) for k, v in exc.errors.items()},
                                   typed={k: request.args.get(k, "") for k in ("category", "status", "area", "start", "end")},
                                   categories=categories, kecamatan=kecamatan, statuses=STATUS_FILTERS,
                                   result=None, rows=[], name=_name, map_config=None,
                                   recent_days=RECENTLY_CLOSED_DAYS), 400
        result = map_cases(session, now=services().clock.now(), recent_days=RECENTLY_CLOSED_DAYS,
                           page=page_number, per_page=TABLE_PAGE, **filters)
        rows = [(_feature(f, refs), f["properties"]["reported_at"]) for f in result.features]
        centre = map_centre(kecamatan)
    query = {k: v for k, v in typed.items() if v}
    map_config = {"feed": url_for("publicmap.feed", **query), "tiles": current_app.config["TILE_URL"],
                  "attribution": current_app.config["TILE_ATTRIBUTION"],
                  "centre": centre, "labels": {"reported": tr(_l("Reported")),
                                                      "loading": tr(_l("Loading the map…"))}}
    return render_template("public/map.html", errors={}, typed=typed, categories=categories, kecamatan=kecamatan,
                           statuses=STATUS_FILTERS, result=result, rows=rows, name=_name, map_config=map_config,
                           query=query, recent_days=RECENTLY_CLOSED_DAYS)


@bp.get("/peta.geojson")
@limiter.limit(setting("TANGGAP_MAP_LIMIT"), key_func=client_ip)
def feed():
    """Open data: the reports of the public map as a GeoJSON FeatureCollection, newest first,
    ``per_page`` (up to 1000) a page; ``next`` links the following page."""
    page_number = whole_number(request.args.get("page"), 1) or 1
    per_page = whole_number(request.args.get("per_page"), FEED_PAGE)
    if not per_page or per_page > FEED_PAGE_MAX:
        return jsonify({"error": {"code": "validation_failed", "field": "per_page", "fields": {
            "per_page": tr(msg("must be a whole number from 1 to {limit}", limit=FEED_PAGE_MAX))}}}), 400
    with services().reading() as session:
        refs = References(session)
        try:
            filters, typed = _filters(refs)
        except ValidationError as exc:
            fields = {k: tr(v) for k, v in exc.errors.items()}
            return jsonify({"error": {"code": "validation_failed", "field": next(iter(fields)),
                                      "fields": fields}}), 400
        result = map_cases(session, now=services().clock.now(), recent_days=RECENTLY_CLOSED_DAYS,
                           page=page_number, per_page=per_page, **filters)
        features = [_feature(f, refs) for f in result.features]
        city = refs.city.name
    query = {k: v for k, v in typed.items() if v}
    more = result.page < result.pages
    body = {"type": "FeatureCollection", "license": LICENCE, "attribution": city,
            "total": result.total, "page": result.page, "pages": result.pages,
            "next": url_for("publicmap.feed", _external=True, page=result.page + 1, per_page=per_page, **query)
            if more else None,
            "features": features}
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    if more:
        response.headers["Link"] = f'<{body["next"]}>; rel="next"'
    response.headers["Access-Control-Allow-Origin"] = "*"  # open data: any site may read it
    return response
