"""The JSON API for integrations under ``/api/v1``: the task inbox, case reading, escalations and
filing reports, with bearer tokens (``tanggap tokens create --user U NAME``).

A token acts as its user: the same roles and scopes as on the web, checked by the same domain
commands and queries. Errors are ``{"error": {"code", "message", "field", "fields"}}``: 400 bad
input (the field named), 401 no or bad token, 403 wrong role, 404 unknown or outside the
token's scope, 409 a conflict (stale version, task taken; a stale version says who changed the
case, how and when), 413 too large, 429 rate limited. Messages and labels are in Indonesian, or
in English with ``Accept-Language: en`` or ``?lang=en``. Times are RFC 3339 in UTC (``...Z``).
Lists are paged by an opaque ``cursor``; ``next_cursor`` is null on the last page.

The OpenAPI document (``/api/v1/openapi.json``) is built in ``web/openapi.py``; a test keeps
it and these routes in step.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from workflow import commands
from workflow.access import Actor, Screen, actor_for_user, can_file_reports, may_use
from workflow.commands import credentials
from workflow.commands.contacts import reveal_contact
from workflow.commands.tasks import workable_item
from workflow.engine.forms import ID_LIMIT
from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from workflow.read.case_list import case_filters, case_id_by_number, list_cases, stage_names
from workflow.read.cases import case_detail, case_history
from workflow.read.changes import last_change
from workflow.read.escalations import EscalationFilters, escalation_view
from workflow.read.inbox import SLA_STATES, SORTS, TABS, InboxFilters, inbox, sla_state
from workflow.read.options import field_options
from workflow.store.models import Case, WorkItem
from workflow.vocabulary import Channel, Role

from .extensions import limiter
from .helpers import conflict_message, run_command, services, whole_number
from .i18n import LANGUAGES, tr
from .openapi import MAX_LIMIT, document
from .ratelimit import CredentialGuesses, with_retry_after

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def error_response(status: int, code: str, message: str, fields: dict | None = None, **extra):
    fields = fields or {}
    body = {"error": {"code": code, "message": message, "field": next(iter(fields), None),
                      "fields": fields, **extra}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tanggap"'
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.fields)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    if isinstance(exc, ValidationError):
        fields = {name: tr(message) for name, message in exc.errors.items()}
        return error_response(400, "validation_failed", _("Some fields are not valid."), fields)
    if isinstance(exc, Conflict) and exc.case_id is not None:
        return _stale_version(exc)
    for cls, status, code in ((NotFound, 404, "not_found"), (PermissionDenied, 403, "forbidden"),
                              (Conflict, 409, "conflict")):
        if isinstance(exc, cls):
            return error_response(status, code, tr(exc.message))
    return error_response(400, exc.code or "invalid", tr(exc.message))


def _stale_version(exc: Conflict):
    """A 409 for a case that moved on since the version sent: who changed it, how and when, from
    the latest event of its trail (``last_change`` in the body for programs)."""
    with services().reading() as session:
        change = last_change(session, actor(), exc.case_id)
    if change is None:
        return error_response(409, "conflict", tr(exc.message))
    return error_response(409, "conflict", tr(conflict_message(exc, actor())), last_change={
        "seq": change.seq, "actor": change.actor, "name": change.display_name, "role": change.role,
        "action": change.action, "task": change.task_name, "occurred_at": _iso(change.occurred_at)})


def _http_messages() -> dict[int, str]:
    return {400: _("The request could not be read."), 404: _("Not found."),
            405: _("This address does not accept that request."), 413: _("The upload is too large."),
            429: _("Too many requests; try again later.")}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}
    message = _http_messages().get(exc.code or 0, exc.name)
    response = error_response(exc.code or 500, codes.get(exc.code or 0, "http_error"), message)
    return with_retry_after(response, exc)


# -- authentication -----------------------------------------------------------------------------

def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _rate_key() -> str:
    token = _presented_token() or ""
    parts = token.split("_", 2)
    return f"token:{parts[1]}" if len(parts) == 3 else f"ip:{request.remote_addr}"


def _flask_rule(path: str, operation: dict) -> str:
    """``/cases/{case_id}`` as Flask writes it: ``/api/v1/cases/<int:case_id>``."""
    for p in operation.get("parameters", []):
        if p["in"] == "path":
            converter = "int:" if p["schema"].get("type") == "integer" else ""
            path = path.replace(f"{{{p['name']}}}", f"<{converter}{p['name']}>")
    return "/api/v1" + path


def _query_names() -> dict[tuple[str, str], set[str]]:
    """The query parameters the OpenAPI document declares, by (method, Flask rule)."""
    names = {}
    for path, operations in document()["paths"].items():
        for method, operation in operations.items():
            names[(method.upper(), _flask_rule(path, operation))] = {
                p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    return names


@bp.before_request
def _authenticate():
    if request.endpoint == "api.openapi_document":
        return None
    CredentialGuesses.refuse_if_exhausted()
    presented = _presented_token()
    if presented is None:
        CredentialGuesses.failed()
        raise ApiError(401, "unauthorized", _("Send a bearer token in the Authorization header."))
    with services().reading() as session:
        row = credentials.find(session, "token", presented)
        if row is None:
            CredentialGuesses.failed()
            raise ApiError(401, "unauthorized", _("The token is not valid or was revoked."))
        g.api_actor = actor_for_user(session, row.user_id)
        g.api_token_id = row.id
        fresh = credentials.used_recently(row, services().clock.now(), services().zone)
    if not fresh:
        run_command(credentials.record_use, row.id, services().clock.now(), client_ip=request.remote_addr)
    if "api_query_names" not in current_app.extensions:
        current_app.extensions["api_query_names"] = _query_names()
    allowed = current_app.extensions["api_query_names"].get(
        (request.method, request.url_rule.rule if request.url_rule else ""), set())
    unknown = {name: _("unknown parameter") for name in request.args if name not in allowed}
    if unknown:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."), unknown)
    _choice("lang", tuple(LANGUAGES))
    return None


def actor() -> Actor:
    return g.api_actor


def write_limit() -> str:
    return current_app.config["TANGGAP_API_WRITE_LIMIT"]


limited = limiter.limit(write_limit, key_func=_rate_key)


# -- input helpers ------------------------------------------------------------------------------

def _json_body(allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _("Send a JSON body (Content-Type: application/json)."))
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the boundary refuses deep bodies first; this is the last line
        raise ApiError(400, "invalid_json", _("The body must be a JSON object.")) from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", _("The body must be a JSON object."))
    unknown = {name: _("unknown field") for name in body if name not in allowed}
    missing = {name: _("this field is required") for name in required if name not in body}
    if unknown or missing:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."), {**missing, **unknown})
    return body


def _version(body: dict) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {"version": _("must be a positive integer")})
    return value


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        offset = int(data["o"])
        if not 0 <= offset < ID_LIMIT:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {"cursor": _("not a cursor this API returned")}) from None


def _make_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _choice(name: str, allowed, default: str | None = None) -> str | None:
    """An enumerated query parameter: absent gives ``default``; anything else must be allowed."""
    if name not in request.args:
        return default
    value = request.args.get(name)
    if value not in allowed:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {name: _("must be one of %(choices)s", choices=", ".join(allowed))})
    return value


def _limit() -> int:
    raw = request.args.get("limit", "25")
    value = whole_number(raw)
    if value is None or not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {"limit": _("must be between 1 and %(limit)s", limit=MAX_LIMIT)})
    return value


def _page_args() -> tuple[int, int]:
    """(page, per_page) for the position a cursor names; cursors always fall on page starts."""
    limit, offset = _limit(), _cursor_offset(request.args.get("cursor"))
    if offset % limit:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {"cursor": _("use the cursor with the limit it was returned for")})
    return offset // limit + 1, limit


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


# -- tasks --------------------------------------------------------------------------------------

def _task_row(row) -> dict:
    return {"id": row.item_id, "case_id": row.case_id, "case_number": row.case_number,
            "case_version": row.case_version, "task_name": row.task_name, "form_key": row.form_key,
            "category": row.category, "area": row.area, "agency": row.agency, "priority": row.priority,
            "created_at": _iso(row.created_at), "due_at": _iso(row.due_at), "sla": row.sla,
            "sla_paused": row.paused, "assignee": row.assignee, "instructions": row.instructions}


@bp.get("/tasks")
def tasks():
    args = request.args
    page, per_page = _page_args()
    filters = InboxFilters(tab=_choice("tab", TABS, "all"), category=args.get("category") or None,
                           area=args.get("area") or None, stage=args.get("stage") or None,
                           sla=_choice("sla", SLA_STATES), sort=_choice("sort", tuple(SORTS), "due"),
                           page=page, per_page=per_page)
    now = services().clock.now()
    with services().reading() as session:
        result = inbox(session, actor(), filters, now)
    offset = (page - 1) * per_page
    return jsonify({"items": [_task_row(r) for r in result.rows], "total": result.total,
                    "total_capped": result.capped,
                    "next_cursor": _make_cursor(offset + per_page) if result.has_next else None})


def _task_detail(session, item: WorkItem, role: Role) -> dict:
    """The task and its form. A choice field lists its codes in ``choices`` (as it always did)
    and each with its label in the request's language in ``options``."""
    definition = services().versions.form(session, item.case.spec_id, item.form_key)
    locale = str(get_locale())
    fields = []
    for f in definition.fields:
        described = f.describe()
        if f.type == "choice":
            options = field_options(session, item.case, f)
            described["choices"] = [o.code for o in options]
            described["options"] = [{"value": o.code, "label": o.name(locale)} for o in options]
        fields.append(described)
    now = services().clock.now()
    return {"id": item.id, "case_id": item.case_id, "case_number": item.case.number,
            "case_version": item.case.version, "task_name": item.task_name,
            "form_key": item.form_key, "role": str(role),
            "assignee": item.assignee.username if item.assignee else None,
            "created_at": _iso(item.created_at), "due_at": _iso(item.due_at),
            "sla": sla_state(item.due_at, item.at_risk_at, now),
            "sla_paused": item.sla_paused_since is not None,
            "form": {"key": definition.key, "title": dict(definition.title), "fields": fields}}


def _task_response(item_id: int):
    with services().reading() as session:
        item, role = workable_item(session, actor(), item_id)
        return jsonify(_task_detail(session, item, role))


@bp.get("/tasks/<int:item_id>")
def task(item_id: int):
    return _task_response(item_id)


@bp.post("/tasks/<int:item_id>/claim")
@limited
def claim(item_id: int):
    body = _json_body({"version"}) if request.content_length else {}
    run_command(commands.claim, actor(), item_id, expected_version=_version(body))
    return _task_response(item_id)


@bp.post("/tasks/<int:item_id>/release")
@limited
def release(item_id: int):
    body = _json_body({"version"}) if request.content_length else {}
    run_command(commands.release, actor(), item_id, expected_version=_version(body))
    return _task_response(item_id)


def _typed_values(session, item: WorkItem, values: Any) -> dict:
    """Check the JSON types against the task's form before the domain checks the rest: every
    field is a string (or null); attachment fields take an attachment id, or a list of them
    for a field that takes several photos."""
    if not isinstance(values, dict):
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {"values": _("must be an object of form fields")})
    definition = services().versions.form(session, item.case.spec_id, item.form_key)
    known = {f.name: f for f in definition.fields}
    errors = {}
    for name, value in values.items():
        field = known.get(name)
        if field is None:
            errors[f"values.{name}"] = _("unknown field")
        elif value is None:
            continue
        elif field.type == "attachment":
            ids = value if field.multiple and isinstance(value, list) else [value]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
                errors[f"values.{name}"] = (_("must be a list of ids of uploaded attachments") if field.multiple
                                            else _("must be the id of an uploaded attachment"))
        elif not isinstance(value, str):
            errors[f"values.{name}"] = _("must be a string")
    if errors:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."), errors)
    return values


@bp.post("/tasks/<int:item_id>/complete")
@limited
def complete(item_id: int):
    body = _json_body({"version", "values"}, {"values"})
    with services().reading() as session:
        item, _role = workable_item(session, actor(), item_id)
        values = _typed_values(session, item, body["values"])
        version = _version(body)
    try:
        run_command(commands.complete_work_item, actor(), item_id, values, expected_version=version)
    except ValidationError as exc:  # the form's fields are under "values" in the request
        raise ValidationError({f"values.{k}" if k != "version" else k: v
                               for k, v in exc.errors.items()}) from None
    with services().reading() as session:
        case = session.get(Case, item.case_id)
        return jsonify({"case_id": case.id, "case_number": case.number, "case_version": case.version,
                        "status": str(case.status), "stage": case.stage})


# -- cases --------------------------------------------------------------------------------------

CASE_TIMES = ("created_at", "updated_at", "due_at", "expected_at", "closed_at")


@bp.get("/cases")
def cases():
    """Cases in the token's scope, newest first, with the filters of the document."""
    limit = _limit()
    before = _cursor_offset(request.args.get("cursor")) if request.args.get("cursor") else None
    with services().reading() as session:
        filters = case_filters(session, services().definition, request.args)
        found = list_cases(session, actor(), filters, limit=limit, before_id=before)
    return jsonify({"items": [{**vars(r), **{k: _iso(getattr(r, k)) for k in CASE_TIMES}} for r in found.rows],
                    "total": found.total,
                    "next_cursor": _make_cursor(found.rows[-1].id) if found.more else None})


@bp.get("/cases/by-number/<number>")
def case_by_number(number: str):
    with services().reading() as session:
        return jsonify(_case_body(session, case_id_by_number(session, actor(), number)))


@bp.get("/cases/<int:case_id>")
def case(case_id: int):
    with services().reading() as session:
        return jsonify(_case_body(session, case_id))


def _case_body(session, case_id: int) -> dict:
    d = case_detail(session, actor(), case_id)
    c, report = d.case, d.case.report
    return {
        "id": c.id, "number": c.number, "version": c.version, "status": str(c.status),
        "stage": c.stage, "priority": c.priority, "category": d.category.code,
        "area": d.area.code, "kelurahan": d.kelurahan.code if d.kelurahan else None,
        "agency": d.agency.code if d.agency else None,
        "team": c.team.code if c.team else None, "transfer_count": c.transfer_count,
        "reopen_count": c.reopen_count, "rework_count": c.rework_count,
        "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at),
        "due_at": _iso(c.due_at), "expected_at": _iso(c.expected_at), "closed_at": _iso(c.closed_at),
        "report": {"channel": str(report.channel), "description": report.description,
                   "address": report.address, "lat": report.lat, "lon": report.lon,
                   "attributes": report.attributes or {}, "media_url": report.media_url,
                   "submitted_at": _iso(report.submitted_at), "reporter_name": d.reporter_name,
                   "contact_available": d.contact_available},
        "open_tasks": [{"id": w.id, "task_name": w.task_name, "form_key": w.form_key,
                        "role": str(w.role), "due_at": _iso(w.due_at)} for w in d.work_items],
        "attachments": [{"id": a.id, "kind": a.kind, "mime": a.mime} for a in d.attachments]}


@bp.get("/cases/<int:case_id>/contact")
def contact(case_id: int):
    """The reporter's contact, for the desk that may call back; each answer is written to the
    security log (ask for it when calling, not with every read of the case)."""
    shown = run_command(reveal_contact, actor(), case_id, client_ip=request.remote_addr)
    return jsonify({"case_id": shown.case_id, "case_number": shown.case_number,
                    "reporter_name": shown.reporter_name, "contact_email": shown.email,
                    "contact_phone": shown.phone})


@bp.get("/cases/<int:case_id>/history")
def history(case_id: int):
    limit, after = _limit(), request.args.get("cursor")
    after_seq = _cursor_offset(after)
    with services().reading() as session:
        events = case_history(session, actor(), case_id, after_seq=after_seq, limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return jsonify({"items": [{**e, "occurred_at": _iso(e["occurred_at"])} for e in events],
                    "next_cursor": _make_cursor(events[-1]["seq"]) if more else None})


@bp.post("/cases/<int:case_id>/attachments")
@limited
def attachment(case_id: int):
    """A photo for a case (multipart: ``file``, ``kind`` before/after/evidence); its id goes into
    an attachment field of a task form."""
    upload = request.files.get("file")
    errors = {}
    if upload is None or not upload.filename:
        errors["file"] = _("this field is required")
    kind = request.form.get("kind") or ""
    if errors:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."), errors)
    try:
        image = services().storage.prepare(upload.read(), field="file")
    finally:
        upload.close()
    stored = run_command(commands.add_attachment, actor(), case_id, image, kind=kind)
    return jsonify({"id": stored.id, "kind": stored.kind, "mime": stored.mime}), 201


# -- escalations --------------------------------------------------------------------------------

@bp.get("/escalations")
def escalations():
    if not may_use(actor(), Screen.ESCALATIONS):
        raise ApiError(403, "forbidden", _("Only supervisors see escalations."))
    args = request.args
    page, per_page = _page_args()
    filters = EscalationFilters(agency=args.get("agency") or None, category=args.get("category") or None,
                                area=args.get("area") or None,
                                level=_choice("level", list(services().definition.levels)),
                                state=_choice("state", ("open", "all"), "open"), page=page, per_page=per_page)
    with services().reading() as session:
        result, counts = escalation_view(session, actor(), filters, services().clock.now(),
                                         services().definition.levels)
    offset = (page - 1) * per_page
    return jsonify({
        "items": [{"id": r.escalation_id, "case_id": r.case_id, "case_number": r.case_number,
                   "task_name": r.task_name, "level": r.level, "agency": r.agency,
                   "raised_at": _iso(r.raised_at), "due_at": _iso(r.due_at),
                   "acknowledged": r.acknowledged, "resolved": r.resolved,
                   "review_task_id": r.review_item_id, "late_task_id": r.late_item_id,
                   "levels": [{"id": v.escalation_id, "level": v.level, "raised_at": _iso(v.raised_at),
                               "acknowledged": v.acknowledged, "resolved": v.resolved,
                               "review_task_id": v.review_item_id} for v in r.levels]}
                  for r in result.rows],
        "total": result.total, "total_capped": result.capped, "counts": counts,
        "counts_capped": sorted(counts.capped),
        "next_cursor": _make_cursor(offset + per_page) if result.has_next else None})


# -- reports ------------------------------------------------------------------------------------

REPORT_FIELDS = {"category", "description", "lat", "lon", "area", "kelurahan", "address",
                 "reporter_name", "contact_email", "contact_phone", "anonymous", "confidential",
                 "attributes", "media_url", "notify_by", "language"}
REPORT_TYPES = {"lat": (int, float), "lon": (int, float), "anonymous": bool, "confidential": bool,
                "attributes": dict}


@bp.post("/reports")
@limited
def report():
    if not can_file_reports(actor()):
        raise ApiError(403, "forbidden", _("Auditors read; they do not file reports."))
    body = _json_body(REPORT_FIELDS, {"category", "description"})
    errors = {}
    for name, value in body.items():
        expected = REPORT_TYPES.get(name, str)
        if value is None and name not in ("category", "description"):
            continue
        if not isinstance(value, expected) or (expected != bool and isinstance(value, bool)):
            errors[name] = _("wrong type")
    if errors:
        raise ApiError(400, "validation_failed", _("Some fields are not valid."), errors)
    if (body.get("lat") is None) != (body.get("lon") is None):  # name the one missing
        raise ApiError(400, "validation_failed", _("Some fields are not valid."),
                       {"lon" if body.get("lon") is None else "lat": _("send lat and lon together")})
    data = commands.ReportInput(channel=Channel.API, lat=body.pop("lat", None), lon=body.pop("lon", None), **{
        k: v for k, v in body.items() if v is not None or k in ("category", "description")})
    submitted = run_command(commands.submit_report, data, actor=actor())
    return jsonify({"case_id": submitted.case_id, "case_number": submitted.case_number,
                    "tracking_code": submitted.tracking_code}), 201


@bp.get("/openapi.json")
def openapi_document():
    definition = services().definition
    return jsonify(document(definition.levels, stage_names(definition)))
