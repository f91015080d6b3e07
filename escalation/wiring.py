"""Services with business-time SLA deadlines: what the CLI, the web app and the worker run."""

from __future__ import annotations

from workflow.clock import Clock
from workflow.config import Settings
from workflow.services import Services, build_services

from .calendar import load_calendar


def build(settings: Settings, *, clock: Clock | None = None, **kwargs) -> Services:
    rules = settings.bpmn_dir / "calendar.yaml"
    return build_services(settings, clock=clock, calendar=lambda zone: load_calendar(rules, zone), **kwargs)
