"""The supervisors' escalation view: late work in their scope, the latest first."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select
from wtforms import DateTimeLocalField, HiddenField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import Optional

from workflow import commands
from workflow.access import Screen, supervising_role
from workflow.read.cases import case_detail, instructions_for
from workflow.read.escalations import EscalationFilters, escalation_view
from workflow.read.options import assignees_for, report_options, task_choices
from workflow.store.models import Agency, WorkItem
from workflow.store.reference import References
from workflow.vocabulary import Role

from .forms import Form
from .helpers import actor, is_htmx, remember_work_list, screen_of, services, submit, whole_number
from .i18n import zone_name
from .labels import force_transferable

bp = Blueprint("escalations", __name__, url_prefix="/escalations")

@bp.get("")
@screen_of(Screen.ESCALATIONS)
def index():
    remember_work_list(Screen.ESCALATIONS)  # a finished review task comes back here
    args = request.args
    page = whole_number(args.get("page"), 1)
    filters = EscalationFilters(agency=args.get("agency") or None, category=args.get("category") or None,
                                area=args.get("area") or None, level=args.get("level") or None,
                                state=args.get("state") or "open", page=page)
    now = services().clock.now()
    with services().reading() as session:
        result, counts = escalation_view(session, actor(), filters, now, services().definition.levels)
        options = report_options(session)
        agencies = list(session.scalars(select(Agency).where(Agency.handles_reports.is_(True))
                                        .order_by(Agency.name)))
    context = dict(page=result, counts=counts, filters=filters, now=now, options=options,
                   agencies=agencies, levels=list(services().definition.levels))
    if is_htmx() and request.headers.get("HX-Target") == "escalations":
        return render_template("escalations/_table.html", **context)
    return render_template("escalations/index.html", **context)


class ExtendForm(Form):
    version = HiddenField()
    new_due = DateTimeLocalField(_l("New deadline"), format="%Y-%m-%dT%H:%M",
                                 validators=[Optional()])
    reason = TextAreaField(_l("Reason"), render_kw={"maxlength": 1000, "rows": 3})


class ReassignForm(Form):
    version = HiddenField()
    to_user = SelectField(_l("To user"), validate_choice=False)
    to_team = SelectField(_l("Or to QR team"), validate_choice=False)
    reason = TextAreaField(_l("Reason"), render_kw={"maxlength": 1000, "rows": 3})


class TransferForm(Form):
    version = HiddenField()
    to_agency = SelectField(_l("Receiving OPD"), validate_choice=False)
    reason = TextAreaField(_l("Reason"), render_kw={"maxlength": 1000, "rows": 3})


class InstructForm(Form):
    version = HiddenField()
    text = TextAreaField(_l("Instruction (the officer sees it on the task)"),
                         render_kw={"maxlength": 2000, "rows": 4})


def _version(form) -> int | None:
    return whole_number(form.version.data)


def _extend(uow, item, form):
    due: datetime | None = form.new_due.data
    commands.extend_deadline(uow, actor(), item.id, due.replace(tzinfo=services().zone) if due else None,
                             form.reason.data or "", expected_version=_version(form))
    return _l("Deadline extended: %(case)s.", case=item.case.number)


def _reassign(uow, item, form):
    commands.reassign(uow, actor(), item.id, to_user=form.to_user.data or None,
                      to_team=form.to_team.data or None, reason=form.reason.data or "",
                      expected_version=_version(form))
    return _l("Task reassigned: %(case)s.", case=item.case.number)


def _transfer(uow, item, form):
    commands.force_transfer(uow, actor(), item.case_id, to_agency=form.to_agency.data or "",
                            reason=form.reason.data or "", expected_version=_version(form))
    return _l("Case transferred: %(case)s.", case=item.case.number)


def _instruct(uow, item, form):
    commands.instruct(uow, actor(), item.id, text=form.text.data or "", expected_version=_version(form))
    return _l("Instruction sent: %(case)s.", case=item.case.number)


ACTIONS = {
    "extend": (ExtendForm, _l("Extend the deadline"), _extend),
    "reassign": (ReassignForm, _l("Reassign the task"), _reassign),
    "transfer": (TransferForm, _l("Transfer to another OPD"), _transfer),
    "instruct": (InstructForm, _l("Give an instruction"), _instruct),
}


def _choices(options, locale: str, placeholder) -> list:
    return [C("", placeholder)] + [C(o.code, o.name_en if locale == "en" else o.name_id) for o in options]


@bp.route("/items/<int:item_id>/<any(extend, reassign, transfer, instruct):action>",
          methods=["GET", "POST"])
@login_required  # the task decides: 404 outside the supervisor's view, 403 for other roles
def act(item_id: int, action: str):
    """A supervisor's action on a task of their scope: extend its deadline, reassign it, move
    the case to another OPD, or leave an instruction. Each needs a reason and is audited."""
    form_class, title, run = ACTIONS[action]
    locale = str(get_locale())
    with services().reading() as session:
        item = session.get(WorkItem, item_id)
        if item is None or item.completed_at is not None:
            abort(404)
        detail = case_detail(session, actor(), item.case_id)  # 404 outside the actor's scope
        if supervising_role(actor(), item.agency_id) is None:
            abort(403)
        if action == "transfer" and not force_transferable(item.task_name):
            abort(404)  # the process lets no supervisor move the case at this task
        form = form_class()
        if action == "extend":
            form.new_due.label.text = _l("New deadline (%(zone)s)", zone=zone_name(services().clock.now()))
        elif action == "reassign":
            form.to_user.choices = _choices(assignees_for(session, item), locale, _l("Choose"))
            teams = [o for o in task_choices(session, item.case, "teams") if item.role == Role.QR_OFFICER
                     and (item.team_id is None or o.code != References(session).team_code(item.team_id))]
            form.to_team.choices = _choices(teams, locale, _l("No team change"))
        elif action == "transfer":
            form.to_agency.choices = _choices(task_choices(session, item.case, "agencies"), locale, _l("Choose"))
        instructions = instructions_for(session, [item.id]).get(item.id, [])
        _loaded = item.assignee  # the page reads it after the session closes
    status = 200
    if form.validate_on_submit():
        done = submit(form, lambda uow: run(uow, uow.session.get(WorkItem, item_id), form), fallback="version")
        if done:
            flash(done.result)
            return redirect(url_for("escalations.index"))
        status = 400
    elif form.is_submitted():
        status = 400
    else:
        form.version.data = detail.case.version
    return render_template("escalations/action.html", form=form, item=item, d=detail, action=action,
                           title=title, instructions=instructions), status
