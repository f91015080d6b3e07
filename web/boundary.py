"""The edge of the app: input no page or API could use is refused before a view runs.

* Path values and query parameters with control characters or broken Unicode (a NUL would
  reach PostgreSQL as a 500) get a 400 naming the parameter; ids no column can hold are 404.
* JSON bodies: too deeply nested (the parser would overflow the stack) or holding such text
  anywhere are a 400 naming the field.
* Form bodies of the machine channels (Open311, the JSON API) likewise. Staff and citizen forms
  are checked field by field by :class:`web.forms.Form`, so they re-render with the message next
  to the field and keep what was typed.

Each blueprint's own error handler answers in its format (a page, JSON, Open311 XML/JSON).
"""

from __future__ import annotations

from flask import Flask, abort, request

from workflow.engine.forms import ID_LIMIT
from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.text import BAD_TEXT, bad_text, check_fields

FORM_CHECKED_BLUEPRINTS = ("open311", "api")


def _check_pairs(pairs, errors: dict) -> None:
    for name, value in pairs:
        if bad_text(name):
            errors.setdefault("parameter", BAD_TEXT)
        elif isinstance(value, str) and bad_text(value):
            errors.setdefault(name, BAD_TEXT)


def install(app: Flask) -> None:
    @app.url_value_preprocessor
    def _path_values(_endpoint, values):
        errors: dict = {}
        for name, value in (values or {}).items():
            # an id no database column can hold is simply not found (not a 500 from the driver)
            if isinstance(value, int) and not 0 < value < ID_LIMIT:
                abort(404)
            if isinstance(value, str) and bad_text(value):
                errors[name] = BAD_TEXT
        if errors:
            raise ValidationError(errors)

    @app.before_request
    def _inputs():
        if request.routing_exception is not None:  # no such page: its 404/405 answers first
            return
        errors: dict = {}
        _check_pairs(request.args.items(multi=True), errors)
        if request.blueprint in FORM_CHECKED_BLUEPRINTS:
            _check_pairs(request.form.items(multi=True), errors)
        if request.is_json:  # with or without a Content-Length (a chunked body has none)
            try:
                body = request.get_json(silent=True)
            except RecursionError:
                raise ValidationError({"body": msg("nested too deeply")}) from None
            if body is not None:
                check_fields({"": body} if not isinstance(body, dict) else body, errors)
        if errors:
            raise ValidationError(errors)
