"""What the previous step of a case handed on, and where its worker goes next. The handoff: the last completed task on the case's main path
(side tasks such as escalation reviews aside), with its form's values as the next person reads
them: the dispatch instructions on the officer's task, the officer's arrival, action and photos
on the verifier's, the verifier's reason on the officer's rework task."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.access import Actor, role_for_item
from workflow.engine.definition import ProcessDefinition
from workflow.engine.forms import FormField
from workflow.store.models import Attachment, CaseEvent, WorkItem
from workflow.store.reference import References
from workflow.vocabulary import Action

LOOK_BACK = 50  # completions read to find the last one on the main path
ORDERS = (Action.TRANSFER_FORCED,)  # supervisors' orders that move a case on without a task


@dataclass(frozen=True)
class Value:
    """One field of the step's form: its label, and the value as shown (``kind`` says how:
    text, labels (per language), moment, photo (the attachment ids, in the order taken))."""

    label: Mapping[str, str]
    kind: str
    value: Any


@dataclass(frozen=True)
class Step:
    task_name: str | None  # None: not a task but a supervisor's order (``action``)
    actor: str
    role: str
    at: datetime
    decision: Value | None  # the form's deciding field, when it has one
    values: tuple[Value, ...]  # the other fields that were filled in
    action: str | None = None  # a supervisor's order that came after the last task (a forced transfer)
    reason: str | None = None
    agencies: tuple[str | None, str | None] = (None, None)  # from, to


def _shown(f: FormField, raw: Any, refs: References, photos: set[int]) -> Value | None:
    if raw in (None, "", []):
        return None
    if f.type == "attachment":  # one id, or a list of them (an older run's single id reads as one)
        kept = tuple(i for i in (raw if isinstance(raw, list) else [raw]) if i in photos)
        return Value(f.label, "photo", kept) if kept else None
    if f.type == "datetime":
        return Value(f.label, "moment", datetime.fromisoformat(raw) if isinstance(raw, str) else raw)
    if f.type == "choice" and f.source:
        names = {"teams": lambda c: refs.teams[c].name, "agencies": lambda c: refs.agencies[c].name,
                 "categories": lambda c: {"id": refs.categories[c].name_id, "en": refs.categories[c].name_en}}
        try:
            named = names[f.source](raw)
        except KeyError:
            named = str(raw)
        return Value(f.label, "labels" if isinstance(named, dict) else "text", named)
    if f.type == "choice":
        return Value(f.label, "labels", f.choice_labels.get(raw) or {"id": str(raw), "en": str(raw)})
    return Value(f.label, "text", str(raw))


def last_step(session: Session, definition: ProcessDefinition, case_id: int) -> Step | None:
    """The case's last completed main-path task, or a supervisor's order that came after it
    (a forced transfer: the new OPD reads why), or None before the first."""
    events = session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.action.in_((Action.TASK_COMPLETED, *ORDERS)))
        .order_by(CaseEvent.seq.desc()).limit(LOOK_BACK))
    for event in events:
        if event.action in ORDERS:  # a supervisor moved the case on: that is what the next person must know
            return Step(task_name=None, actor=event.actor_name, role=event.actor_role, at=event.occurred_at,
                        decision=None, values=(), action=event.action, reason=event.reason,
                        agencies=(event.from_agency, event.to_agency))
        task = definition.task(event.task_name) if event.task_name else None
        data = json.loads(event.data) if isinstance(event.data, str) else (event.data or {})
        form = definition.forms.get(data.get("form") or "")
        if task is None or task.side or form is None:
            continue
        values = data.get("values") or {}
        photos = set(session.scalars(select(Attachment.id).where(Attachment.case_id == case_id)))
        refs = References(session)
        decision = form.decision
        shown = [v for f in form.fields if f is not decision
                 if (v := _shown(f, values.get(f.name), refs, photos)) is not None]
        return Step(task_name=task.name, actor=event.actor_name, role=event.actor_role, at=event.occurred_at,
                    decision=_shown(decision, values.get(decision.name), refs, photos) if decision else None,
                    values=tuple(shown))
    return None


def next_task_for(session: Session, definition: ProcessDefinition, actor: Actor, case_id: int) -> int | None:
    """The case's open main-path task that ``actor`` may work and nobody else holds: where a
    person who just finished a step goes next (accept, then dispatch; verify, then close)."""
    for item in session.scalars(select(WorkItem).where(
            WorkItem.case_id == case_id, WorkItem.completed_at.is_(None)).order_by(WorkItem.id)):
        task = definition.task(item.task_name)
        if task is None or task.side or item.assignee_id not in (None, actor.user_id):
            continue
        if role_for_item(actor, item) is not None:
            return item.id
    return None
