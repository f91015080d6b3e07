"""When work is late: one rule for the inbox's badges and filter, the workload, the dashboard's
open stages and the case search that its figures link to.

SLA work is a task of a role with SLA targets (escalation reviews and the reporter's own tasks
have none). A task is late once the time is past its deadline: done by then it was on time, still
open after it, it is overdue.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_

from workflow.store.models import WorkItem
from workflow.vocabulary import SLA_ROLES


def on_time(done_at: datetime, due_at: datetime) -> bool:
    return done_at <= due_at


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and not on_time(now, due_at)


def overdue(now: datetime):
    """SQL on ``WorkItem``: what :func:`is_overdue` says."""
    return and_(WorkItem.due_at.is_not(None), WorkItem.due_at < now)


def open_sla_work():
    """SQL on ``WorkItem``: open tasks that have SLA targets."""
    return and_(WorkItem.completed_at.is_(None), WorkItem.role.in_(SLA_ROLES))
