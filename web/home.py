"""Landing page and health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text

from workflow.store.models import Case
from workflow.vocabulary import CaseStatus

from .helpers import services

bp = Blueprint("home", __name__)

STATUS_LABELS = {
    CaseStatus.TRIAGE: _l("Waiting for triage"),
    CaseStatus.IN_PROGRESS: _l("Being handled"),
    CaseStatus.RESOLVED: _l("Waiting for the reporter's confirmation"),
    CaseStatus.CLOSED: _l("Closed"),
    CaseStatus.REJECTED: _l("Rejected"),
    CaseStatus.MERGED: _l("Merged"),
}


@bp.get("/")
def index():
    with services().reading() as session:
        counts = dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all())
    rows = [(label, counts.get(status, 0)) for status, label in STATUS_LABELS.items()]
    return render_template("home.html", rows=rows, total=sum(counts.values()))


@bp.get("/healthz")
def healthz():
    try:
        with services().reading() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return jsonify(status="error", database=type(exc).__name__), 503
    return jsonify(status="ok", database="ok")
