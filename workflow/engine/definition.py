"""Parse ``bpmn/`` once into a :class:`ProcessDefinition`; store each spec version once by hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.forms import FormDefinition, parse_forms
from workflow.engine.serialization import serializer
from workflow.store.models import ProcessSpec
from workflow.vocabulary import Role

PROCESS_ID = "tanggap_case"


@dataclass(frozen=True)
class LaneRule:
    """Who works a lane's tasks. ``agency``/``team`` name the process variable holding the code,
    or ``command_center`` for the command-center agency."""

    role: Role
    agency: str | None = None
    team: str | None = None
    fallback: str | None = None  # agency when the variable is not set yet
    level: str | None = None  # escalation lanes: the level their tasks raise


@dataclass(frozen=True)
class ProcessDefinition:
    process_id: str
    spec: object
    subprocess_specs: dict
    spec_json: str
    content_hash: str
    source: dict[str, str]
    lanes: dict[str, LaneRule]
    forms: dict[str, FormDefinition]
    open_statuses: dict[str, str]
    end_statuses: dict[str, str]


def load_definition(bpmn_dir: Path, process_id: str = PROCESS_ID) -> ProcessDefinition:
    bpmn_dir = Path(bpmn_dir)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    bpmn_files = sorted(bpmn_dir.glob("*.bpmn"))
    dmn_files = sorted(bpmn_dir.glob("*.dmn"))
    parser.add_bpmn_files([str(p) for p in bpmn_files])
    parser.add_dmn_files([str(p) for p in dmn_files])
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)

    raw = json.loads(serializer().serialize_json(BpmnWorkflow(spec, subprocess_specs)))
    spec_part = {"spec": raw["spec"], "subprocess_specs": raw["subprocess_specs"]}
    spec_json = json.dumps(spec_part, sort_keys=True, separators=(",", ":"))
    content_hash = hashlib.sha256(spec_json.encode()).hexdigest()

    meta = yaml.safe_load((bpmn_dir / "tasks.yaml").read_text(encoding="utf-8"))
    lanes = {name: LaneRule(role=Role(rule["role"]), agency=rule.get("agency"), team=rule.get("team"),
                            fallback=rule.get("fallback"), level=rule.get("level"))
             for name, rule in meta["lanes"].items()}
    source = {p.name: p.read_text(encoding="utf-8") for p in [*bpmn_files, *dmn_files]}
    source["tasks.yaml"] = (bpmn_dir / "tasks.yaml").read_text(encoding="utf-8")
    return ProcessDefinition(
        process_id=process_id, spec=spec, subprocess_specs=subprocess_specs,
        spec_json=spec_json, content_hash=content_hash, source=source, lanes=lanes,
        forms=parse_forms(meta["forms"]), open_statuses=dict(meta["statuses"]["open"]),
        end_statuses=dict(meta["statuses"]["ended"]))


def ensure_stored(session: Session, definition: ProcessDefinition, now) -> ProcessSpec:
    """The stored row for this spec version, inserted the first time it is seen."""
    row = session.scalar(select(ProcessSpec).where(ProcessSpec.content_hash == definition.content_hash))
    if row is None:
        row = ProcessSpec(content_hash=definition.content_hash, process_id=definition.process_id,
                          spec_json=definition.spec_json, source=definition.source, created_at=now)
        session.add(row)
        session.flush()
    return row


def side_tasks(definition: ProcessDefinition) -> set[str]:
    """Human tasks that run beside the case's main task: in an escalation lane, or marked with
    an ``escalates`` or ``pausesSla`` property (see ``bpmn/tasks.yaml``)."""
    names = set()
    for spec in definition.spec.task_specs.values():
        if not getattr(spec, "manual", False):
            continue
        properties = spec.extensions.get("properties", {})
        rule = definition.lanes.get(spec.lane)
        if (rule is not None and rule.level) or "escalates" in properties or "pausesSla" in properties:
            names.add(spec.name)
    return names
