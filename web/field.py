"""The field view ``/lapangan``: a QR officer's tasks as cards on a phone, with one tap to
navigate there and one to open the task."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import get_locale

from workflow.access import Screen
from workflow.read.field import field_cards

from .helpers import actor, only_for, remember_work_list, services

bp = Blueprint("field", __name__, url_prefix="/lapangan")
only_for(bp, Screen.FIELD)


@bp.get("")
def index():
    remember_work_list(Screen.FIELD)
    now = services().clock.now()
    with services().reading() as session:
        cards = field_cards(session, services().definition, actor(), now)
    return render_template("field/index.html", cards=cards, now=now, en=str(get_locale()) == "en",
                           me=actor().user_id)
