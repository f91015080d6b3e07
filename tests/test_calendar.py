"""Business-time calendar: working hours in the city's zone (WITA for Makassar), weekends,
national holidays, cuti bersama, extra working days; the SLA deadlines of the process computed
with it; and the calendar as the city's data, which every worker takes up when it changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.calendar import BusinessCalendar
from workflow.calendar import Rules
from workflow.store import seed

WITA = ZoneInfo("Asia/Makassar")
SEEDED = yaml.safe_load(seed.DEFAULT_SEED.read_text(encoding="utf-8"))["city"]
_HOURS = seed.calendar_settings(SEEDED)
RULES = Rules(workdays=tuple(_HOURS["workdays"]), starts=_HOURS["work_starts"], ends=_HOURS["work_ends"],
              days=tuple(seed.calendar_days(SEEDED)))
CALENDAR = BusinessCalendar.of(RULES, lambda: WITA)  # the seed's calendar
PLAIN = BusinessCalendar(lambda: WITA)  # the same rules without cuti bersama


def wita(*args) -> datetime:
    return datetime(*args, tzinfo=WITA)


def test_friday_afternoon_plus_eight_working_hours_is_monday_afternoon():
    due = CALENDAR.add_business_time(wita(2026, 11, 27, 15, 0), timedelta(hours=8))
    assert due == wita(2026, 11, 30, 15, 0)
    assert due.tzinfo is not None


def test_start_outside_hours_counts_from_the_next_opening():
    assert CALENDAR.add_business_time(wita(2026, 11, 24, 19, 30), timedelta(hours=2)) == wita(2026, 11, 25, 10, 0)
    assert CALENDAR.add_business_time(wita(2026, 11, 28, 10, 0), timedelta(hours=1)) == wita(2026, 11, 30, 9, 0)


def test_idul_fitri_and_cuti_bersama_are_skipped():
    # Wed 18 March 15:00 + 8h: one hour on Wednesday; Thursday is Nyepi; Friday 20, Monday 23
    # and Tuesday 24 are cuti bersama; Idul Fitri is on the weekend. Seven hours on Wednesday 25.
    start = wita(2026, 3, 18, 15, 0)
    assert CALENDAR.add_business_time(start, timedelta(hours=8)) == wita(2026, 3, 25, 15, 0)
    # Without the configured cuti bersama, Friday 20 is a working day.
    assert PLAIN.add_business_time(start, timedelta(hours=8)) == wita(2026, 3, 20, 15, 0)
    assert not CALENDAR.is_working_day(datetime(2026, 3, 19).date())  # Nyepi, national
    assert not CALENDAR.is_working_day(datetime(2026, 3, 24).date())  # cuti bersama


def test_business_time_between_known_span():
    assert CALENDAR.business_time_between(wita(2026, 11, 27, 15, 0), wita(2026, 11, 30, 15, 0)) == timedelta(hours=8)
    assert CALENDAR.business_time_between(wita(2026, 11, 30, 15, 0), wita(2026, 11, 27, 15, 0)) == -timedelta(hours=8)


@settings(max_examples=200, deadline=None)
@given(start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                          timezones=st.just(timezone.utc)),
       minutes=st.integers(min_value=1, max_value=60 * 24 * 10))
def test_adding_then_measuring_gives_the_duration_back(start, minutes):
    duration = timedelta(minutes=minutes)
    due = CALENDAR.add_business_time(start, duration)
    assert due > start
    assert CALENDAR.business_time_between(start, due) == duration
    local = due.astimezone(WITA)
    assert CALENDAR.is_working_day(local.date())
    assert CALENDAR.opens < local.time() <= CALENDAR.closes


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add_business_time(datetime(2026, 11, 27, 15), timedelta(hours=1))


def _first_triage_item(settings, definition, received: datetime, zone: str | None = None):
    """The triage work item of a report received at ``received``, with the business-time
    calendar wired in as in production (and the city's zone changed to ``zone``)."""
    from sqlalchemy import select, update

    from escalation.wiring import build
    from workflow import commands
    from workflow.clock import ManualClock
    from workflow.store.models import City, WorkItem

    services = build(settings, clock=ManualClock(received), definition=definition)
    try:
        if zone:
            with services.uow() as uow:
                uow.session.execute(update(City).values(timezone=zone))
                uow.commit()
        with services.uow() as uow:
            commands.submit_report(uow, commands.ReportInput(
                category="sampah", description="Sampah menumpuk di depan pasar.", lat=-5.156,
                lon=119.405, area="mariso"))
            uow.commit()
        with services.reading() as session:
            return session.scalars(select(WorkItem).order_by(WorkItem.id.desc())).first()
    finally:
        services.dispose()


@pytest.fixture
def friday_item(settings_sqlite, definition):
    """Received Friday 27 November 15:00 WITA."""
    return _first_triage_item(settings_sqlite, definition, wita(2026, 11, 27, 15, 0))


def test_working_hours_are_those_of_the_city_time_zone_in_the_seed(settings_sqlite, definition):
    """Friday 08:30 WITA is 07:30 in a city on WIB (Asia/Jakarta), before its offices open: the
    4-hour target runs from 08:00 WIB and ends at 12:00 WIB (in Makassar it would end 12:30 WITA,
    half an hour earlier)."""
    received = wita(2026, 11, 27, 8, 30)
    assert _first_triage_item(settings_sqlite, definition, received).due_at == wita(2026, 11, 27, 12, 30)
    wib = ZoneInfo("Asia/Jakarta")
    item = _first_triage_item(settings_sqlite, definition, received, zone="Asia/Jakarta")
    assert item.due_at == datetime(2026, 11, 27, 12, 0, tzinfo=wib)


def test_process_deadlines_use_business_time(friday_item):
    """The 4-hour triage target ends Monday 11:00 WITA."""
    assert friday_item.due_at == wita(2026, 11, 30, 11, 0)


def test_at_risk_is_three_quarters_of_the_business_time_target(friday_item):
    """At risk after 3 of the 4 working hours: Monday 10:00 WITA."""
    assert friday_item.at_risk_at == wita(2026, 11, 30, 10, 0)
