"""Administration: incidents (failed steps) and sending given-up cases back to the sweeper."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from workflow import commands
from workflow.access import Screen
from workflow.read.incidents import incidents
from workflow.store.models import Incident
from workflow.vocabulary import Operation

from .helpers import actor, only_for, run_command, services, whole_number

bp = Blueprint("admin", __name__, url_prefix="/admin")
only_for(bp, Screen.ADMIN)


@bp.get("/incidents")
def incident_list():
    page = whole_number(request.args.get("page"), 1)
    state = request.args.get("state") or "open"
    with services().reading() as session:
        result = incidents(session, actor(), state=state, page=page)
    return render_template("admin/incidents.html", page=result, state=state)


@bp.post("/incidents/<int:incident_id>/retry")
def retry(incident_id: int):
    with services().reading() as session:
        incident = session.get(Incident, incident_id)
        notices = incident is not None and incident.operation == Operation.DELIVER_NOTICE
    count = run_command(commands.retry_incident, actor(), incident_id)
    if notices:
        flash(_l("Incident %(id)s: %(count)s messages are queued to be sent again.", id=incident_id, count=count))
    else:
        flash(_l("Incident %(id)s: %(count)s timers go back to the sweeper.", id=incident_id, count=count))
    return redirect(url_for("admin.incident_list"))
