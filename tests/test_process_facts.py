"""The process is known from ``bpmn/`` alone: no id of ``case.bpmn`` (a task, an event, a gateway,
a lane, a message) is written in the Python packages or the templates. Only the process
definition (``workflow/engine/definition.py``) reads the ids, by their place in the diagram
and the properties set on them; the seeds and the tests may name them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from lxml import etree

from workflow.config import REPO_ROOT

PACKAGES = ("workflow", "web", "escalation", "tanggap")
READER = REPO_ROOT / "workflow" / "engine" / "definition.py"
VOCABULARY = REPO_ROOT / "workflow" / "vocabulary.py"
DIAGRAM_ONLY = {"BPMNDiagram", "BPMNPlane", "BPMNShape", "BPMNEdge", "BPMNLabel", "Bounds", "waypoint"}


def process_ids() -> set[str]:
    tree = etree.parse(str(REPO_ROOT / "bpmn" / "case.bpmn"))
    found = set()
    for element in tree.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname in DIAGRAM_ONLY:
            continue
        if element.get("id"):
            found.add(element.get("id"))
        if etree.QName(element).localname == "message" and element.get("name"):
            found.add(element.get("name"))
    return found


def _allowed(path: Path, tree: ast.Module) -> set[int]:
    """Nodes that are not process ids even when they spell one: names of Python objects in
    ``__all__``, and the values of the vocabulary's enumerations (a role and a status are both
    called "triage", like the task)."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets):
            allowed.update(id(c) for c in ast.walk(node.value))
        if path == VOCABULARY and isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Attribute) and b.attr.endswith("Enum") for b in node.bases):
            for statement in node.body:
                if isinstance(statement, ast.Assign):
                    allowed.update(id(c) for c in ast.walk(statement.value))
    return allowed


def ids_written_in_python(ids: set[str]) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path == READER:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            allowed = _allowed(path, tree)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ids
                        and id(node) not in allowed):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.value!r}")
    return found


def ids_written_in_templates(ids: set[str]) -> list[str]:
    quoted = re.compile(r"""["']([a-z_]+)["']""")
    found = []
    for path in sorted((REPO_ROOT / "web" / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found += [f"{path.relative_to(REPO_ROOT)}:{number}: {m!r}" for m in quoted.findall(line) if m in ids]
    return found


def test_no_process_id_is_written_outside_the_process_definition():
    ids = process_ids()
    assert {"triage", "disposition", "closure", "citizen_feedback", "end_rejected"} <= ids
    assert ids_written_in_python(ids) + ids_written_in_templates(ids) == []


def test_the_scan_finds_an_id_where_one_is_written(tmp_path):
    """The scan itself: a task id in a view, or in a template, is reported."""
    ids = process_ids()
    source = 'if item.task_name == "closure":\n    pass\n'
    tree = ast.parse(source)
    hits = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in ids
            and id(n) not in _allowed(tmp_path / "view.py", tree)]
    assert hits == ["closure"]
    assert re.findall(r"""["']([a-z_]+)["']""", "{% if w.task_name == 'citizen_feedback' %}")[0] in ids
