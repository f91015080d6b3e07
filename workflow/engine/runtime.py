"""Start, load, step and save a case's BPMN workflow; read off what the projections must say.

The engine knows nothing about the database: commands hand it JSON and get JSON back, plus a
:class:`Snapshot` of the READY human tasks and WAITING timers that ``projections`` writes down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflow.clock import Clock
from workflow.engine import timer_clock as engine_clock
from workflow.engine.definition import ProcessDefinition
from workflow.engine.scripting import make_script_engine
from workflow.engine.serialization import dump_state, load_state

PAUSED_UNTIL = "9999-12-31T23:59:59+00:00"  # a paused timer's deadline: it cannot fire


class StepFailed(Exception):
    """The engine could not take a step (no gateway branch matched, a script failed, ...)."""

    def __init__(self, message: str, task_name: str | None, details: dict):
        super().__init__(message)
        self.task_name = task_name
        self.details = details


@dataclass(frozen=True)
class HumanTask:
    task_id: str
    name: str
    form_key: str
    lane: str
    due_at: datetime | None
    data: Mapping[str, Any] = field(repr=False, compare=False)
    about: str | None = None  # a side task (escalation review, question to the citizen): its main task
    level: str | None = None  # escalation tasks: the level they raise (breach, critical, pingpong)
    pauses_sla: bool = False  # while open, the SLA clock of the task it is about stands still
    paused_since: datetime | None = None  # this task's SLA clock stands still since then

    @property
    def escalates(self) -> str | None:
        """For an escalation task: the late (or bounced) task it is about."""
        return self.about if self.level is not None else None


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    name: str
    guards_task: str | None
    interrupting: bool
    due_at: datetime


@dataclass(frozen=True)
class ThrownMessage:
    name: str
    payload: Any


@dataclass(frozen=True)
class Snapshot:
    """What the workflow says now: open human tasks, waiting timers, the case's variables."""

    tasks: tuple[HumanTask, ...]
    timers: tuple[WaitingTimer, ...]
    data: Mapping[str, Any]
    ended_at: str | None  # id of the end event that finished the main path, if finished

    @property
    def main_task(self) -> HumanTask | None:
        """The task that gives the case its stage (side tasks run beside it)."""
        return next((t for t in self.tasks if t.about is None), None)


class SlaCalendar(Protocol):
    """Business time (``escalation.calendar.BusinessCalendar``); without one, elapsed time."""

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime: ...

    def business_time_between(self, a: datetime, b: datetime) -> timedelta: ...


class ElapsedTime:
    """The calendar of a city that works around the clock."""

    @staticmethod
    def add_business_time(start: datetime, duration: timedelta) -> datetime:
        return start + duration

    @staticmethod
    def business_time_between(a: datetime, b: datetime) -> timedelta:
        return b - a


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


class ProcessEngine:
    """Engine glue for one process definition. Safe to share between threads: every workflow
    object it creates is used by one command on one thread."""

    def __init__(self, definition: ProcessDefinition, clock: Clock,
                 calendar: SlaCalendar | None = None):
        self.definition = definition
        self.clock = clock
        self.calendar = calendar or ElapsedTime()
        self.script_engine = make_script_engine(deadline_functions(clock, self.calendar))
        engine_clock.install()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, data: Mapping[str, Any]) -> BpmnWorkflow:
        workflow = BpmnWorkflow(self.definition.spec, self.definition.subprocess_specs,
                                script_engine=self.script_engine)
        start = workflow.get_next_task(state=TaskState.READY)
        start.data.update(data)
        self._guard(workflow.do_engine_steps, None)
        return workflow

    def load(self, specs, state_json: str) -> BpmnWorkflow:
        """``specs``: (spec, subprocess_specs) of the version the case runs."""
        return load_state(specs, state_json, self.script_engine)

    def at_risk_at(self, start: datetime, due: datetime, share: float) -> datetime:
        """When ``share`` of the business time from ``start`` to ``due`` has passed."""
        target = self.calendar.business_time_between(start, due)
        return self.calendar.add_business_time(start, target * share) if target > timedelta(0) else due

    def expected_close(self, start: datetime, data: Mapping[str, Any]) -> datetime | None:
        """When a case started at ``start`` should be closed: the business-time sum of the SLA
        targets (``sla_*`` variables) routing gave it. None before routing."""
        targets = [v for k, v in data.items() if k.startswith("sla_") and isinstance(v, str)]
        if not targets:
            return None
        total = sum((TimerEventDefinition.get_timedelta_from_start(
            TimerEventDefinition.parse_iso_duration(v), start) for v in targets), timedelta(0))
        return self.calendar.add_business_time(start, total)

    @staticmethod
    def dump(workflow: BpmnWorkflow) -> str:
        return dump_state(workflow)

    def complete(self, workflow: BpmnWorkflow, task_id: str, data: Mapping[str, Any]) -> None:
        task = self.ready_task(workflow, task_id)
        if task is None:
            raise LookupError(task_id)
        task.set_data(**data)
        self._guard(task.run, task.task_spec.name)
        self._guard(workflow.do_engine_steps, task.task_spec.name)

    def refresh_timers(self, workflow: BpmnWorkflow) -> None:
        """Fire every timer whose deadline has passed and run the engine on from there."""
        self._guard(workflow.refresh_timers, None)
        self._guard(workflow.do_engine_steps, None)

    @staticmethod
    def ready_task(workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(str(task_id)))
        except (ValueError, KeyError):
            return None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        return task

    def move_deadline(self, workflow: BpmnWorkflow, task_id: str, new_due: datetime) -> dict:
        """Move a READY task's SLA deadline: its earliest non-interrupting timer goes to
        ``new_due``, later ones keep their business-time distance from it. Returns
        {timer name: new deadline} for the audit trail."""
        task = self.ready_task(workflow, task_id)
        if task is None:
            raise LookupError(task_id)
        timers = sorted(
            ((datetime.fromisoformat(s.internal_data["event_value"]).astimezone(timezone.utc), s)
             for s in self._sla_timers(task) if "paused_remaining" not in s.internal_data),
            key=lambda pair: pair[0])
        if not timers:
            return {}
        first = timers[0][0]
        moved = {}
        for due, timer in timers:
            gap = self.calendar.business_time_between(first, due)
            value = self.calendar.add_business_time(new_due, gap) if gap > timedelta(0) else new_due
            timer.internal_data["event_value"] = value.isoformat()
            moved[timer.task_spec.name] = value.isoformat()
        return moved

    def resolve_side_tasks(self, workflow: BpmnWorkflow, task_name: str) -> int:
        """Cancel the open side tasks about ``task_name``: its escalation reviews and an
        unanswered question to the citizen. Called before the task is completed (or taken
        away by a forced transfer), so a side task its completion raises anew survives."""
        cancelled = 0
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            if self._about(task) == task_name:
                task.cancel()
                cancelled += 1
        return cancelled

    def send_message(self, workflow: BpmnWorkflow, name: str, payload: Mapping[str, Any]) -> None:
        """Deliver a BPMN message (a forced transfer, a question to the citizen) to the task
        waiting for it and run the process on. LookupError when nothing waits for it."""
        def deliver():
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), dict(payload)))
            workflow.do_engine_steps()

        try:
            self._guard(deliver, None)
        except StepFailed as exc:
            if exc.details.get("error") == "WorkflowException" and "not waiting" in str(exc):
                raise LookupError(name) from None
            raise

    # -- SLA pauses -------------------------------------------------------------------------

    def settle_pauses(self, workflow: BpmnWorkflow) -> dict[str, str]:
        """Stop the SLA clock of every task that waits for the citizen, restart it when the
        wait is over. Returns {task name: "paused" | "resumed"} for the audit trail.

        A paused timer keeps the business time it had left and gets a deadline it cannot reach;
        resuming gives it back that much business time from now. Fired timers are left as they
        are: a breach that happened before the question stays on record.
        """
        changed: dict[str, str] = {}
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        waiting_for_citizen = {self._about(t) for t in ready if self._pauses_sla(t)}
        now = self.clock.now()
        for task in ready:
            if self._about(task) is not None:
                continue
            timers = self._sla_timers(task)
            paused = [t for t in timers if "paused_remaining" in t.internal_data]
            if task.task_spec.name in waiting_for_citizen:
                running = [t for t in timers if "paused_remaining" not in t.internal_data
                           and not t.internal_data.get("event_fired")]
                for timer in running:
                    due = datetime.fromisoformat(timer.internal_data["event_value"])
                    left = self.calendar.business_time_between(now, due)
                    timer.internal_data["paused_remaining"] = max(left, timedelta(0)).total_seconds()
                    timer.internal_data["paused_at"] = now.isoformat()
                    timer.internal_data["event_value"] = PAUSED_UNTIL
                if running:
                    changed[task.task_spec.name] = "paused"
            elif paused:
                for timer in paused:
                    left = timedelta(seconds=timer.internal_data.pop("paused_remaining"))
                    timer.internal_data.pop("paused_at", None)
                    timer.internal_data["event_value"] = self.calendar.add_business_time(now, left).isoformat()
                changed[task.task_spec.name] = "resumed"
        return changed

    @staticmethod
    def _sla_timers(task) -> list:
        """The task's non-interrupting boundary timers with a date deadline."""
        return [s for s in (task.parent.children if task.parent else [])
                if isinstance(getattr(s.task_spec, "event_definition", None), TimerEventDefinition)
                and not getattr(s.task_spec, "cancel_activity", True)
                and isinstance(s.internal_data.get("event_value"), str)]

    @staticmethod
    def _deadline(task) -> datetime | None:
        """The task's SLA deadline: the earliest of its boundary timers, fired ones included
        (a fired timer keeps its deadline); non-interrupting timers first, as those are SLAs."""
        timers = [(bool(getattr(s.task_spec, "cancel_activity", True)), s.internal_data.get("event_value"))
                  for s in (task.parent.children if task.parent else [])
                  if isinstance(getattr(s.task_spec, "event_definition", None), TimerEventDefinition)
                  and "paused_remaining" not in s.internal_data]
        values = [v for _i, v in timers if isinstance(v, str)]
        sla = [v for interrupting, v in timers if not interrupting and isinstance(v, str)] or values
        if not sla:
            return None
        return min(datetime.fromisoformat(v).astimezone(timezone.utc) for v in sla)

    @staticmethod
    def _properties(task) -> dict:
        return task.task_spec.extensions.get("properties", {})

    def _about(self, task) -> str | None:
        """For a side task: the main task it belongs to. Named by the task's ``escalates``
        property, or found as the task whose non-interrupting boundary event started the
        side task's path. None for main tasks (their path reaches an earlier human task, or
        an interrupting boundary event, first)."""
        named = self._properties(task).get("escalates")
        if named:
            return named
        node = task.parent
        while node is not None and not isinstance(node.task_spec, BoundaryEvent):
            if node.task_spec.manual:
                return None
            node = node.parent
        if node is None or node.parent is None or getattr(node.task_spec, "cancel_activity", True):
            return None
        return next((c.task_spec.name for c in node.parent.children if c.task_spec.manual), None)

    def _level(self, task) -> str | None:
        if self._about(task) is None:
            return None
        rule = self.definition.lanes.get(task.task_spec.lane)
        return self._properties(task).get("escalationLevel") or (rule.level if rule else None)

    def _pauses_sla(self, task) -> bool:
        return str(self._properties(task).get("pausesSla", "")).lower() == "true"

    @staticmethod
    def thrown_messages(workflow: BpmnWorkflow) -> list[ThrownMessage]:
        return [ThrownMessage(e.event_definition.name, e.payload) for e in workflow.get_events()]

    def _guard(self, step: Callable[[], Any], task_name: str | None) -> None:
        try:
            with engine_clock.using_clock(self.clock):
                step()
        except SpiffWorkflowException as exc:
            failing = getattr(exc, "task", None) or getattr(exc, "task_spec", None)
            name = getattr(getattr(failing, "task_spec", failing), "name", None) or task_name
            raise StepFailed(str(exc), name, {"error": type(exc).__name__,
                                              "notes": list(getattr(exc, "__notes__", []))}) from exc

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self, workflow: BpmnWorkflow) -> Snapshot:
        timers = []
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = task.internal_data.get("event_value")
            if not isinstance(value, str) or "paused_remaining" in task.internal_data:
                continue  # paused (nothing to fire); cycle timers are not used by Tanggap
            guarded = next((s.task_spec.name for s in task.parent.children
                            if s.task_spec.manual), None) if task.parent else None
            timers.append(WaitingTimer(
                task_id=str(task.id), name=task.task_spec.name, guards_task=guarded,
                interrupting=bool(getattr(task.task_spec, "cancel_activity", True)),
                due_at=datetime.fromisoformat(value).astimezone(timezone.utc)))

        tasks = []
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            paused = [datetime.fromisoformat(s.internal_data["paused_at"])
                      for s in self._sla_timers(task) if "paused_at" in s.internal_data]
            tasks.append(HumanTask(
                task_id=str(task.id), name=spec.name,
                form_key=self._properties(task).get("formKey", spec.name),
                lane=spec.lane, due_at=self._deadline(task), data=task.data,
                about=self._about(task), level=self._level(task),
                pauses_sla=self._pauses_sla(task),
                paused_since=min(paused).astimezone(timezone.utc) if paused else None))

        ended = None
        end_ids = self.definition.end_statuses
        main = next((t for t in tasks if t.about is None), None)
        data: Mapping[str, Any] = main.data if main else {}
        for task in workflow.get_tasks(state=TaskState.COMPLETED):
            if task.task_spec.name in end_ids:
                ended = task.task_spec.name
                if main is None:
                    data = task.data
        if main is None and ended is None:
            data = workflow.data
        return Snapshot(tasks=tuple(tasks), timers=tuple(timers), data=dict(data), ended_at=ended)
