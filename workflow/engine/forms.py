"""Form definitions for BPMN user tasks, loaded from ``bpmn/tasks.yaml``, and their validation.

A definition says which fields a task expects; :func:`clean` turns submitted values into task
data or raises :class:`~workflow.errors.ValidationError` naming every offending field. Choices
that depend on the database (categories, agencies, teams) come from a resolver the caller passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.ranges import OUT_OF_RANGE, moment_in_range
from workflow.text import BAD_TEXT, bad_text

FIELD_TYPES = {"choice", "text", "datetime", "attachment", "case_ref"}
RATING_PARTS = {"score", "comment"}  # what a field marked ``rating:`` holds
CASE_NUMBER_RE = re.compile(r"^\d{4}-\d{6}$")
ID_LIMIT = 2**31  # ids are 32-bit integers
MAX_FILES_LIMIT = 10  # photos one field may take: a request carries at most this many uploads per field


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    label: Mapping[str, str]
    required: bool = False
    required_if: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required_with: tuple[str, ...] = ()  # required when any of these fields has a value
    only_if: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # may be filled only then
    choices: tuple[str, ...] = ()
    choice_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str | None = None
    max_length: int | None = None
    kind: str | None = None  # attachment kind
    public: bool = False  # the reporter reads it as the case's closing note
    merge_into: bool = False  # case_ref: a case the process ends as merged merges into this one
    happened: bool = False  # datetime: a moment between the report and now
    max_files: int = 1  # attachment: more than 1 takes a list of photos (before and after a visit)
    rating: str | None = None  # "score": the reporter's rating of the handling; "comment": its comment

    @property
    def multiple(self) -> bool:
        return self.type == "attachment" and self.max_files > 1

    def is_required(self, values: Mapping[str, Any]) -> bool:
        if self.required:
            return True
        return any(values.get(other) in allowed for other, allowed in self.required_if.items()) or any(
            values.get(other) not in (None, "", []) for other in self.required_with)

    def is_allowed(self, values: Mapping[str, Any]) -> bool:
        """Whether the field may be filled, given the other values (``only_if``)."""
        return not self.only_if or any(values.get(other) in allowed for other, allowed in self.only_if.items())

    def describe(self) -> dict:
        """A JSON-safe description (for APIs and generated forms)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "label": dict(self.label),
                               "required": self.required}
        if self.required_if:
            out["required_if"] = {k: list(v) for k, v in self.required_if.items()}
        if self.required_with:
            out["required_with"] = list(self.required_with)
        if self.only_if:
            out["only_if"] = {k: list(v) for k, v in self.only_if.items()}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.source:
            out["source"] = self.source
        if self.max_length:
            out["max_length"] = self.max_length
        if self.kind:
            out["kind"] = self.kind
        if self.multiple:
            out["max_files"] = self.max_files
        return out


@dataclass(frozen=True)
class FormDefinition:
    key: str
    title: Mapping[str, str]
    fields: tuple[FormField, ...]

    def field(self, name: str) -> FormField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def decision(self) -> FormField | None:
        """The field that says what was decided: the first required choice among fixed choices
        (triage's valid/reject/duplicate, verification's approve/send back); None for a form
        that only records (dispatch, field work)."""
        return next((f for f in self.fields if f.type == "choice" and f.required and f.choices and not f.source),
                    None)

    def describe(self) -> dict:
        return {"key": self.key, "title": dict(self.title),
                "fields": [f.describe() for f in self.fields]}


def parse_forms(raw: Mapping[str, Any]) -> dict[str, FormDefinition]:
    forms = {}
    for key, spec in raw.items():
        fields = []
        for f in spec["fields"]:
            if f["type"] not in FIELD_TYPES:
                raise ValueError(f"form {key}: field {f['name']} has unknown type {f['type']}")
            fields.append(FormField(
                name=f["name"], type=f["type"], label=f.get("label", {}),
                required=bool(f.get("required", False)),
                required_if={k: tuple(v) for k, v in (f.get("required_if") or {}).items()},
                required_with=tuple(f.get("required_with") or ()),
                only_if={k: tuple(v) for k, v in (f.get("only_if") or {}).items()},
                choices=tuple(str(c) for c in f.get("choices", ())), choice_labels={str(k): v for k, v in (f.get("choice_labels") or {}).items()},
                source=f.get("source"), max_length=f.get("max_length"), kind=f.get("kind"),
                public=bool(f.get("public", False)), merge_into=bool(f.get("merge_into", False)),
                happened=bool(f.get("happened", False)), max_files=_max_files(key, f),
                rating=_rating(key, f)))
        names = {f.name for f in fields}
        for f in fields:
            unknown = sorted((set(f.required_if) | set(f.required_with) | set(f.only_if)) - names)
            if unknown:
                raise ValueError(f"form {key}: field {f.name} depends on fields the form does not have: "
                                 + ", ".join(unknown))
        forms[key] = FormDefinition(key=key, title=spec.get("title", {}), fields=tuple(fields))
    return forms


def _max_files(form: str, spec: Mapping[str, Any]) -> int:
    value = spec.get("max_files", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FILES_LIMIT:
        raise ValueError(f"form {form}: field {spec['name']}: max_files must be a whole number "
                         f"from 1 to {MAX_FILES_LIMIT}")
    if value > 1 and spec["type"] != "attachment":
        raise ValueError(f"form {form}: field {spec['name']}: only attachment fields take max_files")
    return value


def _rating(form: str, spec: Mapping[str, Any]) -> str | None:
    value = spec.get("rating")
    if value is None:
        return None
    if value not in RATING_PARTS:
        raise ValueError(f"form {form}: field {spec['name']}: rating must be one of {sorted(RATING_PARTS)}")
    return value


ChoiceResolver = Callable[[str], set[str]]
"""Given a choice ``source`` name, the set of codes valid for this task right now."""


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(msg("needs a time zone (for example +08:00)"))
    if not moment_in_range(dt):
        raise ValueError(OUT_OF_RANGE)
    return dt.astimezone(timezone.utc)


def clean(form: FormDefinition, values: Mapping[str, Any], resolve: ChoiceResolver) -> dict[str, Any]:
    """Validate ``values`` against ``form``; return task data for every field of the form.

    Unknown fields are refused rather than dropped so that a typo never loses input silently.
    """
    errors: dict[str, str] = {}
    known = {f.name for f in form.fields}
    for name in values:
        if name not in known:
            errors[name] = msg("unknown field for this task")

    raw: dict[str, Any] = {}
    for f in form.fields:
        value = values.get(f.name)
        if isinstance(value, str):
            if bad_text(value):
                errors[f.name] = BAD_TEXT
                value = None
            value = value.strip() if value is not None else None
        raw[f.name] = None if value in ("", None, []) else value

    cleaned: dict[str, Any] = {}
    for f in form.fields:
        value = raw[f.name]
        if f.name in errors:
            continue
        if value is None:
            if f.is_required(raw):
                errors[f.name] = msg("this field is required")
            cleaned[f.name] = None
            continue
        if not f.is_allowed(raw):
            errors[f.name] = msg("leave this empty with the answer you chose")
            continue
        try:
            cleaned[f.name] = _clean_value(f, value, resolve)
        except ValueError as exc:
            errors[f.name] = exc.args[0] if exc.args else str(exc)
    if errors:
        raise ValidationError(errors)
    return cleaned


def check_count(f: FormField, count: int) -> None:
    """ValueError when ``count`` photos are more than the field takes (checked before any is decoded)."""
    if count > f.max_files:
        raise ValueError(msg("at most {limit} photos", limit=f.max_files) if f.multiple
                         else msg("this field takes one photo"))


def _attachment_id(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(msg("must be an attachment id"))
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(msg("must be an attachment id")) from None
    if not 0 < number < ID_LIMIT:  # beyond any id column: the driver would fail, not "not found"
        raise ValueError(msg("must be an attachment id"))
    return number


def _clean_value(f: FormField, value: Any, resolve: ChoiceResolver) -> Any:
    if f.type == "choice":
        value = str(value)
        allowed = set(f.choices) if f.choices else resolve(f.source or "")
        if value not in allowed:
            raise ValueError(msg("{value} is not one of the allowed choices", value=repr(value)))
        return value
    if f.type == "text":
        if not isinstance(value, str):
            raise ValueError(msg("must be text"))
        if f.max_length and len(value) > f.max_length:
            raise ValueError(msg("must be at most {limit} characters", limit=f.max_length))
        return value
    if f.type == "datetime":
        try:
            return _parse_datetime(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(msg("not a valid date and time: {detail}", detail=exc.args[0] if exc.args else exc)) from None
    if f.type == "attachment" and f.multiple:
        ids = value if isinstance(value, (list, tuple)) else [value]  # one photo of several: its id alone
        if not ids:
            return None
        check_count(f, len(ids))
        numbers = [_attachment_id(v) for v in ids]
        if len(set(numbers)) != len(numbers):
            raise ValueError(msg("the same photo is named twice"))
        return numbers
    if f.type == "attachment":
        return _attachment_id(value)
    if f.type == "case_ref":
        value = str(value)
        if not CASE_NUMBER_RE.match(value):
            raise ValueError(msg("must be a case number like 2026-000123"))
        return value
    raise ValueError(f"unsupported field type {f.type}")
