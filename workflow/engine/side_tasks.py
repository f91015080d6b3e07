"""Side tasks of a running workflow: the human tasks that run beside the task giving the case
its stage (escalation reviews, the question to the reporter), and the task each is about.

Which tasks are side tasks is a fact of the process (``ProcessDefinition.side_tasks``); which
main task a side task belongs to is a fact of the running instance, read from the path it
took: the non-interrupting boundary event of another task that started it, or an ``escalates``
property naming the task.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState


def about(task) -> str | None:
    """For a side task: the main task it belongs to; None for main tasks (their path reaches an
    earlier human task, or an interrupting boundary event, first)."""
    named = task.task_spec.extensions.get("properties", {}).get("escalates")
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


def resolve(workflow, task_name: str) -> int:
    """Cancel the open side tasks about ``task_name``: its escalation reviews and an unanswered
    question to the citizen. Called before the task is completed (or taken away by a forced
    transfer), so a side task its completion raises anew survives."""
    return cancel([t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if about(t) == task_name])


def cancel(tasks) -> int:
    """Cancel these READY side tasks; how many."""
    for task in tasks:
        task.cancel()
    return len(tasks)
