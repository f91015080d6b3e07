"""What views share: the services, the acting user, a unit of work."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, current_app, request, session
from flask_babel import gettext as _
from flask_login import current_user

from workflow.access import Actor, Screen, may_use
from workflow.errors import Conflict, DomainError, NotFound, ValidationError
from workflow.services import Services
from workflow.store.security_log import Who
from workflow.text import bad_text

from .i18n import tr


def services() -> Services:
    return current_app.extensions["tanggap"]


def actor() -> Actor:
    if not current_user.is_authenticated:
        abort(401)
    return current_user.actor


def who() -> Who:
    """The logged-in user and the request's address, as the security log records who acted."""
    if not current_user.is_authenticated:
        abort(401)
    return Who(current_user.user_id, current_user.username, request.remote_addr)


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


# -- running a command ---------------------------------------------------------------------------


def run_command(command: Callable, *args, **kwargs):
    """The transaction boundary of a request: ``command(uow, *args, **kwargs)`` in one unit of
    work, committed once; its result. Domain errors go on to the app's handlers (a 409 page that
    says to reload, a 404, a 403; the JSON API and Open311 answer in their own formats)."""
    with services().uow() as uow:
        result = command(uow, *args, **kwargs)
        uow.commit()
    return result


@dataclass(frozen=True)
class Submitted:
    """What :func:`submit` did: ``ok`` (also its truth value) and the command's result."""

    ok: bool
    result: Any = None
    status: int = 400  # of the page that shows the form again: 409 for a conflict

    def __bool__(self) -> bool:
        return self.ok


def submit(form, command: Callable, *args, fallback: str, refusals_on: str | None = None,
           conflicts_on: str | None = None, **kwargs) -> Submitted:
    """:func:`run_command` for a form. A :class:`ValidationError` puts each message on the form
    field of its name (on ``fallback`` when the form has none) and nothing is saved: the caller
    renders the form again, with what was typed and a 400. With ``refusals_on``, any other
    refusal but "not found" (a feedback window that has closed, a question already answered)
    goes on that field too, instead of to an error page. With ``conflicts_on``, a conflict
    (someone else acted first) goes on that field and the form comes back with what was typed,
    as a 409."""
    try:
        return Submitted(True, run_command(command, *args, **kwargs))
    except ValidationError as exc:
        add_errors(form, exc.errors, fallback=fallback)
    except NotFound:
        raise
    except Conflict as exc:
        if conflicts_on is None and refusals_on is None:
            raise
        add_error(form, conflicts_on or refusals_on, conflict_message(exc))
        return Submitted(False, status=409 if conflicts_on else 400)
    except DomainError as exc:
        if refusals_on is None:
            raise
        add_error(form, refusals_on, exc.message)
    return Submitted(False)


def conflict_message(exc: Conflict, viewer: Actor | None = None):
    """What a conflict tells the person who acted on an older version of a case: who changed it,
    how and when, from the latest event of its trail (for a ``viewer`` who may see the case, by
    default the logged-in user); else the conflict's own message."""
    from workflow.read.changes import last_change

    from .i18n import local_time
    from .labels import actor_label, event_label

    if viewer is None and current_user.is_authenticated:
        viewer = current_user.actor
    change = None
    if exc.case_id is not None and viewer is not None:
        with services().reading() as session:
            change = last_change(session, viewer, exc.case_id)
    if change is None:
        return exc.message
    return _("%(who)s changed this case on %(when)s: %(action)s. Reload it and try again.",
             who=actor_label(change.display_name, change.role), when=local_time(change.occurred_at),
             action=event_label(change.action, change.task_name, change.data))


def add_errors(form, errors: dict, *, fallback: str) -> None:
    """Each domain message on the form field of its name (on ``fallback`` when there is none)."""
    for name, message in errors.items():
        add_error(form, name if name in form else fallback, message)


def add_error(form, name: str, message) -> None:
    field = form[name]
    field.errors = [*field.errors, tr(message)] if isinstance(field.errors, list) else [tr(message)]


HUGE = 10**18  # what an absurdly long number reads as: beyond every range, so it is refused


def whole_number(text: str | None, default: int | None = None) -> int | None:
    """A non-negative whole number typed in ASCII digits (``"²"`` and ``"١"`` are digits to
    Python, not to us), or ``default``. A number of more than 18 digits reads as :data:`HUGE`,
    which every range check refuses (int() itself refuses 4,300 digits with a ValueError)."""
    if not text or not (text.isascii() and text.isdigit()):
        return default
    return int(text) if len(text) <= 18 else HUGE


def day_arg(name: str, errors: dict) -> date | None:
    """The query string's day ``name`` (YYYY-MM-DD), or None; a message in ``errors`` when it
    cannot be read as one."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("give the date as YYYY-MM-DD")
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



WORK_LIST = "work_list"  # session key: the list (and filters) a worker last opened a task from


def remember_work_list(screen: Screen) -> None:
    """This page of ``screen`` (the inbox with its filters, the field view, the escalations) is
    where a finished task sends its worker back to. The language is the session's own, not
    part of the place."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    query = urlencode(args)
    session[WORK_LIST] = {"screen": str(screen), "path": (request.path + (f"?{query}" if query else ""))[:1000]}


def forget_work_list() -> None:
    session.pop(WORK_LIST, None)


def work_list() -> str:
    """Where to go after finishing a task: the list remembered, if it is still a page of this
    site the person may use; else their home."""
    from .auth import home_for

    saved = session.get(WORK_LIST)
    if isinstance(saved, dict) and saved.get("screen") in {str(s) for s in Screen} \
            and may_use(actor(), Screen(saved["screen"])):
        path = safe_next(saved.get("path"), "")
        if path:
            return path
    return home_for(current_user)
