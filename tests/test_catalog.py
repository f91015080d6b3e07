"""The process catalog: every user task is workable, every category is routable."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflow.clock import ManualClock
from workflow.config import REPO_ROOT
from workflow.engine.scripting import make_script_engine
from workflow.engine.sla import deadline_functions
from workflow.store.seed import DEFAULT_SEED
from workflow.vocabulary import Role

SEED = yaml.safe_load(Path(DEFAULT_SEED).read_text(encoding="utf-8"))


def _user_tasks(definition):
    return [s for s in definition.spec.task_specs.values() if getattr(s, "manual", False)]


def _boundary_timers(definition, task_name):
    return [s for s in definition.spec.task_specs.values()
            if isinstance(getattr(s, "event_definition", None), TimerEventDefinition)
            and any(p.name == f"{task_name}.BoundaryEventSplit" for p in s.inputs)]


def test_every_user_task_has_a_role_a_form_and_a_timer(definition):
    tasks = _user_tasks(definition)
    assert {t.name for t in tasks} == {"triage", "disposition", "dispatch", "field_work",
                                       "verification", "closure", "citizen_feedback",
                                       "sla_escalation", "critical_escalation",
                                       "pingpong_escalation", "ask_citizen"}
    for task in tasks:
        assert task.lane in definition.lanes, f"{task.name}: lane {task.lane} has no role"
        assert isinstance(definition.lanes[task.lane].role, Role)
        properties = task.extensions["properties"]
        form_key = properties["formKey"]
        assert form_key in definition.forms, f"{task.name}: no form {form_key}"
        if definition.lanes[task.lane].level or "escalates" in properties or "pausesSla" in properties:
            continue  # side tasks: escalation reviews and questions run beside a main task
        assert form_key in definition.open_statuses, f"{task.name}: no case status"
        timers = _boundary_timers(definition, task.name)
        assert timers, f"{task.name} has no boundary timer"
        if definition.lanes[task.lane].role != Role.CITIZEN:
            assert any(not t.cancel_activity for t in timers), f"{task.name}: no SLA timer"
            expressions = sorted(t.event_definition.expression for t in timers)
            assert expressions == [f"sla_due(sla_{task.name})", f"sla_due(sla_{task.name}, 2)"]


def test_every_end_event_maps_to_a_case_status(definition):
    from SpiffWorkflow.bpmn.specs.defaults import EndEvent

    ends = {s.name for s in definition.spec.task_specs.values() if isinstance(s, EndEvent)}
    side_ends = {"sla_escalation_end", "critical_escalation_end", "pingpong_escalation_end",
                 "ask_citizen_end", "ask_citizen_timeout"}
    assert ends - side_ends == set(definition.end_statuses)


def test_a_supervisor_can_take_the_case_away_at_every_opd_stage(definition):
    """Forced transfers are delivered as the ``force_transfer`` message: every stage an OPD
    holds the case at must catch it with an interrupting boundary event."""
    from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition

    opd_stages = {t.form_key for t in definition.stages
                  if definition.lanes[t.lane].role in (Role.COORDINATOR, Role.QR_OFFICER)}
    assert definition.transfer_stages == opd_stages == {
        "disposition", "dispatch", "field_work", "verification", "closure"}
    for stage in opd_stages:
        catchers = [s for s in definition.spec.task_specs.values()
                    if isinstance(getattr(s, "event_definition", None), MessageEventDefinition)
                    and s.event_definition.name == "force_transfer"
                    and any(p.name == f"{stage}.BoundaryEventSplit" for p in s.inputs)]
        assert len(catchers) == 1 and catchers[0].cancel_activity, stage


def test_gateway_choices_match_the_forms(definition):
    """Every value a decision form allows has an outgoing flow, and no flow waits for a value
    the form cannot produce."""
    bpmn = (REPO_ROOT / "bpmn" / "case.bpmn").read_text(encoding="utf-8")
    for form_key in ("triage", "disposition", "verification", "citizen_feedback"):
        choices = definition.forms[form_key].field("decision").choices
        for choice in choices:
            assert f'decision == "{choice}"' in bpmn, f"{form_key}: no flow for {choice}"


@pytest.mark.parametrize("category", [c["code"] for c in SEED["categories"]])
def test_routing_covers_every_category_in_every_kecamatan(definition, category):
    opds = {a["code"] for a in SEED["agencies"] if a.get("handles_reports", True)}
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
    for kecamatan in SEED["kecamatan"]:
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
                                script_engine=make_script_engine(deadline_functions(clock)))
        start = workflow.get_next_task(state=TaskState.READY)
        start.data.update(category=category, area=kecamatan["code"])
        workflow.do_engine_steps()
        data = workflow.get_next_task(state=TaskState.READY, manual=True).data
        assert data["suggested_agency"] in opds
        assert data["priority"] in ("low", "normal", "high")
        for stage in ("triage", "disposition", "dispatch", "field_work", "verification", "closure"):
            TimerEventDefinition.parse_iso_duration(data[f"sla_{stage}"])


def test_area_rule_takes_precedence_for_city_centre_congestion(definition):
    def route(category, area):
        clock = ManualClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs,
                                script_engine=make_script_engine(deadline_functions(clock)))
        workflow.get_next_task(state=TaskState.READY).data.update(category=category, area=area)
        workflow.do_engine_steps()
        return workflow.get_next_task(state=TaskState.READY, manual=True).data

    centre, elsewhere = route("kemacetan", "ujung-pandang"), route("kemacetan", "tallo")
    assert centre["suggested_agency"] == elsewhere["suggested_agency"] == "DISHUB"
    assert (centre["sla_disposition"], elsewhere["sla_disposition"]) == ("PT2H", "PT4H")
