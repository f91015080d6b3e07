"""The supervisors' escalation view."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation.sweeper import Sweeper
from tests import actions
from tests.webclient import WebClient, errors
from workflow import commands
from workflow.store.models import User

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
    # each late task once, at the level it reached last, with both levels on its row
    listed = city.get("/escalations")
    assert sorted(_rows(listed)) == sorted([(dlh_case.case_number, "critical"),
                                            (dinsos_case.case_number, "critical")])
    assert listed.get_data(as_text=True).count("Melewati target SLA</span>") == 2
    assert city.get("/escalations").get_data(as_text=True).count('name="row"') == 2
    assert {c for c, _l in _rows(city.get("/escalations?agency=DINSOS"))} == {dinsos_case.case_number}
    assert {lvl for _c, lvl in _rows(city.get("/escalations?level=breach"))} == {"breach"}
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
    review = re.search(r'href="(/tasks/\d+)">Tanggapi<', page).group(1)
    form = web.get(review).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    missing = web.post(review, {"version": version, "note": ""}, page=review)
    assert missing.status_code == 400
    done = web.post(review, {"version": version, "note": "Sudah saya tegur, selesai hari ini."}, page=review)
    assert done.status_code == 302
    assert _rows(web.get("/escalations")) == []
    assert "Sudah ditanggapi" in web.get("/escalations?state=all").get_data(as_text=True)
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
    assert web.login("admin.kota").headers["Location"] == "/admin/"
    page = web.get("/admin/incidents").get_data(as_text=True)
    assert sub.case_number in page and "disk full" in page
    assert "Memantau tenggat" in page and "fire_timers" not in page  # what was done, in words
    incident = re.search(r'action="(/admin/incidents/\d+/retry)"', page).group(1)
    assert web.post(incident, page="/admin/incidents").status_code == 302
    with w.services.reading() as session:  # the security log has the retry, with how many timers
        from sqlalchemy import select

        from workflow.store.models import SecurityEvent

        logged = session.scalars(select(SecurityEvent).where(SecurityEvent.subject.like("incident:%"))).one()
        assert logged.actor_name == "admin.kota" and '"retried":{"new":' in logged.details
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
    review = re.search(r'href="(/tasks/\d+)">Tanggapi<', page).group(1)
    form = web.get(review).get_data(as_text=True)
    assert 'id="take-over-form"' not in form and re.search(r'<fieldset class="plain">', form)  # theirs to do
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    done = web.post(review, {"version": version, "note": "Kota: segera tangani."}, page=review)
    assert done.status_code == 302, errors(done)
    assert (dlh_case.case_number, "breach") not in _rows(web.get("/escalations"))
    assert "escalation_acknowledged" in world.actions(dlh_case.case_id)


def _bulk(web, rows: list[int], **fields):
    page = web.get("/escalations")
    html = page.get_data(as_text=True)
    data = {"action": "acknowledge", "reason": "", "to_user": "", "to_team": "", "new_due": "",
            "next": "/escalations", **fields, "row": [str(r) for r in rows]}
    for item_id in rows:
        data[f"version-{item_id}"] = re.search(rf'name="version-{item_id}" value="(\d+)"', html).group(1)
    return web.post("/escalations/bulk", data, page="/escalations")


def _ticks(page) -> list[int]:
    return [int(n) for n in re.findall(r'name="row" value="(\d+)"', page.get_data(as_text=True))]


def test_a_city_supervisor_acknowledges_both_levels_of_several_tasks_at_once(world, app, late_cases):
    city = WebClient(app)
    city.login("sup.kota")
    ticks = _ticks(city.get("/escalations"))
    assert len(ticks) == 2
    done = _bulk(city, ticks, reason="Sudah saya hubungi kedua kepala dinas.")
    assert done.status_code == 302 and done.headers["Location"] == "/escalations"
    after = city.get("/escalations")
    assert _rows(after) == [] and "Selesai untuk 2 tugas" in after.get_data(as_text=True)
    assert city.get("/escalations?state=all").get_data(as_text=True).count("Sudah ditanggapi</small>") == 4
    for sub in late_cases:
        events = [e for e in world.events(sub.case_id) if e.action == "escalation_acknowledged"]
        assert len(events) == 2  # breach and critical, each in the audit trail
        assert all(e.actor_name == "sup.kota" for e in events)


def test_bulk_needs_a_reason_and_a_tick_and_keeps_what_was_sent(world, app, late_cases):
    city = WebClient(app)
    city.login("sup.kota")
    ticks = _ticks(city.get("/escalations"))
    no_reason = _bulk(city, ticks[:1], reason=" ")
    page = no_reason.get_data(as_text=True)
    assert no_reason.status_code == 400 and "Tulis alasannya." in page
    assert f'value="{ticks[0]}" id="pick-{ticks[0]}"' in page and "checked" in page.split(f'pick-{ticks[0]}"')[1][:80]
    nothing = _bulk(city, [], reason="Sudah ditegur.")
    assert nothing.status_code == 400 and "Centang sedikitnya satu tugas" in nothing.get_data(as_text=True)
    assert "Sudah ditegur." in nothing.get_data(as_text=True)  # the reason typed is kept
    reassign = _bulk(city, ticks[:1], action="reassign", reason="Cuti")
    assert reassign.status_code == 400 and "Pilih pengguna atau tim QR." in reassign.get_data(as_text=True)
    extend = _bulk(city, ticks[:1], action="extend", reason="Menunggu alat")
    assert extend.status_code == 400 and "Isi tenggat baru." in extend.get_data(as_text=True)
    assert all(a != "escalation_acknowledged" for s in late_cases for a in world.actions(s.case_id))


def test_bulk_extension_and_reassignment_do_each_task_and_report_the_refused(world, app, late_cases):
    dlh_case, dinsos_case = late_cases
    world.dlh
    world.user("koor2.dlh", ("coordinator", "DLH"))
    city = WebClient(app)
    city.login("sup.kota")
    ticks = _ticks(city.get("/escalations"))
    given = _bulk(city, ticks, action="reassign", to_user="koor2.dlh", reason="Koordinator sedang cuti")
    assert given.status_code == 302
    flashes = city.get("/escalations").get_data(as_text=True)
    assert f"Tidak dilakukan untuk {dinsos_case.case_number}" in flashes  # a DLH coordinator cannot work it
    assert world.item(dlh_case.case_id).assignee_id is not None
    assert "task_reassigned" in world.actions(dlh_case.case_id)
    assert "task_reassigned" not in world.actions(dinsos_case.case_id)
    new_due = (world.services.clock.now() + timedelta(days=3)).astimezone(WITA)
    ticks = _ticks(city.get("/escalations"))
    moved = _bulk(city, ticks, action="extend", new_due=new_due.strftime("%Y-%m-%dT%H:%M"),
                  reason="Menunggu anggaran perubahan")
    assert moved.status_code == 302
    for sub in late_cases:
        assert world.item(sub.case_id).due_at == new_due.replace(second=0, microsecond=0)
        assert world.actions(sub.case_id).count("deadline_extended") == 1


def test_a_bulk_action_on_a_case_that_moved_on_says_so_for_that_row(world, app, late_cases):
    dlh_case, dinsos_case = late_cases
    city = WebClient(app)
    city.login("sup.kota")
    page = city.get("/escalations").get_data(as_text=True)
    ticks = [int(n) for n in re.findall(r'name="row" value="(\d+)"', page)]
    versions = {t: re.search(rf'name="version-{t}" value="(\d+)"', page).group(1) for t in ticks}
    world.do(actions.accept, world.dlh, dlh_case.case_id)  # DLH acts meanwhile
    data = {"action": "acknowledge", "reason": "Ditegur", "next": "/escalations",
            "row": [str(t) for t in ticks], **{f"version-{t}": v for t, v in versions.items()}}
    assert city.post("/escalations/bulk", data, page="/escalations").status_code == 302
    after = city.get("/escalations?state=all").get_data(as_text=True)
    assert f"Selesai untuk 1 tugas: {dinsos_case.case_number}" in after
    assert "escalation_acknowledged" not in world.actions(dlh_case.case_id)


def test_the_workload_per_opd_person_and_team(world, app, late_cases):
    dlh_case, dinsos_case = late_cases
    world.do(actions.accept, world.dlh, dlh_case.case_id)
    with world.services.uow() as uow:  # DLH's coordinator holds the dispatch
        commands.claim(uow, world.dlh, world.item(dlh_case.case_id).id)
        uow.commit()
    fresh = world.report()
    world.do(actions.triage, world.triage, fresh.case_id, decision="valid")
    world.do(actions.accept, world.dlh, fresh.case_id)
    world.do(actions.dispatch, world.dlh, fresh.case_id, team="qr-mariso-1")
    city = WebClient(app)
    city.login("sup.kota")
    page = city.get("/escalations/workload")
    html = page.get_data(as_text=True)
    assert page.status_code == 200

    def row(key):
        cells = re.search(rf'<tr data-load="{re.escape(key)}">(.*?)</tr>', html, re.S).group(1)
        return [int(n) for n in re.findall(r"<td>(\d+)</td>", cells)]

    assert row("DLH") == [2, 0, 0]  # the dispatch (no longer late) and the new field work
    assert row("DINSOS") == [1, 1, 1]  # its late disposition, escalated
    assert html.index('data-load="DINSOS"') < html.index('data-load="DLH"')  # the oldest first
    assert row("koor.dlh") == [1, 0, 0]
    assert row("qr-mariso-1") == [1, 0, 0]
    assert "2 tugas terbuka belum diambil siapa pun" in html
    opd = WebClient(app)
    opd.login("sup.dlh")
    mine = opd.get("/escalations/workload").get_data(as_text=True)
    assert 'data-load="DLH"' in mine and 'data-load="DINSOS"' not in mine
    world.dlh
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    assert coordinator.get("/escalations/workload").status_code == 403


def test_bulk_actions_outside_the_supervisors_scope_name_no_case(world, app, late_cases):
    dlh_case, dinsos_case = late_cases
    opd = WebClient(app)
    opd.login("sup.dlh")
    foreign = world.item(dinsos_case.case_id).id
    data = {"action": "acknowledge", "reason": "Ditegur", "next": "/escalations", "row": [str(foreign)],
            f"version-{foreign}": "1"}
    assert opd.post("/escalations/bulk", data, page="/escalations").status_code == 302
    page = opd.get("/escalations").get_data(as_text=True)
    assert f"Tidak dilakukan untuk #{foreign}" in page and dinsos_case.case_number not in page
    assert "escalation_acknowledged" not in world.actions(dinsos_case.case_id)
    # an id beyond any id column, and a ticked row without the version the page showed
    huge = opd.post("/escalations/bulk", {"action": "acknowledge", "reason": "x", "row": ["2147483648"]},
                    page="/escalations")
    assert huge.status_code == 400 and "Centang sedikitnya satu tugas" in huge.get_data(as_text=True)
    own = world.item(dlh_case.case_id).id
    unversioned = opd.post("/escalations/bulk", {"action": "acknowledge", "reason": "Ditegur", "next": "/escalations",
                                                  "row": [str(own)]}, page="/escalations")
    assert unversioned.status_code == 302
    assert "muat ulang daftar" in opd.get("/escalations").get_data(as_text=True)
    assert "escalation_acknowledged" not in world.actions(dlh_case.case_id)


def _statements(app, client, url: str) -> int:
    from sqlalchemy import event

    engine = app.extensions["tanggap"].engine
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_bulk_forms_choices_cost_the_same_for_more_late_tasks_of_a_kind(world, app, late_cases):
    """Whom ticked tasks can go to is read once per kind of task (role, OPD, team), not once per
    row: more late DLH tasks on the page, the same statements."""
    assert world.dlh.name == "koor.dlh"  # someone who could work them
    city = WebClient(app)
    city.login("sup.kota")
    city.get("/escalations")  # warm: the first request of a client reads what later ones need not
    few = _statements(app, city, "/escalations")
    more = [world.report(description=f"Sampah menumpuk lagi, laporan {i}.") for i in range(3)]
    for sub in more:
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.services.clock.advance(timedelta(hours=20))
    Sweeper(world.services, worker="test").run_once()
    listed = city.get("/escalations")
    assert len(_rows(listed)) == 5
    assert 'value="koor.dlh"' in listed.get_data(as_text=True)  # who could work the DLH tasks
    assert _statements(app, city, "/escalations") == few


def test_the_bulk_form_offers_who_could_work_a_task_on_the_page_but_not_its_holder(world, app, late_cases):
    """Read for every kind of task at once: the coordinators of the OPDs whose tasks are listed,
    active ones only, not another OPD's, not the one who already holds the only task of its OPD."""
    dlh_case, _dinsos_case = late_cases
    for who in ("dlh", "dinsos", "dpu"):
        getattr(world, who)
    world.user("koor2.dlh", ("coordinator", "DLH"))
    gone = world.user("koor3.dlh", ("coordinator", "DLH"))
    with world.services.uow() as uow:
        uow.session.get(User, gone.user_id).active = False
        uow.commit()
    city = WebClient(app)
    city.login("sup.kota")

    def offered() -> list[str]:
        html = city.get("/escalations").get_data(as_text=True)
        select = html.split('name="to_user"')[1].split("</select>")[0]
        return [v for v in re.findall(r'<option[^>]*value="([^"]*)"', select) if v]

    assert offered() == ["koor.dinsos", "koor.dlh", "koor2.dlh"]
    with world.services.uow() as uow:
        commands.claim(uow, world.dlh, world.item(dlh_case.case_id).id)
        uow.commit()
    assert offered() == ["koor.dinsos", "koor2.dlh"]


def test_the_bulk_form_offers_the_teams_of_the_kecamatan_of_late_field_work(world, app):
    w = world
    for who in ("triage", "dlh"):
        getattr(w, who)
    w.user("sup.kota", ("supervisor", None))
    sub = w.report(area="tamalate")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-tamalate-1")
    w.services.clock.advance(timedelta(days=5))
    sweeper = Sweeper(w.services, worker="test")
    for _ in range(10):  # bounded: each round fires what is due
        if not sweeper.run_once().claimed:
            break
    city = WebClient(app)
    city.login("sup.kota")
    html = city.get("/escalations").get_data(as_text=True)
    assert sub.case_number in html
    select = html.split('name="to_team"')[1].split("</select>")[0]
    assert [v for v in re.findall(r'<option[^>]*value="([^"]*)"', select) if v] == ["qr-tamalate-1", "qr-tamalate-2"]
