"""SLA deadlines on a running workflow: the functions timer expressions call, the deadline of a
task, moving it, and stopping its clock while the case waits for the reporter.

A task's SLA lives in its non-interrupting boundary timers; a timer's deadline is its
``internal_data['event_value']`` (an ISO string SpiffWorkflow computed when the timer started
waiting), which is what these functions read and rewrite.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from workflow.clock import Clock
from workflow.engine import side_tasks
from workflow.engine.definition import ProcessDefinition

PAUSED_UNTIL = "9999-12-31T23:59:59+00:00"  # a paused timer's deadline: it cannot fire


class SlaCalendar(Protocol):
    """Business time (``escalation.calendar.CityCalendar``); without one, elapsed time."""

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime: ...

    def business_time_between(self, a: datetime, b: datetime) -> timedelta: ...

    def refresh(self, session, known: tuple[bool, str | None] | None = None) -> None:
        """Take up a change of the calendar made since (by this worker or another): every unit
        of work calls it once, before it computes a deadline; one cheap query at most.
        ``known``: (whether there is a city, its ``calendar_hash``) when the caller has read
        them in this transaction already."""


class ElapsedTime:
    """The calendar of a city that works around the clock."""

    @staticmethod
    def add_business_time(start: datetime, duration: timedelta) -> datetime:
        return start + duration

    @staticmethod
    def business_time_between(a: datetime, b: datetime) -> timedelta:
        return b - a

    @staticmethod
    def refresh(session, known=None) -> None:
        """Around the clock has nothing to re-read."""


def deadline_functions(clock: Clock, calendar: SlaCalendar | None = None) -> dict:
    """Functions exposed to BPMN expressions for timer deadlines.

    ``sla_due(duration)`` adds a business-time duration on ``calendar`` (elapsed time when there
    is none); ``calendar_due(duration)`` always adds elapsed time. Both return an aware ISO
    datetime, which is what a ``timeDate`` timer needs.
    """
    calendar = calendar or ElapsedTime()

    def _delta(duration: str):
        parsed = TimerEventDefinition.parse_iso_duration(str(duration))
        return TimerEventDefinition.get_timedelta_from_start(parsed, clock.now())

    def calendar_due(duration: str) -> str:
        return (clock.now() + _delta(duration)).isoformat()

    def sla_due(duration: str, factor: float = 1) -> str:
        return calendar.add_business_time(clock.now(), _delta(duration) * factor).isoformat()

    return {"sla_due": sla_due, "calendar_due": calendar_due}


def duration(value: str, start: datetime) -> timedelta:
    """An ISO 8601 duration (``PT4H``, ``P2D``) as a timedelta from ``start``."""
    return TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value), start)


def sla_timers(task) -> list:
    """The task's non-interrupting boundary timers with a date deadline."""
    return [s for s in (task.parent.children if task.parent else [])
            if isinstance(getattr(s.task_spec, "event_definition", None), TimerEventDefinition)
            and not getattr(s.task_spec, "cancel_activity", True)
            and isinstance(s.internal_data.get("event_value"), str)]


def deadline(task) -> datetime | None:
    """The task's SLA deadline: the earliest of its boundary timers, fired ones included (a
    fired timer keeps its deadline); non-interrupting timers first, as those are SLAs."""
    timers = [(bool(getattr(s.task_spec, "cancel_activity", True)), s.internal_data.get("event_value"))
              for s in (task.parent.children if task.parent else [])
              if isinstance(getattr(s.task_spec, "event_definition", None), TimerEventDefinition)
              and "paused_remaining" not in s.internal_data]
    values = [v for _i, v in timers if isinstance(v, str)]
    sla = [v for interrupting, v in timers if not interrupting and isinstance(v, str)] or values
    if not sla:
        return None
    return min(datetime.fromisoformat(v).astimezone(timezone.utc) for v in sla)


def paused_since(task) -> datetime | None:
    paused = [datetime.fromisoformat(s.internal_data["paused_at"])
              for s in sla_timers(task) if "paused_at" in s.internal_data]
    return min(paused).astimezone(timezone.utc) if paused else None


def is_paused(timer_task) -> bool:
    return "paused_remaining" in timer_task.internal_data


def move_deadline(task, new_due: datetime, calendar: SlaCalendar) -> dict:
    """Move a READY task's SLA deadline: its earliest non-interrupting timer goes to
    ``new_due``, later ones keep their business-time distance from it. Returns
    {timer name: new deadline} for the audit trail."""
    timers = sorted(
        ((datetime.fromisoformat(s.internal_data["event_value"]).astimezone(timezone.utc), s)
         for s in sla_timers(task) if not is_paused(s)),
        key=lambda pair: pair[0])
    if not timers:
        return {}
    first = timers[0][0]
    moved = {}
    for due, timer in timers:
        gap = calendar.business_time_between(first, due)
        value = calendar.add_business_time(new_due, gap) if gap > timedelta(0) else new_due
        timer.internal_data["event_value"] = value.isoformat()
        moved[timer.task_spec.name] = value.isoformat()
    return moved


def settle_pauses(ready, definition: ProcessDefinition, calendar: SlaCalendar,
                  now: datetime) -> dict[str, str]:
    """Stop the SLA clock of every task that waits for the citizen, restart it when the wait is
    over; ``ready``: the workflow's READY human tasks. Returns {task name: "paused" |
    "resumed"} for the audit trail.

    A paused timer keeps the business time it had left and gets a deadline it cannot reach;
    resuming gives it back that much business time from now. Fired timers are left as they
    are: a breach that happened before the question stays on record.
    """
    changed: dict[str, str] = {}
    waiting_for_citizen = {side_tasks.about(t) for t in ready
                           if getattr(definition.task(t.task_spec.name), "pauses_sla", False)}
    for task in ready:
        if side_tasks.about(task) is not None:
            continue
        timers = sla_timers(task)
        paused = [t for t in timers if is_paused(t)]
        if task.task_spec.name in waiting_for_citizen:
            running = [t for t in timers if not is_paused(t) and not t.internal_data.get("event_fired")]
            for timer in running:
                due = datetime.fromisoformat(timer.internal_data["event_value"])
                left = calendar.business_time_between(now, due)
                timer.internal_data["paused_remaining"] = max(left, timedelta(0)).total_seconds()
                timer.internal_data["paused_at"] = now.isoformat()
                timer.internal_data["event_value"] = PAUSED_UNTIL
            if running:
                changed[task.task_spec.name] = "paused"
        elif paused:
            for timer in paused:
                left = timedelta(seconds=timer.internal_data.pop("paused_remaining"))
                timer.internal_data.pop("paused_at", None)
                timer.internal_data["event_value"] = calendar.add_business_time(now, left).isoformat()
            changed[task.task_spec.name] = "resumed"
    return changed
