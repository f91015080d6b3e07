"""Administration: incidents (failed steps) and sending given-up cases back to the sweeper."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from workflow import commands
from workflow.read.queries import incidents
from workflow.vocabulary import Role

from .helpers import actor, services, whole_number

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/incidents")
@login_required
def incident_list():
    if not actor().has_role(Role.ADMIN):
        abort(403)
    page = whole_number(request.args.get("page"), 1)
    state = request.args.get("state") or "open"
    with services().reading() as session:
        result = incidents(session, actor(), state=state, page=page)
    return render_template("admin/incidents.html", page=result, state=state)


@bp.post("/incidents/<int:incident_id>/retry")
@login_required
def retry(incident_id: int):
    if not actor().has_role(Role.ADMIN):
        abort(403)
    with services().uow() as uow:
        count = commands.retry_incident(uow, actor(), incident_id)
        uow.commit()
    flash(_l("Incident %(id)s: %(count)s timers go back to the sweeper.", id=incident_id, count=count))
    return redirect(url_for("admin.incident_list"))
