"""The field view ``/lapangan``: a QR officer's tasks as cards on a phone, with one tap to
navigate there and one to open the task."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from workflow.access import Screen
from workflow.read.field import field_cards

from .helpers import actor, only_for, remember_work_list, services

bp = Blueprint("field", __name__, url_prefix="/lapangan")
only_for(bp, Screen.FIELD)
worker = Blueprint("field_worker", __name__)  # /sw.js: a service worker's scope is its own path's


@worker.get("/sw.js")
def service_worker():
    """The field view's offline copies (web/static/field-sw.js), served from the root so that it
    may keep the task pages too; never cached itself, so an update reaches every phone."""
    response = send_from_directory(current_app.static_folder, "field-sw.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("")
def index():
    remember_work_list(Screen.FIELD)
    now = services().clock.now()
    with services().reading() as session:
        cards = field_cards(session, services().definition, actor(), now)
    return render_template("field/index.html", cards=cards, now=now, en=str(get_locale()) == "en",
                           me=actor().user_id)


@bp.get("/token")
def token():
    """A CSRF token of this session, for the field view sending forms kept without signal (theirs
    may be of an earlier session). Never cached."""
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response
