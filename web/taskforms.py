"""WTForms built from the form definitions in ``bpmn/tasks.yaml``.

The web form only parses what the browser sends; the rules (required, conditional fields,
allowed choices) are checked once, by the domain, and its errors are shown on the fields.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, MultipleFileField
from wtforms import DateTimeLocalField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import Optional

from workflow.engine.forms import FormDefinition
from workflow.read.options import ChoiceOption

from .forms import Form


def build_form(definition: FormDefinition, options: dict[str, list[ChoiceOption]],
               locale: str, *, versioned: bool = True) -> Form:
    """``versioned``: with the hidden case version the form was rendered with (staff forms; the
    reporter's forms go by tracking code)."""
    def label(mapping) -> str:
        return mapping.get(locale) or mapping.get("id") or ""

    attrs: dict = {"version": HiddenField()} if versioned else {}
    for f in definition.fields:
        text = label(f.label)
        if f.type == "choice" and f.choices:
            choices = [C(v, label(f.choice_labels.get(v, {})) or v) for v in f.choices]
            attrs[f.name] = RadioField(text, choices=choices, validate_choice=False,
                                       validators=[Optional()])
        elif f.type == "choice":
            choices = [C("", _l("Choose"))] + [
                C(o.code, o.name_en if locale == "en" else o.name_id) for o in options[f.source]]
            attrs[f.name] = SelectField(text, choices=choices, validate_choice=False)
        elif f.type == "text":
            attrs[f.name] = TextAreaField(text, render_kw={"maxlength": f.max_length or 4000, "rows": 3})
        elif f.type == "datetime":
            attrs[f.name] = DateTimeLocalField(text, format="%Y-%m-%dT%H:%M", validators=[Optional()],
                                               render_kw={"data-now": "1"} if f.happened else None)
        elif f.type == "attachment":
            # a phone opens its rear camera; a desktop its file chooser
            kw = {"accept": "image/jpeg,image/png,image/webp", "capture": "environment"}
            if f.multiple:
                attrs[f.name] = MultipleFileField(text, render_kw={**kw, "data-max-files": f.max_files},
                                                  description=_l("Up to %(count)s photos.", count=f.max_files))
            else:
                attrs[f.name] = FileField(text, render_kw=kw)
        else:
            attrs[f.name] = StringField(text)
    return type(f"{definition.key.title()}Form", (Form,), attrs)()


def values_of(form: Form, definition: FormDefinition, zone: ZoneInfo) -> tuple[dict, dict[str, object]]:
    """(values for the domain, uploaded files by field name: a list for a field taking several);
    typed times are in ``zone``."""
    values, files = {}, {}
    for f in definition.fields:
        data = form[f.name].data
        if f.type == "attachment":
            chosen = [d for d in (data if isinstance(data, list) else [data])
                      if d is not None and getattr(d, "filename", "")]
            if chosen:
                files[f.name] = chosen if f.multiple else chosen[0]
            continue
        if f.type == "datetime" and isinstance(data, datetime):
            data = data.replace(tzinfo=zone)  # datetime-local: the city's time
        values[f.name] = data if data not in ("", None) else None
    return values, files

