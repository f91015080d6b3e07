"""Draw a BPMN diagram as SVG on the server, from its diagram interchange (DI), with the path a
case took and where it is now marked by CSS classes (``taken``, ``current``).

Server-side drawing needs no script from a CDN, works under the strict CSP (styles come from
``tanggap.css``), and can be checked by tests. It draws what Tanggap's processes use: pools and
lanes, tasks, events, gateways, sequence flows and labels.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from markupsafe import Markup, escape

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}
TASKS = {"task", "userTask", "scriptTask", "businessRuleTask", "serviceTask", "manualTask"}
EVENTS = {"startEvent", "endEvent", "boundaryEvent", "intermediateThrowEvent", "intermediateCatchEvent"}
GATEWAYS = {"exclusiveGateway": "×", "parallelGateway": "+", "inclusiveGateway": "○",
            "eventBasedGateway": "◇"}


def _wrap(text: str, width: int = 16) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def _text(x: float, y: float, label: str, cls: str, width: int = 16) -> str:
    lines = _wrap(label, width)
    first = y - (len(lines) - 1) * 6
    spans = "".join(f'<tspan x="{x:.0f}" y="{first + i * 12:.0f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text class="{cls}" text-anchor="middle">{spans}</text>'


def render(bpmn_xml: str, *, taken: set[str] = frozenset(), current: set[str] = frozenset(),
           title: str = "", described_by: str = "") -> Markup:
    """The diagram as an SVG image named ``title``; ``described_by``: the id of the element that
    says in words what it shows (the path taken), for those who cannot see it."""
    root = ET.fromstring(bpmn_xml.encode("utf-8"))
    kinds: dict[str, tuple[str, ET.Element]] = {}
    for element in root.iter():
        if element.get("id") and element.tag.startswith("{" + NS["bpmn"]):
            kinds[element.get("id")] = (element.tag.split("}")[1], element)
    flows = {fid: (el.get("sourceRef"), el.get("targetRef")) for fid, (kind, el) in kinds.items()
             if kind == "sequenceFlow"}
    # gateways and intermediate events lie on the path when the flow went through them: a
    # node before them and one after them were passed (all after a parallel split)
    passed = set(taken)
    between = {n for n, (kind, _el) in kinds.items()
               if kind in GATEWAYS or kind in ("intermediateThrowEvent", "intermediateCatchEvent")}
    changed = True
    while changed:
        changed = False
        for node in between - passed:
            ins = {s for s, t in flows.values() if t == node}
            outs = {t for s, t in flows.values() if s == node}
            reached = outs <= passed if kinds[node][0] == "parallelGateway" else bool(outs & passed)
            if ins & passed and reached:
                passed.add(node)
                changed = True

    plane = root.find(".//bpmndi:BPMNPlane", NS)
    shapes, edges, labels, background = [], [], [], []
    box = [float("inf"), float("inf"), float("-inf"), float("-inf")]
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        ref = shape.get("bpmnElement")
        kind, element = kinds.get(ref, ("", None))
        b = shape.find("dc:Bounds", NS)
        x, y, w, h = (float(b.get(k)) for k in ("x", "y", "width", "height"))
        box = [min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
        name = (element.get("name") if element is not None else "") or ""
        state = " taken" if ref in passed else ""
        state += " current" if ref in current else ""
        attrs = f'data-element="{escape(ref)}"'
        if kind in ("participant", "lane"):
            background.append(f'<rect class="bpmn-{kind}" x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" />')
            background.append(f'<text class="bpmn-lane-label" text-anchor="middle" transform="translate({x + 15:.0f} {y + h / 2:.0f}) rotate(-90)">{escape(name)}</text>')
        elif kind in TASKS:
            shapes.append(f'<g class="bpmn-node bpmn-task{state}" {attrs}><title>{escape(name)}</title>'
                          f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="10" />'
                          f'{_text(x + w / 2, y + h / 2 + 4, name, "bpmn-label")}</g>')
        elif kind in EVENTS:
            r = w / 2
            shapes.append(f'<g class="bpmn-node bpmn-event bpmn-{kind}{state}" {attrs}><title>{escape(name)}</title>'
                          f'<circle cx="{x + r:.0f}" cy="{y + r:.0f}" r="{r:.0f}" /></g>')
            label = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
            if name and kind != "boundaryEvent":
                lx, ly = ((float(label.get("x")) + float(label.get("width")) / 2, float(label.get("y")) + 10)
                          if label is not None else (x + r, y + w + 14))
                labels.append(_text(lx, ly, name, "bpmn-small", 20))
        elif kind in GATEWAYS:
            cx, cy = x + w / 2, y + h / 2
            shapes.append(f'<g class="bpmn-node bpmn-gateway{state}" {attrs}><title>{escape(name)}</title>'
                          f'<polygon points="{cx:.0f},{y:.0f} {x + w:.0f},{cy:.0f} {cx:.0f},{y + h:.0f} {x:.0f},{cy:.0f}" />'
                          f'<text class="bpmn-marker" x="{cx:.0f}" y="{cy + 6:.0f}" text-anchor="middle">{GATEWAYS[kind]}</text></g>')
            if name:
                labels.append(_text(cx, y - 8, name, "bpmn-small", 20))
    for edge in plane.findall("bpmndi:BPMNEdge", NS):
        ref = edge.get("bpmnElement")
        source, target = flows.get(ref, (None, None))
        points = " ".join(f"{float(p.get('x')):.0f},{float(p.get('y')):.0f}" for p in edge.findall("di:waypoint", NS))
        state = " taken" if source in passed and target in passed else ""
        edges.append(f'<polyline class="bpmn-flow{state}" data-element="{escape(ref)}" points="{points}" marker-end="url(#arrow)" />')
    x0, y0, x1, y1 = box
    return Markup(
        f'<svg class="bpmn-diagram" xmlns="http://www.w3.org/2000/svg" viewBox="{x0 - 10:.0f} {y0 - 10:.0f} {x1 - x0 + 20:.0f} {y1 - y0 + 20:.0f}" role="img"'
        + (f' aria-describedby="{escape(described_by)}"' if described_by else "") + ">"
        + (f"<title>{escape(title)}</title>" if title else "")
        + '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" class="bpmn-arrow" /></marker></defs>'
        + "".join(background) + "".join(edges) + "".join(shapes) + "".join(labels) + "</svg>")
