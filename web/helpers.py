"""What views share: the services, the acting user, a unit of work."""

from __future__ import annotations

import functools
import json
import re
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from workflow.access import Actor, Screen, may_use
from workflow.services import Services
from workflow.text import bad_text


def services() -> Services:
    return current_app.extensions["tanggap"]


def actor() -> Actor:
    if not current_user.is_authenticated:
        abort(401)
    return current_user.actor


def refuse_unless(screen: Screen):
    """The one gate of a screen: anonymous users go to the login page, users without a role
    for it get a 403. Returns the redirect to answer instead of the page, or None."""
    from .extensions import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not may_use(actor(), screen):
        abort(403)
    return None


def only_for(bp: Blueprint, screen: Screen) -> None:
    """Gate every page of ``bp`` as ``screen``."""
    bp.before_request(lambda: refuse_unless(screen))


def screen_of(screen: Screen):
    """Gate one view as ``screen`` (for blueprints whose other pages are for other roles)."""

    def decorate(view):
        @functools.wraps(view)
        def gated(*args, **kwargs):
            return refuse_unless(screen) or view(*args, **kwargs)

        return gated

    return decorate


HUGE = 10**18  # what an absurdly long number reads as: beyond every range, so it is refused


def whole_number(text: str | None, default: int | None = None) -> int | None:
    """A non-negative whole number typed in ASCII digits (``"²"`` and ``"١"`` are digits to
    Python, not to us), or ``default``. A number of more than 18 digits reads as :data:`HUGE`,
    which every range check refuses (int() itself refuses 4,300 digits with a ValueError)."""
    if not text or not (text.isascii() and text.isdigit()):
        return default
    return int(text) if len(text) <= 18 else HUGE


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def read_upload(upload) -> bytes:
    """The bytes of an uploaded file; its spooled temporary file is closed right away."""
    try:
        return upload.read()
    finally:
        upload.close()


def safe_next(target: str | None, default: str) -> str:
    """Only a path of this site: never redirect a login to another one.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so ``/\t/host``
    or ``/\\host`` would leave the site; any such character, or anything with a scheme or a
    host, falls back to ``default``.
    """
    if not target or any(ch <= " " or ch in "\\\x7f" for ch in target) or bad_text(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A cell such as "a;=HYPERLINK(...)" is one cell here, but two in a spreadsheet whose list
# separator is ";" (Indonesian Excel), the second one a formula.
_AFTER_SEPARATOR = re.compile(r"(;)(\s*)([=+\-@\t\r])")


def csv_cell(value) -> str:
    """A CSV cell no spreadsheet runs as a formula, whatever its list separator (dicts as JSON):
    a ``'`` where a formula could start: at the start of the cell, or after a ``;``."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else (
        "" if value is None else str(value))
    text = _AFTER_SEPARATOR.sub(r"\1\2'\3", text)
    return "'" + text if text.startswith(FORMULA_START) else text

