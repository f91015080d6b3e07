"""The supervisors' escalation view: late work in their scope, the latest first."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateTimeLocalField, HiddenField, TextAreaField
from wtforms.validators import Optional

from workflow import commands
from workflow.errors import ValidationError
from workflow.models import Agency, Role
from workflow.queries import (
    ESCALATION_LEVELS,
    EscalationFilters,
    case_detail,
    escalation_view,
    report_options,
)

from .helpers import actor, is_htmx, services
from .i18n import tr
from .taskforms import WITA

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


class ExtendForm(FlaskForm):
    version = HiddenField()
    new_due = DateTimeLocalField(_l("New deadline (WITA)"), format="%Y-%m-%dT%H:%M",
                                 validators=[Optional()])
    reason = TextAreaField(_l("Reason"), render_kw={"maxlength": 1000, "rows": 3})


@bp.route("/items/<int:item_id>/extend", methods=["GET", "POST"])
@login_required
def extend(item_id: int):
    """Extend the deadline of a late task (supervisors of its agency, or city-wide)."""
    from workflow.models import WorkItem

    with services().reading() as session:
        item = session.get(WorkItem, item_id)
        if item is None or item.completed_at is not None:
            abort(404)
        detail = case_detail(session, actor(), item.case_id)  # 404 outside the actor's scope
    form = ExtendForm()
    status = 200
    if form.validate_on_submit():
        due: datetime | None = form.new_due.data
        try:
            with services().uow() as uow:
                commands.extend_deadline(
                    uow, actor(), item_id, due.replace(tzinfo=WITA) if due else None,
                    form.reason.data or "",
                    expected_version=int(form.version.data) if (form.version.data or "").isdigit() else None)
                uow.commit()
        except ValidationError as exc:
            for name, message in exc.errors.items():
                form[name].errors = [*form[name].errors, tr(message)]
            status = 400
        else:
            flash(_l("Deadline extended: %(case)s.", case=detail.case.number))
            return redirect(url_for("escalations.index"))
    elif form.is_submitted():
        status = 400
    else:
        form.version.data = detail.case.version
    return render_template("escalations/extend.html", form=form, item=item, d=detail), status
