"""Business time: working days and hours in the city's time zone, without national holidays
(the ``holidays`` package) and the city's days off, with its extra working days.

The calendar is the city's data (``workflow.calendar``: an administrator changes it on
``/admin/calendar``). :class:`CityCalendar` is what the engine holds: the :class:`BusinessCalendar`
built for the value of ``cities.calendar_hash``, which every unit of work reads once (one row,
one column) before it computes any deadline; a change made by one worker moves that value, and
every other worker, and the sweeper, rebuilds at its next unit of work. Deadlines already set keep
their time: only deadlines computed from then on use the new calendar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from workflow import calendar as rules_of
from workflow.calendar import Rules

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class BusinessCalendar:
    zone: Callable[[], ZoneInfo]  # the city's zone (seed data), asked when first needed
    workdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    days_off: frozenset[date] = field(default_factory=frozenset)  # cuti bersama, the city's holidays
    extra_working_days: frozenset[date] = field(default_factory=frozenset)  # worked all the same

    @classmethod
    def of(cls, rules: Rules, zone: Callable[[], ZoneInfo]) -> BusinessCalendar:
        return cls(zone=zone, workdays=rules.weekdays(), opens=rules.opens, closes=rules.closes,
                   days_off=rules.days_off(), extra_working_days=rules.extra_working_days())

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return (day.weekday() in self.workdays and day not in self.days_off
                and day not in rules_of.national_holidays(day.year))

    def refresh(self, session: Session, known=None) -> None:
        """A calendar given as it is: nothing to re-read."""

    def _segments(self, start: datetime) -> Iterator[Interval]:
        """Working intervals (UTC) from ``start`` on, in order."""
        if start.tzinfo is None:
            raise ValueError("business time needs timezone-aware datetimes")
        tz = self.zone()
        day = start.astimezone(tz).date()
        for _ in range(3660):  # ten years of days: far beyond any SLA
            if self.is_working_day(day):
                lo = datetime.combine(day, self.opens, tz).astimezone(timezone.utc)
                hi = datetime.combine(day, self.closes, tz).astimezone(timezone.utc)
                lo = max(lo, start.astimezone(timezone.utc))
                if lo < hi:
                    yield lo, hi
            day += timedelta(days=1)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of business time after ``start``."""
        if duration <= timedelta(0):
            return start
        remaining = duration
        for lo, hi in self._segments(start):
            if hi - lo >= remaining:
                return lo + remaining
            remaining -= hi - lo
        raise ValueError("no working time within ten years: check the calendar")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b`` (negative when ``b`` is earlier)."""
        if b < a:
            return -self.business_time_between(b, a)
        total = timedelta(0)
        b_utc = b.astimezone(timezone.utc)
        for lo, hi in self._segments(a):
            if lo >= b_utc:
                break
            total += min(hi, b_utc) - lo
        return total


class CityCalendar:
    """The SLA calendar of the city in the database (see the module's docstring). Shared by
    every thread of a process: a rebuild replaces the calendar in one assignment."""

    def __init__(self, sessions: sessionmaker[Session], zone: Callable[[], ZoneInfo]):
        self._sessions = sessions
        self._zone = zone
        self._lock = threading.Lock()
        self._built: tuple[str | None, BusinessCalendar] | None = None

    def refresh(self, session: Session, known: tuple[bool, str | None] | None = None) -> None:
        """Rebuild when ``cities.calendar_hash`` moved since the last build (one query, none when
        ``known`` gives it; two more when it moved). Nothing before there is a city."""
        has_city, key = known if known is not None else rules_of.current_hash(session)
        built = self._built
        if not has_city or (built is not None and built[0] == key):
            return
        rules = rules_of.read_rules(session)
        if rules is not None:
            self._built = (key, BusinessCalendar.of(rules, self._zone))

    @property
    def current(self) -> BusinessCalendar:
        """The calendar in use (built from the database the first time it is needed)."""
        built = self._built
        if built is None:
            with self._lock, self._sessions() as session:
                if self._built is None:
                    self.refresh(session)
            built = self._built
            if built is None:
                raise LookupError("no city in the reference data (run `tanggap seed`)")
        return built[1]

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        return self.current.add_business_time(start, duration)

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        return self.current.business_time_between(a, b)
