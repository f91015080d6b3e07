"""The task inbox of triage desks, OPD coordinators and QR officers."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from workflow import commands
from workflow.access import Screen
from workflow.read.inbox import SLA_STATES, SORTS, InboxFilters, inbox
from workflow.read.options import report_options
from workflow.store.models import Agency

from .helpers import (
    actor,
    is_htmx,
    remember_work_list,
    run_command,
    safe_next,
    screen_of,
    services,
    whole_number,
)

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

TABS = (("all", _l("All of my scope")), ("unassigned", _l("Unassigned")), ("mine", _l("Mine")))
SLA_LABELS = {"on_time": _l("On time"), "at_risk": _l("At risk"), "overdue": _l("Overdue")}
SORT_LABELS = {"due": _l("Due first"), "-due": _l("Due last"), "newest": _l("Newest"),
               "oldest": _l("Oldest")}


def _filters() -> InboxFilters:
    args = request.args

    def number(name, default):
        value = args.get(name, "")
        return whole_number(value, default)

    return InboxFilters(tab=args.get("tab") or "all", category=args.get("category") or None,
                        area=args.get("area") or None, stage=args.get("stage") or None,
                        sla=args.get("sla") or None, sort=args.get("sort") or "due",
                        page=number("page", 1), per_page=number("per_page", 25))


@bp.get("")
@screen_of(Screen.INBOX)
def index():
    filters = _filters()
    remember_work_list(Screen.INBOX)  # with htmx too: the filters change in place
    now = services().clock.now()
    definition = services().definition
    question = definition.question_task
    with services().reading() as session:
        page = inbox(session, actor(), filters, now, question.name if question else None)
        options = report_options(session)
        agency_names = dict(session.execute(select(Agency.code, Agency.short_name)).all())
    stages = [(t.form_key, t.text(str(get_locale()))) for t in definition.stages]
    context = dict(page=page, filters=filters, now=now, tabs=TABS, stages=stages, routes=route_previews(page.rows), agency_names=agency_names,
                   sla_states=SLA_STATES, sla_labels=SLA_LABELS, sorts=SORTS, sort_labels=SORT_LABELS,
                   options=options, en=str(get_locale()) == "en")
    if is_htmx() and request.headers.get("HX-Target") == "inbox":
        return render_template("inbox/_table.html", **context)
    return render_template("inbox/index.html", **context)


def route_previews(rows) -> dict:
    """What the routing table will give each row's report, for the rows of the task that shows
    it (``route_preview`` in tasks.yaml): item id -> the answer."""
    preview = services().definition.route_preview
    task = services().definition.task(preview.task) if preview else None
    if task is None:
        return {}
    return {r.item_id: services().process.route_preview(r.category, r.area)
            for r in rows if r.form_key == task.form_key}


def _claim_or_release(item_id: int, command):
    run_command(command, actor(), item_id)
    if is_htmx():
        return index()
    return redirect(safe_next(request.form.get("next"), url_for("inbox.index")))


@bp.post("/items/<int:item_id>/claim")
@login_required
def claim(item_id: int):
    return _claim_or_release(item_id, commands.claim)


@bp.post("/items/<int:item_id>/release")
@login_required
def release(item_id: int):
    return _claim_or_release(item_id, commands.release)

