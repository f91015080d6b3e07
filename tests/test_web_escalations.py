"""The supervisors' escalation view."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation.sweeper import Sweeper
from tests import actions
from tests.webclient import WebClient, errors

WITA = ZoneInfo("Asia/Makassar")


@pytest.fixture
def late_cases(world):
    """A DLH case and a Dinsos case, both at twice their disposition target."""
    w = world
    subs = [w.report(), w.report(category="gepeng", description="Anak mengemis di lampu merah.")]
    for sub in subs:
        w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.advance(timedelta(hours=20))
    Sweeper(w.services, worker="test").run_once()
    w.user("sup.dlh", ("supervisor", "DLH"))
    w.user("sup.kota", ("supervisor", None))
    return subs


def _rows(response):
    return re.findall(r'data-case="([^"]+)" data-level="([^"]+)"', response.get_data(as_text=True))


def test_scope_filters_and_counts(world, app, late_cases):
    dlh_case, dinsos_case = late_cases
    opd = WebClient(app)
    assert opd.login("sup.dlh").headers["Location"] == "/escalations"
    page = opd.get("/escalations")
    assert _rows(page) == [(dlh_case.case_number, "breach")]
    assert "Melewati target SLA: 1" in page.get_data(as_text=True)

    city = WebClient(app)
    city.login("sup.kota")
    assert sorted(_rows(city.get("/escalations"))) == sorted([
        (dlh_case.case_number, "breach"), (dlh_case.case_number, "critical"),
        (dinsos_case.case_number, "breach"), (dinsos_case.case_number, "critical")])
    assert {c for c, _l in _rows(city.get("/escalations?agency=DINSOS"))} == {dinsos_case.case_number}
    assert {lvl for _c, lvl in _rows(city.get("/escalations?level=critical"))} == {"critical"}
    fragment = city.client.get("/escalations?level=critical",
                               headers={"HX-Request": "true", "HX-Target": "escalations"})
    assert "<html" not in fragment.get_data(as_text=True) and len(_rows(fragment)) == 2
    assert city.get("/escalations?level=loud").status_code == 400


def test_acknowledging_through_the_review_form(world, app, late_cases):
    dlh_case, _ = late_cases
    web = WebClient(app)
    web.login("sup.dlh")
    page = web.get("/escalations").get_data(as_text=True)
    review = re.search(r'href="(/tasks/\d+)">Tindak lanjuti<', page).group(1)
    form = web.get(review).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    missing = web.post(review, {"version": version, "note": ""}, page=review)
    assert missing.status_code == 400
    done = web.post(review, {"version": version, "note": "Sudah saya tegur, selesai hari ini."}, page=review)
    assert done.status_code == 302
    assert _rows(web.get("/escalations")) == []
    assert "Sudah ditindaklanjuti" in web.get("/escalations?state=all").get_data(as_text=True)
    assert "escalation_acknowledged" in world.actions(dlh_case.case_id)


def test_only_supervisors(world, app, late_cases):
    world.dlh
    web = WebClient(app)
    assert web.get("/escalations").status_code == 302
    web.login("koor.dlh")
    assert web.get("/escalations").status_code == 403


def test_extending_a_deadline_from_the_view(world, app, late_cases):
    dlh_case, _ = late_cases
    web = WebClient(app)
    web.login("sup.dlh")
    link = re.search(r'href="(/escalations/items/\d+/extend)"', web.get("/escalations").get_data(as_text=True)).group(1)
    page = web.get(link).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    empty = web.post(link, {"version": version, "reason": ""}, page=link)
    assert empty.status_code == 400
    assert re.findall(r'class="error" role="alert">([^<]+)<', empty.get_data(as_text=True)) == [
        "wajib diisi", "wajib diisi"]
    new_due = (world.services.clock.now() + timedelta(days=2)).astimezone(WITA)
    done = web.post(link, {"version": version, "new_due": new_due.strftime("%Y-%m-%dT%H:%M"),
                           "reason": "Menunggu alat berat dari dinas"}, page=link)
    assert done.status_code == 302
    assert world.item(dlh_case.case_id).due_at == new_due.replace(second=0, microsecond=0)
    assert world.actions(dlh_case.case_id)[-1] == "deadline_extended"
    other = WebClient(app)
    world.user("sup.dinsos", ("supervisor", "DINSOS"))
    other.login("sup.dinsos")
    assert other.get(link).status_code == 404


def _link(page, action):
    return re.search(rf'href="(/escalations/items/\d+/{action})"', page.get_data(as_text=True)).group(1)


def _version(page):
    return re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)


def test_reassigning_from_the_view(world, app, late_cases):
    dlh_case, _ = late_cases
    world.dlh
    colleague = world.user("koor2.dlh", ("coordinator", "DLH"))
    web = WebClient(app)
    web.login("sup.dlh")
    link = _link(web.get("/escalations"), "reassign")
    page = web.get(link)
    html = page.get_data(as_text=True)
    assert 'value="koor2.dlh"' in html and 'value="koor.dpu"' not in html  # only who can work it
    assert 'name="to_team"' not in html  # not field work: no team choice
    missing = web.post(link, {"version": _version(page), "to_user": "koor2.dlh", "reason": ""}, page=link)
    assert missing.status_code == 400 and errors(missing) == ["wajib diisi"]
    assert '<option selected value="koor2.dlh">' in missing.get_data(as_text=True)  # the choice is kept
    done = web.post(link, {"version": _version(page), "to_user": "koor2.dlh",
                           "reason": "Koordinator sedang dinas luar"}, page=link)
    assert done.status_code == 302
    assert world.item(dlh_case.case_id).assignee_id == colleague.user_id
    assert "Tugas dialihkan" in web.get("/escalations").get_data(as_text=True)


def test_forcing_a_transfer_from_the_view(world, app, late_cases):
    dlh_case, _ = late_cases
    web = WebClient(app)
    web.login("sup.dlh")
    link = _link(web.get("/escalations"), "transfer")
    page = web.get(link)
    assert 'value="DLH"' not in page.get_data(as_text=True)  # not to itself
    done = web.post(link, {"version": _version(page), "to_agency": "DPU",
                           "reason": "Saluran tersumbat, kewenangan DPU"}, page=link)
    assert done.status_code == 302
    case = world.case(dlh_case.case_id)
    assert case.stage == "disposition" and "transfer_forced" in world.actions(dlh_case.case_id)
    assert _rows(web.get("/escalations")) == []  # resolved; DLH's supervisor no longer sees it
    stale = web.post(link, {"version": _version(page), "to_agency": "DISHUB", "reason": "x"}, page="/")
    assert stale.status_code == 404  # the task is gone


def test_an_instruction_reaches_the_coordinator(world, app, late_cases):
    dlh_case, _ = late_cases
    world.dlh
    web = WebClient(app)
    web.login("sup.dlh")
    link = _link(web.get("/escalations"), "instruct")
    page = web.get(link)
    assert web.post(link, {"version": _version(page), "text": ""}, page=link).status_code == 400
    done = web.post(link, {"version": _version(page), "text": "Hubungi lurah <b>hari ini</b>"}, page=link)
    assert done.status_code == 302
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    inbox = coordinator.get("/inbox").get_data(as_text=True)
    assert "1 instruksi" in inbox
    task = coordinator.get(f"/tasks/{world.item(dlh_case.case_id).id}").get_data(as_text=True)
    assert "Instruksi supervisor" in task and "Hubungi lurah &lt;b&gt;hari ini&lt;/b&gt;" in task


def test_asking_the_reporter_through_the_web(world, app):
    w = world
    sub = w.report()
    w.triage
    officer = WebClient(app)
    officer.login("triase")
    task_url = f"/tasks/{w.item(sub.case_id).id}"
    page = officer.get(task_url)
    assert 'id="ask-form"' in page.get_data(as_text=True)
    empty = officer.post(f"{task_url}/ask", {"version": _version(page), "question": " "}, page=task_url)
    assert empty.status_code == 400 and errors(empty) == ["wajib diisi"]
    sent = officer.post(f"{task_url}/ask", {"version": _version(page), "question": "Ada foto lain?"},
                        page=task_url)
    assert sent.status_code == 302
    paused = officer.get(task_url).get_data(as_text=True)
    assert "SLA dijeda" in paused and 'id="ask-form"' not in paused
    assert "SLA dijeda" in officer.get("/inbox").get_data(as_text=True)

    citizen = WebClient(app)
    status_url = f"/lacak/{sub.tracking_code}"
    status = citizen.get(status_url).get_data(as_text=True)
    assert 'id="question"' in status and "Ada foto lain?" in status
    blank = citizen.post(f"{status_url}/jawab", {"answer": ""}, page=status_url)
    assert blank.status_code == 400 and errors(blank) == ["wajib diisi"]
    answered = citizen.post(f"{status_url}/jawab", {"answer": "Tidak ada, hanya itu"}, page=status_url)
    assert answered.status_code == 302
    after = citizen.get(status_url).get_data(as_text=True)
    assert 'id="question"' not in after and "Tidak ada, hanya itu" in after
    assert w.item(sub.case_id).sla_paused_since is None
    again = citizen.post(f"{status_url}/jawab", {"answer": "lagi"}, page=status_url)
    assert again.status_code == 400  # nothing asked any more: a clear message, nothing stored
    assert "tidak ada pertanyaan" in again.get_data(as_text=True)


def test_admins_see_and_retry_incidents(world, app, monkeypatch):
    from workflow.engine.runtime import ProcessEngine

    w = world
    sub = w.report()
    w.user("admin.kota", ("admin", None))
    w.services.clock.advance(timedelta(hours=5))
    real = ProcessEngine.refresh_timers
    monkeypatch.setattr(ProcessEngine, "refresh_timers",
                        lambda self, wf: (_ for _ in ()).throw(RuntimeError("disk full")))
    Sweeper(w.services, worker="w", max_attempts=1).run_once()
    monkeypatch.setattr(ProcessEngine, "refresh_timers", real)
    web = WebClient(app)
    assert web.login("admin.kota").headers["Location"] == "/admin/incidents"
    page = web.get("/admin/incidents").get_data(as_text=True)
    assert sub.case_number in page and "disk full" in page
    assert "Memantau tenggat" in page and "fire_timers" not in page  # what was done, in words
    incident = re.search(r'action="(/admin/incidents/\d+/retry)"', page).group(1)
    assert web.post(incident, page="/admin/incidents").status_code == 302
    assert "Tidak ada insiden" in web.get("/admin/incidents").get_data(as_text=True)
    assert "Diselesaikan" in web.get("/admin/incidents?state=all").get_data(as_text=True)
    assert web.post(incident, page="/admin/incidents").status_code == 409
    assert Sweeper(w.services, worker="w").run_once().fired == 1


def test_the_city_supervisor_acknowledges_an_opds_escalation_through_the_web(world, app, late_cases):
    """The city-wide supervisor sees every OPD's escalations with "Tindak lanjuti"; following the
    button ends on the review form and its completion, not on "not allowed"."""
    dlh_case, _ = late_cases
    web = WebClient(app)
    web.login("sup.kota")
    page = web.get("/escalations?agency=DLH&level=breach").get_data(as_text=True)
    review = re.search(r'href="(/tasks/\d+)">Tindak lanjuti<', page).group(1)
    form = web.get(review).get_data(as_text=True)
    assert 'id="take-over-form"' not in form and re.search(r'<fieldset class="plain">', form)  # theirs to do
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    done = web.post(review, {"version": version, "note": "Kota: segera tangani."}, page=review)
    assert done.status_code == 302, errors(done)
    assert (dlh_case.case_number, "breach") not in _rows(web.get("/escalations"))
    assert "escalation_acknowledged" in world.actions(dlh_case.case_id)
