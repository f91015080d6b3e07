"""Write what a workflow :class:`Snapshot` says into the case row, ``work_items`` and ``timers``.

Called in the same transaction as the state it mirrors, after every step, so the inbox and the
sweeper read rows that are never stale and never ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflow.engine.definition import COMMAND_CENTER, ProcessDefinition
from workflow.engine.runtime import HumanTask, Snapshot
from workflow.read.lateness import on_time
from workflow.store.models import Case, SlaDaily, Timer, WorkItem
from workflow.store.reference import References
from workflow.vocabulary import FINAL_STATUSES, SLA_ROLES, CaseStatus, Outcome

_SLA_UPSERTS: dict[str, object] = {}  # by dialect: built once (building a statement costs more than sending it)


def count_sla(session: Session, day: date, agency_id: int, form_key: str, *, on_time: bool) -> None:
    """Add one completed task to the ``sla_daily`` rollup (an upsert: concurrent transactions
    adding to the same day and OPD both count)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _SLA_UPSERTS:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(SlaDaily).values(day=bindparam("day"), agency_id=bindparam("agency_id"),
                                            form_key=bindparam("form_key"), completed=1,
                                            on_time=bindparam("on_time"))
        _SLA_UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=["day", "agency_id", "form_key"],
            set_={"completed": SlaDaily.completed + 1, "on_time": SlaDaily.on_time + bindparam("on_time")})
    session.execute(_SLA_UPSERTS[dialect], {"day": day, "agency_id": agency_id, "form_key": form_key,
                                            "on_time": int(on_time)})


def case_status(definition: ProcessDefinition, snap: Snapshot) -> CaseStatus:
    if snap.main_task is not None:
        return definition.status_of_form(snap.main_task.form_key)
    if snap.ended_at is not None:
        return definition.status_of_end(snap.ended_at)
    raise LookupError("workflow has neither an open task nor a known end event")


def apply_to_case(case: Case, snap: Snapshot, definition: ProcessDefinition, refs: References,
                  now: datetime) -> None:
    data = snap.data
    status = case_status(definition, snap)
    case.status = status
    case.stage = snap.main_task.form_key if snap.main_task else None
    agency = data.get("agency")
    case.agency_id = refs.agencies[agency].id if agency else None
    team = data.get("team")
    case.team_id = refs.teams[team].id if team else None
    category = data.get("category")
    if category:
        case.category_id = refs.categories[category].id
    case.priority = data.get("priority") or case.priority or "normal"
    case.transfer_count = int(data.get("transfer_count") or 0)
    case.reopen_count = int(data.get("reopen_count") or 0)
    case.rework_count = int(data.get("rework_count") or 0)
    if status in FINAL_STATUSES:
        case.closed_at = case.closed_at or now
    else:
        case.closed_at = None
    case.close_seconds = ((case.closed_at - case.created_at).total_seconds()
                          if status == CaseStatus.CLOSED and case.created_at else None)
    case.updated_at = now


def _item_scope(task: HumanTask, definition: ProcessDefinition, refs: References, data) -> dict:
    rule = definition.lanes[task.lane]
    agency_id = team_id = None
    if rule.agency == COMMAND_CENTER:
        agency_id = refs.command_center.id
    elif rule.agency and data.get(rule.agency):
        agency_id = refs.agencies[data[rule.agency]].id
    elif rule.fallback == COMMAND_CENTER:
        agency_id = refs.command_center.id
    if rule.team and data.get(rule.team):
        team_id = refs.teams[data[rule.team]].id
    return {"role": rule.role, "agency_id": agency_id, "team_id": team_id}


def sync_work_items(session: Session, case: Case, snap: Snapshot, definition: ProcessDefinition,
                    refs: References, now: datetime, *, completed_task: str | None = None,
                    completed_by: int | None = None,
                    at_risk: Callable[[datetime, datetime, float], datetime] | None = None,
                    at_risk_share: float = 0.75, existing: list[WorkItem] | None = None,
                    ) -> tuple[list[WorkItem], list[WorkItem], list[Callable[[], None]]]:
    """Make the open ``work_items`` equal the READY human tasks. Claims on surviving items are
    kept; items no longer READY are closed: ``completed`` if it is ``completed_task`` (done by
    ``completed_by``), else ``cancelled`` (an interrupting timer, a merge). ``existing``: the
    case's open items, when the caller loaded them already in this transaction.

    Also sets the case's ``due_at`` to the deadline of its main open task. Nothing is flushed:
    returns (added, closed, rollups), ``rollups`` the ``sla_daily`` upserts to run after the
    flush that updates the case (a command locks the case row before any other).
    """
    if existing is None:
        existing = list(session.scalars(
            select(WorkItem).where(WorkItem.case_id == case.id, WorkItem.completed_at.is_(None))))
    by_task = {w.bpmn_task_id: w for w in existing}
    wanted = {t.task_id: t for t in snap.tasks}
    removed = [w for tid, w in by_task.items() if tid not in wanted]
    rollups: list[Callable[[], None]] = []
    for w in removed:
        w.completed_at = now
        if w.bpmn_task_id == completed_task:
            w.outcome, w.completed_by_id = Outcome.COMPLETED, completed_by
            if w.due_at is not None and w.agency_id is not None and w.role in SLA_ROLES:
                day, late = w.completed_at.astimezone(refs.zone).date(), on_time(w.completed_at, w.due_at)
                rollups.append(lambda w=w, day=day, late=late: count_sla(
                    session, day, w.agency_id, w.form_key, on_time=late))
        else:
            w.outcome = Outcome.CANCELLED
    added = []
    wanted_items: dict[str, WorkItem] = {}
    for tid, task in wanted.items():
        scope = _item_scope(task, definition, refs, task.data)
        item = by_task.get(tid)
        if item is None:
            item = WorkItem(case_id=case.id, bpmn_task_id=tid, created_at=now, **scope)
            session.add(item)
            added.append(item)
        else:
            if (item.agency_id, item.team_id) != (scope["agency_id"], scope["team_id"]):
                item.assignee_id, item.claimed_at = None, None  # scope moved: claim lapses
            for key, value in scope.items():
                setattr(item, key, value)
        item.category_id, item.area_id = case.category_id, case.area_id  # what the inbox filters on
        item.task_name = task.name
        item.form_key = task.form_key
        item.lane = task.lane
        item.priority = case.priority
        item.due_at = task.due_at  # fired timers included: it does not move when one fires
        item.sla_paused_since = task.paused_since
        item.at_risk_at = None
        if task.due_at is not None:
            item.at_risk_at = (at_risk(item.created_at, task.due_at, at_risk_share) if at_risk
                               else item.created_at + (task.due_at - item.created_at) * at_risk_share)
        wanted_items[tid] = item
    main = wanted_items.get(snap.main_task.task_id) if snap.main_task else None
    case.due_at = main.due_at if main is not None else None
    return added, removed, rollups


_TIMERS_GONE = delete(Timer.__table__).where(Timer.__table__.c.case_id == bindparam("case_id"),
                                             Timer.__table__.c.bpmn_task_id.in_(bindparam("gone", expanding=True)))
_TIMERS_NEW = insert(Timer.__table__)


def sync_timers(session: Session, case: Case, snap: Snapshot, before: Snapshot | None,
                rollups: list[Callable[[], None]] = ()) -> None:
    """Make ``timers`` equal the WAITING timer events: a diff against ``before``, the snapshot
    the rows were written from (the workflow as loaded; None for a new case, which has none).
    Rows of timers that left are deleted in one statement, those of new timers inserted in one
    (on PostgreSQL both in one, the delete a WITH of the insert), and a timer still waiting is updated only where its row says something else (a deadline
    moved); the sweeper's lease and attempts on it stay. Then the ``sla_daily`` ``rollups``."""
    table = Timer.__table__
    had = {t.task_id: t for t in (before.timers if before else ())}
    wanted = {t.task_id: t for t in snap.timers}
    gone = [tid for tid in had if tid not in wanted]
    new = [{"case_id": case.id, "bpmn_task_id": tid, "timer_name": t.name, "guards_task": t.guards_task,
            "interrupting": t.interrupting, "due_at": t.due_at, "attempts": 0}
           for tid, t in wanted.items() if tid not in had]
    if gone and new and session.get_bind().dialect.name == "postgresql":
        # one statement: the DELETE as a data-modifying WITH of the INSERT (the two touch
        # different timers, so the shared snapshot does not matter)
        session.execute(insert(table).values(new).add_cte(
            delete(table).where(table.c.case_id == case.id, table.c.bpmn_task_id.in_(gone)).cte("gone")))
    else:
        if gone:
            session.execute(_TIMERS_GONE, {"case_id": case.id, "gone": gone})
        if new:
            session.execute(_TIMERS_NEW, new)
    for tid, timer in wanted.items():
        old = had.get(tid)
        if old is not None and old != timer:
            session.execute(update(table).where(table.c.bpmn_task_id == tid).values(
                timer_name=timer.name, guards_task=timer.guards_task, interrupting=timer.interrupting,
                due_at=timer.due_at))
    for rollup in rollups:
        rollup()
