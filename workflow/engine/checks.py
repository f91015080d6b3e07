"""Checking the files of a process version before it is deployed; every problem by element id.

What is checked here, from the files alone:

* each file is well-formed XML (or YAML) without a DOCTYPE (no entities: the engine's own
  parser reads the files after this check), read without network access;
* the BPMN files against the BPMN 2.0 schema (SpiffWorkflow's validator);
* every script, pre- and post-script, condition and timer expression of the BPMN, and every
  input and output entry of the DMN, compiles in the script sandbox (imports are refused);
* what the definition requires (``definition.py``): every user task in a lane that
  ``tasks.yaml`` maps to a role, with a form, staff work with an SLA timer, and so on.

Whether the routing table covers every category of the city needs the database: see
``workflow.commands.processes``.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml
from lxml import etree
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from workflow.engine.definition import PROCESS_ID, DefinitionError, ProcessDefinition, definition_from_source
from workflow.engine.scripting import compile_problem as _compiles
from workflow.messages import msg

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MAX_FILE = 2 * 1024 * 1024  # characters: the city's process is about 60 KB
_PARSER = dict(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)

# (tag, how it is run): the expressions and scripts of a BPMN file
_BPMN_CODE = ((f"{{{BPMN}}}script", "exec"), (f"{{{SPIFF}}}preScript", "exec"),
              (f"{{{SPIFF}}}postScript", "exec"), (f"{{{BPMN}}}conditionExpression", "eval"),
              (f"{{{BPMN}}}timeDate", "eval"), (f"{{{BPMN}}}timeDuration", "eval"),
              (f"{{{BPMN}}}timeCycle", "eval"))


def _owner_id(element) -> str:
    """The id of the nearest element (itself or an ancestor) that has one."""
    while element is not None:
        if element.get("id"):
            return element.get("id")
        element = element.getparent()
    return "?"


def _xml(name: str, text: str, problems: list[str]):
    try:
        root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(**_PARSER))
    except etree.XMLSyntaxError as exc:
        problems.append(msg("{file}: line {line}: not well-formed XML ({error})", file=name, line=exc.lineno, error=exc.msg))
        return None
    if root.getroottree().docinfo.doctype:  # entities (a file's content, a billion laughs) come in by it
        problems.append(msg("{file}: a DOCTYPE declaration is not allowed in a process file", file=name))
        return None
    return root


def _bpmn_schema(name: str, root, problems: list[str]) -> None:
    schema = VALIDATOR.validator
    VALIDATOR.preprocess(root)
    if schema.validate(root):
        return
    by_line = {el.sourceline: _owner_id(el) for el in root.iter() if isinstance(el.tag, str)}
    for error in list(schema.error_log)[:20]:
        problems.append(msg("{file}: {element}: {error}", file=name,
                            element=by_line.get(error.line, f"line {error.line}"), error=error.message))


def _bpmn_code(name: str, root, problems: list[str]) -> None:
    for tag, mode in _BPMN_CODE:
        for element in root.iter(tag):
            if element.text and element.text.strip():
                error = _compiles(element.text, mode)
                if error:
                    problems.append(msg("{file}: {element}: {error}", file=name, element=_owner_id(element), error=error))


def _dmn_code(name: str, root, problems: list[str]) -> None:
    for table in root.iter("{*}decisionTable"):
        inputs = [(i.findtext("{*}inputExpression/{*}text") or "").strip() for i in table.iter("{*}input")]
        for expression, element in zip(inputs, table.iter("{*}input")):
            if expression and _compiles(expression, "eval"):
                problems.append(msg("{file}: {element}: {error}", file=name, element=_owner_id(element),
                                    error=_compiles(expression, "eval")))
        for rule in table.iter("{*}rule"):
            for entry, expression in zip(rule.iter("{*}inputEntry"), inputs):
                text = (entry.findtext("{*}text") or "").strip()
                if text in ("", "-"):
                    continue
                # the engine compares with == unless the entry brings its operator (< 5, in [...])
                if _compiles(f"({expression}) == ({text})", "eval") and _compiles(f"{expression} {text}", "eval"):
                    problems.append(msg("{file}: {element}: {error}", file=name, element=_owner_id(entry),
                                        error=_compiles(text, "eval") or "not an expression"))
            for entry in rule.iter("{*}outputEntry"):
                text = (entry.findtext("{*}text") or "").strip()
                if text and _compiles(text, "eval"):
                    problems.append(msg("{file}: {element}: {error}", file=name, element=_owner_id(entry),
                                        error=_compiles(text, "eval")))


def check_source(source: Mapping[str, str], process_id: str = PROCESS_ID) -> tuple[ProcessDefinition | None, list[str]]:
    """The definition these files make, or the problems that stop them (each naming its file and
    element id or line)."""
    problems: list[str] = []
    code_problems: list[str] = []  # the sandbox's: the definition can still be read for its own
    names = sorted(source)
    for name in names:
        if not (name.endswith(".bpmn") or name.endswith(".dmn") or name == "tasks.yaml"):
            problems.append(msg("{file}: a process is made of .bpmn and .dmn files and tasks.yaml", file=name))
        elif len(source[name]) > MAX_FILE:
            problems.append(msg("{file}: larger than {limit} MB", file=name, limit=MAX_FILE // 1024 // 1024))
    if not any(n.endswith(".bpmn") for n in names):
        problems.append(msg("no .bpmn file: the process {process} is missing", process=process_id))
    if "tasks.yaml" not in source:
        problems.append(msg("tasks.yaml is missing"))
    if problems:
        return None, problems
    for name in names:
        if name == "tasks.yaml":
            try:
                if not isinstance(yaml.safe_load(source[name]), dict):
                    problems.append(msg("tasks.yaml: not a mapping of lanes, forms, statuses and tasks"))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"line {mark.line + 1}: " if mark else ""
                problems.append(msg("tasks.yaml: {where}not valid YAML ({error})", where=where,
                                        error=str(getattr(exc, "problem", exc))))
            continue
        root = _xml(name, source[name], problems)
        if root is None:
            continue
        if name.endswith(".bpmn"):
            _bpmn_schema(name, root, problems)
            _bpmn_code(name, root, code_problems)
        else:
            _dmn_code(name, root, code_problems)
    if problems:  # files the parser cannot read: what they would define is unknown
        return None, problems + code_problems
    try:
        definition = definition_from_source(source, process_id)
    except DefinitionError as exc:
        return None, code_problems + list(exc.problems)
    except (SpiffWorkflowException, ValueError, KeyError, TypeError, AttributeError) as exc:
        # what the engine's parser refuses (a flow to an unknown element, a missing process)
        where = getattr(exc, "file_name", None) or ""
        element = getattr(exc, "id", None) or getattr(exc, "tag", None) or ""
        prefix = ": ".join(p for p in (where, element) if p)
        return None, code_problems + [f"{prefix + ': ' if prefix else ''}{exc}"]
    return (None, code_problems) if code_problems else (definition, [])
