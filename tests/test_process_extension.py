"""Changing the process is a change to ``bpmn/`` only: a copy of the process with one more OPD
stage, an inspection between verification and closure (with SLA timers and a supervisor's
forced transfer, like its neighbours), runs through the unchanged application. The stage appears
in the inbox's stage filter, under its label, and among the stages a supervisor may move a case
from; no Python knows its name."""

from __future__ import annotations

import copy
import re
import shutil
from datetime import timedelta

import pytest
import yaml
from lxml import etree

from escalation.sweeper import Sweeper
from tests.webclient import WebClient
from workflow import commands
from workflow.config import REPO_ROOT
from workflow.engine.definition import load_definition

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
MODELLED_ON = "verification"  # the new stage copies this one's timers and boundary events
NEW = "inspection"
BEFORE = "closure"  # and sits right before this one


def _add_inspection(source: str) -> bytes:
    """``case.bpmn`` with the inspection stage: a copy of the verification task's user task,
    boundary events, breach event and their flows under new ids (diagram shapes moved below),
    fed by verification's approval and leading to closure; its SLA is a constant 8 hours."""
    root = etree.fromstring(source.encode())
    process = root.find("bpmn:process", NS)
    plane = root.find(".//bpmndi:BPMNPlane", NS)

    def renamed(text: str | None) -> str | None:
        return re.sub(rf"(?<![a-z]){MODELLED_ON}(?![a-z])", NEW, text) if text else text

    ours = {MODELLED_ON, *(e.get("id") for e in process
                            if e.get("attachedToRef") == MODELLED_ON)}
    ours |= {e.get("id") for e in process.findall("bpmn:intermediateThrowEvent", NS)
             if e.get("id").startswith(f"{MODELLED_ON}_")}
    flows = [f for f in process.findall("bpmn:sequenceFlow", NS)
             if f.get("sourceRef") in ours - {MODELLED_ON}]
    for original in [e for e in process if e.get("id") in ours] + flows:
        clone = copy.deepcopy(original)
        for element in clone.iter():
            for attribute in ("id", "attachedToRef", "sourceRef", "targetRef"):
                if element.get(attribute):
                    element.set(attribute, renamed(element.get(attribute)))
            if isinstance(element.tag, str) and etree.QName(element).localname in ("incoming", "outgoing"):
                element.text = renamed(element.text)
            if isinstance(element.tag, str) and etree.QName(element).localname == "timeDate":
                element.text = 'sla_due("PT8H", 2)' if ", 2)" in element.text else 'sla_due("PT8H")'
            if element.get("name") == "formKey":
                element.set("value", NEW)
        if clone.get("id") == NEW:
            clone.set("name", "Inspeksi lapangan")
            for child in clone.findall("bpmn:incoming", NS) + clone.findall("bpmn:outgoing", NS):
                clone.remove(child)
        process.append(clone)
        for lane in root.iterfind(".//bpmn:lane", NS):
            if any(ref.text == original.get("id") for ref in lane.findall("bpmn:flowNodeRef", NS)):
                ref = etree.SubElement(lane, f"{{{NS['bpmn']}}}flowNodeRef")
                ref.text = clone.get("id")
        for shape in plane:
            if shape.get("bpmnElement") == original.get("id"):
                moved = copy.deepcopy(shape)
                moved.set("id", f"{clone.get('id')}_di")
                moved.set("bpmnElement", clone.get("id"))
                for point in moved.iter():
                    if point.get("y"):
                        point.set("y", str(float(point.get("y")) + 260))
                plane.append(moved)
    for flow in flows:  # the shared escalation tasks also take the copies' flows
        target = process.find(f"*[@id='{flow.get('targetRef')}']")
        incoming = etree.Element(f"{{{NS['bpmn']}}}incoming")
        incoming.text = renamed(flow.get("id"))
        target.findall("bpmn:incoming", NS)[-1].addnext(incoming)  # the schema's order
    approval = next(f for f in process.findall("bpmn:sequenceFlow", NS) if f.get("targetRef") == BEFORE
                    and f.get("sourceRef") == f"gw_{MODELLED_ON}")
    approval.set("targetRef", NEW)
    onward = etree.SubElement(process, f"{{{NS['bpmn']}}}sequenceFlow")
    onward.set("id", f"f_{NEW}")
    onward.set("sourceRef", NEW)
    onward.set("targetRef", BEFORE)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="module")
def extended_bpmn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpmn")
    for path in (REPO_ROOT / "bpmn").iterdir():
        shutil.copy(path, folder / path.name)
    (folder / "case.bpmn").write_bytes(_add_inspection((REPO_ROOT / "bpmn" / "case.bpmn").read_text()))
    meta = yaml.safe_load((folder / "tasks.yaml").read_text(encoding="utf-8"))
    meta["forms"][NEW] = {"title": {"id": "Inspeksi", "en": "Inspection"}, "fields": [
        {"name": "finding", "type": "text", "required": True, "max_length": 1000,
         "label": {"id": "Temuan inspeksi", "en": "Inspection finding"}}]}
    meta["statuses"]["open"][NEW] = "in_progress"
    meta["tasks"][NEW] = {"label": {"id": "Inspeksi", "en": "Inspection"},
                          "public": {"id": "Diperiksa petugas inspeksi", "en": "Being inspected"}}
    (folder / "tasks.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def definition(extended_bpmn):
    """Overrides the suite's process for this module: every fixture below runs on the copy."""
    return load_definition(extended_bpmn)


def test_the_definition_knows_the_new_stage_from_the_files(definition):
    forms = [t.form_key for t in definition.stages]
    assert forms.index(MODELLED_ON) < forms.index(NEW) < forms.index(BEFORE)
    assert NEW in definition.transfer_stages
    assert definition.label(NEW, "id") == "Inspeksi" and definition.label(NEW, "en") == "Inspection"
    assert definition.task(NEW).public_text("id") == "Diperiksa petugas inspeksi"


def _to_inspection(w):
    return w.approved()  # verification approved: the copy's flow goes on to inspection


def test_a_case_runs_through_the_new_stage(world, app):
    w = world
    sub = _to_inspection(w)
    assert w.case(sub.case_id).stage == NEW and w.item(sub.case_id).role == "coordinator"
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    inbox = coordinator.get("/inbox").get_data(as_text=True)
    assert re.search(rf'<option value="{NEW}"[^>]*>Inspeksi</option>', inbox)
    filtered = coordinator.get(f"/inbox?stage={NEW}").get_data(as_text=True)
    assert sub.case_number in filtered
    status = WebClient(app).get(f"/lacak/{sub.tracking_code}").get_data(as_text=True)
    assert "Diperiksa petugas inspeksi" in status
    w.do(commands.complete_work_item, w.dlh, sub.case_id, values={"finding": "Lokasi sudah bersih."})
    assert w.case(sub.case_id).stage == BEFORE


def test_a_supervisor_may_move_the_case_away_from_the_new_stage(world, app):
    w = world
    late = _to_inspection(w)
    waiting = w.report()  # still in triage, where no supervisor moves a case
    w.services.clock.advance(timedelta(days=3))
    Sweeper(w.services, worker="test").run_once()
    w.user("sup.kota", ("supervisor", None))
    supervisor = WebClient(app)
    supervisor.login("sup.kota")
    page = supervisor.get("/escalations").get_data(as_text=True)
    rows = dict(re.findall(r'data-case="([^"]+)" data-level="[^"]+">(.*?)</tr>', page, re.S))
    assert "Inspeksi" in rows[late.case_number]
    assert "/transfer" in rows[late.case_number] and "/transfer" not in rows[waiting.case_number]
    item = w.item(late.case_id)
    form = supervisor.get(f"/escalations/items/{item.id}/transfer")
    assert form.status_code == 200
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form.get_data(as_text=True)).group(1)
    done = supervisor.post(f"/escalations/items/{item.id}/transfer",
                           {"to_agency": "DPU", "reason": "Perlu alat berat dari DPU.", "version": version},
                           page=f"/escalations/items/{item.id}/transfer")
    assert done.status_code == 302
    assert w.case(late.case_id).stage != NEW
    assert supervisor.get(f"/escalations/items/{w.item(waiting.case_id).id}/transfer").status_code == 404
