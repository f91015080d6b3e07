"""Domain errors and HTTP errors become pages (or htmx fragments) with a clear message."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ProcessError, ValidationError

from .helpers import is_htmx

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
        return render_error(exc.message, status_for(exc), reload=isinstance(exc, Conflict))

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
        }
        return render_error(messages.get(exc.code, exc.name), exc.code or 500)
