"""The public side, no login: report a problem, follow it by tracking code, confirm or dispute."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice as C

from workflow import commands, geo
from workflow.areas import Outside, area_map
from workflow.commands.reports import NOT_TOLD
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.notify import notices
from workflow.read import transparency
from workflow.read.nearby import nearby_photo, open_nearby, supporters
from workflow.read.options import ReportOptions, report_options
from workflow.read.public import public_photo, public_status
from workflow.store.models import Case
from workflow.store.reference import References
from workflow.store.tracking import TrackingCodes
from workflow.text import mask
from workflow.vocabulary import OPEN_STATUSES, CaseStatus, Channel, NoticeChannel

from .extensions import csrf, limiter
from .forms import Form, Select
from .helpers import add_errors, read_upload, run_command, services, submit
from .i18n import pick, tr
from .labels import STATUS_LABELS, milestone_text
from .ratelimit import client_ip, failed, lookup_limit, setting
from .taskforms import build_form, values_of

bp = Blueprint("public", __name__)

STATUS_TEXT = {  # what a status means to the reporter
    CaseStatus.TRIAGE: _l("Received, being checked by the command center"),
    CaseStatus.IN_PROGRESS: _l("Being handled"),
    CaseStatus.RESOLVED: _l("Handled: please confirm"),
    CaseStatus.CLOSED: _l("Closed"),
    CaseStatus.REJECTED: _l("Rejected"),
    CaseStatus.MERGED: _l("Merged with another report"),
}
def _name(obj) -> str:
    return obj.name_en if str(get_locale()) == "en" else obj.name_id


class ReportForm(Form):
    category = SelectField(_l("Category"), validate_choice=False, widget=Select())
    description = TextAreaField(_l("What is the problem?"))
    lat = StringField(_l("Latitude"), render_kw={"inputmode": "decimal", "placeholder": "-5,1477"})
    lon = StringField(_l("Longitude"), render_kw={"inputmode": "decimal", "placeholder": "119,4327"})
    area = SelectField(_l("Kecamatan"), validate_choice=False, widget=Select())
    kelurahan = SelectField(_l("Kelurahan"), validate_choice=False, widget=Select())
    address = StringField(_l("Address or landmark"))
    photo = FileField(_l("Photo (optional)"), render_kw={"accept": "image/jpeg,image/png,image/webp"})
    reporter_name = StringField(_l("Your name (optional)"))
    contact_email = StringField(_l("E-mail (optional)"), render_kw={"type": "email"})
    contact_phone = StringField(_l("Phone (optional)"), render_kw={"type": "tel"})
    anonymous = BooleanField(_l("Anonymous: no agency sees who reported (name, e-mail or phone)"))
    confidential = BooleanField(_l("Confidential: keep this report off public lists and feeds, "
                                   "and its photos off the status page"))
    notify_by = RadioField(_l("How should we tell you about your report?"), validate_choice=False)


NOTIFY_LABELS = {NoticeChannel.EMAIL: _l("By e-mail"), NoticeChannel.WHATSAPP: _l("By WhatsApp"),
                 NoticeChannel.SMS: _l("By SMS")}


def _fill_choices(form: ReportForm, options) -> None:
    offered = notices.offered(services().settings)
    form.notify_by.choices = [C(c.value, NOTIFY_LABELS[c]) for c in offered] + [
        C(NOT_TOLD, _l("Not at all: I will look the report up myself"))]
    if not form.is_submitted():
        form.notify_by.data = offered[0].value if offered else NOT_TOLD
    form.category.choices = [C("", _l("Choose a category"))] + [
        C(c.code, _name(c), optgroup=c.group or None) for c in options.categories]
    form.area.choices = [C("", _l("Choose a kecamatan"))] + [C(k.code, k.name) for k in options.kecamatan]
    selected = next((k for k in options.kecamatan if k.code == form.area.data), None)
    kecamatan = [selected] if selected is not None else options.kecamatan
    # Without JavaScript every kelurahan, grouped by kecamatan; htmx narrows it to one.
    form.kelurahan.choices = [C("", _l("Choose a kelurahan"))] + [
        C(a.code, a.name, optgroup=k.name) for k in kecamatan for a in options.kelurahan[k.id]]


def _category_context(options, chosen: str | None, answers, errors: dict | None = None) -> dict:
    """What ``_category_fields.html`` needs: the chosen category's extra fields, or every
    category's when none is chosen (pages without JavaScript)."""
    with_fields = [c for c in options.categories if c.attributes]
    asking = [c for c in with_fields if c.code == chosen] if chosen else with_fields
    attribute_errors = {}
    for name, message in (errors or {}).items():
        if name.startswith("attribute[") and name.endswith("]"):
            attribute_errors[name[len("attribute["):-1]] = [tr(message)]
    return {"asking": asking, "chosen": chosen, "answers": answers, "name": _name,
            "attribute_errors": attribute_errors, "english": str(get_locale()) == "en"}


def _in_city_zone(value: str) -> str:
    """A datetime-local input is the city's local time (anything else is left to validation)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.replace(tzinfo=services().zone).isoformat() if moment.tzinfo is None else value


def _answers(form_data, category) -> dict:
    """The posted answers to ``category``'s extra fields, by attribute code (datetime-local
    inputs are in the city's time zone)."""
    answers = {}
    for a in (category.attributes if category else []):
        key = f"attr-{category.code}-{a['code']}"
        if a["datatype"] == "multivaluelist":
            values = form_data.getlist(key)
            if values:
                answers[a["code"]] = values
            continue
        value = (form_data.get(key) or "").strip()
        if value and a["datatype"] == "datetime":
            value = _in_city_zone(value)
        if value:
            answers[a["code"]] = value
    return answers


@bp.get("/lapor/isian")
def category_fields():
    """htmx: the extra fields of one category."""
    with services().reading() as session:
        options = report_options(session)
    chosen = request.args.get("category") or ""
    context = _category_context(options, chosen, request.args)
    if not chosen:
        context["asking"] = []
    return render_template("public/_category_fields.html", **context)


@bp.route("/lapor", methods=["GET", "POST"])
@limiter.limit(setting("TANGGAP_REPORT_LIMIT"), key_func=client_ip, methods=["POST"],
               deduct_when=failed(302))  # accepted reports per IP
def report():
    with services().reading() as session:
        options = report_options(session)
    form = ReportForm()
    _fill_choices(form, options)
    status = 200
    errors: dict = {}
    if form.is_submitted():
        if not form.validate():  # CSRF and field parsing
            status = 400
        else:
            category = next((c for c in options.categories if c.code == form.category.data), None)
            try:
                redirect_to = _submit(form, _answers(request.form, category))
            except ValidationError as exc:
                errors = exc.errors
                add_errors(form, {k: v for k, v in errors.items() if not k.startswith("attribute[")},
                           fallback="description")
                status = 400
            else:
                return redirect(redirect_to)
    context = _category_context(options, form.category.data or None, request.form, errors)
    nearby_items, category = [], None
    point = _form_point(form)
    with services().reading() as session:
        picker = _picker(session, options)
        category = References(session).categories.get(form.category.data or "")
        if point is not None and category is not None and status != 200:  # typed again, shown again
            nearby_items = open_nearby(session, category, *point)
    return render_template("public/report.html", form=form, picker=picker, items=nearby_items,
                           category=category if point else None, now=services().clock.now(), **context), status


def _form_point(form: ReportForm) -> tuple[float, float] | None:
    try:
        return geo.parse_point(form.lat.data, form.lon.data) if form.lat.data else None
    except (TypeError, ValueError, OverflowError):
        return None


def map_centre(kecamatan: Iterable) -> list[float] | None:
    """Where a map of the city opens: the middle of the kecamatan centres (the seed's)."""
    centres = [(a.lat, a.lon) for a in kecamatan if a.lat is not None and a.lon is not None]
    if not centres:
        return None
    return [round(sum(p[0] for p in centres) / len(centres), 5), round(sum(p[1] for p in centres) / len(centres), 5)]


def _picker(session, options: ReportOptions) -> dict:
    """What the map picker's script needs: the tile server, where to look points up, the
    city's areas to search by name (each with a point inside it), and its messages."""
    shapes = area_map(session)
    refs = References(session)
    found = []
    for s in shapes.kecamatan:
        lat, lon = shapes.label_point(s.area_id)
        found.append({"label": f"Kecamatan {s.name}", "lat": lat, "lon": lon, "zoom": 14})
        for k in shapes.kelurahan.get(s.area_id, []):
            lat, lon = shapes.label_point(k.area_id)
            found.append({"label": f"{k.name}, {s.name}", "lat": lat, "lon": lon, "zoom": 16})
    found.sort(key=lambda a: a["label"])
    centre = map_centre(options.kecamatan)
    return {"tiles": current_app.config["TILE_URL"], "attribution": current_app.config["TILE_ATTRIBUTION"],
            "locate": url_for("public.locate_point"), "areas": found,
            "centre": centre,
            "city": refs.city.name,
            "labels": {"in": tr(_l("Kecamatan %(kecamatan)s, kelurahan %(kelurahan)s")),
                       "in_kecamatan": tr(_l("Kecamatan %(kecamatan)s")),
                       "locating": tr(_l("Reading your location…")),
                       "no_location": tr(_l("Your location could not be read. Tap the map or fill in the fields.")),
                       "pin": tr(_l("The place of the problem (drag to adjust)")),
                       "not_found": tr(_l("No kelurahan or kecamatan of that name."))}}


def _submit(form: ReportForm, attributes: dict) -> str:
    """Every field checked first, and the photo's header; the photo is decoded only for a
    report that will be accepted (decoding is the expensive part an attacker would aim at)."""
    errors: dict = {}
    photo = content = None
    upload = form.photo.data
    if upload and getattr(upload, "filename", ""):
        content = read_upload(upload)
        try:
            services().storage.inspect(content, field="photo")
        except ValidationError as exc:
            errors.update(exc.errors)
    data = commands.ReportInput(
        category=form.category.data, description=form.description.data, lat=form.lat.data,
        lon=form.lon.data, area=form.area.data or None, kelurahan=form.kelurahan.data or None,
        address=form.address.data or "", reporter_name=form.reporter_name.data,
        contact_email=form.contact_email.data, contact_phone=form.contact_phone.data,
        anonymous=form.anonymous.data, confidential=form.confidential.data, channel=Channel.WEB,
        attributes=attributes, notify_by=form.notify_by.data or NOT_TOLD, language=str(get_locale()))
    try:
        with services().reading() as session:
            commands.reports.validate_only(session, data, services().settings)  # every problem at once
        if errors:
            raise ValidationError(errors)
        if content is not None:  # decoded before the write transaction begins
            photo = services().storage.prepare(content, field="photo")
        submitted = run_command(commands.submit_report, data, photo=photo)
    except ValidationError as exc:
        raise ValidationError({**errors, **exc.errors}) from None
    return url_for("public.status", code=submitted.tracking_code, new=1)


def _point_args() -> tuple[float, float] | None:
    try:
        return geo.parse_point(request.args.get("lat"), request.args.get("lon"))
    except (TypeError, ValueError, OverflowError):
        return None


@bp.get("/lapor/titik")
@limiter.limit(setting("TANGGAP_MAP_LIMIT"), key_func=client_ip)
def locate_point():
    """JSON for the map picker: the kecamatan and kelurahan of a point, or why it is refused."""
    point = _point_args()
    if point is None:
        return jsonify({"error": tr(msg("give the location as latitude and longitude (for example -5,1477 and "
                                        "119,4327), or paste a Google Maps or OpenStreetMap link"))}), 400
    with services().reading() as session:
        refs = References(session)
        shapes = area_map(session)
        if not shapes.has_geometry:  # a city without polygons: the reporter chooses the kecamatan
            return jsonify({"lat": point[0], "lon": point[1], "area": None, "kelurahan": None})
        where = shapes.locate(*point)
        if isinstance(where, Outside):
            distance = f"{where.distance_km:.1f}"
            return jsonify({"error": tr(msg("the location is outside {city}; the nearest kecamatan is {kecamatan}, "
                                            "{distance} km away", city=refs.city.name, kecamatan=where.nearest,
                                            distance=distance))}), 200
        kecamatan = refs.areas_by_id[where.kecamatan_id]
        kelurahan = refs.areas_by_id.get(where.kelurahan_id) if where.kelurahan_id else None
        return jsonify({"lat": point[0], "lon": point[1], "area": kecamatan.code, "area_name": kecamatan.name,
                        "kelurahan": kelurahan.code if kelurahan else None,
                        "kelurahan_name": kelurahan.name if kelurahan else None})


@bp.get("/lapor/sekitar")
@limiter.limit(setting("TANGGAP_MAP_LIMIT"), key_func=client_ip)
def nearby():
    """htmx: open reports of the chosen category near the point, to follow instead of filing a
    copy. Nothing (an empty fragment) until both are given."""
    point = _point_args()
    code = request.args.get("category") or ""
    with services().reading() as session:
        category = References(session).categories.get(code)
        if point is None or category is None:
            return render_template("public/_nearby.html", items=[], category=None)
        items = open_nearby(session, category, *point)
    return render_template("public/_nearby.html", items=items, category=category, name=_name,
                           now=services().clock.now())


class FollowForm(Form):
    contact_email = StringField(_l("E-mail"), render_kw={"type": "email", "autocomplete": "email"})
    contact_phone = StringField(_l("Phone"), render_kw={"type": "tel", "autocomplete": "tel"})
    notify_by = RadioField(_l("How should we tell you about this report?"), validate_choice=False)


@bp.route("/lapor/ikuti/<number>", methods=["GET", "POST"])
@limiter.limit(setting("TANGGAP_REPORT_LIMIT"), key_func=client_ip, methods=["POST"], deduct_when=failed(200))
def follow(number: str):
    """"Ikuti laporan ini": the citizen is told of an open report instead of filing a copy. Also
    the report's public page, which followers' messages link to (a closed one: no form)."""
    form = FollowForm()
    offered = notices.offered(services().settings)
    form.notify_by.choices = [C(c.value, NOTIFY_LABELS[c]) for c in offered]
    if not form.is_submitted() and offered:
        form.notify_by.data = offered[0].value
    with services().reading() as session:
        try:
            case = commands.notices.followable(session, number, open_only=False)
        except NotFound:
            abort(404)
        merged = session.get(Case, case.merged_into_id) if case.merged_into_id else None
        view = {"number": case.number, "category": _name(case.category), "status": STATUS_LABELS[case.status],
                "area": case.area.name, "reported_at": case.created_at, "open": case.status in OPEN_STATUSES,
                "merged_into": merged.number if merged and not merged.report.confidential else None,
                "supporters": supporters(session, [case.id])[case.id]}
    status, followed = 200, None
    if form.is_submitted() and not view["open"]:
        abort(404)
    if form.is_submitted():
        if not form.validate():
            status = 400
        else:
            try:
                followed = run_command(commands.follow_case, number, notify_by=form.notify_by.data,
                                       email=form.contact_email.data, phone=form.contact_phone.data,
                                       language=str(get_locale()))
            except NotFound:
                abort(404)
            except ValidationError as exc:
                add_errors(form, exc.errors, fallback="notify_by")
                status = 400
    return render_template("public/follow.html", form=form, case=view, offered=offered,
                           followed=followed and mask(followed.address), now=services().clock.now()), status


@bp.get("/peta/foto/<int:attachment_id>")
@limiter.limit(setting("TANGGAP_MAP_LIMIT"), key_func=client_ip)
def map_photo(attachment_id: int):
    """The photo sent with a report the nearby list shows: an open, not confidential one's."""
    with services().reading() as session:
        try:
            attachment = nearby_photo(session, attachment_id)
        except NotFound:
            abort(404)
    return send_file(services().storage.path(attachment.storage_name), mimetype=attachment.mime, max_age=3600)


@bp.get("/lapor/kelurahan")
def kelurahan_options():
    """htmx: the kelurahan of one kecamatan, as <option> elements."""
    with services().reading() as session:
        options = report_options(session)
    kecamatan = next((k for k in options.kecamatan if k.code == request.args.get("area")), None)
    areas = options.kelurahan[kecamatan.id] if kecamatan else []
    return render_template("public/_kelurahan_options.html", areas=areas)


class TrackForm(Form):
    class Meta:
        csrf = False  # a GET search form

    code = StringField(_l("Tracking code"), render_kw={"placeholder": "ABCD-EFGH", "autocapitalize": "characters"})


@bp.get("/lacak")
def track():
    form = TrackForm(request.args)
    if form.code.data:  # to the code as it is printed (ABCD-EFGH), however it was typed
        typed = form.code.data
        return redirect(url_for("public.status", code=TrackingCodes.normalize(typed) or typed.strip().upper()))
    return render_template("public/track.html", form=form)


def _feedback_definition():
    definition = services().definition
    return definition.forms[definition.feedback_task.form_key]


def feedback_form() -> Form:
    """The reporter's confirm-or-dispute form, from its definition in ``bpmn/tasks.yaml``
    (decision, a dispute's reason, a confirmation's rating and comment)."""
    return build_form(_feedback_definition(), {}, str(get_locale()), versioned=False)


@bp.route("/lacak/<code>", methods=["GET", "POST"])
@lookup_limit()
def status(code: str):
    form = feedback_form()
    http_status = 200
    if request.method == "POST":
        fields = _feedback_definition()
        decision = fields.decision.name
        values, _files = values_of(form, fields, services().zone)
        if form.validate() and submit(form, commands.citizen_feedback, code, **values,
                                      fallback=decision, refusals_on=decision):
            return redirect(url_for("public.status", code=code))
        http_status = 400
    return _status_page(code, form, AnswerForm(), http_status)


class AnswerForm(Form):
    answer = TextAreaField(_l("Your answer"), render_kw={"maxlength": 2000, "rows": 4})


@bp.post("/lacak/<code>/jawab")
@lookup_limit()
def answer(code: str):
    """The reporter answers an officer's question; the officer's SLA clock runs again."""
    form = AnswerForm()
    if form.validate() and submit(form, commands.answer_information, code, answer=form.answer.data or "",
                                  fallback="answer", refusals_on="answer"):
        flash(_l("Thank you, your answer was sent to the officer."))
        return redirect(url_for("public.status", code=code))
    return _status_page(code, feedback_form(), form, 400)


def _feedback_layout(form: Form) -> dict:
    """The feedback form's fields as the page lays them out: the decision, the rating (radios
    with a "no rating" choice, and its comment), then the rest."""
    fields, rating = _feedback_definition(), services().definition.rating
    rating_names = {rating.score, rating.comment} if rating and rating.form_key == fields.key else set()
    decision = fields.decision

    def needed(f) -> str | None:  # "Needed when you choose “No, I dispute it”."
        answers = [pick(decision.choice_labels.get(v, {})) or v
                   for v in f.required_if.get(decision.name, ())]
        return gettext("Needed when you choose “%(answer)s”.", answer=" / ".join(answers)) if answers else None

    return {"decision": form[decision.name],
            "score": form[rating.score] if rating_names else None,
            "comment": form[rating.comment] if rating_names and rating.comment else None,
            "others": [(form[f.name], needed(f)) for f in fields.fields
                       if f.name not in rating_names | {decision.name}]}


def _unknown_code(code: str):
    """What every page of a tracking code answers when no report has it (a 404: counted
    against the lookup limit)."""
    return render_template("public/track.html", form=TrackForm(data={"code": code}), not_found=True), 404


def _status_page(code: str, form: Form, answer_form: AnswerForm, http_status: int):
    with services().reading() as session:
        try:
            view = public_status(session, services().tracking, services().definition, code)
        except NotFound:
            return _unknown_code(code)
    rating = services().definition.rating
    return render_template("public/status.html", s=view, form=form, feedback=_feedback_layout(form),
                           answer_form=answer_form, new=request.args.get("new"), status_text=STATUS_TEXT,
                           name=_name, milestone=milestone_text, now=services().clock.now(),
                           rating_top=rating.scale[-1] if rating else None), http_status


@bp.get("/lacak/<code>/bukti-riwayat.json")
@lookup_limit()
@limiter.limit(setting("TANGGAP_MAP_LIMIT"), key_func=client_ip)  # each download reads its proofs: bounded
def history_proof(code: str):
    """The report's "Bukti riwayat": its events' actions, times, hashes, signatures and proofs
    of inclusion in the audit log, for ``tanggap_verify`` (``workflow.read.transparency``). The
    file names the case by its number, never by the tracking code."""
    svc = services()
    with svc.reading() as session:
        try:
            bundle = transparency.history_bundle(
                session, svc.tracking, svc.audit_keys, code, now=svc.clock.now(),
                source=svc.settings.public_url.rstrip("/") + url_for("transparency.index"))
        except NotFound:
            return _unknown_code(code)
    return Response(json.dumps(bundle, ensure_ascii=False, indent=1), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="bukti-riwayat-{bundle["case_number"]}.json"',
        "Cache-Control": "no-store"})


@bp.get("/lacak/<code>/foto/<int:attachment_id>")
@lookup_limit()
def photo(code: str, attachment_id: int):
    with services().reading() as session:
        try:
            attachment = public_photo(session, services().tracking, code, attachment_id)
        except NotFound:
            abort(404)
    return send_file(services().storage.path(attachment.storage_name), mimetype=attachment.mime,
                     max_age=3600)


# -- stopping notices ------------------------------------------------------------------------

class StopForm(Form):
    pass


@bp.get("/berhenti/<token>")
@lookup_limit()
def stop_page(token: str):
    """The stop link of a notice: one button, no login (the token is the credential)."""
    with services().reading() as session:
        try:
            subscription = commands.notices.stopping(session, services().tracking, token)
        except NotFound:
            return render_template("public/stop.html", invalid=True), 404
        view = {"to": mask(subscription.address), "stopped": subscription.stopped_at is not None,
                "case_number": session.get(Case, subscription.case_id).number}
    return render_template("public/stop.html", form=StopForm(), token=token, **view)


@bp.post("/berhenti/<token>")
@csrf.exempt  # RFC 8058 one-click: mail clients post here without a form; the token is the credential
@lookup_limit()
def stop(token: str):
    try:
        subscription = run_command(commands.stop_notices, token)
    except NotFound:
        return render_template("public/stop.html", invalid=True), 404
    with services().reading() as session:
        number = session.get(Case, subscription.case_id).number
    return render_template("public/stop.html", stopped=True, to=mask(subscription.address),
                           case_number=number, just_now=True)
