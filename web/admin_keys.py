"""Administration of API credentials: Open311 keys for client applications and JSON API tokens
for agencies' systems. Listed without their secrets; a new one's secret is shown once, on the
page that answers its creation (never stored, never cached); revoking asks first. Each creation
and revocation is in the security log (``workflow.commands.credentials``)."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import DataRequired, InputRequired, Length

from workflow.access import Screen
from workflow.commands import credentials
from workflow.errors import Conflict
from workflow.read.credentials import credential, credential_page
from workflow.store.models import ApiCredential

from .admin import section
from .forms import Form
from .helpers import actor, only_for, run_command, services, submit, who, whole_number
from .labels import CREDENTIAL_KINDS

bp = Blueprint("admin_keys", __name__, url_prefix="/admin/keys")
only_for(bp, Screen.ADMIN)

section("admin_keys.keys", _l("API keys and tokens"),
        _l("Open311 keys of client applications and JSON API tokens of agencies' systems: issue, "
           "see their last use, revoke."), 70)

NAME_MAX = ApiCredential.name.type.length


class KeyForm(Form):
    kind = RadioField(_l("Kind"), choices=[
        C("open311", _l("Open311 API key: a client application (a citizens' app) files reports")),
        C("token", _l("JSON API token: an agency's system works as one user, with that user's roles"))],
        validators=[InputRequired()])
    name = StringField(_l("Name: who or what uses it"), validators=[DataRequired(), Length(max=NAME_MAX)],
                       render_kw={"maxlength": NAME_MAX})
    username = StringField(_l("Username the token acts as (tokens only)"), render_kw={"maxlength": 80})


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
def keys():
    page = whole_number(request.args.get("page"), 1)
    with services().reading() as session:
        result = credential_page(session, actor(), page=page)
    return render_template("admin/keys.html", page=result, kinds=CREDENTIAL_KINDS)


@bp.route("/new", methods=["GET", "POST"])
def keys_new():
    form = KeyForm()
    if form.validate_on_submit():
        kind = form.kind.data or ""
        done = submit(form, credentials.issue, kind, form.name.data or "",
                      username=(form.username.data or "").strip() if kind == "token" else None,
                      who=who(), fallback="name")
        if done:
            row, secret = done.result
            return _no_store(make_response(render_template("admin/keys_created.html", row=row, secret=secret,
                                                           kinds=CREDENTIAL_KINDS)))
        return render_template("admin/keys_new.html", form=form), done.status
    return render_template("admin/keys_new.html", form=form), (400 if form.is_submitted() else 200)


class RevokeForm(Form):
    """Only its CSRF token: the confirmation is the button."""


@bp.route("/<prefix>/revoke", methods=["GET", "POST"])
def keys_revoke(prefix: str):
    """Ask, then revoke: the credential stops working at once; its row stays for the record."""
    with services().reading() as session:
        row = credential(session, actor(), prefix)  # 404 for an unknown prefix
    form = RevokeForm()
    if form.validate_on_submit():
        if row.revoked_at is None:
            try:
                run_command(credentials.revoke, prefix, who=who())
            except Conflict:  # revoked by someone else a moment ago: what was asked for is done
                pass
        flash(_l("%(name)s (%(prefix)s) is revoked: it no longer works.", name=row.name, prefix=row.prefix))
        return redirect(url_for("admin_keys.keys"))
    return render_template("admin/keys_revoke.html", row=row, form=form, kinds=CREDENTIAL_KINDS)
