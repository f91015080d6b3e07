"""Failed steps for administrators (incidents)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, Screen, may_use
from workflow.errors import PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.read.paging import Page, check_one_of, paging_errors
from workflow.store.models import Case, Incident, User
from workflow.vocabulary import RETRYABLE_OPERATIONS


@dataclass(frozen=True)
class IncidentRow:
    id: int
    occurred_at: datetime
    case_id: int | None
    case_number: str | None
    operation: str
    task_name: str | None
    error: str
    attempts: int | None
    resolved_at: datetime | None
    resolved_by: str | None
    retryable: bool
    resolution_note: str | None = None  # closed by an administrator with this note (not retried)


def incidents(session: Session, actor: Actor, *, state: str = "open", page: int = 1,
              per_page: int = 25) -> Page:
    """Failed steps for administrators, newest first: ``open`` ones or ``all``."""
    if not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can see incidents"))
    errors = paging_errors(page, per_page)
    check_one_of(state, "state", ("open", "all"), errors)
    if errors:
        raise ValidationError(errors)
    where = [Incident.resolved_at.is_(None)] if state == "open" else []
    total = session.scalar(select(func.count()).select_from(Incident).where(*where))
    resolver = aliased(User)
    stmt = (select(Incident, Case.number, resolver.username)
            .outerjoin(Case, Case.id == Incident.case_id)
            .outerjoin(resolver, resolver.id == Incident.resolved_by_id)
            .where(*where).order_by(Incident.occurred_at.desc(), Incident.id.desc())
            .limit(per_page).offset((page - 1) * per_page))
    rows = [IncidentRow(
        id=i.id, occurred_at=i.occurred_at, case_id=i.case_id, case_number=number,
        operation=i.operation, task_name=i.task_name, error=i.error,
        attempts=(i.details or {}).get("attempts"), resolved_at=i.resolved_at, resolved_by=who,
        retryable=i.resolved_at is None and i.operation in RETRYABLE_OPERATIONS,
        resolution_note=i.resolution_note)
        for i, number, who in session.execute(stmt)]
    return Page(rows=rows, total=total or 0, page=page, per_page=per_page)
