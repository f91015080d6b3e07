"""Start, load, step and save a case's BPMN workflow; read off what the projections must say.

The engine knows nothing about the database: commands hand it JSON and get JSON back, plus a
:class:`Snapshot` of the READY human tasks and WAITING timers that the projections write down.
SpiffWorkflow's own objects (tasks, states, internal data) stay inside ``workflow.engine``:
commands ask this class to act on a task by its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflow.clock import Clock
from workflow.engine import side_tasks, sla
from workflow.engine import timer_clock as engine_clock
from workflow.engine.definition import ProcessDefinition
from workflow.engine.scripting import make_script_engine
from workflow.engine.serialization import dump_state, load_state
from workflow.engine.sla import ElapsedTime, SlaCalendar


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


@dataclass(frozen=True)
class RouteAnswer:
    agency: str | None  # OPD code
    priority: str | None
    sla: str | None  # ISO 8601 duration, business time
    sla_task: str  # the task the SLA is the target of

    def sla_delta(self) -> timedelta | None:
        return sla.duration(self.sla, datetime(2000, 1, 1, tzinfo=timezone.utc)) if self.sla else None


class ProcessEngine:
    """Engine glue for one process definition. Safe to share between threads: every workflow
    object it creates is used by one command on one thread."""

    def __init__(self, definition: ProcessDefinition, clock: Clock,
                 calendar: SlaCalendar | None = None):
        self.definition = definition
        self.clock = clock
        self.calendar = calendar or ElapsedTime()
        self.script_engine = make_script_engine(sla.deadline_functions(clock, self.calendar))
        self._routes: dict[tuple[str, str], RouteAnswer | None] = {}  # route_preview's answers
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

    @staticmethod
    def dump(workflow: BpmnWorkflow) -> str:
        return dump_state(workflow)

    def complete(self, workflow: BpmnWorkflow, task_id: str, data: Mapping[str, Any]) -> None:
        task = self._ready(workflow, task_id)
        task.set_data(**data)
        self._guard(task.run, task.task_spec.name)
        self._guard(workflow.do_engine_steps, task.task_spec.name)

    def refresh_timers(self, workflow: BpmnWorkflow) -> None:
        """Fire every timer whose deadline has passed and run the engine on from there."""
        self._guard(workflow.refresh_timers, None)
        self._guard(workflow.do_engine_steps, None)

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

    # -- acting on one open task --------------------------------------------------------------

    @staticmethod
    def is_ready(workflow: BpmnWorkflow, task_id: str) -> bool:
        return ProcessEngine._find_ready(workflow, task_id) is not None

    def resolve_side_tasks(self, workflow: BpmnWorkflow, task_name: str,
                           open_tasks: tuple[HumanTask, ...] | None = None) -> int:
        """Cancel the open side tasks about ``task_name`` (see ``side_tasks.resolve``).
        ``open_tasks``: the READY tasks of a snapshot taken since the workflow last moved (no
        walk of the tree to find them again)."""
        if open_tasks is None:
            return side_tasks.resolve(workflow, task_name)
        ready = [self._find_ready(workflow, t.task_id) for t in open_tasks if t.about == task_name]
        return side_tasks.cancel([t for t in ready if t is not None])

    def move_deadline(self, workflow: BpmnWorkflow, task_id: str, new_due: datetime) -> dict:
        """Move a READY task's SLA deadline (see ``sla.move_deadline``)."""
        return sla.move_deadline(self._ready(workflow, task_id), new_due, self.calendar)

    def set_variable(self, workflow: BpmnWorkflow, task_id: str, name: str, value: Any) -> Any:
        """Change one variable of a READY task's data (a supervisor sending field work to another
        team); returns the old value."""
        task = self._ready(workflow, task_id)
        old = task.data.get(name)
        task.data[name] = value
        return old

    def settle_pauses(self, workflow: BpmnWorkflow) -> dict[str, str]:
        """Stop or restart SLA clocks for the reporter's wait (see ``sla.settle_pauses``)."""
        return sla.settle_pauses(workflow.get_tasks(state=TaskState.READY, manual=True), self.definition,
                                 self.calendar, self.clock.now())

    # -- time -------------------------------------------------------------------------------

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
        total = sum((sla.duration(v, start) for v in targets), timedelta(0))
        return self.calendar.add_business_time(start, total)

    # -- reading ----------------------------------------------------------------------------

    def route_preview(self, category: str, area: str) -> RouteAnswer | None:
        """What the routing table gives a report of ``category`` in kecamatan ``area`` (see
        ``RoutePreview`` in tasks.yaml): a dry run of a new case up to the preview's task, kept
        by this engine, which has one definition (the table depends on nothing else). None
        without a preview, or for a pair the process cannot route."""
        preview = self.definition.route_preview
        if preview is None:
            return None
        key = (category, area)
        if key not in self._routes:
            workflow = BpmnWorkflow(self.definition.spec, self.definition.subprocess_specs,
                                    script_engine=self.script_engine)
            workflow.get_next_task(state=TaskState.READY).data.update(category=category, area=area)
            try:
                self._guard(workflow.do_engine_steps, None)
            except StepFailed:  # a pair the table does not route (a category retired since): no preview
                self._routes[key] = None
                return None
            task = next((t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                         if t.task_spec.name == preview.task), None)
            data = task.data if task is not None else {}
            self._routes[key] = RouteAnswer(agency=data.get(preview.agency), priority=data.get(preview.priority),
                                            sla=data.get(preview.sla), sla_task=preview.sla_task)
        return self._routes[key]

    @staticmethod
    def fired_timers(workflow: BpmnWorkflow, timer_ids) -> list[tuple[str, str | None]]:
        """Of the timers ``timer_ids`` (task ids), those that fired: (timer name, deadline)."""
        fired = []
        for tid in timer_ids:
            task = workflow.get_task_from_id(UUID(tid))
            if task.state == TaskState.COMPLETED:
                fired.append((task.task_spec.name, task.internal_data.get("event_value")))
        return fired

    def snapshot(self, workflow: BpmnWorkflow) -> Snapshot:
        """What the workflow says now, from one walk of its task tree."""
        return self._snapshot(*self._walk(workflow), workflow)

    def settle_and_snapshot(self, workflow: BpmnWorkflow) -> tuple[dict[str, str], Snapshot]:
        """``settle_pauses`` then ``snapshot``, from one walk: settling rewrites timer deadlines,
        never a task's state, so the tasks the walk found are still the ones to read."""
        ready, waiting, completed = self._walk(workflow)
        pauses = sla.settle_pauses(ready, self.definition, self.calendar, self.clock.now())
        return pauses, self._snapshot(ready, waiting, completed, workflow)

    @staticmethod
    def _walk(workflow: BpmnWorkflow) -> tuple[list, list, list]:
        """READY human tasks, WAITING tasks and COMPLETED tasks, each in the tree's depth-first
        order, from one pass of the library's state-filtered iterator (a walk of the whole tree
        costs as much as the rest of a step: one per question made three per snapshot)."""
        ready, waiting, completed = [], [], []
        for task in workflow.get_tasks_iterator(state=TaskState.READY | TaskState.WAITING | TaskState.COMPLETED):
            if task.state == TaskState.READY:
                if task.task_spec.manual:
                    ready.append(task)
            elif task.state == TaskState.WAITING:
                waiting.append(task)
            else:
                completed.append(task)
        return ready, waiting, completed

    def _snapshot(self, ready: list, waiting: list, completed: list, workflow: BpmnWorkflow) -> Snapshot:
        timers = []
        for task in waiting:
            definition = getattr(task.task_spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition):
                continue
            value = task.internal_data.get("event_value")
            if not isinstance(value, str) or sla.is_paused(task):
                continue  # paused (nothing to fire); cycle timers are not used by Tanggap
            guarded = next((s.task_spec.name for s in task.parent.children
                            if s.task_spec.manual), None) if task.parent else None
            timers.append(WaitingTimer(
                task_id=str(task.id), name=task.task_spec.name, guards_task=guarded,
                interrupting=bool(getattr(task.task_spec, "cancel_activity", True)),
                due_at=datetime.fromisoformat(value).astimezone(timezone.utc)))

        tasks = []
        for task in ready:
            spec = task.task_spec
            known = self.definition.task(spec.name)
            belongs_to = side_tasks.about(task)
            tasks.append(HumanTask(
                task_id=str(task.id), name=spec.name,
                form_key=known.form_key if known else spec.name,
                lane=spec.lane, due_at=sla.deadline(task), data=task.data, about=belongs_to,
                level=known.level if known and belongs_to is not None else None,
                pauses_sla=bool(known and known.pauses_sla), paused_since=sla.paused_since(task)))

        ended = None
        main = next((t for t in tasks if t.about is None), None)
        data: Mapping[str, Any] = main.data if main else {}
        for task in completed:
            if task.task_spec.name in self.definition.end_events:
                ended = task.task_spec.name
                if main is None:
                    data = task.data
        if main is None and ended is None:
            data = workflow.data
        return Snapshot(tasks=tuple(tasks), timers=tuple(timers), data=dict(data), ended_at=ended)

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _find_ready(workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(str(task_id)))
        except (ValueError, KeyError):
            return None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            return None
        return task

    def _ready(self, workflow: BpmnWorkflow, task_id: str):
        task = self._find_ready(workflow, task_id)
        if task is None:
            raise LookupError(task_id)
        return task

    def _guard(self, step: Callable[[], Any], task_name: str | None) -> None:
        try:
            with engine_clock.using_clock(self.clock):
                step()
        except SpiffWorkflowException as exc:
            failing = getattr(exc, "task", None) or getattr(exc, "task_spec", None)
            name = getattr(getattr(failing, "task_spec", failing), "name", None) or task_name
            raise StepFailed(str(exc), name, {"error": type(exc).__name__,
                                              "notes": list(getattr(exc, "__notes__", []))}) from exc
