"""Services with business-time SLA deadlines: what the CLI, the web app and the worker run."""

from __future__ import annotations

from workflow.clock import Clock
from workflow.config import Settings
from workflow.services import Services, build_services

from .calendar import CityCalendar


def build(settings: Settings, *, clock: Clock | None = None, **kwargs) -> Services:
    """The SLA calendar is the city's, read from the database (``escalation.calendar``)."""
    return build_services(settings, clock=clock, calendar=CityCalendar, **kwargs)
