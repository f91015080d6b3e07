"""Moving a running workflow onto another version of its process (SpiffWorkflow's workflow diff).

Tasks are matched by BPMN id (structure where an id is gone), so a version that keeps the ids of
the elements it keeps moves a case without losing its place. What a move keeps:

* the open human tasks (their ids, so claims and work items stay) and their data;
* the timers the case waits on, with the deadlines they have (a later version's SLA applies to
  the deadlines it sets);
* only the predicted branches under the open tasks are predicted again, from the new version.

A case is refused, and left as it was, when the new version has no element for a step it is at
or has passed through (its saved state would not load), when the new version's lane of an open
task needs a variable the case does not have, or when the moved state does not load back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from workflow.engine.definition import ProcessDefinition
from workflow.engine.serialization import dump_state, load_state, serializer
from workflow.messages import Message, msg

OPEN = TaskState.READY | TaskState.WAITING


@dataclass(frozen=True)
class VersionDiff:
    """What differs between two versions of the process, by element id."""

    added: tuple[str, ...]  # elements only the new version has
    removed: tuple[str, ...]  # elements of the old version the new one has no match for
    changed: tuple[str, ...]  # matched elements whose definition changed
    renamed: tuple[tuple[str, str], ...]  # (old id, new id) matched by structure


def _visible(name: str) -> bool:
    """Elements a person modelled (not the engine's own joins, splits and start/end markers)."""
    return "." not in name and name not in ("Start", "End", "Root")


def version_diff(old: ProcessDefinition, new: ProcessDefinition) -> VersionDiff:
    diff = SpecDiff(serializer().registry, old.spec, new.spec)
    renamed = tuple(sorted((o.name, n.name) for o, n in diff.alignment.items()
                           if n is not None and o.name != n.name and _visible(o.name)))
    return VersionDiff(
        added=tuple(sorted(s.name for s in diff.added if _visible(s.name))),
        removed=tuple(sorted(s.name for s in diff.removed if _visible(s.name))),
        changed=tuple(sorted(s.name for s in diff.changed if _visible(s.name))),
        renamed=renamed)


@dataclass(frozen=True)
class CaseMove:
    """One case's move: what it is at, what it passed that changed, or why it cannot move."""

    at: tuple[str, ...]  # the open elements (tasks, timers, messages it waits for)
    changed: tuple[str, ...]  # elements it is at or will still reach whose definition changed
    dropped: tuple[str, ...]  # predicted steps that the new version no longer has
    refusal: Message | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def move(workflow: BpmnWorkflow, new: ProcessDefinition, *, version: int,
         name: Callable[[str], str] = str) -> CaseMove:
    """Move ``workflow`` (loaded, and owned by the caller's transaction) onto ``new``, in place.
    A refusal leaves the workflow in an undefined state: the caller does not save it. ``name``
    says a step in a refusal's words (its label; the element id by default)."""

    def names(ids) -> str:
        return ", ".join(name(i) for i in ids)

    at = tuple(sorted({t.task_spec.name for t in workflow.get_tasks(state=OPEN)
                       if _visible(t.task_spec.name)}))
    top, subprocesses = diff_workflow(serializer().registry, workflow, new.spec, new.subprocess_specs)
    gone_sub = [sp_id for sp_id, sp_diff in subprocesses.items() if sp_diff is None]
    if gone_sub:
        return CaseMove(at, (), (), msg("version {version} has no subprocess this case runs", version=version))
    open_tasks = [t for t in top.removed if t.state & OPEN]
    manual = [t for t in open_tasks if getattr(t.task_spec, "manual", False)]  # the step, not its timers
    open_removed = sorted({t.task_spec.name for t in (manual or open_tasks)})
    if open_removed:
        return CaseMove(at, (), (), msg("its current step {steps} does not exist in version {version}",
                                        steps=names(open_removed), version=version))
    passed_removed = sorted({t.task_spec.name for t in top.removed
                             if t.state & (TaskState.COMPLETED | TaskState.ERROR | TaskState.CANCELLED)
                             and _visible(t.task_spec.name)})
    if passed_removed:
        return CaseMove(at, (), (), msg("it passed through {steps}, which version {version} no longer has",
                                        steps=names(passed_removed), version=version))
    changed = tuple(sorted({t.task_spec.name for t in top.changed
                            if not t.state & TaskState.COMPLETED and _visible(t.task_spec.name)}))
    dropped_tasks = migrate_workflow(top, workflow, new.spec, reset_mask=TaskState.READY)
    stale = sorted({t.task_spec.name for t in workflow.tasks.values()
                    if new.spec.task_specs.get(t.task_spec.name) is not t.task_spec})
    if stale:
        return CaseMove(at, changed, (), msg("version {version} has no match for {steps}, where this case has been",
                                             version=version, steps=names(stale)))
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        problem = _lane_problem(new, task, version, name)
        if problem is not None:
            return CaseMove(at, changed, (), problem)
    try:  # the moved state must read back on the new version
        load_state((new.spec, new.subprocess_specs), dump_state(workflow), workflow.script_engine)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the reason it cannot move
        return CaseMove(at, changed, (), msg("its state does not load on version {version}: {error}",
                                             version=version, error=str(exc)[:300]))
    dropped = tuple(sorted({t.task_spec.name for t in dropped_tasks
                            if t.task_spec.name not in new.spec.task_specs and _visible(t.task_spec.name)}))
    return CaseMove(at, changed, dropped)


def _lane_problem(new: ProcessDefinition, task, version: int, named: Callable[[str], str]) -> Message | None:
    """Why the new version cannot give this open task to anyone, if it cannot."""
    name = task.task_spec.name
    known = new.task(name)
    if known is None:
        return msg("version {version} has no form for its current step {step}", version=version, step=named(name))
    rule = new.lanes.get(known.lane)
    if rule is None:
        return msg("version {version} has no role for the lane of {step}", version=version, step=named(name))
    for variable in (rule.agency, rule.team):
        if variable and variable != "command_center" and task.data.get(variable) is None \
                and not (variable == rule.agency and rule.fallback):
            return msg("version {version} gives {step} to the holder of {variable}, which this case does not have",
                       version=version, step=named(name), variable=variable)
    return None
