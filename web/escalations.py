"""The supervisors' escalation view: late work in their scope, the latest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select
from wtforms import DateTimeLocalField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import Optional

from workflow import commands
from workflow.access import Screen, can_view_case, supervising_role
from workflow.engine.forms import ID_LIMIT
from workflow.errors import DomainError, ValidationError
from workflow.read.cases import case_detail, instructions_for
from workflow.read.escalations import EscalationFilters, escalation_view
from workflow.read.options import assignees_for, assignees_for_each, report_options, task_choices
from workflow.read.workload import workload as read_workload
from workflow.store.models import Agency, Case, User, WorkItem
from workflow.store.reference import References
from workflow.vocabulary import Role

from .forms import Form
from .helpers import (
    actor,
    is_htmx,
    remember_work_list,
    run_command,
    safe_next,
    screen_of,
    services,
    submit,
    whole_number,
)
from .i18n import tr, zone_name
from .labels import force_transferable

bp = Blueprint("escalations", __name__, url_prefix="/escalations")

@bp.get("")
@screen_of(Screen.ESCALATIONS)
def index():
    remember_work_list(Screen.ESCALATIONS)  # a finished review task comes back here
    context = _list_context()
    if is_htmx() and request.headers.get("HX-Target") == "escalations":
        return render_template("escalations/_table.html", **context)
    return render_template("escalations/index.html", **context)


def _list_context(bulk: BulkForm | None = None, picked: frozenset[int] = frozenset()) -> dict:
    """The list as the query string filters it, and the bulk form under it (``bulk``: as sent,
    with its messages; ``picked``: the tasks that were ticked)."""
    args = request.args
    filters = EscalationFilters(agency=args.get("agency") or None, category=args.get("category") or None,
                                area=args.get("area") or None, level=args.get("level") or None,
                                state=args.get("state") or "open", page=whole_number(args.get("page"), 1))
    now = services().clock.now()
    with services().reading() as session:
        result, counts = escalation_view(session, actor(), filters, now, services().definition.levels)
        options = report_options(session)
        agencies = list(session.scalars(select(Agency).where(Agency.handles_reports.is_(True))
                                        .order_by(Agency.name)))
        bulk = _bulk_form(session, result.rows, bulk)
    return dict(page=result, counts=counts, filters=filters, now=now, options=options, agencies=agencies,
                levels=list(services().definition.levels), bulk=bulk, picked=picked)


@bp.get("/workload")
@screen_of(Screen.ESCALATIONS)
def workload():
    """Open tasks and breaches per OPD, person and QR team, the oldest first."""
    now = services().clock.now()
    with services().reading() as session:
        loads = read_workload(session, actor(), now)
    return render_template("escalations/workload.html", w=loads, now=now)


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


# -- several late tasks at once ---------------------------------------------------------------------

BULK_ACTIONS = (C("acknowledge", _l("Acknowledge the escalation")), C("reassign", _l("Reassign")),
                C("extend", _l("Extend the deadline")))


class BulkForm(Form):
    """One action, with one reason, on the late tasks ticked in the list; each task is done (and
    audited) on its own, and the page says which could not be done and why."""

    action = RadioField(_l("Action"), choices=BULK_ACTIONS, default="acknowledge")
    to_user = SelectField(_l("To user"), validate_choice=False)
    to_team = SelectField(_l("Or to QR team"), validate_choice=False)
    new_due = DateTimeLocalField(_l("New deadline"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    reason = TextAreaField(_l("Reason (the same for every task ticked)"), render_kw={"maxlength": 1000, "rows": 3})


@dataclass(frozen=True)
class _TaskKind:
    """What decides who could work a task (``workflow.access.memberships_working``), held by nobody."""

    role: Role
    agency_id: int | None
    team_id: int | None
    assignee_id: int | None = None


def _bulk_form(session, rows, form: BulkForm | None = None) -> BulkForm:
    """The form under the list: whom the ticked tasks can go to are those who could work at
    least one task on the page (each task is checked again when it is given). The page's tasks
    are read at once, and who could work them once per kind of task (role, OPD, team) and the
    teams once per kecamatan: not once per row."""
    form = form or BulkForm(formdata=None)
    locale = str(get_locale())
    ids = [row.late_item_id for row in rows if row.late_item_id]
    # what decides who could work each task, and the case's OPD and kecamatan (the teams offered)
    found = session.execute(
        select(WorkItem.role, WorkItem.agency_id.label("item_agency_id"), WorkItem.team_id,
               Case.agency_id, Case.area_id, User.username.label("assignee"))
        .join(Case, Case.id == WorkItem.case_id).outerjoin(User, User.id == WorkItem.assignee_id)
        .where(WorkItem.id.in_(ids))).all() if ids else []
    users: dict[str, object] = {}
    teams: dict[str, object] = {}
    kinds = list(dict.fromkeys(_TaskKind(row.role, row.item_agency_id, row.team_id) for row in found))
    workers = dict(zip(kinds, assignees_for_each(session, kinds)))
    refs = References(session)  # the teams read once for every kecamatan on the page
    for row in found:
        kind = _TaskKind(row.role, row.item_agency_id, row.team_id)
        users.update((o.code, o) for o in workers[kind] if o.code != row.assignee)  # not to whom holds it
        if row.role == Role.QR_OFFICER:
            teams.update((o.code, o) for o in task_choices(session, row, "teams", refs))
    form.to_user.choices = _choices(sorted(users.values(), key=lambda o: o.code), locale, _l("Choose"))
    form.to_team.choices = _choices(sorted(teams.values(), key=lambda o: o.code), locale, _l("No team change"))
    form.new_due.label.text = _l("New deadline (%(zone)s)", zone=zone_name(services().clock.now()))
    return form


def _bulk_errors(form: BulkForm) -> bool:
    """Check what every ticked task shares before doing any (what was typed comes back)."""
    reason = (form.reason.data or "").strip()
    if not reason:
        form.reason.errors = [_l("Write the reason.")]
    if form.action.data == "reassign" and bool(form.to_user.data) == bool(form.to_team.data):
        form.to_user.errors = [_l("Choose either a user or a QR team.")]
    if form.action.data == "extend" and form.new_due.data is None and not form.new_due.errors:
        form.new_due.errors = [_l("Give the new deadline.")]
    return bool(form.reason.errors or form.to_user.errors or form.new_due.errors)


def _bulk_one(form: BulkForm, item_id: int, version: int | None):
    reason = form.reason.data or ""

    def run(uow):
        if form.action.data == "acknowledge":
            return commands.acknowledge_late_task(uow, actor(), item_id, reason, expected_version=version)
        if form.action.data == "reassign":
            return commands.reassign(uow, actor(), item_id, to_user=form.to_user.data or None,
                                     to_team=form.to_team.data or None, reason=reason, expected_version=version)
        due = form.new_due.data.replace(tzinfo=services().zone)
        return commands.extend_deadline(uow, actor(), item_id, due, reason, expected_version=version)

    return run


@bp.post("/bulk")
@screen_of(Screen.ESCALATIONS)
def bulk():
    """Acknowledge, reassign or extend the ticked late tasks, one by one."""
    form = BulkForm()
    picked = list(dict.fromkeys(n for n in (whole_number(v) for v in request.form.getlist("row"))
                                if n is not None and 0 < n < ID_LIMIT))  # beyond any id: not a task
    back = safe_next(request.form.get("next"), url_for("escalations.index"))
    if not form.validate_on_submit() or _bulk_errors(form) or not picked or len(picked) > MAX_BULK:
        if not picked:
            form.action.errors = [_l("Tick at least one task in the list.")]
        elif len(picked) > MAX_BULK:
            form.action.errors = [_l("Tick at most %(count)s tasks at once.", count=MAX_BULK)]
        return _bulk_again(form, picked)
    done, refused = [], []
    for item_id in picked:
        version = whole_number(request.form.get(f"version-{item_id}"))
        with services().reading() as session:  # a case is named only to whoever may see it
            item = session.get(WorkItem, item_id)
            number = item.case.number if item is not None and can_view_case(actor(), item.case) else f"#{item_id}"
        if version is None:  # the version the page showed: without it, nothing says the task is as seen
            refused.append((number, tr(_l("reload the list and tick the task again"))))
            continue
        try:
            run_command(_bulk_one(form, item_id, version))
            done.append(number)
        except ValidationError as exc:
            refused.append((number, "; ".join(tr(m) for m in exc.errors.values())))
        except DomainError as exc:
            refused.append((number, tr(exc.message)))
    if done:
        flash(_l("Done for %(count)s tasks: %(cases)s.", count=len(done), cases=", ".join(done)))
    for number, why in refused:
        flash(_l("Not done for %(case)s: %(why)s", case=number, why=why))
    return redirect(back)


MAX_BULK = 100  # tasks in one bulk action (a page holds 25)


def _bulk_again(form: BulkForm, picked: list[int]):
    """The list again, with the ticks, the action and the reason as sent, and the messages."""
    return render_template("escalations/index.html", **_list_context(form, frozenset(picked))), 400
