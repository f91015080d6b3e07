"""Landing page and health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import func, select, text

from workflow.store.models import Case

from .helpers import services
from .labels import STATUS_LABELS

bp = Blueprint("home", __name__)



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
