"""What the routing table (the process's DMN decision tables) sends to which agency.

The OPD lane of ``tasks.yaml`` names the process variable holding a case's agency code; the
decision tables set it through an output of that name. Each rule's entry for that output is a
FEEL string literal (``"DLH"``); an entry that is not a literal (an expression, ``-``, nothing)
names no agency this module could know of without running the table, and is left out.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter

from workflow.engine.definition import COMMAND_CENTER, ProcessDefinition


def agency_variables(definition: ProcessDefinition) -> frozenset[str]:
    """The process variables that name the agency working a lane's tasks."""
    return frozenset(rule.agency for rule in definition.lanes.values()
                     if rule.agency and rule.agency != COMMAND_CENTER)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _literal(text: str | None) -> str | None:
    """The string a FEEL string literal stands for (``"DLH"`` → ``DLH``), else None."""
    text = (text or "").strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    try:
        value = json.loads(text)  # FEEL's string escapes are JSON's
    except ValueError:
        return None
    return value if isinstance(value, str) and value else None


def output_values(dmn_xml: str, outputs: frozenset[str]) -> Counter[str]:
    """How many rules of the document's decision tables give each literal value to one of the
    ``outputs`` (by output name)."""
    found: Counter[str] = Counter()
    root = ET.fromstring(dmn_xml)
    for table in root.iter():
        if _local(table.tag) != "decisionTable":
            continue
        columns = [child.get("name") for child in table if _local(child.tag) == "output"]
        for rule in (child for child in table if _local(child.tag) == "rule"):
            entries = [child for child in rule if _local(child.tag) == "outputEntry"]
            for name, entry in zip(columns, entries, strict=False):
                if name not in outputs:
                    continue
                text = next((t.text for t in entry if _local(t.tag) == "text"), None)
                value = _literal(text)
                if value is not None:
                    found[value] += 1
    return found


def routed_agencies(definition: ProcessDefinition) -> Counter[str]:
    """Agency code → how many rules of the definition's routing tables send cases to it."""
    variables = agency_variables(definition)
    found: Counter[str] = Counter()
    for name, text in sorted(definition.source.items()):
        if name.endswith(".dmn"):
            found.update(output_values(text, variables))
    return found
