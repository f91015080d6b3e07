"""What views share: the services, the acting user, a unit of work."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from workflow.actors import Actor
from workflow.services import Services


def services() -> Services:
    return current_app.extensions["tanggap"]


def actor() -> Actor:
    if not current_user.is_authenticated:
        abort(401)
    return current_user.actor


def only_for(bp: Blueprint, *roles) -> None:
    """Every page of ``bp``: anonymous users go to the login page, other roles get a 403."""

    @bp.before_request
    def _gate():
        from .extensions import login_manager

        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not actor().has_role(*roles):
            abort(403)
        return None


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def read_upload(upload) -> bytes:
    """The bytes of an uploaded file; its spooled temporary file is closed right away."""
    try:
        return upload.read()
    finally:
        upload.close()


def safe_next(target: str | None, default: str) -> str:
    """Only local paths: never redirect a login to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (dicts as JSON)."""
    import json

    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else (
        "" if value is None else str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text

