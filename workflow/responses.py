"""Response templates: ready texts staff start a closing note, a reason, dispatch instructions or a
public reply from. Seed data (``response_templates:``), per form field and category, in both
languages; placeholders name facts of the case: ``{case_number}``, ``{category}``,
``{kecamatan}``, ``{kelurahan}``, ``{team}``, ``{city}``."""

from __future__ import annotations

import string
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.store.models import Area, Case, Category, City, QrTeam, Report, ResponseTemplate

PLACEHOLDERS = ("case_number", "category", "kecamatan", "kelurahan", "team", "city")
NOTE_FORM = "note"  # form_key of the case page's note (a public reply)


def placeholders_of(text: str) -> set[str]:
    """The placeholders a template uses; a ValueError for a broken one (an unclosed brace)."""
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None}


def check_template(code: str, *texts: str) -> None:
    for text in texts:
        try:
            names = placeholders_of(text)
        except ValueError as exc:
            raise ValueError(f"response template {code}: {exc}") from None
        unknown = sorted(names - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"response template {code}: unknown placeholder(s) {', '.join(unknown)}; "
                             f"use {', '.join(PLACEHOLDERS)}")


NOTE_FIELD = "body"  # the note form's text (web.cases.NoteForm)


def misplaced(session: Session, definition) -> list[str]:
    """Templates whose form and field are not a text field of the process's forms (or the
    note's): they would never be offered. "code: why" each."""
    out = []
    for t in session.scalars(select(ResponseTemplate).order_by(ResponseTemplate.code)):
        if t.form_key == NOTE_FORM:
            if t.field != NOTE_FIELD:
                out.append(f"{t.code}: the note's text is {NOTE_FIELD!r}, not {t.field!r}")
            continue
        form = definition.forms.get(t.form_key)
        if form is None:
            out.append(f"{t.code}: no form {t.form_key!r} in tasks.yaml (forms: {', '.join(sorted(definition.forms))})")
            continue
        field = next((f for f in form.fields if f.name == t.field), None)
        if field is None or field.type != "text":
            texts = [f.name for f in form.fields if f.type == "text"]
            out.append(f"{t.code}: {t.form_key} has no text field {t.field!r} (text fields: {', '.join(texts)})")
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
    facts = _facts(session, case, locale)
    out: dict[str, list[Offered]] = {}
    for t in rows:
        text = t.text_en if locale == "en" else t.text_id
        if any(facts.get(name) is None for name in placeholders_of(text)):
            continue
        out.setdefault(t.field, []).append(Offered(t.code, t.title_en if locale == "en" else t.title_id, text.format_map(facts)))
    return out


def _facts(session: Session, case: Case, locale: str) -> dict[str, str | None]:
    report = session.get(Report, case.report_id)
    category = session.get(Category, case.category_id)
    kelurahan = session.get(Area, report.kelurahan_id) if report.kelurahan_id else None
    team = session.get(QrTeam, case.team_id) if case.team_id else None
    city = session.scalar(select(City.name).limit(1))
    return {"case_number": case.number,
            "category": category.name_en if locale == "en" else category.name_id,
            "kecamatan": session.get(Area, case.area_id).name, "kelurahan": kelurahan.name if kelurahan else None,
            "team": team.name if team else None, "city": city}
