"""One SpiffWorkflow serializer per thread (its registry toggles a flag while serializing).

The registry is built from a copy of the library's ``SPIFF_CONFIG``; the global is never mutated.
"""

from __future__ import annotations

import copy
import json
import threading

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

_local = threading.local()


def serializer() -> BpmnWorkflowSerializer:
    s = getattr(_local, "serializer", None)
    if s is None:
        registry = BpmnWorkflowSerializer.configure(copy.copy(SPIFF_CONFIG))
        s = _local.serializer = BpmnWorkflowSerializer(registry)
    return s


def dump_state(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON, without its spec (stored once in ``process_specs``)."""
    data = json.loads(serializer().serialize_json(workflow))
    data.pop("spec", None)
    data.pop("subprocess_specs", None)
    return json.dumps(data, separators=(",", ":"))


def load_state(spec_json: str, state_json: str, script_engine) -> BpmnWorkflow:
    s = serializer()
    data = json.loads(state_json)
    data.update(json.loads(spec_json))
    s.migrate(data)
    workflow = s.from_dict(data)
    workflow.script_engine = script_engine
    return workflow
