"""The one shape of a command on a case: :class:`CaseChange`.

::

    with CaseChange(uow, case, actor.ref(role), expected_version=v,
                    operation=Operation.COMPLETE_TASK.of(form_key)) as change:
        change.process.complete(change.workflow, task_id, values)
        change.save(events=[{"action": Action.TASK_COMPLETED, ...}])

Entering checks the version the actor saw (a conflict naming who acted since) and names the
operation for the incident record. The case is locked by the command's one UPDATE of its row,
flushed before anything else the command writes (:meth:`CaseChange.save`, or the first
:meth:`CaseChange.record`): its ``version`` moves by one and its ``event_count`` by the events
about to be appended, so on PostgreSQL the row stays locked until commit and a concurrent
transaction that read the old version matches nothing and gets a conflict; on SQLite the write
transaction began with ``BEGIN IMMEDIATE``. What the command reads before (the workflow, the
open work items) is checked by that version too. The workflow is loaded when first asked for. :meth:`CaseChange.save`
writes the stepped workflow, the case row, ``work_items`` and ``timers``, the command's own
audit events and those for what changed, escalations and the notices its followers are sent
(``workflow.notify.notices``), all in this transaction. A change that only records (a note, a claim) calls :meth:`CaseChange.record`.
Leaving with a loaded workflow that was not saved is a programming error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, inspect, or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from workflow.commands.projections import apply_to_case, sync_timers, sync_work_items
from workflow.engine.definition import ProcessDefinition
from workflow.engine.runtime import ProcessEngine, Snapshot
from workflow.errors import Conflict, NotFound
from workflow.messages import msg
from workflow.notify import notices
from workflow.store import audit
from workflow.store.audit import ActorRef
from workflow.store.models import Case, CaseEvent, CaseState, Escalation, WorkItem
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.vocabulary import FINAL_STATUSES, STATUS_ACTIONS, Action, CaseStatus, Outcome, Role


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


def check_version(uow: UnitOfWork, case: Case, expected_version: int | None) -> None:
    """A conflict naming who acted last when the case moved on since ``expected_version``."""
    if expected_version is not None and int(expected_version) != case.version:
        last = uow.session.execute(select(CaseEvent.actor_name, CaseEvent.actor_user_id).where(
            CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc()).limit(1)).first()
        who, user_id = last if last else (None, None)
        if user_id is not None:
            message = msg("This case was just handled by {who}. Reload it to see the change.", who=who)
        elif who == Role.CITIZEN:
            message = msg("The reporter just acted on this case. Reload it to see the change.")
        elif who == "system":
            message = msg("The system just moved this case on (a deadline, say). Reload it to see the change.")
        else:
            message = msg("Someone else just handled this case. Reload it to see the change.")
        raise Conflict(message, by=who, case_id=case.id)


def load_workflow(uow: UnitOfWork, case: Case, state: CaseState | None = None):
    """The case's workflow (from ``state``, read when not given), on the spec objects of its own
    process version (parsed once per process and shared, ``ProcessVersions``)."""
    own = uow.services.versions.definition_of(uow.session, case.spec_id)
    state = state if state is not None else uow.session.get(CaseState, case.id)
    return uow.process.load((own.spec, own.subprocess_specs), state.state_json)


_OPEN_ITEMS_WITH = select(WorkItem, CaseState).options(joinedload(WorkItem.case)).outerjoin(
    CaseState, and_(CaseState.case_id == WorkItem.case_id, WorkItem.id == bindparam("item_id"))).where(
    WorkItem.case_id == select(WorkItem.case_id).where(WorkItem.id == bindparam("item_id")).scalar_subquery(),
    or_(WorkItem.completed_at.is_(None), WorkItem.id == bindparam("item_id"))).order_by(WorkItem.id)


def open_items_with(session: Session, item_id: int) -> tuple[WorkItem | None, list[WorkItem], CaseState | None]:
    """Work item ``item_id`` with its case, the open work items of that case and the case's
    stored workflow, in one statement built once (a command completing a task rewrites the other
    items too: ``sync_work_items``; the state is joined to the row of ``item_id`` only, so it is
    sent once)."""
    rows = session.execute(_OPEN_ITEMS_WITH, {"item_id": item_id}).unique().all()
    item, state = next(((w, s) for w, s in rows if w.id == item_id), (None, None))
    return item, [w for w, _s in rows if w.completed_at is None], state


class CaseChange:
    def __init__(self, uow: UnitOfWork, case: Case, actor: ActorRef, *,
                 expected_version: int | None = None, operation: str | None = None,
                 new: bool = False, open_items: list[WorkItem] | None = None, state: CaseState | None = None):
        """``new``: the case was created in this transaction (its workflow is started, not
        loaded; there is nothing to lock or compare). ``open_items``, ``state``: the case's open
        work items and its stored workflow, when the caller loaded them already
        (``open_items_with``)."""
        self.uow, self.case, self.actor = uow, case, actor
        self.refs = uow.refs
        self.expected_version, self.operation, self.new = expected_version, operation, new
        self.open_items = open_items
        self._workflow = None
        self._state: CaseState | None = state
        self._before_snapshot: Snapshot | None = None
        self.before: CaseView | None = CaseView.of(None, None, self.refs) if new else None
        self.saved = False
        self._locked = False  # the case's UPDATE of this command is flushed

    def __enter__(self) -> CaseChange:
        if not self.new:
            check_version(self.uow, self.case, self.expected_version)
        if self.operation:
            self.uow.acting_on(self.operation, None if self.new else self.case.id)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self._workflow is not None and not self.saved:
            raise RuntimeError(f"case {self.case.id}: the workflow was loaded but not saved")
        if exc_type is None and not self._locked and not self.new:
            self._lock(0)  # nothing recorded: the version moves all the same
        return False

    @property
    def definition(self) -> ProcessDefinition:
        """The process version this case runs: its lanes, tasks, statuses and end events (the
        forms people fill are today's, ``ProcessVersions.form``). A case not migrated keeps the
        rules it started with."""
        return self.uow.services.versions.definition_of(self.uow.session, self.case.spec_id)

    @property
    def process(self) -> ProcessEngine:
        """The engine of the case's own version."""
        return self.uow.services.versions.engine(self.definition)

    def lock(self) -> None:
        """Move the case's version by one. Written with the command's first flush, which
        updates the case row first (the parent of every row a command writes), so on PostgreSQL
        the row is locked before anything else of the command is, and a transaction that loaded
        the old version matches nothing and gets a conflict (see the module docstring)."""
        self.case.version = self.case.version + 1
        self.case.updated_at = self.uow.clock.now()

    def _lock(self, events: int) -> None:
        """Write the case's UPDATE now (one per command), with its ``event_count`` moved by the
        ``events`` about to be appended, and learn the chain head from it, which no other
        transaction can move any more (``audit.append_aside`` waits for the lock)."""
        session = self.uow.session
        if self.new:  # nothing to lock: the case was inserted by this transaction
            if events:
                self.case.event_count = Case.event_count + events
            session.flush()
            if events:
                seq, _hash = audit.read_head(session, self.case.id)
                set_committed_value(self.case, "event_count", seq + events)
        else:
            self.lock()
            self._write_case(events)
        self._locked = True

    def _write_case(self, events: int) -> None:
        """The case's UPDATE, before anything else of the command is flushed: every column the
        command changed, ``WHERE version`` = the version loaded (none matched: the conflict the
        ORM would raise), ``RETURNING`` the chain's new length and, in the same statement, the
        chain head (``audit.read_head`` in SQL). On PostgreSQL the head is read in the
        statement's snapshot, taken before it waited for another transaction's lock: when that
        transaction appended, the head is shorter than the length says and is read again,
        after the lock."""
        case, session = self.case, self.uow.session
        state = inspect(case)
        changed = [(attr.key, attr.columns[0].key, state.attrs[attr.key].history.added)
                   for attr in state.mapper.column_attrs if attr.key != "event_count"]
        changed = [(key, column, added[0]) for key, column, added in changed if added]
        loaded = state.attrs.version.history.deleted or state.attrs.version.history.unchanged
        row = session.connection().execute(_case_write(tuple(column for _key, column, _value in changed)), {
            "case_id": case.id, "loaded_version": loaded[0], "events": events,
            **{f"new_{column}": value for _key, column, value in changed}}).first()
        if row is None:
            raise StaleDataError("UPDATE statement on table 'cases' expected to update 1 row(s); 0 were matched.")
        for key, _column, value in changed:
            set_committed_value(case, key, value)
        set_committed_value(case, "event_count", row[0])
        if events:
            head = (row[1] or 0, row[2] or audit.GENESIS)
            if head[0] == row[0] - events:
                session.info.setdefault("audit_heads", {})[case.id] = head
            else:  # appended by a transaction this one waited for
                seq, _hash = audit.read_head(session, case.id)
                set_committed_value(case, "event_count", seq + events)

    # -- the workflow -------------------------------------------------------------------------

    @property
    def workflow(self):
        if self._workflow is None:
            if self._state is None:  # held: saved again below
                self._state = self.uow.session.get(CaseState, self.case.id)
            self._workflow = load_workflow(self.uow, self.case, self._state)
            self._before_snapshot = self.process.snapshot(self._workflow)
            self.before = CaseView.of(self.case, self._before_snapshot, self.refs)
        return self._workflow

    @property
    def loaded_snapshot(self) -> Snapshot:
        """The snapshot of the workflow as loaded, before this command moved it."""
        self.workflow  # noqa: B018 - loads it
        return self._before_snapshot

    def started(self, workflow) -> None:
        """A new case: ``workflow`` was just started for it."""
        self._workflow = workflow

    @property
    def snapshot(self) -> Snapshot:
        return self.process.snapshot(self.workflow)

    # -- writing ------------------------------------------------------------------------------

    def reserve(self, events: int = 1) -> bool:
        """Lock the case now, counting ``events`` events about to be appended with
        ``audit.append(..., counted=True)``: True. False when the case was locked already
        (append them uncounted)."""
        if self._locked:
            return False
        self._lock(events)
        return True

    def record(self, action: Action, **event) -> None:
        """An audit event for a change made beside the workflow (a claim, a note)."""
        counted = self.reserve(1)
        audit.append(self.uow.session, case_id=self.case.id, actor=self.actor, action=action,
                     occurred_at=self.uow.clock.now(), counted=counted, **event)

    def save(self, *, events: list[dict] | None = None, reason: str | None = None,
             completed_task: str | None = None) -> Snapshot:
        """Persist the stepped workflow and everything that mirrors it, in this transaction.

        ``events`` are the command's own audit events (written first); events for what changed
        (routing, transfer, dispatch, status changes, fired timers, escalations, SLA pauses)
        follow. ``completed_task``: the task id this command completed (its work item is closed
        as completed by the actor, the others that left as cancelled).
        """
        uow, case, workflow = self.uow, self.case, self.workflow
        definition, process = self.definition, self.process  # the version the case runs now
        session = uow.session
        now = uow.clock.now()
        pauses, snap = process.settle_and_snapshot(workflow)
        before = self.before
        due_before = case.due_at
        with session.no_autoflush:  # one flush below, the case row's UPDATE first
            apply_to_case(case, snap, definition, self.refs, now)
            if case.expected_at is None:
                case.expected_at = process.expected_close(case.created_at, snap.data)
            added, closed, rollups = sync_work_items(
                session, case, snap, definition, self.refs, now, completed_task=completed_task,
                completed_by=self.actor.user_id, at_risk=process.at_risk_at,
                at_risk_share=uow.settings.at_risk_share, existing=self.open_items)
            state = self._state if self._state is not None else (
                session.get(CaseState, case.id) if not self.new else None)
            if state is None:
                state = CaseState(case_id=case.id)
                session.add(state)
            state.state_json = process.dump(workflow)
            state.updated_at = now
            escalated = self._closed_escalations(closed, definition)
            after = CaseView.of(case, snap, self.refs)
            fired = process.fired_timers(workflow, [t for t in before.timers if t not in after.timers])
            changes = [*_what_changed(before, after, reason, fired, snap.ended_at),
                       *({"action": Action(f"sla_{change}"), "task_name": name} for name, change in pauses.items())]
            count = len(events or []) + len(changes) + len(escalated) + sum(
                1 for item in added if _task_of(snap, item).escalates is not None)
            if self._locked:  # recorded before: the rest is appended one by one
                count = 0
            elif self.new:
                case.event_count = count
                session.info.setdefault("audit_heads", {})[case.id] = (0, audit.GENESIS)
            else:
                self.lock()
                self._write_case(count)
        session.flush()
        self._locked = True
        sync_timers(session, case, snap, self._before_snapshot, rollups)
        derived = [*changes, *self._sync_escalations(snap, added, escalated, now, due_before)]
        appended = []
        for event in [*(events or []), *derived]:
            event.setdefault("from_task", ",".join(before.tasks) or None)
            event.setdefault("to_task", ",".join(after.tasks) or None)
            row = audit.append(session, case_id=case.id, actor=self.actor, occurred_at=now,
                               counted=bool(count), **event)
            appended.append((row.seq, event))
        session.flush()
        notices.queue(uow, case, appended, refs=self.refs, now=now)
        self.saved = True
        return snap

    def _closed_escalations(self, closed: list[WorkItem], definition: ProcessDefinition):
        """The escalations of the closed items that are escalation tasks (only those can have
        one: no query for the others)."""
        session = self.uow.session
        found = []
        for item in closed:
            task = definition.task(item.task_name)
            if task is None or task.level is None:
                continue
            escalation = session.scalar(select(Escalation).where(Escalation.work_item_id == item.id))
            if escalation is not None:
                found.append((item, escalation))
        return found

    def _sync_escalations(self, snap: Snapshot, added, escalated, now, due_before) -> list[dict]:
        """Raise an escalation for each new escalation task; acknowledge or resolve it when its
        task closes (``escalated``: (item, escalation) of the closed ones); the open ones follow
        the case's deadline (``due_before``: the deadline before this command). Returns the audit
        events."""
        session, case = self.uow.session, self.case
        events: list[dict] = []
        for item in added:
            task = _task_of(snap, item)
            if task.escalates is None:
                continue
            session.add(Escalation(case_id=case.id, work_item_id=item.id, task_name=task.escalates,
                                   level=task.level, agency_id=item.agency_id, raised_at=now,
                                   due_at=case.due_at or now))
            events.append({"action": Action.ESCALATION_RAISED, "task_name": task.escalates,
                           "to_agency": self.refs.agency_code(item.agency_id),
                           "data": {"level": task.level, "work_item": item.id}})
        for item, escalation in escalated:
            escalation.resolved_at = now
            done = item.outcome == Outcome.COMPLETED
            if done:
                escalation.acknowledged_at, escalation.acknowledged_by_id = now, item.completed_by_id
            events.append({"action": Action.ESCALATION_ACKNOWLEDGED if done else Action.ESCALATION_RESOLVED,
                           "task_name": escalation.task_name,
                           "data": {"level": escalation.level, "escalation": escalation.id}})
        new_ids = {item.bpmn_task_id for item in added}
        if case.due_at != due_before and any(
                t.escalates is not None and t.task_id not in new_ids for t in snap.tasks):
            # the escalations still open (their review tasks are) follow the case's deadline
            session.execute(update(Escalation).where(Escalation.case_id == case.id, Escalation.resolved_at.is_(None))
                            .values(due_at=case.due_at or Escalation.raised_at)
                            .execution_options(synchronize_session=False))
        return events


_CASE_WRITES: dict[tuple[str, ...], object] = {}  # by the columns set: built once each


def _case_write(columns: tuple[str, ...]):
    """``CaseChange._write_case``'s UPDATE of ``columns`` (each bound as ``new_<column>``)."""
    if columns not in _CASE_WRITES:
        table = Case.__table__
        last = select(CaseEvent.seq, CaseEvent.hash).where(CaseEvent.case_id == bindparam("case_id")).order_by(
            CaseEvent.seq.desc()).limit(1).subquery()
        _CASE_WRITES[columns] = (
            update(table).where(table.c.id == bindparam("case_id"), table.c.version == bindparam("loaded_version"))
            .values({**{c: bindparam(f"new_{c}", type_=table.c[c].type) for c in columns},
                     table.c.event_count.key: table.c.event_count + bindparam("events")})
            .returning(table.c.event_count, select(last.c.seq).scalar_subquery(),
                       select(last.c.hash).scalar_subquery()))
    return _CASE_WRITES[columns]


def _task_of(snap: Snapshot, item: WorkItem):
    return next(t for t in snap.tasks if t.task_id == item.bpmn_task_id)


def _what_changed(before: CaseView, after: CaseView, reason: str | None,
                  fired: list[tuple[str, str | None]], ended_at: str | None) -> list[dict]:
    events: list[dict] = [{"action": Action.TIMER_FIRED, "task_name": name,
                           "data": {"timer": name, "due_at": due}} for name, due in fired]
    if before.category and after.category != before.category:
        events.append({"action": Action.CASE_RECATEGORIZED,
                       "data": {"category": [before.category, after.category]}})
    if after.agency != before.agency and after.agency is not None:
        if before.agency is None:
            events.append({"action": Action.CASE_ROUTED, "to_agency": after.agency, "reason": reason,
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
            data = {"status": [before.status, after.status], "reopen_count": after.reopen_count}
            if ended_at and CaseStatus(after.status) in FINAL_STATUSES:
                data["end_event"] = ended_at  # which end of the process it reached
            events.append({"action": action, "reason": reason, "data": data})
    return events
