"""Workflow state to and from JSON, with the spec stored separately (once per version).

SpiffWorkflow's serializer embeds the whole spec in every workflow (about 60 KB for
``case.bpmn``, more than half the bytes and most of the time). :class:`_StateOnlyConverter`
leaves it out on the way out; on the way in, the spec objects come from the caller, restored once
per stored spec version and shared (specs are read-only while workflows run, as parsed ones are).

One serializer per thread: its registry toggles a flag while serializing. The registry is built
from a copy of ``SPIFF_CONFIG``; the library's global is never mutated.
"""

from __future__ import annotations

import copy
import json
import threading
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG


class _StateOnlyConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_state(self, dct, spec, subprocess_specs):
        """``BpmnWorkflowConverter.from_dict`` with the spec objects given instead of restored."""
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _Local(threading.local):
    full: BpmnWorkflowSerializer | None = None
    state: BpmnWorkflowSerializer | None = None
    converter: _StateOnlyConverter | None = None


_local = _Local()


def serializer() -> BpmnWorkflowSerializer:
    """The library's standard serializer (spec included), for this thread."""
    if _local.full is None:
        _local.full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(copy.copy(SPIFF_CONFIG)))
    return _local.full


def _state_serializer() -> tuple[BpmnWorkflowSerializer, _StateOnlyConverter]:
    if _local.state is None:
        config = copy.copy(SPIFF_CONFIG)
        config[BpmnWorkflow] = _StateOnlyConverter
        registry = BpmnWorkflowSerializer.configure(config)
        _local.state = BpmnWorkflowSerializer(registry)
        typename = registry.typenames[BpmnWorkflow]
        _local.converter = registry.convert_from_dict[typename].args[0].__self__
    return _local.state, _local.converter


def spec_objects(spec_json: str):
    """Restore (spec, subprocess_specs) from a stored ``process_specs.spec_json``."""
    data = json.loads(spec_json)
    registry = serializer().registry
    spec = registry.restore(data["spec"])
    subprocess_specs = {k: registry.restore(v) for k, v in data["subprocess_specs"].items()}
    return spec, subprocess_specs


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON, without its spec."""
    return _state_serializer()[0].serialize_json(workflow)


def load_state(specs, state_json: str, script_engine) -> BpmnWorkflow:
    serializer_, converter = _state_serializer()
    data = json.loads(state_json)
    serializer_.migrate(data)
    workflow = converter.from_state(data, *specs)
    workflow.script_engine = script_engine
    return workflow
