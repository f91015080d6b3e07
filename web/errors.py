"""Domain errors and HTTP errors become pages (or htmx fragments) with a clear message."""

from __future__ import annotations

import logging

from flask import Flask, make_response, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ProcessError, ValidationError

from .helpers import conflict_message, is_htmx
from .i18n import tr

log = logging.getLogger("tanggap.web")
DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
RETRY_AFTER = "30"  # seconds: what a client should wait before trying again
STATUS = ((ValidationError, 400), (NotFound, 404), (PermissionDenied, 403), (Conflict, 409),
          (ProcessError, 500))


def status_for(exc: DomainError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 400)


def render_error(message, status: int, *, reload: bool = False):
    template = "errors/_alert.html" if is_htmx() else "errors/page.html"
    return render_template(template, message=message, status=status, reload=reload), status


def install(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if isinstance(exc, ValidationError):
            message = "; ".join(f"{name}: {tr(text)}" for name, text in exc.errors.items())
            return render_error(message, 400)
        if isinstance(exc, Conflict):
            return render_error(conflict_message(exc), 409, reload=True)
        return render_error(exc.message, status_for(exc))

    for cls in DATABASE_DOWN:
        app.register_error_handler(cls, _database_down)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return render_error(gettext("The form expired or was not sent from this site. "
                                    "Reload the page and try again."), 400, reload=True)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # URLs no API route matched still answer in the API's own error format
        if request.path.startswith("/api/v1/"):
            from .api import _http_error
            return _http_error(exc)
        if request.path.startswith("/open311/v2/"):
            from .open311 import _http_error as open311_error
            return open311_error(exc)
        messages = {
            401: gettext("Please log in."),
            403: gettext("You are not allowed to do this."),
            404: gettext("Not found."),
            405: gettext("This address does not accept that request."),
            413: gettext("The upload is too large."),
            429: gettext("Too many requests from your network; try again in a few minutes."),
        }
        from .ratelimit import with_retry_after

        page = make_response(render_error(messages.get(exc.code, exc.name), exc.code or 500))
        return with_retry_after(page, exc)


def _database_down(exc: Exception):
    """The database cannot be reached (or is overloaded): 503 with Retry-After, in the format of
    the channel asked, from a page that reads nothing from the database."""
    log.error("database unavailable: %s", exc)
    message = gettext("The service is briefly unavailable. Please try again in a moment.")
    if request.path.startswith("/api/v1/"):
        from .api import error_response
        response = error_response(503, "unavailable", message)
    elif request.path.startswith("/open311/v2/"):
        from .open311 import _errors
        response = _errors(503, [message])
    else:
        response = make_response(render_template("errors/unavailable.html", message=message), 503)
    response.headers["Retry-After"] = RETRY_AFTER
    return response
