"""What was last done to a case: the audit event that someone holding an older ``version`` of
the case missed, so that a conflict can say who did what, and when."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.access import Actor, can_view_case
from workflow.store.models import Case, CaseEvent, User
from workflow.vocabulary import ASIDE_ACTIONS


@dataclass(frozen=True)
class LastChange:
    seq: int
    actor: str  # username, "system" or "citizen" (as the trail records it)
    display_name: str | None  # the user's full name; None for the system and citizens
    role: str  # the role acted under (or "system", "citizen")
    action: str
    task_name: str | None
    data: dict
    occurred_at: datetime


def last_change(session: Session, actor: Actor, case_id: int) -> LastChange | None:
    """The latest event that moved the case's version (events written beside the case, such
    as a notice sent, left out), or None when there is none or ``actor`` may not see the case."""
    case = session.get(Case, case_id)
    if case is None or not can_view_case(actor, case):
        return None
    row = session.execute(
        select(CaseEvent, User.full_name).outerjoin(User, User.id == CaseEvent.actor_user_id)
        .where(CaseEvent.case_id == case_id, CaseEvent.action.not_in(sorted(ASIDE_ACTIONS)))
        .order_by(CaseEvent.seq.desc()).limit(1)).first()
    if row is None:
        return None
    event, full_name = row
    return LastChange(seq=event.seq, actor=event.actor_name, display_name=full_name, role=event.actor_role,
                      action=event.action, task_name=event.task_name, data=json.loads(event.data),
                      occurred_at=event.occurred_at)
