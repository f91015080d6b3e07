"""Driving cases through the real commands, one committed unit of work a step: what the demo data
and the test suite share.

A step completes the case's open main task (side tasks such as escalation reviews aside)
with a form's values, as whoever can work it would; the reporter's tasks go through the
tracking code. Which values a step sends is the caller's (the demo reads them from
``demo_cases.yaml``); what the open task is, and what a side task is, the process says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from workflow import commands
from workflow.access import Actor
from workflow.services import Services
from workflow.store.models import WorkItem
from workflow.vocabulary import AttachmentKind


class Scenario:
    def __init__(self, services: Services, *, step: timedelta = timedelta(minutes=30)):
        self.services = services
        self.step = step  # how far the clock moves after each step

    def open_items(self, case_id: int) -> list[WorkItem]:
        with self.services.reading() as session:
            return list(session.scalars(select(WorkItem).where(
                WorkItem.case_id == case_id, WorkItem.completed_at.is_(None)).order_by(WorkItem.id)))

    def item(self, case_id: int) -> WorkItem:
        """The case's one open main task."""
        side = self.services.definition.side_tasks
        items = [i for i in self.open_items(case_id) if i.task_name not in side]
        if len(items) != 1:
            raise LookupError(f"case {case_id}: expected one open task, found {[i.task_name for i in items]}")
        return items[0]

    def do(self, command: Callable, actor: Actor, case_id: int, **kwargs):
        """Run ``command(uow, actor, item_id, **kwargs)`` on the case's open task, committed;
        then the clock moves on by one step (when it can be moved)."""
        item = self.item(case_id)
        with self.services.uow() as uow:
            result = command(uow, actor, item.id, **kwargs)
            uow.commit()
        self.later()
        return result

    def citizen(self, command: Callable, tracking_code: str, **kwargs):
        """Run a reporter's command (confirm, dispute, answer) by tracking code, committed."""
        with self.services.uow() as uow:
            result = command(uow, tracking_code, **kwargs)
            uow.commit()
        return result

    def photo(self, actor: Actor, case_id: int, content: bytes, kind: AttachmentKind) -> int:
        """Upload a photo to the case, as ``actor``; its attachment id (for a form field)."""
        with self.services.uow() as uow:
            image = self.services.storage.prepare(content)
            attachment = commands.add_attachment(uow, actor, case_id, image, kind=kind)
            uow.commit()
            return attachment.id

    def later(self, by: timedelta | None = None) -> None:
        advance = getattr(self.services.clock, "advance", None)
        if advance is not None:
            advance(by or self.step)
