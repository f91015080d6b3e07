"""Administration of the city's settings: the business calendar SLA deadlines count in, and the
notices (which events reporters and followers are told of, the text of each message)."""

from __future__ import annotations

from babel.dates import get_day_names
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from workflow.access import Screen
from workflow.calendar import DAY_NAMES, NOTE_MAX
from workflow.commands import settings as commands
from workflow.commands.settings import Admin, quiet_token, text_token
from workflow.errors import Conflict
from workflow.notify import editing
from workflow.notify.notices import offered, told_actions
from workflow.read.settings import NATIONAL, calendar_year, changed_template, changed_templates
from workflow.store.reference import References
from workflow.vocabulary import Action, DayKind

from .admin import section
from .forms import Form
from .helpers import actor, only_for, run_command, services, submit, whole_number
from .i18n import tr
from .labels import ACTIONS, CHANNELS
from .ratelimit import client_ip

bp = Blueprint("admin_settings", __name__, url_prefix="/admin")
only_for(bp, Screen.ADMIN)

section("admin_settings.calendar", _l("Business calendar"),
        _l("Working days and hours, cuti bersama and the city's own holidays: the time SLA deadlines count."), 60)
section("admin_settings.notices", _l("Notices"),
        _l("Which events reporters and followers are told of, and the text of each message."), 70)

DAY_KINDS = {DayKind.CUTI_BERSAMA: _l("Cuti bersama"), DayKind.HOLIDAY: _l("City holiday"),
             DayKind.WORKING_DAY: _l("Extra working day"), NATIONAL: _l("National holiday")}
LANGUAGE_NAMES = {"id": _l("Indonesian"), "en": _l("English")}
FACTS = {
    "case_number": _l("the case number"), "city": _l("the city's name"), "category": _l("the report's category"),
    "agency": _l("the OPD handling the case (may be empty)"),
    "question": _l("the officer's question (when the reporter is asked)"),
    "reason": _l("why the report was rejected (may be empty)"), "closure_note": _l("the closing note (may be empty)"),
    "merged_into": _l("the number of the case the report was merged into"),
    "deadline": _l("until when the reporter may answer or confirm, in the city's time (may be empty)"),
    "tracking_code": _l("the tracking code (only in the first message to the reporter)"),
    "yours": _l("true for the reporter, false for a follower"),
    "status_url": _l("link to the report's status page"), "answer_url": _l("link to answer the question"),
    "feedback_url": _l("link to confirm or dispute the result"),
    "stop_url": _l("link to stop these messages (the message ends with it anyway)"),
    "escalations_url": _l("link to the escalation view"), "level": _l("the escalation level"),
    "task": _l("the step that is late"), "case_url": _l("link to the case"),
    "since": _l("the start of the hour the summary covers"),
    "escalations": _l("the escalations of the hour, each with the facts below"),
}


def _admin() -> Admin:
    return Admin(actor(), client_ip())


def _checkboxes(label, **kwargs) -> SelectMultipleField:
    return SelectMultipleField(label, choices=[], validate_choice=False, widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput(), **kwargs)


# -- the business calendar -----------------------------------------------------------------------------


class HoursForm(Form):
    workdays = _checkboxes(_l("Working days"))
    starts = StringField(_l("Offices open"), render_kw={"type": "time", "step": 60})
    ends = StringField(_l("Offices close"), render_kw={"type": "time", "step": 60})
    loaded = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = get_day_names("wide", locale=str(get_locale()))
        self.workdays.choices = [(name, names[i]) for i, name in enumerate(DAY_NAMES)]


class DayForm(Form):
    day = StringField(_l("Date"), render_kw={"type": "date"})
    kind = SelectField(_l("Kind"), choices=[], validate_choice=False)
    note = StringField(_l("Note (why)"), render_kw={"maxlength": NOTE_MAX})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, DAY_KINDS[k]) for k in DayKind]


@bp.get("/calendar")
def calendar():
    return _calendar_page()


def _calendar_page(hours: HoursForm | None = None, add: DayForm | None = None, *, status: int = 200,
                   problem: str | None = None):
    svc = services()
    today = svc.clock.now().astimezone(svc.zone).date()
    with svc.reading() as session:
        page = calendar_year(session, today=today, year=whole_number(request.args.get("year")),
                             language=str(get_locale()))
    rules = page.rules
    if hours is None:
        hours = HoursForm(formdata=None, data={"workdays": list(rules.workdays), "starts": rules.starts,
                                               "ends": rules.ends, "loaded": rules.hours_token()})
    elif status == 409:  # what was typed stays; saving again replaces what someone else saved
        hours.loaded.data = rules.hours_token()
    names = get_day_names("wide", locale=str(get_locale()))
    return render_template("admin/calendar.html", page=page, hours=hours, add=add or DayForm(formdata=None),
                           problem=problem, kinds=DAY_KINDS, national=NATIONAL,
                           week=", ".join(names[i] for i in sorted(rules.weekdays())),
                           format_day=lambda d: format_date(d, "EEEE, d MMMM y")), status


@bp.post("/calendar/hours")
def calendar_hours():
    form = HoursForm()
    if form.validate_on_submit():
        done = submit(form, commands.set_working_hours, _admin(), workdays=form.workdays.data or [],
                      starts=form.starts.data or "", ends=form.ends.data or "", loaded=form.loaded.data or "",
                      fallback="workdays", conflicts_on="workdays")
        if done:
            flash(_("The working days and hours are saved. New deadlines count in them; deadlines already "
                    "set keep their time.") if done.result else _("Nothing changed."))
            return redirect(url_for(".calendar", year=request.args.get("year")))
        return _calendar_page(hours=form, status=done.status)
    return _calendar_page(hours=form, status=400)


@bp.post("/calendar/days")
def calendar_add():
    form = DayForm()
    if form.validate_on_submit():
        done = submit(form, commands.add_calendar_day, _admin(), day=form.day.data or "", kind=form.kind.data or "",
                      note=form.note.data or "", fallback="day")
        if done:
            flash(_("%(day)s is in the calendar. New deadlines count with it; deadlines already set keep their "
                    "time.", day=format_date(done.result, "d MMMM y")))
            return redirect(url_for(".calendar", year=done.result.year))
    return _calendar_page(add=form, status=400)


class RemoveForm(Form):
    pass


@bp.post("/calendar/days/<int:day_id>/remove")
def calendar_remove(day_id: int):
    form = RemoveForm()
    if not form.validate_on_submit():
        return _calendar_page(status=400, problem=_("The form expired. Reload the page and try again."))
    try:
        removed = run_command(commands.remove_calendar_day, _admin(), day_id)
    except Conflict as exc:
        return _calendar_page(status=409, problem=tr(exc.message))
    flash(_("%(day)s is no longer in the calendar. New deadlines count without it; deadlines already set keep "
            "their time.", day=format_date(removed, "d MMMM y")))
    return redirect(url_for(".calendar", year=removed.year))


# -- notices -------------------------------------------------------------------------------------------


class ToldForm(Form):
    told = _checkboxes(_l("Events reporters and followers are told of"))
    loaded = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.told.choices = [(a, ACTIONS.get(Action(a), a)) for a in _told_in_order()]


def _told_in_order() -> list[str]:
    """The actions a template exists for, in the order of the audit vocabulary (a case's order)."""
    return [a.value for a in Action if a.value in told_actions()]


def template_label(template: editing.Template) -> str:
    what = str(ACTIONS.get(template.action, template.action))
    if template.digest:
        return _("Hourly summary to supervisors: %(what)s", what=what)
    if template.to_staff:
        return _("E-mail to supervisors: %(what)s", what=what)
    return what


@bp.get("/notices")
def notices():
    return _notices_page()


def _notices_page(form: ToldForm | None = None, *, status: int = 200):
    svc = services()
    with svc.reading() as session:
        quiet = References(session).city.quiet_notices or []
        changed = changed_templates(session)
    if form is None:
        form = ToldForm(formdata=None, data={"told": [a for a in _told_in_order() if a not in quiet],
                                             "loaded": quiet_token(quiet)})
    elif status == 409:
        form.loaded.data = quiet_token(quiet)
    rows = [(t, changed.get((t.language, t.name))) for t in editing.templates()]
    return render_template("admin/notices.html", form=form, rows=rows, label=template_label,
                           languages=LANGUAGE_NAMES, channels=[CHANNELS[c] for c in offered(svc.settings)]), status


@bp.post("/notices")
def notices_told():
    form = ToldForm()
    if form.validate_on_submit():
        done = submit(form, commands.set_told_notices, _admin(), told=form.told.data or [],
                      loaded=form.loaded.data or "", fallback="told", conflicts_on="told")
        if done:
            flash(_("Saved: from now on reporters and followers are told of the events ticked.")
                  if done.result else _("Nothing changed."))
            return redirect(url_for(".notices"))
        return _notices_page(form, status=done.status)
    return _notices_page(form, status=400)


class TemplateForm(Form):
    body = TextAreaField(_l("Text of the message"), render_kw={"rows": 14, "maxlength": editing.TEXT_MAX})
    loaded = HiddenField()


class ResetForm(Form):
    loaded = HiddenField()


def _template_or_404(language: str, name: str) -> editing.Template:
    template = editing.find(language, name)
    if template is None:
        abort(404)
    return template


def _sample(session) -> editing.Sample:
    svc = services()
    return editing.Sample.read(session, svc.definition, public_url=svc.settings.public_url, zone=svc.zone,
                               now=svc.clock.now())


@bp.get("/notices/templates/<language>/<path:name>")
def notices_template(language: str, name: str):
    return _template_page(_template_or_404(language, name))


def _template_page(template: editing.Template, form: TemplateForm | None = None, *, status: int = 200,
                   preview_text: str | None = None, problem: str | None = None):
    """The editor: the text in use (or what was typed), what it looks like for a sample notice,
    the facts it may use; after a conflict, the text as someone else saved it."""
    with services().reading() as session:
        saved = changed_template(session, template.language, template.name)
        sample = _sample(session)
    current = saved.body if saved else template.default_text()
    if form is None:
        form = TemplateForm(formdata=None, data={"body": current, "loaded": text_token(current)})
    elif status == 409:
        form.loaded.data = text_token(current)
    text = preview_text if preview_text is not None else (current if status != 400 else None)
    found = editing.problems(template, text, sample) if text is not None else []
    shown = editing.preview(template, text, sample) if text is not None and not found else None
    facts = [(name, FACTS.get(name.rpartition(".")[2], "")) for name in editing.facts_of(template, sample)]
    return render_template("admin/notices_template.html", template=template, label=template_label(template),
                           language=LANGUAGE_NAMES.get(template.language, template.language), form=form, saved=saved, current=current,
                           conflict=status == 409, preview=shown, preview_problem=tr(found[0]) if found else None,
                           facts=facts, problem=problem, default=template.default_text(),
                           reset=ResetForm(formdata=None, data={"loaded": text_token(current)})), status


@bp.post("/notices/templates/<language>/<path:name>")
def notices_template_save(language: str, name: str):
    template = _template_or_404(language, name)
    form = TemplateForm()
    if not form.validate_on_submit():
        return _template_page(template, form, status=400)
    text = editing.normalized(form.body.data)
    if "preview" in request.form:  # changes nothing: the typed text, checked and shown for a sample
        with services().reading() as session:
            found = editing.problems(template, text, _sample(session))
        if found:
            form.body.errors = [*form.body.errors, tr(found[0])]
            return _template_page(template, form, status=400)
        return _template_page(template, form, preview_text=text)
    done = submit(form, commands.save_notice_template, _admin(), language=template.language, name=template.name,
                  text=form.body.data or "", loaded=form.loaded.data or "", fallback="body", conflicts_on="body")
    if done:
        flash(_("The template is saved: the next messages use it.") if done.result else _("Nothing changed."))
        return redirect(url_for(".notices_template", language=template.language, name=template.name))
    return _template_page(template, form, status=done.status)


@bp.post("/notices/templates/<language>/<path:name>/default")
def notices_template_default(language: str, name: str):
    template = _template_or_404(language, name)
    form = ResetForm()
    if not form.validate_on_submit():
        return _template_page(template, status=400)
    try:
        run_command(commands.reset_notice_template, _admin(), language=template.language, name=template.name,
                    loaded=form.loaded.data or "")
    except Conflict as exc:
        return _template_page(template, status=409, problem=tr(exc.message))
    flash(_("The template has its default text again: the next messages use it."))
    return redirect(url_for(".notices_template", language=template.language, name=template.name))

