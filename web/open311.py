"""Open311 GeoReport v2 under ``/open311/v2``: discovery, services, service requests, tokens,
and mySociety's ``servicerequestupdates``; XML and JSON.

Element names, parameters, defaults and error format follow the GeoReport v2 specification.
Filing a request needs an API key (``tanggap apikeys create``); reading is public and shows
only what the citizen's status page shows anyone (no contact details, no confidential reports).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from workflow import commands
from workflow.commands import credentials
from workflow.errors import DomainError, NotFound, ValidationError
from workflow.read.service_requests import (
    ServiceRequest,
    by_token,
    get_request,
    list_requests,
    list_updates,
    parse_filters,
    parse_window,
)
from workflow.store.models import Category
from workflow.store.reference import References
from workflow.text import xml_safe
from workflow.vocabulary import Channel

from . import helpers
from .extensions import limiter
from .helpers import run_command
from .i18n import tr
from .ratelimit import CredentialGuesses, client_ip, lookup_limit, with_retry_after

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("json", "xml")
# XML element of a list's items, by the list's element name
ITEM = {"services": "service", "service_requests": "request", "attributes": "attribute",
        "values": "value", "errors": "error", "endpoints": "endpoint", "formats": "format",
        "service_requests_updates": "request_update"}  # the updates' names as FixMyStreet reads them
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When what these endpoints take or answer last changed (the discovery document's changesets):
# move it with any such change, so that clients that cache the document know to read it again.
CHANGESET = datetime(2026, 12, 3, tzinfo=UTC)


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


@bp.url_value_preprocessor
def _remember_format(_endpoint, values) -> None:
    """Errors answer in the requested format, even those raised before the view runs (a rate
    limit); an unknown format answers in JSON."""
    g.open311_format = (values or {}).get("fmt") if (values or {}).get("fmt") in FORMATS else "json"


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, _("Unknown format %(fmt)s: use .xml or .json", fmt=fmt))
    return fmt


def _xml_value(parent: ET.Element, name: str, value) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _xml_item(element, ITEM.get(name, "item"), item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(element, key, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = xml_safe(str(value))  # stored text may predate the input rule


def _xml_item(parent: ET.Element, name: str, item) -> None:
    if isinstance(item, dict):
        element = ET.SubElement(parent, name)
        for key, value in item.items():
            _xml_value(element, key, value)
    else:
        _xml_value(parent, name, item)


def _respond(root: str, body, status: int = 200) -> Response:
    """``body``: a list (of services, requests, errors) or a dict (a service definition)."""
    if g.get("open311_format", "json") == "json":
        response = jsonify(body)
        response.status_code = status
        response.content_type = "application/json; charset=utf-8"  # said, for clients that do not assume it
        return response
    element = ET.Element(root)
    if isinstance(body, list):
        for item in body:
            _xml_item(element, ITEM[root], item)
    else:
        for key, value in body.items():
            _xml_value(element, key, value)
    xml = ET.tostring(element, encoding="unicode")
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + xml, status=status,
                    content_type="text/xml; charset=utf-8")


def _errors(status: int, descriptions: list[str]) -> Response:
    return _respond("errors", [{"code": status, "description": d} for d in descriptions], status)


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    return _errors(exc.code, [exc.description])


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    if isinstance(exc, ValidationError):
        return _errors(400, [f"{field}: {tr(message)}" for field, message in exc.errors.items()])
    return _errors(404 if isinstance(exc, NotFound) else 400, [tr(exc.message)])


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if "open311_format" not in g:  # raised before routing (a method the URL does not take): its suffix says
        last = request.path.rsplit("/", 1)[-1]
        g.open311_format = last.rsplit(".", 1)[-1] if last.rsplit(".", 1)[-1] in FORMATS and "." in last else "json"
    if exc.code == 429:
        return with_retry_after(_errors(429, [_("Too many requests; try again later.")]), exc)
    response = _errors(exc.code or 500, [exc.description or exc.name])
    if getattr(exc, "valid_methods", None):  # 405: what the URL does take
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


@bp.after_request
def _open_to_other_sites(response: Response) -> Response:
    """Reading is public (the public view of each request): any site's script may read it. Filing a
    request needs an api_key and stays for servers, so POST answers carry no CORS header."""
    if request.method in ("GET", "HEAD"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _check_jurisdiction(refs: References) -> None:
    """One city per server: ``jurisdiction_id`` may be left out, or name it by its domain (e.g.
    makassarkota.go.id, the usual Open311 form) or by its code."""
    jurisdiction = (request.values.get("jurisdiction_id") or "").strip()
    if jurisdiction and jurisdiction != refs.city.code and jurisdiction.lower() != refs.city.domain:
        raise Open311Error(404, _("Unknown jurisdiction_id %(value)s", value=jurisdiction))


def _english() -> bool:
    return str(get_locale()) == "en"


def _local(moment: datetime | None) -> str | None:
    """Open311 times carry the city's offset (e.g. +08:00 in Makassar)."""
    return moment.astimezone(helpers.services().zone).isoformat(timespec="seconds") if moment else None


# -- discovery ----------------------------------------------------------------------------------

@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    """GeoReport v2 Service Discovery: who to ask, how to get a key, where the endpoint is."""
    _fmt(fmt)
    svc = helpers.services()
    with svc.reading() as session:
        refs = References(session)
        _check_jurisdiction(refs)
        contact = refs.city.contact
    changeset = _local(CHANGESET)
    endpoint = {"specification": SPECIFICATION, "url": svc.settings.public_url.rstrip("/") + bp.url_prefix,
                "changeset": changeset, "type": "production", "formats": ["text/xml", "application/json"]}
    return _respond("discovery", {
        "changeset": changeset, "contact": contact,
        "key_service": _("Reading needs no key. To file requests, ask the contact above for an api_key."),
        "endpoints": [endpoint]})


# -- services -----------------------------------------------------------------------------------

def _service(c: Category) -> dict:
    return {"service_code": c.code, "service_name": c.name_en if _english() else c.name_id,
            "description": c.description_en if _english() else c.description_id,
            "metadata": bool(c.attributes), "type": "realtime", "keywords": c.keywords,
            "group": c.group}


@bp.get("/services.<fmt>")
def services(fmt: str):
    _fmt(fmt)
    with helpers.services().reading() as session:
        refs = References(session)
        _check_jurisdiction(refs)
        rows = sorted((c for c in refs.categories.values() if c.active), key=lambda c: (c.group, c.code))
        return _respond("services", [_service(c) for c in rows])


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    _fmt(fmt)
    with helpers.services().reading() as session:
        refs = References(session)
        _check_jurisdiction(refs)
        category = refs.categories.get(code)
        if category is None or not category.active:
            raise Open311Error(404, _("service_code %(code)s not found", code=code))
        english = _english()
        attributes = [{
            "variable": True, "code": a["code"], "datatype": a["datatype"],
            "required": a["required"], "datatype_description": "", "order": a["order"],
            "description": a["description_en"] if english else a["description_id"],
            "values": [{"key": v["key"], "name": v["name_en"] if english else v["name_id"]}
                       for v in a["values"]]} for a in category.attributes or []]
        return _respond("service_definition", {"service_code": category.code, "attributes": attributes})


# -- service requests ---------------------------------------------------------------------------

def _request_view(r: ServiceRequest) -> dict:
    case, report = r.case, r.report
    return {
        "service_request_id": case.number, "status": r.status, "status_notes": tr(r.status_notes),
        "service_name": r.category.name_en if _english() else r.category.name_id,
        "service_code": r.category.code, "description": report.description,
        "agency_responsible": r.agency.name if r.agency else "", "service_notice": "",
        "requested_datetime": _local(report.submitted_at), "updated_datetime": _local(case.updated_at),
        "expected_datetime": _local(case.expected_at), "address": report.address,
        "address_id": "", "zipcode": "", "lat": report.lat, "long": report.lon,
        "media_url": report.media_url or ""}


@bp.get("/requests.<fmt>")
def requests_list(fmt: str):
    _fmt(fmt)
    filters = parse_filters(request.args)
    with helpers.services().reading() as session:
        _check_jurisdiction(References(session))
        rows = list_requests(session, helpers.services().definition, filters, helpers.services().clock.now())
        return _respond("service_requests", [_request_view(r) for r in rows])


@bp.get("/requests/<number>.<fmt>")
def request_one(number: str, fmt: str):
    _fmt(fmt)
    with helpers.services().reading() as session:
        _check_jurisdiction(References(session))
        return _respond("service_requests", [_request_view(get_request(session, helpers.services().definition, number))])


@bp.get("/servicerequestupdates.<fmt>")
def request_updates(fmt: str):
    """mySociety's extension (FixMyStreet reads it): each change of a public request's status or
    status notes, oldest first, with the same privacy as ``requests``."""
    _fmt(fmt)
    start, end = parse_window(request.args)
    svc = helpers.services()
    with svc.reading() as session:
        _check_jurisdiction(References(session))
        updates = list_updates(session, svc.definition, start, end, svc.clock.now())
        return _respond("service_requests_updates", [{
            "update_id": u.update_id, "service_request_id": u.service_request_id, "status": u.status,
            "updated_datetime": _local(u.updated_at), "description": tr(u.description), "media_url": ""}
            for u in updates])


@bp.get("/tokens/<token>.<fmt>")
@lookup_limit()
def token(token: str, fmt: str):
    _fmt(fmt)
    with helpers.services().reading() as session:
        _check_jurisdiction(References(session))
        found = by_token(session, helpers.services().definition, helpers.services().tracking, token)
        return _respond("service_requests", [{"service_request_id": found.case.number,
                                              "token": helpers.services().tracking.normalize(token)}])


# ReportInput's field -> the GeoReport v2 parameter it came from
OPEN311_NAMES = {"category": "service_code", "lon": "long", "contact_email": "email",
                 "contact_phone": "phone", "reporter_name": "first_name", "address": "address_string",
                 "area": "address_string", "kelurahan": "address_string"}


def _api_key() -> str:
    """What the write limit counts: the key's public prefix when the key is well formed, else
    the client's address (an attacker cannot mint a fresh counter per request)."""
    parts = (request.form.get("api_key") or "").strip().split("_", 2)
    if len(parts) == 3 and parts[0] == "tgk" and len(parts[1]) == 8 and parts[1].isalnum():
        return f"key:{parts[1]}"
    return f"ip:{client_ip()}"


def _attributes(form) -> dict:
    """``attribute[code]=v`` and, for lists, ``attribute[code][]=v`` (repeated)."""
    found: dict = {}
    for key in form:
        if key.startswith("attribute[") and key.endswith("[]"):
            found[key[len("attribute["):-3]] = form.getlist(key)
        elif key.startswith("attribute[") and key.endswith("]"):
            found[key[len("attribute["):-1]] = form.get(key)
    return found


def _file_request(uow, form, now) -> commands.Submitted:
    """The report of one Open311 POST, and the key's last use, in one transaction."""
    key = credentials.find(uow.session, "open311", form.get("api_key"))
    if key is None:  # revoked a moment ago
        raise Open311Error(403, _("api_key was not provided or is not valid"))
    refs = References(uow.session)
    _check_jurisdiction(refs)
    errors = {}
    code = (form.get("service_code") or "").strip()
    if not code:
        errors["service_code"] = _("this field is required")
    elif code not in refs.categories or not refs.categories[code].active:  # GeoReport v2: 404
        raise Open311Error(404, _("service_code %(code)s not found", code=code))
    lat, lon = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    address = (form.get("address_string") or "").strip()
    if bool(lat) != bool(lon):
        errors["lat"] = _("send lat and long together")
    elif not lat and not address:
        errors["lat"] = _("send lat and long, or address_string")
    if errors:
        raise ValidationError(errors)
    name = " ".join(p for p in ((form.get("first_name") or "").strip(),
                                (form.get("last_name") or "").strip()) if p)
    data = commands.ReportInput(
        category=code, description=form.get("description") or "",
        lat=lat or None, lon=lon or None, address=address,
        reporter_name=name or None, contact_email=form.get("email") or None,
        contact_phone=form.get("phone") or None, channel=Channel.OPEN311,
        attributes=_attributes(form), media_url=form.get("media_url") or None)
    try:
        submitted = commands.submit_report(uow, data)
    except ValidationError as exc:  # the domain's field names, said as the client sent them
        raise ValidationError({OPEN311_NAMES.get(k, k): v for k, v in exc.errors.items()}) from None
    credentials.record_use(uow, key.id, now, client_ip=request.remote_addr)
    return submitted


@bp.post("/requests.<fmt>")
@limiter.limit(lambda: current_app.config["TANGGAP_API_WRITE_LIMIT"], key_func=_api_key)
def request_create(fmt: str):
    _fmt(fmt)
    form = request.form
    svc = helpers.services()
    CredentialGuesses.refuse_if_exhausted()
    with svc.reading() as session:  # counted outside any write transaction (SQLite has one writer)
        known = credentials.find(session, "open311", form.get("api_key")) is not None
    if not known:
        CredentialGuesses.failed()
        raise Open311Error(403, _("api_key was not provided or is not valid"))
    submitted = run_command(_file_request, form, svc.clock.now())
    # The case exists once the POST answers, so the answer gives its service_request_id and, as
    # the specification says, no token. The notice carries the tracking code for the citizen
    # (their status page, and tokens/<code> here, take it).
    notice = _("Report received. Tracking code: %(code)s", code=submitted.tracking_code)
    return _respond("service_requests", [{"service_request_id": submitted.case_number,
                                          "service_notice": notice, "account_id": None}])
