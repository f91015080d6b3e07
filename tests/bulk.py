"""Many cases fast: copies of one real case, each with fresh task ids in its workflow state; many
queued notices: copies of real ones."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import insert, select

from workflow.store.models import Case, CaseState, OutboxMessage, Report, Timer, WorkItem

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _row(obj, skip=("id",)) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in skip}


def clone_case(services, case_id: int, copies: int, chunk: int = 500) -> None:
    with services.uow() as uow:
        s = uow.session
        case, state = s.get(Case, case_id), s.get(CaseState, case_id)
        report = case.report
        timers = list(s.scalars(select(Timer).where(Timer.case_id == case_id)))
        items = list(s.scalars(select(WorkItem).where(WorkItem.case_id == case_id)))
        task_ids = sorted(set(UUID.findall(state.state_json)))
        base = dict(report=_row(report), case={**_row(case, ("id", "report_id", "number")), "event_count": 0},
                    timers=[_row(t, ("id", "case_id")) for t in timers],
                    items=[_row(i, ("id", "case_id")) for i in items])
        for start in range(0, copies, chunk):
            n = min(chunk, copies - start)
            reports = [{**base["report"], "tracking_hash": f"clone-{start + k:058d}"} for k in range(n)]
            report_ids = s.scalars(insert(Report).returning(Report.id, sort_by_parameter_order=True), reports).all()
            cases = [{**base["case"], "report_id": rid, "number": f"{9000 + start + k:04d}-{start + k:06d}"}
                     for k, rid in enumerate(report_ids)]
            case_ids = s.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True), cases).all()
            states, new_timers, new_items = [], [], []
            for cid in case_ids:
                mapping = {old: str(uuid.uuid4()) for old in task_ids}
                states.append({"case_id": cid, "updated_at": state.updated_at,
                               "state_json": UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), state.state_json)})
                new_timers += [{**t, "case_id": cid, "bpmn_task_id": mapping[t["bpmn_task_id"]]} for t in base["timers"]]
                new_items += [{**i, "case_id": cid, "bpmn_task_id": mapping[i["bpmn_task_id"]]} for i in base["items"]]
            s.execute(insert(CaseState), states)
            if new_timers:  # an empty list would insert one row of defaults
                s.execute(insert(Timer), new_timers)
            if new_items:
                s.execute(insert(WorkItem), new_items)
        uow.commit()


def copy_notices(services, copies: int) -> None:
    """Each queued notice ``copies`` times in all: the copies under keys of their own (the
    delivery worker renders and sends each like any other)."""
    with services.uow() as uow:
        rows = list(uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        extra = [{"created_at": r.created_at, "topic": r.topic, "case_id": r.case_id,
                  "subscription_id": r.subscription_id, "channel": r.channel, "recipient": r.recipient,
                  "payload": r.payload, "key": f"{r.key}-{k}", "attempts": 0}
                 for r in rows for k in range(1, copies)]
        if extra:
            uow.session.execute(insert(OutboxMessage), extra)
        uow.commit()
