"""The QR officer's field view: their team's tasks as cards, the dispatch instructions on each,
one tap to navigate; the field-work form first, its arrival time filled with now, the camera."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

from sqlalchemy import func, select

from tests import actions
from tests.helpers import jpeg_bytes
from tests.webclient import WebClient, errors
from workflow.store.models import Attachment
from workflow.vocabulary import AttachmentKind


def _dispatched(world, **report):
    sub = world.report(**report)
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.accept, world.dlh, sub.case_id)
    world.do(actions.dispatch, world.dlh, sub.case_id, team="qr-mariso-1", instructions="Bawa gerobak.")
    return sub


def test_an_officer_lands_on_the_cards_of_their_team(world, app):
    first = _dispatched(world)
    world.report()  # still at triage: not field work
    world.qr_mariso
    web = WebClient(app)
    landed = web.login("qr.mariso")
    assert landed.headers["Location"] == "/lapangan"  # the first thing an officer sees
    html = web.get("/lapangan").get_data(as_text=True)
    cards = re.findall(r'<li class="task-card[^"]*"[^>]*data-case="([^"]+)"', html)
    assert cards == [first.case_number]
    assert "Bawa gerobak." in html and "Instruksi" in html
    assert 'href="geo:-5.156000,119.405000?q=-5.156000,119.405000(' in html
    assert "https://www.google.com/maps/dir/?api=1&amp;destination=-5.156000,119.405000" in html
    item = world.item(first.case_id)
    assert f'href="/tasks/{item.id}"' in html


def test_a_report_named_only_by_its_area_says_the_place_is_approximate(world, app):
    _dispatched(world, lat=None, lon=None, area="mariso", kelurahan="mariso/lette")
    world.qr_mariso
    web = WebClient(app)
    web.login("qr.mariso")
    assert "Tempat perkiraan" in web.get("/lapangan").get_data(as_text=True)


def test_other_roles_and_other_teams_do_not_see_the_field_view(world, app):
    _dispatched(world)
    world.dlh
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    assert coordinator.get("/lapangan").status_code == 403
    world.user("qr.tallo", ("qr_officer", "qr-tallo-1"))
    other = WebClient(app)
    other.login("qr.tallo")
    html = other.get("/lapangan").get_data(as_text=True)
    assert 'class="task-card' not in html and "Belum ada tugas lapangan" in html


def test_the_field_work_form_comes_first_with_now_and_the_camera(world, app, clock):
    sub = _dispatched(world)
    world.qr_mariso
    web = WebClient(app)
    web.login("qr.mariso")
    html = web.get(f"/tasks/{world.item(sub.case_id).id}").get_data(as_text=True)
    assert '<div class="grid form-first">' in html
    local = clock.now().astimezone(world.services.zone)
    assert re.search(rf'name="arrived_at"[^>]*value="{local:%Y-%m-%dT%H:%M}"', html)
    assert re.search(r'<input[^>]*capture="environment"[^>]*name="after_photo"|name="after_photo"[^>]*capture', html)


def test_the_service_worker_and_the_manifest_are_served_for_the_whole_site(web):
    worker = web.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"  # an update reaches every phone
    assert "tanggap-field-" in worker.get_data(as_text=True)
    worker.close()
    manifest = web.get("/static/field.webmanifest")
    data = json.loads(manifest.get_data(as_text=True))
    manifest.close()
    assert data["start_url"] == "/lapangan" and {i["sizes"] for i in data["icons"]} == {"192x192", "512x512"}
    for icon in data["icons"]:
        response = web.get(icon["src"])
        assert response.status_code == 200 and response.mimetype == "image/png"
        response.close()


def _photos(*colors):
    return [(io.BytesIO(jpeg_bytes(color=c)), f"foto-{i}.jpg") for i, c in enumerate(colors)]


def test_a_visit_takes_several_photos_before_and_after_and_the_verifier_sees_them_all(world, app, clock):
    sub = _dispatched(world)
    item = world.item(sub.case_id)
    world.qr_mariso
    web = WebClient(app)
    web.login("qr.mariso")
    page = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert re.search(r'<input[^>]*multiple[^>]*name="after_photo"|name="after_photo"[^>]*multiple', page)
    assert "Paling banyak 4 foto." in page
    arrived = (clock.now() - timedelta(minutes=3)).astimezone(world.services.zone)
    done = web.post(f"/tasks/{item.id}", {
        "version": world.case(sub.case_id).version, "arrived_at": f"{arrived:%Y-%m-%dT%H:%M}",
        "action_taken": "Diangkut dua gerobak.", "before_photo": _photos((10, 10, 10)),
        "after_photo": _photos((200, 0, 0), (0, 200, 0))}, page=f"/tasks/{item.id}",
        content_type="multipart/form-data")
    assert done.status_code == 302, errors(done)
    with world.services.reading() as session:
        kinds = [a.kind for a in session.scalars(select(Attachment).where(
            Attachment.case_id == sub.case_id, Attachment.uploaded_by_id == world.qr_mariso.user_id)
            .order_by(Attachment.id))]
    assert kinds == [AttachmentKind.BEFORE, AttachmentKind.AFTER, AttachmentKind.AFTER]
    web.logout()
    web.login("koor.dlh")
    box = web.get(f"/tasks/{world.item(sub.case_id).id}").get_data(as_text=True)
    box = re.search(r'<section class="card handoff".*?</section>', box, re.S).group(0)
    shown = re.findall(r'src="/cases/attachments/(\d+)"', box)
    assert len(shown) == 3 and "Foto sesudah 2/2" in box and "Foto sebelum (saat tiba)" in box


def test_more_photos_than_the_field_takes_are_refused_before_any_is_stored(world, app, clock):
    sub = _dispatched(world)
    item = world.item(sub.case_id)
    world.qr_mariso
    web = WebClient(app)
    web.login("qr.mariso")
    arrived = (clock.now() - timedelta(minutes=3)).astimezone(world.services.zone)
    refused = web.post(f"/tasks/{item.id}", {
        "version": world.case(sub.case_id).version, "arrived_at": f"{arrived:%Y-%m-%dT%H:%M}",
        "action_taken": "Diangkut.", "after_photo": _photos(*[(i * 40, 0, 0) for i in range(5)])},
        page=f"/tasks/{item.id}", content_type="multipart/form-data")
    assert refused.status_code == 400 and errors(refused) == ["paling banyak 4 foto"]
    assert "Diangkut." in refused.get_data(as_text=True)  # what was typed stays
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.case_id == sub.case_id, Attachment.kind == AttachmentKind.AFTER)) == 0



def test_the_field_view_hands_out_a_fresh_token_for_forms_kept_without_signal(world, app):
    world.qr_mariso
    world.dlh
    web = WebClient(app)
    web.login("qr.mariso")
    answer = web.get("/lapangan/token")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert len(answer.get_json()["csrf_token"]) > 20
    web.logout()
    web.login("koor.dlh")
    assert web.get("/lapangan/token").status_code == 403  # the field view's, like the page


def test_a_fresh_task_page_says_its_arrival_time_was_filled_in_and_a_re_rendered_one_does_not(world, app, clock):
    sub = _dispatched(world)
    item = world.item(sub.case_id)
    world.qr_mariso
    web = WebClient(app)
    web.login("qr.mariso")
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert 'data-prefilled="yes" data-offset="480"' in html and 'data-now="1"' in html
    assert 'name="queue_owner" value="%d"' % world.qr_mariso.user_id in html
    typed = web.post(f"/tasks/{item.id}", {"version": world.case(sub.case_id).version,
                                           "arrived_at": "2020-01-01T08:00", "action_taken": "x"},
                     page=f"/tasks/{item.id}", content_type="multipart/form-data")
    assert typed.status_code == 400 and 'data-prefilled' not in typed.get_data(as_text=True)
