"""The base of every form in the app: Flask-WTF (CSRF) plus the input rule of
``workflow.text``, so a control character is a message next to its field, and the form comes
back with what was typed."""

from __future__ import annotations

from flask_wtf import FlaskForm

from workflow.text import BAD_TEXT, bad_text

from .i18n import tr


class Form(FlaskForm):
    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            values = field.data if isinstance(field.data, list) else [field.data]
            if any(isinstance(v, str) and bad_text(v) for v in values):
                field.errors = [*field.errors, tr(BAD_TEXT)] if isinstance(field.errors, list) else [tr(BAD_TEXT)]
                valid = False
        return valid
