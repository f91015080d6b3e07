"""The supervisors' escalation view: late work in their scope, the latest first."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from workflow.models import Agency, Role
from workflow.queries import ESCALATION_LEVELS, EscalationFilters, escalation_view, report_options

from .helpers import actor, is_htmx, services

bp = Blueprint("escalations", __name__, url_prefix="/escalations")

LEVEL_LABELS = {"breach": _l("Past the SLA target"), "critical": _l("Twice the SLA target")}
TASK_LABELS = {"triage": _l("Triage"), "disposition": _l("Disposition"), "dispatch": _l("Dispatch"),
               "field_work": _l("Field work"), "verification": _l("Verification"),
               "closure": _l("Closure")}


@bp.get("")
@login_required
def index():
    if not actor().has_role(Role.SUPERVISOR):
        abort(403)
    args = request.args
    page = int(args["page"]) if args.get("page", "").isdigit() else 1
    filters = EscalationFilters(agency=args.get("agency") or None, category=args.get("category") or None,
                                area=args.get("area") or None, level=args.get("level") or None,
                                state=args.get("state") or "open", page=page)
    now = services().clock.now()
    with services().reading() as session:
        result, counts = escalation_view(session, actor(), filters, now)
        options = report_options(session)
        agencies = list(session.scalars(select(Agency).where(Agency.handles_reports.is_(True))
                                        .order_by(Agency.name)))
    context = dict(page=result, counts=counts, filters=filters, now=now, options=options,
                   agencies=agencies, levels=ESCALATION_LEVELS, level_labels=LEVEL_LABELS,
                   task_labels=TASK_LABELS)
    if is_htmx() and request.headers.get("HX-Target") == "escalations":
        return render_template("escalations/_table.html", **context)
    return render_template("escalations/index.html", **context)
