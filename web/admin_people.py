"""Administration of people and the organisation: user accounts (roles and scopes, passwords,
deactivation), agencies (OPD) and QR teams. Every change goes to the security log with its old
and new values (``workflow.commands.accounts``, ``workflow.commands.organisation``)."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from workflow.access import Screen
from workflow.commands import accounts, organisation
from workflow.commands.organisation import NeedsConfirmation
from workflow.errors import Conflict, DomainError, NotFound, ValidationError
from workflow.read import organisation as org_read
from workflow.read.people import (
    STAFF_ROLES,
    STATES,
    UserFilters,
    account,
    fingerprint,
    membership_options,
    parse_membership_key,
    user_list,
)
from workflow.vocabulary import Role

from .admin import section
from .forms import Form
from .helpers import actor, only_for, run_command, services, submit, whole_number
from .i18n import tr
from .labels import role_label

bp = Blueprint("admin_people", __name__, url_prefix="/admin")
only_for(bp, Screen.ADMIN)

section("admin_people.users", _l("Users"),
        _l("Accounts and their roles: create, edit, reset a password, deactivate."), 10)
section("admin_people.agencies", _l("Agencies"),
        _l("The OPD: their names, whether they handle reports, whether they are active."), 20)
section("admin_people.teams", _l("QR teams"),
        _l("Field teams by kecamatan, with their officers and open tasks."), 30)

STATE_LABELS = {"all": _l("All"), "active": _l("Active"), "inactive": _l("Inactive")}


def _client_ip() -> str | None:
    return request.remote_addr


# -- users ---------------------------------------------------------------------------------------


class ActionForm(Form):
    """A button: only its CSRF token."""


class UserForm(Form):
    full_name = StringField(_l("Full name"), render_kw={"maxlength": 200, "autocomplete": "off"})
    email = EmailField(_l("E-mail"), render_kw={"maxlength": 200, "autocomplete": "off"})
    roles = SelectMultipleField(_l("Roles"), choices=[], widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())
    version = HiddenField()


class NewUserForm(UserForm):
    username = StringField(_l("Username"), render_kw={"maxlength": 80, "autocomplete": "off",
                                                      "autocapitalize": "none", "spellcheck": "false"})


def _role_groups(form: UserForm, options) -> list[dict]:
    """The form's role checkboxes, by role: [{label, options: [(checkbox, its label)]}]; sets the
    field's choices (what it accepts) to ``options``."""
    form.roles.choices = [(o.key, o.key) for o in options]
    boxes = {box.data: box for box in form.roles}
    groups: dict[Role, list] = {}
    for o in options:
        label = o.scope_name or _("City-wide")
        if not o.scope_active:
            label = _("%(name)s (inactive)", name=label)
        groups.setdefault(o.role, []).append((boxes[o.key], label))
    return [{"label": role_label(role), "options": groups[role]} for role in STAFF_ROLES if role in groups]


@bp.get("/users")
def users():
    args = request.args
    filters = UserFilters(q=args.get("q") or None, role=args.get("role") or None,
                          state=args.get("state") or "all", page=whole_number(args.get("page"), 1))
    errors: dict = {}
    page = None
    with services().reading() as session:
        try:
            page = user_list(session, actor(), filters)
        except ValidationError as exc:
            errors = {k: tr(v) for k, v in exc.errors.items()}
    pager_args = {k: v for k, v in (("q", filters.q), ("role", filters.role), ("state", filters.state)) if v}
    return render_template("admin/users.html", page=page, filters=filters, errors=errors, roles=STAFF_ROLES,
                           states=STATES, state_labels=STATE_LABELS, pager_args=pager_args), 400 if errors else 200


def _password_page(username: str, password: str, *, created: bool, own: bool = False):
    """The new password, shown this once: never kept by a browser or a proxy."""
    page = make_response(render_template("admin/users_password.html", username=username, password=password,
                                         created=created, own=own))
    page.headers["Cache-Control"] = "no-store"
    return page


@bp.route("/users/new", methods=["GET", "POST"])
def users_new():
    form = NewUserForm()
    with services().reading() as session:
        groups = _role_groups(form, membership_options(session))
    status = 200
    if form.validate_on_submit():
        done = submit(form, accounts.create_account, actor(), username=form.username.data or "",
                      full_name=form.full_name.data or "", email=form.email.data or None,
                      roles=[parse_membership_key(k) for k in form.roles.data or []],
                      client_ip=_client_ip(), fallback="username")
        if done:
            return _password_page(done.result.user.username, done.result.password, created=True)
        status = done.status
    elif form.is_submitted():
        status = 400
    return render_template("admin/users_form.html", form=form, groups=groups, acct=None), status


def _edit_page(user_id: int, form: UserForm | None = None, *, status: int = 200, refusal: str | None = None):
    """The account's page: its form (``form``: as sent, with its messages), and its password and
    deactivation buttons (``refusal``: why the last of those was refused)."""
    with services().reading() as session:
        acct = account(session, actor(), user_id)
        options = membership_options(session, keep=acct.memberships)
    if form is None:
        form = UserForm(formdata=None, data={"full_name": acct.full_name, "email": acct.email or "",
                                             "roles": [m.key for m in acct.memberships],
                                             "version": fingerprint(acct.values)})
    groups = _role_groups(form, options)
    return render_template("admin/users_form.html", form=form, groups=groups, acct=acct, action_form=ActionForm(),
                           refusal=refusal, own=acct.id == actor().user_id), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def users_edit(user_id: int):
    if request.method == "GET":
        return _edit_page(user_id)
    form = UserForm()
    with services().reading() as session:
        _role_groups(form, membership_options(session, keep=account(session, actor(), user_id).memberships))
    status = 400
    if form.validate_on_submit():
        done = submit(form, accounts.update_account, actor(), user_id, full_name=form.full_name.data or "",
                      email=form.email.data or None, roles=form.roles.data or [],
                      expected=form.version.data or None, client_ip=_client_ip(),
                      fallback="full_name", conflicts_on="version")
        if done:
            released = len(done.result.released)
            flash(_l("The account is saved.") if not released else
                  _l("The account is saved. %(count)s tasks it can no longer work went back to their queues.",
                     count=released))
            return redirect(url_for("admin_people.users_edit", user_id=user_id))
        status = done.status
    return _edit_page(user_id, form, status=status)


@bp.post("/users/<int:user_id>/password")
def users_password(user_id: int):
    password = run_command(accounts.reset_password, actor(), user_id, client_ip=_client_ip())
    with services().reading() as session:
        acct = account(session, actor(), user_id)
    return _password_page(acct.username, password, created=False, own=acct.id == actor().user_id)


def _account_action(user_id: int, command):
    """Run an account's button; a refusal (one's own account, the last administrator) is said on
    its page."""
    try:
        return run_command(command, actor(), user_id, client_ip=_client_ip()), None
    except (Conflict, NotFound):
        raise
    except DomainError as exc:
        return None, _edit_page(user_id, status=400, refusal=tr(exc.message))


@bp.post("/users/<int:user_id>/deactivate")
def users_deactivate(user_id: int):
    result, refused = _account_action(user_id, accounts.deactivate_user)
    if refused:
        return refused
    flash(_l("The account is deactivated: its sessions ended, %(tasks)s tasks went back to their queues and "
             "%(tokens)s API tokens were revoked.", tasks=len(result.released), tokens=len(result.tokens_revoked)))
    return redirect(url_for("admin_people.users_edit", user_id=user_id))


@bp.post("/users/<int:user_id>/reactivate")
def users_reactivate(user_id: int):
    _result, refused = _account_action(user_id, accounts.reactivate_user)
    if refused:
        return refused
    flash(_l("The account is active again: it logs in with its password (reset it if need be)."))
    return redirect(url_for("admin_people.users_edit", user_id=user_id))


# -- agencies ------------------------------------------------------------------------------------


class AgencyForm(Form):
    name = StringField(_l("Name"), render_kw={"maxlength": organisation.NAME_MAX})
    short_name = StringField(_l("Short name"), render_kw={"maxlength": organisation.SHORT_NAME_MAX})
    handles_reports = BooleanField(_l("Handles reports (may receive cases and transfers)"), default=True)
    active = BooleanField(_l("Active"), default=True)
    confirm = BooleanField(_l("Yes, make this change"))
    version = HiddenField()


class NewAgencyForm(AgencyForm):
    code = StringField(_l("Code"), render_kw={"maxlength": 32, "autocomplete": "off", "autocapitalize": "characters"})


def _page_number() -> int:
    return whole_number(request.args.get("page"), 1)


@bp.get("/agencies")
def agencies():
    with services().reading() as session:
        page = org_read.agency_list(session, actor(), services().definition, page=_page_number())
    return render_template("admin/agencies.html", page=page)


@bp.route("/agencies/new", methods=["GET", "POST"])
def agencies_new():
    form = NewAgencyForm()
    status = 200
    if form.validate_on_submit():
        done = submit(form, organisation.create_agency, actor(), code=form.code.data or "",
                      name=form.name.data or "", short_name=form.short_name.data or "",
                      handles_reports=form.handles_reports.data, active=form.active.data,
                      client_ip=_client_ip(), fallback="code")
        if done:
            flash(_l("The agency %(code)s is created.", code=done.result.code))
            return redirect(url_for("admin_people.agencies_edit", code=done.result.code))
        status = done.status
    elif form.is_submitted():
        status = 400
    return render_template("admin/agencies_form.html", form=form, row=None, warnings=[]), status


def _confirmed(form, command, *args, fallback: str, **kwargs):
    """:func:`submit` for an edit that may need confirming: (done, warnings to confirm)."""
    try:
        return submit(form, command, *args, fallback=fallback, conflicts_on="version", **kwargs), []
    except NeedsConfirmation as exc:
        return None, [tr(w) for w in exc.warnings]


@bp.route("/agencies/<code>", methods=["GET", "POST"])
def agencies_edit(code: str):
    with services().reading() as session:
        row = org_read.agency(session, actor(), services().definition, code)
    if request.method == "GET":
        form = AgencyForm(formdata=None, data={**row.values, "version": fingerprint(row.values)})
        return render_template("admin/agencies_form.html", form=form, row=row, warnings=[])
    form = AgencyForm()
    status, warnings = 400, []
    if form.validate_on_submit():
        done, warnings = _confirmed(form, organisation.update_agency, actor(), code, name=form.name.data or "",
                                    short_name=form.short_name.data or "",
                                    handles_reports=form.handles_reports.data, active=form.active.data,
                                    expected=form.version.data or None, confirmed=form.confirm.data,
                                    client_ip=_client_ip(), fallback="name")
        if done:
            flash(_l("The agency %(code)s is saved.", code=code))
            for warning in done.result:
                flash(tr(warning))
            return redirect(url_for("admin_people.agencies_edit", code=code))
        status = done.status if done is not None else 400
    return render_template("admin/agencies_form.html", form=form, row=row, warnings=warnings), status


# -- QR teams ------------------------------------------------------------------------------------


class TeamForm(Form):
    name = StringField(_l("Name"), render_kw={"maxlength": organisation.TEAM_NAME_MAX})
    kecamatan = SelectField(_l("Kecamatan"), choices=[])
    active = BooleanField(_l("Active"), default=True)
    confirm = BooleanField(_l("Yes, make this change"))
    version = HiddenField()


class NewTeamForm(TeamForm):
    code = StringField(_l("Code"), render_kw={"maxlength": 64, "autocomplete": "off", "autocapitalize": "none"})


def _kecamatan_choices(form: TeamForm) -> None:
    with services().reading() as session:
        form.kecamatan.choices = [("", _("Choose a kecamatan")), *org_read.kecamatan_options(session)]


@bp.get("/teams")
def teams():
    with services().reading() as session:
        page = org_read.team_list(session, actor(), page=_page_number())
    return render_template("admin/teams.html", page=page)


@bp.route("/teams/new", methods=["GET", "POST"])
def teams_new():
    form = NewTeamForm()
    _kecamatan_choices(form)
    status = 200
    if form.validate_on_submit():
        done = submit(form, organisation.create_team, actor(), code=form.code.data or "", name=form.name.data or "",
                      kecamatan=form.kecamatan.data or "", active=form.active.data, client_ip=_client_ip(),
                      fallback="code")
        if done:
            flash(_l("The QR team %(name)s is created.", name=done.result.name))
            return redirect(url_for("admin_people.teams_edit", code=done.result.code))
        status = done.status
    elif form.is_submitted():
        status = 400
    return render_template("admin/teams_form.html", form=form, row=None, warnings=[]), status


@bp.route("/teams/<code>", methods=["GET", "POST"])
def teams_edit(code: str):
    with services().reading() as session:
        row = org_read.team(session, actor(), code)
    if request.method == "GET":
        form = TeamForm(formdata=None, data={**row.values, "version": fingerprint(row.values)})
        _kecamatan_choices(form)
        return render_template("admin/teams_form.html", form=form, row=row, warnings=[])
    form = TeamForm()
    _kecamatan_choices(form)
    status, warnings = 400, []
    if form.validate_on_submit():
        done, warnings = _confirmed(form, organisation.update_team, actor(), code, name=form.name.data or "",
                                    kecamatan=form.kecamatan.data or "", active=form.active.data,
                                    expected=form.version.data or None, confirmed=form.confirm.data,
                                    client_ip=_client_ip(), fallback="name")
        if done:
            flash(_l("The QR team %(name)s is saved.", name=form.name.data.strip()))
            for warning in done.result:
                flash(tr(warning))
            return redirect(url_for("admin_people.teams_edit", code=code))
        status = done.status if done is not None else 400
    return render_template("admin/teams_form.html", form=form, row=row, warnings=warnings), status
