"""Triage that sees: inbox rows with the report's start, its photo, a mark when the reporter
answered, and what the routing table will give; routing to another OPD, with a reason."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from PIL import Image

from tests import actions
from tests.helpers import jpeg_bytes
from tests.webclient import WebClient, errors
from workflow import commands
from workflow.config import REPO_ROOT
from workflow.store.models import Attachment


def _client(app, username):
    web = WebClient(app)
    web.login(username)
    return web


def _row(page, case_number: str) -> str:
    html = page.get_data(as_text=True)
    return re.search(rf'<tr id="item-\d+" data-case="{case_number}">(.*?)</tr>', html, re.S).group(1)


def test_a_triage_row_shows_the_report_its_photo_and_the_route_it_will_take(world, app):
    sub = world.report(description="Sampah menumpuk di depan Pasar Lette sejak Senin, baunya sampai ke sekolah.")
    world.triage, world.dinsos
    with world.services.uow() as uow:
        photo = commands.add_attachment(uow, world.triage, sub.case_id,
                                        world.services.storage.prepare(jpeg_bytes((800, 600))), kind="before")
        uow.commit()
    jam = world.report(category="kemacetan", area="ujung-pandang", description="Macet total di Jl. Sudirman.")
    triage = _client(app, "triase")
    inbox = triage.get("/inbox")
    row = _row(inbox, sub.case_number)
    assert "Sampah menumpuk di depan Pasar Lette sejak Senin" in row
    assert f'src="/cases/attachments/{photo.id}/small"' in row and 'alt=""' in row
    assert 'data-route="DLH"' in row
    assert "Rute: DLH · prioritas Biasa · Disposisi dalam 8 jam" in row
    assert "Rute: Dishub · prioritas Tinggi · Disposisi dalam 2 jam" in _row(inbox, jam.case_number)
    small = triage.get(f"/cases/attachments/{photo.id}/small")
    assert small.status_code == 200 and small.mimetype == "image/jpeg"
    content = small.get_data()
    small.close()
    with Image.open(io.BytesIO(content)) as img:
        assert max(img.size) <= 160 and img.size[0] > img.size[1]
    assert _client(app, "koor.dinsos").get(f"/cases/attachments/{photo.id}/small").status_code == 404


def test_the_route_shown_is_the_route_the_case_takes(world, app):
    for category, area in (("sampah", "mariso"), ("kemacetan", "ujung-pandang"), ("gepeng", "tallo")):
        sub = world.report(category=category, area=area)
        preview = world.services.process.route_preview(category, area)
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
        case = world.case(sub.case_id)
        item = world.item(sub.case_id)
        with world.services.reading() as session:
            from workflow.store.models import Agency
            assert session.get(Agency, case.agency_id).code == preview.agency
        assert case.priority == preview.priority
        assert item.form_key == preview.sla_task


def test_a_row_marks_that_the_reporter_answered_a_question(world, app):
    sub = world.report()
    item = world.item(sub.case_id)
    world.triage
    with world.services.uow() as uow:
        commands.request_information(uow, world.triage, item.id, question="Di sebelah mana pasarnya?")
        uow.commit()
    triage = _client(app, "triase")
    assert "Pelapor sudah menjawab" not in _row(triage.get("/inbox"), sub.case_number)
    with world.services.uow() as uow:
        commands.answer_information(uow, sub.tracking_code, answer="Sebelah utara, dekat masjid.")
        uow.commit()
    assert "Pelapor sudah menjawab" in _row(triage.get("/inbox"), sub.case_number)


def test_triage_sends_a_case_to_another_opd_with_a_reason(world, app):
    sub = world.report()
    world.dpu, world.triage
    triage = _client(app, "triase")
    task = f"/tasks/{world.item(sub.case_id).id}"
    page = triage.get(task)
    html = page.get_data(as_text=True)
    assert 'name="route_to"' in html and 'value="DPU"' in html
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    missing = triage.post(task, {"version": version, "decision": "valid", "route_to": "DPU", "reason": ""}, page=task)
    assert missing.status_code == 400 and errors(missing) == ["wajib diisi"]
    assert '<option selected value="DPU">' in missing.get_data(as_text=True)  # the choice is kept
    done = triage.post(task, {"version": version, "decision": "valid", "route_to": "DPU",
                              "reason": "Got tersumbat di bawah jalan: pekerjaan DPU, bukan DLH."}, page=task)
    assert done.status_code == 302
    routed = [e for e in world.events(sub.case_id) if e.action == "case_routed"]
    assert [(e.to_agency, e.reason) for e in routed] == [
        ("DPU", "Got tersumbat di bawah jalan: pekerjaan DPU, bukan DLH.")]
    assert world.item(sub.case_id).form_key == "disposition"
    history = _client(app, "koor.dpu").get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert "Got tersumbat di bawah jalan" in history


def test_without_another_opd_the_routing_table_decides(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    routed = [e for e in world.events(sub.case_id) if e.action == "case_routed"]
    assert [(e.to_agency, e.reason) for e in routed] == [("DLH", None)]


def test_every_priority_the_routing_table_gives_has_labels(definition):
    dmn = ET.parse(REPO_ROOT / "bpmn" / "routing.dmn").getroot()
    ns = {"dmn": dmn.tag.split("}")[0][1:]}
    table = dmn.find(".//dmn:decisionTable", ns)
    outputs = [o.get("name") for o in table.findall("dmn:output", ns)]
    column = outputs.index(definition.route_preview.priority)
    given = {rule.findall("dmn:outputEntry", ns)[column].find("dmn:text", ns).text.strip('"')
             for rule in table.findall("dmn:rule", ns)}
    assert given and given <= set(definition.priorities)
    for code in given:
        assert definition.priority_label(code, "id") != code and definition.priority_label(code, "en") != code


def test_the_case_page_names_the_priority(world, app):
    sub = world.report()
    world.triage
    page = _client(app, "triase").get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert "Prioritas:</strong> Biasa" in page


def _reported_photo(world):
    """A new report's photo of the problem, added by the triage desk."""
    sub = world.report()
    world.triage
    with world.services.uow() as uow:
        photo = commands.add_attachment(uow, world.triage, sub.case_id,
                                        world.services.storage.prepare(jpeg_bytes()), kind="before")
        uow.commit()
    return photo


def test_a_photo_removed_from_storage_loses_its_small_copy_too(world):
    photo = _reported_photo(world)
    with world.services.reading() as session:
        name = session.get(Attachment, photo.id).storage_name
    storage = world.services.storage
    small = storage.thumbnail(name)
    assert small.exists() and storage.thumbnail(name) == small  # made once
    storage.delete(name)
    assert not small.exists()


def test_another_opd_goes_only_with_a_valid_report(world):
    from workflow.errors import ValidationError

    sub = world.report()
    world.triage
    item = world.item(sub.case_id)
    with pytest.raises(ValidationError) as refused:
        with world.services.uow() as uow:
            commands.complete_work_item(uow, world.triage, item.id, {
                "decision": "reject", "reason": "Bukan masalah kota.", "route_to": "DPU"})
    assert set(refused.value.errors) == {"route_to"}


def test_a_case_of_an_earlier_process_version_is_not_offered_what_it_would_ignore(world, app):
    """A case keeps the process version it started with: a field today's process reads and its
    version does not (sending it to another OPD) is neither shown nor taken."""
    from sqlalchemy import update

    from workflow.store.models import Case, ProcessSpec

    sub = world.report()
    world.triage
    with world.services.uow() as uow:
        current = uow.session.get(ProcessSpec, world.case(sub.case_id).spec_id)
        older = ProcessSpec(content_hash="0" * 64, process_id=current.process_id, spec_json=current.spec_json,
                            source={name: text.replace("route_to", "") for name, text in current.source.items()},
                            created_at=current.created_at, version=current.version + 1,
                            deployed_at=current.deployed_at - timedelta(days=1))
        uow.session.add(older)
        uow.session.flush()
        uow.session.execute(update(Case).where(Case.id == sub.case_id).values(spec_id=older.id))
        uow.commit()
    triage = _client(app, "triase")
    task = f"/tasks/{world.item(sub.case_id).id}"
    page = triage.get(task).get_data(as_text=True)
    assert 'name="route_to"' not in page and 'name="decision"' in page
    from workflow.errors import ValidationError

    item = world.item(sub.case_id)
    with pytest.raises(ValidationError) as refused:  # through the API, say: refused, not ignored
        with world.services.uow() as uow:
            commands.complete_work_item(uow, world.triage, item.id, {
                "decision": "valid", "route_to": "DPU", "reason": "Pekerjaan DPU."})
    assert "versi proses yang lebih lama" in str(refused.value.errors["route_to"]) or \
        "earlier version of the process" in str(refused.value.errors["route_to"])
    assert "case_routed" not in world.actions(sub.case_id)


def test_a_pair_the_process_cannot_route_shows_no_preview(world):
    assert world.services.process.route_preview("tidak-ada", "mariso") is None


def test_photos_are_kept_by_the_browser_only_and_a_lost_one_is_not_found(world, app):
    photo = _reported_photo(world)
    triage = _client(app, "triase")
    for url in (f"/cases/attachments/{photo.id}", f"/cases/attachments/{photo.id}/small"):
        answer = triage.get(url)
        assert answer.status_code == 200 and "private" in answer.headers["Cache-Control"]
        assert "public" not in answer.headers["Cache-Control"]
        answer.close()
    with world.services.reading() as session:
        name = session.get(Attachment, photo.id).storage_name
    world.services.storage.delete(name)
    assert triage.get(f"/cases/attachments/{photo.id}/small").status_code == 404


def test_an_inbox_row_shows_a_photo_of_the_problem_not_of_the_fix(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.dlh
    with world.services.uow() as uow:
        commands.add_attachment(uow, world.dlh, sub.case_id, world.services.storage.prepare(jpeg_bytes()),
                                kind="after")
        uow.commit()
    assert 'class="thumb"' not in _row(_client(app, "koor.dlh").get("/inbox"), sub.case_number)
