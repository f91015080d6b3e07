"""The security log for auditors and administrators: logins, failures and lockouts, logouts,
password changes, credentials, administrators' changes and the opening of reporters' contacts;
searched by user, action and days, newest first, paged, with whether its chain verifies, and a
CSV of the same filter (times in the city's zone)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Blueprint, Response, render_template, request, stream_with_context

from workflow.access import Screen
from workflow.errors import ValidationError
from workflow.read import security_log as log

from .helpers import actor, csv_cell, day_arg, only_for, services, whole_number
from .i18n import tr, zone_name
from .labels import (
    ADMIN_CHANGES,
    ADMIN_ENTITIES,
    ADMIN_FIELDS,
    CONTACT_FIELDS,
    CREDENTIAL_KINDS,
    LOCK_LIMITS,
    LOGIN_FAILURES,
    SECURITY_ACTIONS,
)

bp = Blueprint("security_log", __name__, url_prefix="/audit/security")
only_for(bp, Screen.SECURITY_LOG)

LABELS = {"login_failed": LOGIN_FAILURES, "login_locked": LOCK_LIMITS, "kinds": CREDENTIAL_KINDS,
          "changes": ADMIN_CHANGES, "contact_fields": CONTACT_FIELDS, "entities": ADMIN_ENTITIES,
          "fields": ADMIN_FIELDS}


def _filters(errors: dict) -> log.SecurityFilters:
    args = request.args
    return log.SecurityFilters(user=args.get("user") or None, action=args.get("action") or None,
                               date_from=day_arg("date_from", errors), date_to=day_arg("date_to", errors),
                               page=whole_number(args.get("page"), 1))


def _checked(filters: log.SecurityFilters, errors: dict) -> None:
    if not errors:
        try:
            filters.validate()
        except ValidationError as exc:
            errors.update({k: tr(v) for k, v in exc.errors.items()})


@bp.get("")
def index():
    errors: dict = {}
    filters = _filters(errors)
    _checked(filters, errors)
    page = chain = None
    with services().reading() as session:
        if not errors:
            page = log.search(session, actor(), filters)
            chain = log.chain_state(session, actor())
    return render_template("audit/security.html", page=page, chain=chain, filters=filters, errors=errors,
                           actions=SECURITY_ACTIONS, labels=LABELS, moment=datetime.fromisoformat,
                           query={k: v for k, v in request.args.items() if k != "page"}), (400 if errors else 200)


CSV_COLUMNS = ("seq", "occurred_at", "action", "action_label", "actor_name", "actor_user_id", "subject_username",
               "subject_user_id", "subject", "client_ip", "details", "prev_hash", "hash")


@bp.get("/export.csv")
def export():
    """The entries of the page's filter, every page, newest first: with ``sep=;`` for a
    spreadsheet set to Indonesian (a semicolon between cells), otherwise commas. Times are the
    city's (the zone named in the header); the hashes let the chain be checked against the
    database later."""
    errors: dict = {}
    filters = _filters(errors)
    _checked(filters, errors)
    if errors:
        return index()
    svc, reader = services(), actor()
    delimiter = ";" if request.args.get("sep") == ";" else ","
    zone = svc.zone
    now = svc.clock.now()
    header = [*CSV_COLUMNS]
    header[1] = f"occurred_at ({zone_name(now)})"

    def lines():
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(header)
        yield "\ufeff" + out.getvalue()
        with svc.reading() as session:
            for row in log.export(session, reader, filters):
                out.seek(0)
                out.truncate()
                label = SECURITY_ACTIONS.get(row.action)
                writer.writerow([csv_cell(v) for v in (
                    row.seq, row.occurred_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), row.action,
                    str(label) if label else row.action, row.actor_name, row.actor_user_id,
                    row.subject_username, row.subject_user_id, row.subject, row.client_ip, row.details,
                    row.prev_hash, row.hash)])
                yield out.getvalue()

    stamp = now.astimezone(zone).strftime("%Y-%m-%d")
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="security-log-{stamp}.csv"',
                             "Cache-Control": "no-store"})
