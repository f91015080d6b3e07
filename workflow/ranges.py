"""Bounds on numbers and dates that come from outside: beyond them an input is refused with a
message naming the field, long before a database driver or date arithmetic would fail on it."""

from __future__ import annotations

from datetime import date, datetime, timezone

from workflow.errors import ValidationError
from workflow.messages import msg

MAX_PAGE = 100_000  # pages of a list; 25 rows a page is 2.5M rows
FIRST_DAY = date(2000, 1, 1)  # no report, deadline or period lies outside these
LAST_DAY = date(2099, 12, 31)
_FIRST = datetime(FIRST_DAY.year, 1, 1, tzinfo=timezone.utc)
_LAST = datetime(LAST_DAY.year + 1, 1, 1, tzinfo=timezone.utc)

OUT_OF_RANGE = msg("give a date between {first} and {last}", first=FIRST_DAY.isoformat(),
                   last=LAST_DAY.isoformat())


def day_in_range(value: date) -> bool:
    return FIRST_DAY <= value <= LAST_DAY


def moment_in_range(value: datetime) -> bool:
    return _FIRST <= value < _LAST


def check_day(value: date | None, field: str, errors: dict) -> date | None:
    if value is not None and not day_in_range(value):
        errors[field] = OUT_OF_RANGE
        return None
    return value


def check_moment(value: datetime | None, field: str, errors: dict) -> datetime | None:
    if value is not None and not moment_in_range(value):
        errors[field] = OUT_OF_RANGE
        return None
    return value


def require_moment(value: datetime, field: str) -> datetime:
    errors: dict = {}
    check_moment(value, field, errors)
    if errors:
        raise ValidationError(errors)
    return value


def parse_moment(raw: str | None, field: str, errors: dict) -> datetime | None:
    """An ISO 8601 date and time with its offset (``2026-11-23T08:00:00+08:00``, ``...Z``)
    from outside; None when absent. Without an offset, unreadable or out of range, the field's
    message goes into ``errors``."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or value.utcoffset() is None:
        errors[field] = msg("give an ISO 8601 date and time with a time zone")
        return None
    return check_moment(value, field, errors)
