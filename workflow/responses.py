"""Response templates: ready texts staff start a closing note, a reason, dispatch instructions or a
public reply from. Seed data (``response_templates:``), per form field and category, in both
languages; placeholders name facts of the case: ``{case_number}``, ``{category}``,
``{kecamatan}``, ``{kelurahan}``, ``{team}``, ``{city}``."""

from __future__ import annotations

import string
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.messages import Message, msg
from workflow.store.models import Area, Case, Category, City, QrTeam, Report, ResponseTemplate
from workflow.vocabulary import Role

PLACEHOLDERS = ("case_number", "category", "kecamatan", "kelurahan", "team", "city")
NOTE_FORM = "note"  # form_key of the case page's note (a public reply)


def placeholders_of(text: str) -> set[str]:
    """The placeholders a template uses; a ValueError for a broken one (an unclosed brace)."""
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def placeholder_problem(text: str) -> Message | None:
    """Why ``text`` cannot be filled in with a case's facts, or None: a brace without its pair,
    a placeholder that is not one of :data:`PLACEHOLDERS`, or one with a format or conversion
    (``{city:>9}``, ``{city!r}``), which filling it would trip over or turn into code."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return msg("a brace without its pair: write {{ and }} for a brace in the text")
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            return msg("unknown placeholder {name}; use {known}", name="{" + name + "}", known=known)
        if spec or conversion:
            return msg("write the placeholder {name} without a format", name="{" + name + "}")
    return None


def check_template(code: str, *texts: str) -> None:
    """A seed's template: a ValueError naming the template and the problem."""
    for text in texts:
        problem = placeholder_problem(text)
        if problem:
            raise ValueError(f"response template {code}: {problem}")


NOTE_FIELD = "body"  # the note form's text (web.cases.NoteForm)


def fillable(definition) -> dict[str, tuple[str, ...]]:
    """What a template can fill, ``{form key: (field names)}``: the text fields of the forms
    staff work on (a form only the reporter fills is never offered ready texts), and the note's
    text (a public reply on the case page)."""
    staff_forms = {t.form_key for t in definition.tasks.values() if t.role != Role.CITIZEN}
    out = {key: tuple(f.name for f in form.fields if f.type == "text")
           for key, form in definition.forms.items() if key in staff_forms}
    out[NOTE_FORM] = (NOTE_FIELD,)
    return {key: names for key, names in out.items() if names}


def misplaced(session: Session, definition) -> list[str]:
    """Templates whose form and field are not one :func:`fillable` names: they would never be
    offered. "code: why" each."""
    places = fillable(definition)
    out = []
    for t in session.scalars(select(ResponseTemplate).order_by(ResponseTemplate.code)):
        if t.form_key not in places:
            out.append(f"{t.code}: no form {t.form_key!r} staff fill with text "
                       f"(forms: {', '.join(sorted(places))})")
        elif t.field not in places[t.form_key]:
            out.append(f"{t.code}: {t.form_key} has no text field {t.field!r} "
                       f"(text fields: {', '.join(places[t.form_key])})")
    return out


@dataclass(frozen=True)
class Offered:
    code: str
    title: str
    text: str  # filled in for the case, in the page's language


def offered(session: Session, case: Case, form_key: str, locale: str) -> dict[str, list[Offered]]:
    """The active templates of ``form_key``'s fields for the case's category (or every
    category), by field, filled in with the case's facts; a template naming a fact the case does
    not have (no team before dispatch, no kelurahan) is left out, never sent with a gap."""
    rows = list(session.scalars(select(ResponseTemplate).where(
        ResponseTemplate.form_key == form_key, ResponseTemplate.active.is_(True),
        or_(ResponseTemplate.category_id.is_(None), ResponseTemplate.category_id == case.category_id))
        .order_by(ResponseTemplate.category_id.is_(None),
                  ResponseTemplate.title_en if locale == "en" else ResponseTemplate.title_id)))
    if not rows:
        return {}
    facts = case_facts(session, case, locale)
    out: dict[str, list[Offered]] = {}
    for t in rows:
        text = t.text_en if locale == "en" else t.text_id
        filled = fill(text, facts)
        if filled is None:
            continue
        out.setdefault(t.field, []).append(Offered(t.code, t.title_en if locale == "en" else t.title_id, filled))
    return out


def fill(text: str, facts: dict[str, str | None]) -> str | None:
    """``text`` with the facts in it; None when it names a fact the case does not have."""
    if any(facts.get(name) is None for name in placeholders_of(text)):
        return None
    return text.format_map(facts)


def case_facts(session: Session, case: Case, locale: str) -> dict[str, str | None]:
    """What the placeholders stand for on ``case``, in ``locale`` (None: the case has no such fact yet)."""
    report = session.get(Report, case.report_id)
    category = session.get(Category, case.category_id)
    kelurahan = session.get(Area, report.kelurahan_id) if report.kelurahan_id else None
    team = session.get(QrTeam, case.team_id) if case.team_id else None
    city = session.scalar(select(City.name).limit(1))
    return {"case_number": case.number,
            "category": category.name_en if locale == "en" else category.name_id,
            "kecamatan": session.get(Area, case.area_id).name, "kelurahan": kelurahan.name if kelurahan else None,
            "team": team.name if team else None, "city": city}
