"""The city's business calendar as data: its working week and hours (``cities.workdays``,
``work_starts``, ``work_ends``) and the days that differ from that week (``calendar_days``:
cuti bersama, the city's own holidays, extra working days), on top of the national holidays of
the ``holidays`` package. ``escalation.calendar`` computes business time from it.

The rules a calendar must keep are here, once, for the administration page and the seed: the
hours are ``HH:MM`` and the day starts before it ends, at least one day of the week is worked,
a day is listed once. ``calendar_hash`` is the key the SLA calendar is built for: every change
refreshes it (:func:`refresh_calendar_hash`) in the same transaction, and every worker rebuilds
its calendar when it sees the value move.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.messages import Message, msg
from workflow.store.models import CalendarDay, City
from workflow.vocabulary import DayKind

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # Monday = 0, as date.weekday()
COUNTRY = "ID"  # national holidays: Indonesia
NOTE_MAX = 200
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class Rules:
    """The calendar as stored: what business time is computed from."""

    workdays: tuple[str, ...]  # day names in week order
    starts: str  # HH:MM
    ends: str
    days: tuple[tuple[date, DayKind, str], ...]  # (day, kind, note), by day

    @property
    def opens(self) -> time:
        return time.fromisoformat(self.starts)

    @property
    def closes(self) -> time:
        return time.fromisoformat(self.ends)

    def weekdays(self) -> frozenset[int]:
        return frozenset(DAY_NAMES.index(d) for d in self.workdays)

    def days_off(self) -> frozenset[date]:
        return frozenset(d for d, kind, _ in self.days if kind != DayKind.WORKING_DAY)

    def extra_working_days(self) -> frozenset[date]:
        return frozenset(d for d, kind, _ in self.days if kind == DayKind.WORKING_DAY)

    def digest(self) -> str:
        """SHA-256 of everything business time depends on, and of the notes (what the page shows)."""
        body = [list(self.workdays), self.starts, self.ends,
                [[d.isoformat(), str(kind), note] for d, kind, note in self.days]]
        return hashlib.sha256(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()

    def hours_token(self) -> str:
        """What the working-hours form was shown (an edit made meanwhile changes it)."""
        return f"{','.join(self.workdays)}|{self.starts}|{self.ends}"


def read_rules(session: Session) -> Rules | None:
    """The calendar of the city in the database; None before there is a city (run the seed)."""
    city = session.execute(select(City.workdays, City.work_starts, City.work_ends)
                           .order_by(City.id).limit(1)).first()
    if city is None:
        return None
    days = session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.note).order_by(CalendarDay.day))
    return Rules(workdays=in_week_order(city.workdays), starts=city.work_starts, ends=city.work_ends,
                 days=tuple((d.day, DayKind(d.kind), d.note) for d in days))


def current_hash(session: Session) -> tuple[bool, str | None]:
    """(whether there is a city, its ``calendar_hash``): the one cheap read of a refresh."""
    row = session.execute(select(City.calendar_hash).order_by(City.id).limit(1)).first()
    return (row is not None, row[0] if row is not None else None)


def refresh_calendar_hash(session: Session) -> None:
    """After a change of the calendar, in its transaction: every worker then rebuilds."""
    session.flush()
    rules = read_rules(session)
    if rules is None:
        return
    for city in session.scalars(select(City)):
        city.calendar_hash = rules.digest()


def in_week_order(names) -> tuple[str, ...]:
    return tuple(d for d in DAY_NAMES if d in set(names))


# -- the rules a change keeps ----------------------------------------------------------------------


def hours_problems(workdays, starts: str | None, ends: str | None) -> dict[str, Message]:
    """Messages by field (``workdays``, ``starts``, ``ends``) for a working week that cannot be
    used; empty when it can."""
    errors: dict[str, Message] = {}
    names = list(workdays or [])
    if any(d not in DAY_NAMES for d in names):
        errors["workdays"] = msg("choose days of the week")
    elif not names:
        errors["workdays"] = msg("choose at least one working day")
    opens, closes = parse_hhmm(starts), parse_hhmm(ends)
    for name, raw, value in (("starts", starts, opens), ("ends", ends, closes)):
        if not (raw or "").strip():
            errors[name] = msg("this field is required")
        elif value is None:
            errors[name] = msg("write the time as HH:MM, for example 08:00")
    if opens is not None and closes is not None and opens >= closes:
        errors["ends"] = msg("the working day must end after it starts")
    return errors


def parse_hhmm(text: str | None) -> time | None:
    """``"08:00"`` as a time; None for anything else (``"8:00"``, ``"08:00:00"``, ``"24:00"``)."""
    match = _HHMM.fullmatch((text or "").strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` as a date; None for anything else."""
    raw = (text or "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


# -- national holidays -------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def national_holidays(year: int, language: str = "id") -> dict[date, str]:
    """The national holidays of ``year``, named in ``language`` (``id`` or ``en``)."""
    names = holidays.country_holidays(COUNTRY, years=year, language="en_US" if language == "en" else "id")
    return dict(sorted(names.items()))
