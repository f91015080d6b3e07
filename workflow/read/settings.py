"""What the administration pages of the city's settings show: the business calendar of a year
(national holidays beside the city's own days), and the administrators' texts of notice
templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.calendar import Rules, national_holidays, read_rules
from workflow.store.models import CalendarDay, NoticeTemplate

NATIONAL = "national"  # an entry's kind for a national holiday (the package's, read-only)


@dataclass(frozen=True)
class CalendarEntry:
    day: date
    kind: str  # NATIONAL or a workflow.vocabulary.DayKind
    text: str  # the holiday's name, or the note
    day_id: int | None = None  # the calendar_days row an administrator may remove (None: national)


@dataclass(frozen=True)
class CalendarYear:
    rules: Rules
    year: int
    years: tuple[int, ...]  # the years the page offers: this one and the next
    entries: list[CalendarEntry]


def calendar_year(session: Session, *, today: date, year: int | None, language: str) -> CalendarYear:
    """The days of ``year`` (this year or the next; anything else reads as this year) that are
    not like the rest of their week: national holidays named in ``language``, and the city's
    days, by date (a national holiday first)."""
    years = (today.year, today.year + 1)
    year = year if year in years else today.year
    rules = read_rules(session)
    if rules is None:
        raise LookupError("no city in the reference data (run `tanggap seed`)")
    entries = [CalendarEntry(day, NATIONAL, name) for day, name in national_holidays(year, language).items()]
    rows = session.scalars(select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                     CalendarDay.day <= date(year, 12, 31)))
    entries += [CalendarEntry(r.day, str(r.kind), r.note, r.id) for r in rows]
    entries.sort(key=lambda e: (e.day, e.kind != NATIONAL))
    return CalendarYear(rules=rules, year=year, years=years, entries=entries)


@dataclass(frozen=True)
class TemplateText:
    """An administrator's text of a notice template."""

    body: str
    changed_at: datetime
    changed_by: str


def notice_texts(session: Session) -> dict[tuple[str, str], str]:
    """The administrators' texts by (language, name): what the delivery worker renders instead
    of the files (read once a round)."""
    return {(r.language, r.name): r.body for r in session.execute(
        select(NoticeTemplate.language, NoticeTemplate.name, NoticeTemplate.body))}


def changed_templates(session: Session) -> dict[tuple[str, str], TemplateText]:
    return {(r.language, r.name): TemplateText(r.body, r.changed_at, r.changed_by)
            for r in session.scalars(select(NoticeTemplate))}


def changed_template(session: Session, language: str, name: str) -> TemplateText | None:
    row = session.scalar(select(NoticeTemplate).where(NoticeTemplate.language == language,
                                                      NoticeTemplate.name == name))
    return TemplateText(row.body, row.changed_at, row.changed_by) if row else None
