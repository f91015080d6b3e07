"""What every case command shares: load and lock a case, run the engine, write projections,
the audit events for what changed, and outbox messages for what the process announced."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from workflow.commands.projections import apply_to_case, sync_timers, sync_work_items
from workflow.engine.runtime import Snapshot
from workflow.engine.serialization import spec_objects
from workflow.errors import Conflict, NotFound
from workflow.messages import msg
from workflow.store import audit
from workflow.store.audit import ActorRef
from workflow.store.models import Case, CaseEvent, CaseState, Escalation, OutboxMessage, ProcessSpec
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.vocabulary import STATUS_ACTIONS, Action, CaseStatus, Outcome

CITIZEN_MESSAGES = ("case_resolved", "info_requested")  # outbox topics addressed to the reporter


@dataclass(frozen=True)
class CaseView:
    """The facts about a case whose change is worth an audit event."""

    status: str | None
    agency: str | None
    team: str | None
    category: str | None
    transfer_count: int
    reopen_count: int
    rework_count: int
    tasks: tuple[str, ...]
    timers: tuple[str, ...]

    @classmethod
    def of(cls, case: Case | None, snap: Snapshot | None, refs: References) -> CaseView:
        if case is None or snap is None:
            return cls(None, None, None, None, 0, 0, 0, (), ())
        return cls(
            status=str(case.status), agency=refs.agency_code(case.agency_id),
            team=refs.team_code(case.team_id),
            category=refs.categories_by_id[case.category_id].code,
            transfer_count=case.transfer_count, reopen_count=case.reopen_count,
            rework_count=case.rework_count, tasks=tuple(t.name for t in snap.tasks),
            timers=tuple(t.task_id for t in snap.timers))


def get_case(uow: UnitOfWork, case_id: int) -> Case:
    case = uow.session.get(Case, case_id)
    if case is None:
        raise NotFound(msg("case {case_id} not found", case_id=case_id))
    return case


def last_actor(uow: UnitOfWork, case_id: int) -> str | None:
    return uow.session.scalar(select(CaseEvent.actor_name).where(CaseEvent.case_id == case_id)
                              .order_by(CaseEvent.seq.desc()).limit(1))


def check_version(uow: UnitOfWork, case: Case, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != case.version:
        who = last_actor(uow, case.id)
        raise Conflict(msg("This case was just handled by {who}. Reload it to see the change.",
                           who=who or "someone else"), by=who)


def lock(uow: UnitOfWork, case: Case) -> None:
    """Bump the case's version now: takes the row lock for the rest of the transaction, or
    fails with a conflict if another transaction changed the case since it was read."""
    case.version = case.version + 1
    case.updated_at = uow.clock.now()
    uow.session.flush()


def specs_for(uow: UnitOfWork, spec_id: int):
    """Spec objects of a stored process version, restored once per process and shared."""
    cache = uow.services.spec_cache
    if spec_id not in cache:
        row = uow.session.get(ProcessSpec, spec_id)
        if row.content_hash == uow.definition.content_hash:
            cache[spec_id] = (uow.definition.spec, uow.definition.subprocess_specs)
        else:
            cache[spec_id] = spec_objects(row.spec_json)
    return cache[spec_id]


def load_workflow(uow: UnitOfWork, case: Case):
    state = uow.session.get(CaseState, case.id)
    return uow.process.load(specs_for(uow, case.spec_id), state.state_json)


def save(uow: UnitOfWork, case: Case, workflow, *, actor: ActorRef, before: CaseView,
         refs: References, reason: str | None = None, events: list[dict] | None = None,
         recipient: str | None = None, completed_task: str | None = None) -> Snapshot:
    """Persist the stepped workflow and everything that mirrors it, in this transaction.

    ``events`` are the command's own audit events (written first); events for what changed
    (routing, transfer, dispatch, status changes, fired timers) follow.
    """
    now = uow.clock.now()
    pauses = uow.process.settle_pauses(workflow)
    snap = uow.process.snapshot(workflow)
    messages = uow.process.thrown_messages(workflow)
    apply_to_case(case, snap, uow.definition, refs, now)
    if case.expected_at is None:
        case.expected_at = uow.process.expected_close(case.created_at, snap.data)
    added, closed = sync_work_items(uow.session, case, snap, uow.definition, refs, now,
                                    completed_task=completed_task, completed_by=actor.user_id,
                                    at_risk=uow.process.at_risk_at,
                                    at_risk_share=uow.settings.at_risk_share)
    sync_timers(uow.session, case, snap)
    state = uow.session.get(CaseState, case.id)
    if state is None:
        state = CaseState(case_id=case.id)
        uow.session.add(state)
    state.state_json = uow.process.dump(workflow)
    state.updated_at = now
    uow.session.flush()

    after = CaseView.of(case, snap, refs)
    fired = [tid for tid in before.timers if tid not in after.timers
             and workflow.get_task_from_id(UUID(tid)).state == TaskState.COMPLETED]
    escalation_events = _sync_escalations(uow, case, snap, added, closed, refs, now)
    pause_events = [{"action": f"sla_{change}", "task_name": name} for name, change in pauses.items()]
    for event in [*(events or []), *derived_events(before, after, reason, workflow, fired),
                  *escalation_events, *pause_events]:
        event.setdefault("from_task", ",".join(before.tasks) or None)
        event.setdefault("to_task", ",".join(after.tasks) or None)
        audit.append(uow.session, case_id=case.id, actor=actor, occurred_at=now, **event)

    for message in messages:
        uow.session.add(OutboxMessage(
            created_at=now, topic=message.name, case_id=case.id,
            recipient=recipient if message.name in CITIZEN_MESSAGES else None,
            payload={"case_number": case.number,
                     **(message.payload if isinstance(message.payload, dict) else {})}))
    return snap


def _sync_escalations(uow: UnitOfWork, case: Case, snap: Snapshot, added, closed,
                      refs: References, now) -> list[dict]:
    """Raise an escalation for each new escalation task; acknowledge or resolve it when its
    task closes. Returns the audit events."""
    tasks = {t.task_id: t for t in snap.tasks}
    events: list[dict] = []
    for item in added:
        task = tasks[item.bpmn_task_id]
        if task.escalates is None:
            continue
        level = task.level
        uow.session.add(Escalation(case_id=case.id, work_item_id=item.id, task_name=task.escalates,
                                   level=level, agency_id=item.agency_id, raised_at=now))
        events.append({"action": Action.ESCALATION_RAISED, "task_name": task.escalates,
                       "to_agency": refs.agency_code(item.agency_id),
                       "data": {"level": level, "work_item": item.id}})
    for item in closed:
        escalation = uow.session.scalar(select(Escalation).where(Escalation.work_item_id == item.id))
        if escalation is None:
            continue
        escalation.resolved_at = now
        if item.outcome == Outcome.COMPLETED:
            escalation.acknowledged_at, escalation.acknowledged_by_id = now, item.completed_by_id
        events.append({"action": Action.ESCALATION_ACKNOWLEDGED if item.outcome == Outcome.COMPLETED
                       else Action.ESCALATION_RESOLVED, "task_name": escalation.task_name,
                       "data": {"level": escalation.level, "escalation": escalation.id}})
    return events


def derived_events(before: CaseView, after: CaseView, reason: str | None, workflow,
                   fired_timer_ids: list[str]) -> list[dict]:
    events: list[dict] = []
    for tid in fired_timer_ids:
        task = workflow.get_task_from_id(UUID(tid))
        events.append({"action": Action.TIMER_FIRED, "task_name": task.task_spec.name,
                       "data": {"timer": task.task_spec.name,
                                "due_at": task.internal_data.get("event_value")}})
    if before.category and after.category != before.category:
        events.append({"action": Action.CASE_RECATEGORIZED,
                       "data": {"category": [before.category, after.category]}})
    if after.agency != before.agency and after.agency is not None:
        if before.agency is None:
            events.append({"action": Action.CASE_ROUTED, "to_agency": after.agency,
                           "data": {"agency": [None, after.agency]}})
        else:
            events.append({"action": Action.CASE_TRANSFERRED, "from_agency": before.agency,
                           "to_agency": after.agency, "reason": reason,
                           "data": {"agency": [before.agency, after.agency],
                                    "transfer_count": after.transfer_count}})
    if after.team != before.team and after.team is not None:
        events.append({"action": Action.TEAM_DISPATCHED, "to_agency": after.agency,
                       "data": {"team": [before.team, after.team]}})
    if after.rework_count > before.rework_count:
        events.append({"action": Action.FIELD_WORK_RETURNED, "reason": reason,
                       "data": {"rework_count": after.rework_count}})
    if after.status != before.status and before.status is not None:
        action = STATUS_ACTIONS.get(CaseStatus(after.status))
        if action is None and before.status == CaseStatus.RESOLVED:
            action = Action.CASE_REOPENED
        if action:
            events.append({"action": action, "reason": reason,
                           "data": {"status": [before.status, after.status],
                                    "reopen_count": after.reopen_count}})
    return events
