"""Case history for auditors (and, read-only, supervisors of the case's OPD): search, the
timeline built from the audit trail with the process diagram, exports, chain heads."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from workflow.access import Screen
from workflow.errors import ValidationError
from workflow.read.history import (
    HistoryFilters,
    actor_events,
    chain_heads,
    export_events,
    search_cases,
    timeline,
)
from workflow.read.options import report_options
from workflow.store.models import Agency
from workflow.vocabulary import CaseStatus

from . import diagram
from .helpers import actor, csv_cell, day_arg, only_for, services, whole_number
from .i18n import tr

bp = Blueprint("audit", __name__, url_prefix="/audit")
only_for(bp, Screen.HISTORY)


@bp.get("")
def search():
    args = request.args
    errors: dict = {}
    page = whole_number(args.get("page"), 1)
    filters = HistoryFilters(
        tracking_code=args.get("tracking_code") or None, number=args.get("number") or None,
        agency=args.get("agency") or None, category=args.get("category") or None,
        area=args.get("area") or None, status=args.get("status") or None,
        date_from=day_arg("date_from", errors), date_to=day_arg("date_to", errors),
        actor=args.get("actor") or None, page=page)
    result = None
    with services().reading() as session:
        options = report_options(session)
        agencies = list(session.scalars(select(Agency).where(Agency.handles_reports.is_(True))
                                        .order_by(Agency.name)))
        if not errors:
            try:
                result = search_cases(session, actor(), filters, services().tracking)
            except ValidationError as exc:
                errors = {k: tr(v) for k, v in exc.errors.items()}
    return render_template("audit/search.html", page=result, filters=filters, errors=errors,
                           options=options, agencies=agencies,
                           statuses=[str(s) for s in CaseStatus]), (400 if errors else 200)


@bp.get("/cases/<int:case_id>")
def case(case_id: int):
    svc = services()
    with svc.reading() as session:
        t = timeline(session, actor(), case_id, now=svc.clock.now(), calendar=svc.process.calendar,
                     definition=svc.definition)
        number = t.case.number
    svg = None
    if t.diagram:  # its text alternative: the title, and the path in words (#diagram-path on the page)
        svg = diagram.render(t.diagram, taken=t.taken, current=t.current, described_by="diagram-path",
                             title=_("Process diagram of case %(number)s", number=number))
    return render_template("audit/case.html", t=t, number=number, svg=svg, now=svc.clock.now(),
                           locale=str(get_locale()))


@bp.get("/cases/<int:case_id>/export.json")
def export_json(case_id: int):
    with services().reading() as session:
        document = export_events(session, actor(), case_id)
    return Response(json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="audit-{document["case_number"]}.json"'})


CSV_COLUMNS = ("seq", "occurred_at", "actor_name", "actor_role", "action", "task_name", "from_agency",
               "to_agency", "from_task", "to_task", "reason", "data", "prev_hash", "hash")


@bp.get("/cases/<int:case_id>/export.csv")
def export_csv(case_id: int):
    with services().reading() as session:
        document = export_events(session, actor(), case_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in document["events"]:
        writer.writerow([csv_cell(event[c]) for c in CSV_COLUMNS])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{document["case_number"]}.csv"'})


@bp.get("/actors/<username>")
def actor_log(username: str):
    page = whole_number(request.args.get("page"), 1)
    with services().reading() as session:
        result = actor_events(session, actor(), username, page=page)
    return render_template("audit/actor.html", page=result, username=username)


@bp.get("/heads.json")
def heads():
    """Every readable chain's head and a digest over them, to keep outside the system."""
    with services().reading() as session:
        document = chain_heads(session, actor(), services().clock.now())
    stamp = document["generated_at"][:10]
    return Response(json.dumps(document, indent=1), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="chain-heads-{stamp}.json"'})
