"""Administration: its index of sections, incidents (failed steps) and sending given-up cases back to the sweeper.

Each administration page registers itself with :func:`section`; the index lists them and every
admin page shows them as its sub-navigation (``admin/_nav.html``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField

from workflow import commands
from workflow.access import Screen
from workflow.commands.timers import RESOLUTION_MAX
from workflow.read.incidents import incidents
from workflow.store.models import Incident
from workflow.vocabulary import Operation

from .forms import Form
from .helpers import actor, only_for, run_command, services, submit, whole_number

bp = Blueprint("admin", __name__, url_prefix="/admin")
only_for(bp, Screen.ADMIN)


@dataclass(frozen=True)
class Section:
    endpoint: str
    label: object  # lazy strings: translated when shown
    description: object
    order: int


SECTIONS: list[Section] = []


def section(endpoint: str, label, description, order: int) -> None:
    """Make an administration page known to the index and the sub-navigation."""
    if all(s.endpoint != endpoint for s in SECTIONS):
        SECTIONS.append(Section(endpoint, label, description, order))
        SECTIONS.sort(key=lambda s: s.order)


@bp.app_context_processor
def _sections():
    return {"admin_sections": SECTIONS}


@bp.get("/")
def index():
    return render_template("admin/index.html")


section("admin.incident_list", _l("Incidents"),
        _l("Steps the engine could not take: retry them, or close them with a note."), 90)


class ResolveForm(Form):
    note = TextAreaField(_l("What was done (the note closes the incident)"),
                         render_kw={"maxlength": RESOLUTION_MAX, "rows": 2})


@bp.get("/incidents")
def incident_list():
    return _list()


def _list(failed: tuple[int, ResolveForm] | None = None, status: int = 200):
    """The incidents, with the close form of the one that was sent with errors (``failed``)."""
    page = whole_number(request.args.get("page"), 1)
    state = request.args.get("state") or "open"
    with services().reading() as session:
        result = incidents(session, actor(), state=state, page=page)
    forms = {row.id: (failed[1] if failed and failed[0] == row.id else ResolveForm(formdata=None))
             for row in result.rows if row.resolved_at is None}
    return render_template("admin/incidents.html", page=result, state=state, forms=forms), status


@bp.post("/incidents/<int:incident_id>/resolve")
def resolve(incident_id: int):
    """Close an incident there is nothing to retry for, saying what was done."""
    form = ResolveForm()
    if form.validate_on_submit() and submit(form, commands.resolve_incident, actor(), incident_id,
                                            form.note.data or "", client_ip=request.remote_addr, fallback="note"):
        flash(_l("Incident %(id)s is closed.", id=incident_id))
        return redirect(url_for("admin.incident_list"))
    return _list((incident_id, form), 400)


@bp.post("/incidents/<int:incident_id>/retry")
def retry(incident_id: int):
    with services().reading() as session:
        incident = session.get(Incident, incident_id)
        notices = incident is not None and incident.operation == Operation.DELIVER_NOTICE
    count = run_command(commands.retry_incident, actor(), incident_id, client_ip=request.remote_addr)
    if notices:
        flash(_l("Incident %(id)s: %(count)s messages are queued to be sent again.", id=incident_id, count=count))
    else:
        flash(_l("Incident %(id)s: %(count)s timers go back to the sweeper.", id=incident_id, count=count))
    return redirect(url_for("admin.incident_list"))
