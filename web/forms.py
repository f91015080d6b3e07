"""The base of every form in the app: Flask-WTF (CSRF) plus the input rule of
``workflow.text``, so a control character is a message next to its field, and the form comes
back with what was typed."""

from __future__ import annotations

import flask_babel
from flask import g
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import widgets

from workflow.text import BAD_TEXT, bad_text

from .i18n import tr


class _Catalog:
    """WTForms' own messages ("This field is required.", "Not a valid choice.") through the app's
    catalogue: WTForms ships no Indonesian, so ours has them."""

    # the raw catalogue: WTForms fills in its own %(max)d, which Flask-Babel's helpers would try first

    def gettext(self, string: str) -> str:
        return flask_babel.get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return flask_babel.get_translations().ungettext(singular, plural, n)


CATALOG = _Catalog()


class Select(widgets.Select):
    """WTForms' select, with its plain options (no attributes of their own) written directly: the
    report form lists every kelurahan, and WTForms' generic attribute writer made those options
    a third of the page's time (``bench.http_load``). The same markup, byte for byte."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""  # WTForms writes attributes in name order
        label = escape(choice.label or choice.value)
        return Markup(f'<option {selected}value="{escape(choice.value)}">{label}</option>')


class Form(FlaskForm):
    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return CATALOG

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            values = field.data if isinstance(field.data, list) else [field.data]
            if any(isinstance(v, str) and bad_text(v) for v in values):
                field.errors = [*field.errors, tr(BAD_TEXT)] if isinstance(field.errors, list) else [tr(BAD_TEXT)]
                valid = False
        return valid


# -- what ties a control to its messages (templates: _macros.html) --------------------------------

def error_id(field, n: int) -> str:
    """The id of a field's ``n``-th error message (from 1), which its control names in
    ``aria-describedby``."""
    return f"{field.id}-error-{n}"


def control_attrs(field, attrs: dict, *, hint_id: str | None = None, focus: bool = True) -> dict:
    """The HTML attributes of a field's control: ``attrs`` (the template's), plus
    ``aria-describedby`` naming its hint and error messages, ``aria-invalid`` and, on the first
    control with an error a page renders, ``autofocus`` (``focus=False``: never this control, as
    for the second option of a radio group)."""
    described = [attrs.get("aria_describedby"), hint_id,
                 *(error_id(field, n) for n in range(1, len(field.errors) + 1))]
    out = dict(attrs)
    if any(described):
        out["aria_describedby"] = " ".join(d for d in described if d)
    if field.errors:
        out["aria_invalid"] = "true"
        if focus and focus_here():
            out["autofocus"] = True
    return out


def focus_here() -> bool:
    """True the first time a page asks (its first control with an error: it takes the focus
    when the page opens, so a keyboard or screen-reader user starts at what to fix)."""
    if g.get("tanggap_error_focused"):
        return False
    g.tanggap_error_focused = True
    return True
