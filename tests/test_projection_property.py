"""Property: after any sequence of commands, the projections equal what the workflow says.

``work_items`` (open rows) must be exactly the READY human tasks and ``timers`` exactly the
WAITING timer events, with their deadlines, for every case; failed commands change nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from workflow import commands
from workflow.commands.change import load_workflow
from workflow.errors import DomainError
from workflow.store.models import Case, Timer, WorkItem
from workflow.vocabulary import CaseStatus

AGENCIES = ["DLH", "DPU", "DISHUB", "DINSOS", "SATPOLPP", "DINKES"]


def expected_projection(services, case_id):
    """READY human tasks and WAITING timers, read from the deserialized workflow."""
    with services.uow() as uow:
        workflow = load_workflow(uow, uow.session.get(Case, case_id))
    tasks = {(str(t.id), t.task_spec.name) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    timers = set()
    for t in workflow.get_tasks(state=TaskState.WAITING):
        if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition):
            timers.add((str(t.id), t.task_spec.name,
                        datetime.fromisoformat(t.internal_data["event_value"])))
    return tasks, timers


def stored_projection(services, case_id):
    with services.reading() as session:
        items = {(w.bpmn_task_id, w.task_name) for w in session.scalars(
            select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.completed_at.is_(None)))}
        timers = {(t.bpmn_task_id, t.timer_name, t.due_at) for t in session.scalars(
            select(Timer).where(Timer.case_id == case_id))}
    return items, timers


@pytest.mark.slow
def test_projections_always_match_the_workflow(world):
    w = world
    actors = {"triage": w.triage, "DLH": w.dlh, "DPU": w.dpu, "DISHUB": w.dishub,
              "DINSOS": w.dinsos, "SATPOLPP": w.user("koor.satpol", ("coordinator", "SATPOLPP")),
              "DINKES": w.user("koor.dinkes", ("coordinator", "DINKES")), "qr": w.qr_mariso}
    services = w.services

    class Cases(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.cases: list = []
            self.touched: set[int] = set()

        @rule(category=st.sampled_from(["sampah", "kemacetan", "gepeng", "fogging-dbd"]))
        def submit(self, category):
            sub = w.report(category=category)
            self.cases.append(sub)
            self.touched.add(sub.case_id)

        @rule(data=st.data())
        def act(self, data):
            if not self.cases:
                return
            sub = data.draw(st.sampled_from(self.cases))
            items = w.open_items(sub.case_id)
            self.touched.add(sub.case_id)
            if not items:
                return
            item = items[0]
            with services.reading() as session:
                case = session.get(Case, sub.case_id)
                agency = case.agency.code if case.agency else None
            actor = {"triage": actors["triage"], "dispatch": actors.get(agency),
                     "field_work": actors["qr"]}.get(item.form_key, actors.get(agency))
            values = self._values(data, item.form_key, agency, sub)
            try:
                with services.uow() as uow:
                    if item.form_key == "citizen_feedback":
                        commands.citizen_feedback(uow, sub.tracking_code, **values)
                    else:
                        if item.form_key == "field_work" and values.get("after_photo") == "new":
                            values["after_photo"] = self._photo(uow, actor, sub.case_id)
                        commands.complete_work_item(uow, actor, item.id, values)
                    uow.commit()
            except DomainError:
                pass  # invalid draws are part of the test: they must change nothing
            services.clock.advance(timedelta(minutes=data.draw(st.integers(1, 600))))

        def _photo(self, uow, actor, case_id):
            from tests.helpers import jpeg_bytes

            image = services.storage.prepare(jpeg_bytes())
            return commands.add_attachment(uow, actor, case_id, image, kind="after").id

        def _values(self, data, form_key, agency, sub):
            draw = data.draw
            if form_key == "triage":
                decision = draw(st.sampled_from(["valid", "valid", "reject", "duplicate", "bogus"]))
                others = [c.case_number for c in self.cases if c.case_id != sub.case_id] or ["2026-000000"]
                return {"decision": decision, "reason": draw(st.sampled_from([None, "alasan"])),
                        "duplicate_of": draw(st.sampled_from(others)) if decision == "duplicate" else None}
            if form_key == "disposition":
                if draw(st.booleans()):
                    return {"decision": "accept"}
                return {"decision": "transfer", "transfer_to": draw(st.sampled_from(AGENCIES)),
                        "reason": draw(st.sampled_from([None, "bukan kewenangan"]))}
            if form_key == "dispatch":
                return {"team": draw(st.sampled_from(["qr-mariso-1", "qr-tallo-1"]))}
            if form_key == "field_work":
                return {"arrived_at": services.clock.now().isoformat(), "action_taken": "dikerjakan",
                        "after_photo": draw(st.sampled_from(["new", "new", "424242"]))}
            if form_key == "verification":
                return {"decision": draw(st.sampled_from(["approve", "send_back"])),
                        "reason": draw(st.sampled_from([None, "belum tuntas"]))}
            if form_key == "closure":
                return {"closure_note": draw(st.sampled_from(["", "selesai"]))}
            return {"decision": draw(st.sampled_from(["confirm", "dispute"])),
                    "reason": draw(st.sampled_from([None, "masih ada"]))}

        @rule(hours=st.integers(1, 24 * 9))
        def time_passes(self, hours):
            services.clock.advance(timedelta(hours=hours))
            with services.reading() as session:
                due = set(session.scalars(select(Timer.case_id).where(
                    Timer.due_at <= services.clock.now())))
            for case_id in due:
                with services.uow() as uow:
                    commands.fire_timers(uow, case_id)
                    uow.commit()
                self.touched.add(case_id)

        @invariant()
        def projections_match(self):
            for case_id in sorted(self.touched):
                expected_items, expected_timers = expected_projection(services, case_id)
                items, timers = stored_projection(services, case_id)
                assert items == expected_items
                assert timers == expected_timers
                case = w.case(case_id)
                assert (case.status in (CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED)) \
                    == (not expected_items)
            self.touched.clear()

        def teardown(self):
            assert w.chain_breaks() == []

    run_state_machine_as_test(Cases, settings=settings(
        max_examples=12, stateful_step_count=20, deadline=None,
        suppress_health_check=list(HealthCheck)))
