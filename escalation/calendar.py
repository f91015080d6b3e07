"""Business time: working days and hours in the city's time zone, without national holidays
(the ``holidays`` package) and configured *cuti bersama* days."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[datetime, datetime]


@lru_cache(maxsize=64)
def _national_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))


@dataclass(frozen=True)
class BusinessCalendar:
    zone: Callable[[], ZoneInfo]  # the city's zone (seed data), asked when first needed
    workdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    days_off: frozenset[date] = field(default_factory=frozenset)  # cuti bersama
    country: str = "ID"

    def is_working_day(self, day: date) -> bool:
        return (day.weekday() in self.workdays and day not in self.days_off
                and day not in _national_holidays(self.country, day.year))

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


def load_calendar(path: Path, zone: Callable[[], ZoneInfo]) -> BusinessCalendar:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    opens, _, closes = str(data.get("hours", "08:00-16:00")).partition("-")
    workdays = frozenset(DAY_NAMES.index(d.lower()[:3]) for d in data.get("workdays", DAY_NAMES[:5]))
    return BusinessCalendar(
        zone=zone, workdays=workdays,
        opens=time.fromisoformat(opens.strip()), closes=time.fromisoformat(closes.strip()),
        days_off=frozenset(date.fromisoformat(str(d)) for d in data.get("cuti_bersama") or ()))
