"""The process, read once from ``bpmn/``: the only reader of the BPMN files and ``tasks.yaml``.

Everything the application needs to know about the process is asked of
:class:`ProcessDefinition`, never written down in Python: who works a task and in which
lane, its labels, whether its case can be moved to another OPD or its officer can ask the
reporter a question, which task waits for the reporter's answer or confirmation, what an end
event means and which script task an audit action stands for. A new stage is a BPMN edit, a
form and labels in ``tasks.yaml``.

Where a question is answered:

* BPMN task properties (``spiffworkflow:property``): ``formKey``; ``escalates`` and
  ``escalationLevel`` (escalation reviews); ``pausesSla`` (the question to the reporter);
  ``auditAction`` on script tasks (the audit event their effect is recorded as).
* Boundary events: a message boundary catching ``messages.ask_citizen`` lets the task's
  officer ask the reporter; one catching ``messages.force_transfer`` lets a supervisor move the
  case away; a non-interrupting boundary starts a side task.
* ``tasks.yaml``: lanes (roles), forms, statuses, task labels, escalation levels, messages.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from workflow.engine.forms import FormDefinition, parse_forms
from workflow.engine.serialization import serializer
from workflow.messages import msg
from workflow.vocabulary import SLA_ROLES, AttachmentKind, CaseStatus, Role

PROCESS_ID = "tanggap_case"
COMMAND_CENTER = "command_center"  # a lane rule's word for the command-center agency (not a variable)
Labels = Mapping[str, str]  # {"id": ..., "en": ...}


class DefinitionError(ValueError):
    """The process files contradict each other; ``problems`` names each, by element id."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


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
class TaskDefinition:
    """A human task of the process, as the application sees it."""

    name: str  # BPMN id
    form_key: str
    lane: str
    role: Role
    label: Labels
    public_label: Labels | None  # what the reporter reads while the case is at this task
    order: int  # position along the process's flow: lists of stages follow the path of a case
    side: bool = False  # runs beside the case's main task and never gives the case its stage
    level: str | None = None  # an escalation review: the level it raises
    pauses_sla: bool = False  # while open, the SLA clock of the task it is about stands still
    asks_citizen: bool = False  # its officer may ask the reporter a question
    force_transferable: bool = False  # a supervisor may move the case to another OPD meanwhile
    status: CaseStatus | None = None  # the case's status while this is its main task

    def text(self, locale: str) -> str:
        return _pick(self.label, locale) or self.name

    def public_text(self, locale: str) -> str | None:
        return _pick(self.public_label, locale) if self.public_label else None


@dataclass(frozen=True)
class EndEventDefinition:
    name: str
    status: CaseStatus
    after: frozenset[str]  # the elements right before it
    order: int


@dataclass(frozen=True)
class Level:
    """An escalation level (breach, critical, ...), as ``tasks.yaml`` lists them."""

    name: str
    label: Labels
    severe: bool = False

    def text(self, locale: str) -> str:
        return _pick(self.label, locale) or self.name


@dataclass(frozen=True)
class Messages:
    """BPMN messages the application sends into a running case."""

    ask_citizen: str
    force_transfer: str


@dataclass(frozen=True)
class RoutePreview:
    """What the routing table gives a report, shown at ``task`` before the decision: the names
    of the process variables holding the OPD, the priority, and the SLA target of ``sla_task``."""

    task: str
    agency: str
    priority: str
    sla: str
    sla_task: str


@dataclass(frozen=True)
class RatingFields:
    """Where the reporter rates the handling: the form, its ``rating: score`` field (choices
    that are whole numbers, the scale) and its ``rating: comment`` field, if any."""

    form_key: str
    score: str
    comment: str | None
    scale: tuple[int, ...]


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
    tasks: dict[str, TaskDefinition]
    end_events: dict[str, EndEventDefinition]
    start_event: str
    levels: dict[str, Level]
    messages: Messages
    script_actions: dict[str, str]  # audit action -> the script task it records
    closing_note: tuple[str, str] | None = None  # (form key, field): the reporter's closing note
    priorities: dict[str, Labels] = field(default_factory=dict)
    route_preview: RoutePreview | None = None
    rating: RatingFields | None = None  # the reporter's rating of the handling
    _by_form: dict[str, TaskDefinition] = field(default_factory=dict, repr=False)

    # -- tasks ------------------------------------------------------------------------------

    def task(self, name: str) -> TaskDefinition | None:
        return self.tasks.get(name)

    def task_for_form(self, form_key: str) -> TaskDefinition | None:
        return self._by_form.get(form_key)

    def label(self, name: str | None, locale: str) -> str:
        """A task's label by its BPMN id or form key. Another element of the process (a timer, a
        script task, a gateway) reads as its name in the diagram, a timer after the task it
        watches ("Disposisi: Batas waktu SLA"); a comma-separated list of ids as their labels.
        The id itself only if the process does not have it."""
        if not name:
            return ""
        if "," in name:
            return ", ".join(self.label(part, locale) for part in name.split(",") if part)
        task = self.tasks.get(name) or self._by_form.get(name)
        if task:
            return task.text(locale)
        spec = self.spec.task_specs.get(name)
        element = getattr(spec, "bpmn_name", None) if spec is not None else None
        if not element:
            return name
        watched = next((i.name.removesuffix(".BoundaryEventSplit") for i in spec.inputs
                        if i.name.endswith(".BoundaryEventSplit")), None)
        return f"{self.label(watched, locale)}: {element}" if watched else element

    def public_label(self, name: str | None, locale: str) -> str | None:
        task = self.tasks.get(name or "") or self._by_form.get(name or "")
        return task.public_text(locale) if task else None

    @property
    def side_tasks(self) -> frozenset[str]:
        return frozenset(t.name for t in self.tasks.values() if t.side)

    @property
    def stages(self) -> list[TaskDefinition]:
        """The tasks staff work that give a case its stage, in the process's order: what the
        inbox filters by."""
        return [t for t in self._main_tasks() if t.role != Role.CITIZEN]

    @property
    def transfer_stages(self) -> frozenset[str]:
        """Form keys of the stages at which a supervisor may move the case to another OPD."""
        return frozenset(t.form_key for t in self._main_tasks() if t.force_transferable)

    @property
    def question_task(self) -> TaskDefinition | None:
        """The reporter's task of answering an officer's question."""
        return next((t for t in self.tasks.values() if t.role == Role.CITIZEN and t.pauses_sla), None)

    @property
    def feedback_task(self) -> TaskDefinition | None:
        """The reporter's task of confirming or disputing the fix (a main task)."""
        return next((t for t in self._main_tasks() if t.role == Role.CITIZEN), None)

    @property
    def open_statuses(self) -> dict[str, CaseStatus]:
        """The case's status while a task of each form key is its main task."""
        return {t.form_key: t.status for t in self._main_tasks()}

    @property
    def end_statuses(self) -> dict[str, CaseStatus]:
        """The case's status after each end event of its main path."""
        return {e.name: e.status for e in self.end_events.values()}

    def status_of_form(self, form_key: str) -> CaseStatus:
        task = self._by_form[form_key]
        if task.status is None:
            raise LookupError(f"{form_key} is not a stage of the case")
        return task.status

    def status_of_end(self, end_event: str) -> CaseStatus:
        return self.end_events[end_event].status

    def end_event_for(self, status: str, taken: Iterable[str]) -> str | None:
        """The end event a case that ended with ``status`` reached, given the elements it
        passed through: among the end events of that status, the one right after one of them
        (else the first in the process)."""
        candidates = sorted((e for e in self.end_events.values() if e.status == status),
                            key=lambda e: e.order)
        passed = set(taken)
        reached = next((e for e in candidates if e.after & passed), None)
        return (reached or (candidates[0] if candidates else None)).name if candidates else None

    def priority_label(self, priority: str | None, locale: str) -> str:
        """A priority's label (``tasks.yaml`` priorities); the code itself if it has none."""
        return _pick(self.priorities.get(priority or "", {}), locale) or (priority or "")

    def level_label(self, level: str, locale: str) -> str:
        known = self.levels.get(level)
        return known.text(locale) if known else level

    def _main_tasks(self) -> list[TaskDefinition]:
        return sorted((t for t in self.tasks.values() if not t.side), key=lambda t: t.order)


def _pick(labels: Labels | None, locale: str) -> str:
    return (labels or {}).get(locale) or (labels or {}).get("id") or ""


PROCESS_FILES = ("*.bpmn", "*.dmn", "tasks.yaml")  # what a process version is made of


def read_source(bpmn_dir: Path) -> dict[str, str]:
    """The files of the process in ``bpmn_dir``: {file name: text}."""
    bpmn_dir = Path(bpmn_dir)
    return {p.name: p.read_text(encoding="utf-8")
            for pattern in PROCESS_FILES for p in sorted(bpmn_dir.glob(pattern))}


def load_definition(bpmn_dir: Path, process_id: str = PROCESS_ID) -> ProcessDefinition:
    return definition_from_source(read_source(bpmn_dir), process_id)


def definition_from_source(source: Mapping[str, str], process_id: str = PROCESS_ID) -> ProcessDefinition:
    """The process made of these files (a folder's, or a stored version's ``source``). The
    content hash covers the parsed spec and ``tasks.yaml``: a change of either is a new version."""
    source = dict(source)
    bpmn_names = sorted(n for n in source if n.endswith(".bpmn"))
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name in bpmn_names:
        parser.add_bpmn_str(source[name].encode("utf-8"), filename=name)
    for name in sorted(n for n in source if n.endswith(".dmn")):
        parser.add_dmn_str(source[name].encode("utf-8"), filename=name)
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)

    raw = json.loads(serializer().serialize_json(BpmnWorkflow(spec, subprocess_specs)))
    spec_part = {"spec": raw["spec"], "subprocess_specs": raw["subprocess_specs"]}
    spec_json = json.dumps(spec_part, sort_keys=True, separators=(",", ":"))
    tasks_yaml = source.get("tasks.yaml", "")
    content_hash = hashlib.sha256((spec_json + "\n" + tasks_yaml).encode()).hexdigest()

    meta = yaml.safe_load(tasks_yaml)
    if not isinstance(meta, dict):
        raise DefinitionError([msg("tasks.yaml: not a mapping of lanes, forms, statuses and tasks")])
    document = _document_order(source, bpmn_names)
    return _build(process_id, spec, subprocess_specs, spec_json, content_hash, source, meta,
                  _flow_order(spec, document), document)


def _document_order(source: dict[str, str], files: list[str]) -> dict[str, int]:
    """Where each element id first appears in the BPMN files (the modeller's order)."""
    order: dict[str, int] = {}
    for name in files:
        for match in re.finditer(r'<bpmn:\w+ id="([^"]+)"', source[name]):
            order.setdefault(match.group(1), len(order))
    return order


def _flow_order(spec, document: dict[str, int]) -> dict[str, int]:
    """Each element's position along the flow: breadth first from the start, a case's path in
    the order it takes it (elements at the same distance in the modeller's order). Where an
    element stands in the file says nothing: modellers append new ones at the end."""
    specs = spec.task_specs
    start = next(name for name, s in specs.items() if isinstance(s, StartEvent))
    order: dict[str, int] = {start: 0}
    frontier = [start]
    while frontier:
        following = sorted({o.name for name in frontier for o in specs[name].outputs if o.name not in order},
                           key=lambda n: document.get(n, len(document)))
        for name in following:
            order[name] = len(order)
        frontier = following
    for name in sorted(set(specs) - set(order), key=lambda n: document.get(n, len(document))):
        order[name] = len(order)
    return order


def _build(process_id, spec, subprocess_specs, spec_json, content_hash, source, meta,
           order, document) -> ProcessDefinition:
    """``order``: along the flow (tasks); ``document``: in the file (end events: the first of a
    status is the one a case whose path is not known is taken to have reached)."""
    problems: list[str] = []
    lanes = {name: LaneRule(role=Role(rule["role"]), agency=rule.get("agency"), team=rule.get("team"),
                            fallback=rule.get("fallback"), level=rule.get("level"))
             for name, rule in meta["lanes"].items()}
    forms = parse_forms(meta["forms"])
    levels = {name: Level(name, dict(entry["label"]), bool(entry.get("severe", False)))
              for name, entry in (meta.get("levels") or {}).items()}
    raw_messages = meta.get("messages") or {}
    messages = Messages(ask_citizen=raw_messages.get("ask_citizen", ""),
                        force_transfer=raw_messages.get("force_transfer", ""))
    open_statuses = dict(meta["statuses"]["open"])
    ended = dict(meta["statuses"]["ended"])
    labels = meta.get("tasks") or {}
    specs = spec.task_specs

    tasks: dict[str, TaskDefinition] = {}
    script_actions: dict[str, str] = {}
    end_events: dict[str, EndEventDefinition] = {}
    start = None
    for name, task_spec in specs.items():
        properties = task_spec.extensions.get("properties", {}) if hasattr(task_spec, "extensions") else {}
        if isinstance(task_spec, StartEvent) and start is None:
            start = name
        if isinstance(task_spec, EndEvent) and name in ended:  # others end a side path
            end_events[name] = EndEventDefinition(name, CaseStatus(ended[name]),
                                                  frozenset(i.name for i in task_spec.inputs),
                                                  document.get(name, len(document)))
        if properties.get("auditAction"):
            script_actions[properties["auditAction"]] = name
        if not getattr(task_spec, "manual", False):
            continue
        form_key = properties.get("formKey", name)
        rule = lanes.get(task_spec.lane)
        if rule is None:
            problems.append(msg("{element}: lane {lane} is not under lanes in tasks.yaml", element=name,
                                lane=repr(task_spec.lane)))
            continue
        if form_key not in forms:
            problems.append(msg("{element}: form {form} is not under forms in tasks.yaml", element=name,
                                form=repr(form_key)))
            continue
        catches = _boundary_messages(specs, name)
        side = bool(rule.level) or "escalates" in properties or "pausesSla" in properties
        level = (properties.get("escalationLevel") or rule.level) if side else None
        if level and level not in levels:
            problems.append(msg("{element}: escalation level {level} is not under levels in tasks.yaml", element=name,
                                level=repr(level)))
        status = None
        if not side:
            if form_key not in open_statuses:
                problems.append(msg("{element}: form {form} has no case status under statuses.open", element=name,
                                    form=repr(form_key)))
                continue
            status = CaseStatus(open_statuses[form_key])
        if not side and rule.role in SLA_ROLES and not _boundary_timers(specs, name):
            problems.append(msg("{element}: a task of {role} work has no SLA timer (a boundary timer event)",
                                element=name, role=str(rule.role)))
        entry = labels.get(name) or {}
        tasks[name] = TaskDefinition(
            name=name, form_key=form_key, lane=task_spec.lane, role=rule.role,
            label=dict(entry.get("label") or forms[form_key].title), public_label=entry.get("public"),
            order=order.get(name, len(order)), side=side, level=level,
            pauses_sla=str(properties.get("pausesSla", "")).lower() == "true",
            asks_citizen=bool(messages.ask_citizen) and messages.ask_citizen in catches,
            force_transferable=bool(messages.force_transfer) and messages.force_transfer in catches,
            status=status)
    for name in ended:
        if name not in end_events:
            problems.append(msg("statuses.ended.{element}: no end event of the process has this id", element=name))
    for name in labels:
        if name not in tasks:
            problems.append(msg("tasks.{element}: no user task of the process has this id", element=name))
    for form in forms.values():
        for f in form.fields:
            if f.kind and f.kind not in set(AttachmentKind):
                problems.append(msg("forms.{form}.{field}: unknown attachment kind {kind}", form=form.key, field=f.name,
                                    kind=repr(f.kind)))
    public_notes = [(form.key, f.name) for form in forms.values() for f in form.fields if f.public]
    if len(public_notes) > 1:
        problems.append(msg("more than one form field is the reporter's closing note: {fields}", fields=str(public_notes)))
    priorities = {code: dict(labels) for code, labels in (meta.get("priorities") or {}).items()}
    preview = None
    if meta.get("route_preview"):
        raw = meta["route_preview"]
        preview = RoutePreview(task=raw["task"], agency=raw["agency"], priority=raw["priority"],
                               sla=raw["sla"]["variable"], sla_task=raw["sla"]["task"])
        for where, name in (("task", preview.task), ("sla.task", preview.sla_task)):
            if name not in tasks:
                problems.append(msg("route_preview.{where}: no user task of the process has the id {element}", where=where,
                                    element=repr(name)))
    rating = _rating_fields(forms, problems)
    if start is None:
        problems.append(msg("{process}: no start event", process=process_id))
    if problems:
        raise DefinitionError(problems)
    definition = ProcessDefinition(
        process_id=process_id, spec=spec, subprocess_specs=subprocess_specs, spec_json=spec_json,
        content_hash=content_hash, source=source, lanes=lanes, forms=forms, tasks=tasks,
        end_events=end_events, start_event=start, levels=levels, messages=messages,
        script_actions=script_actions, closing_note=public_notes[0] if public_notes else None,
        priorities=priorities, route_preview=preview, rating=rating)
    for task in sorted(tasks.values(), key=lambda t: (t.side, t.order)):
        definition._by_form.setdefault(task.form_key, task)
    return definition


def _rating_fields(forms: Mapping[str, FormDefinition], problems: list[str]) -> RatingFields | None:
    """The fields marked ``rating:``: one score (a choice of whole numbers) and at most one
    comment (text), in the same form."""
    marked = [(form.key, f) for form in forms.values() for f in form.fields if f.rating]
    scores = [(key, f) for key, f in marked if f.rating == "score"]
    comments = [(key, f) for key, f in marked if f.rating == "comment"]
    if not marked:
        return None
    if len(scores) != 1 or len(comments) > 1:
        problems.append(msg("the rating needs one form field marked 'rating: score' and at most one "
                            "'rating: comment': {fields}", fields=str([(key, f.name) for key, f in marked])))
        return None
    key, score = scores[0]
    if score.type != "choice" or not score.choices or not all(c.isascii() and c.isdigit() for c in score.choices):
        problems.append(msg("forms.{form}.{field}: a rating score is a choice of whole numbers", form=key,
                            field=score.name))
        return None
    comment = comments[0] if comments else None
    if comment is not None and (comment[0] != key or comment[1].type != "text"):
        problems.append(msg("forms.{form}.{field}: a rating comment is a text field of the form {rated}",
                            form=comment[0], field=comment[1].name, rated=key))
        return None
    return RatingFields(form_key=key, score=score.name, comment=comment[1].name if comment else None,
                        scale=tuple(sorted(int(c) for c in score.choices)))


def _boundary_timers(specs: Mapping, task_name: str) -> list[str]:
    """Ids of the timer boundary events on ``task_name``."""
    split = specs.get(f"{task_name}.BoundaryEventSplit")
    if split is None:
        return []
    return [o.name for o in split.outputs
            if isinstance(o, BoundaryEvent) and isinstance(o.event_definition, TimerEventDefinition)]


def _boundary_messages(specs: Mapping, task_name: str) -> set[str]:
    """Names of the messages that boundary events on ``task_name`` catch."""
    split = specs.get(f"{task_name}.BoundaryEventSplit")
    if split is None:
        return set()
    return {o.event_definition.name for o in split.outputs
            if isinstance(o, BoundaryEvent) and isinstance(o.event_definition, MessageEventDefinition)}
