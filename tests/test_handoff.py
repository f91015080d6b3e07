"""What each step hands on to the next person: the previous step at the top of every task page,
and completions in the history labelled with what was decided (read from bpmn/tasks.yaml)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests import actions
from tests.webclient import WebClient, errors
from workflow import commands
from workflow.vocabulary import Action


def _page(app, username: str, item_id: int) -> str:
    web = WebClient(app)
    web.login(username)
    return web.get(f"/tasks/{item_id}").get_data(as_text=True)


def _handoff(html: str) -> str:
    found = re.search(r'<section class="card handoff".*?</section>', html, re.S)
    assert found, "no previous step on the task page"
    return found.group(0)


@pytest.fixture
def dispatched(world):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.accept, world.dlh, sub.case_id)
    world.do(actions.dispatch, world.dlh, sub.case_id, team="qr-mariso-1",
             instructions="Bawa gerobak; tumpukan ada di belakang pasar.")
    return sub


def test_the_officer_reads_the_dispatch_instructions(world, app, dispatched):
    world.qr_mariso
    box = _handoff(_page(app, "qr.mariso", world.item(dispatched.case_id).id))
    assert "Langkah sebelumnya: Penugasan tim QR" in box
    assert "Bawa gerobak; tumpukan ada di belakang pasar." in box and "Tim QR Mariso" in box
    assert "<dt>Instruksi</dt>" in box and "<dt>Tim QR</dt>" in box and "koor.dlh" in box


def test_the_verifier_reads_the_officers_arrival_action_and_photo(world, app, dispatched, clock):
    arrived = clock.now() - timedelta(minutes=5)
    photo = world.after_photo(world.qr_mariso, dispatched.case_id)
    world.do(actions.record_field_work, world.qr_mariso, dispatched.case_id, arrived_at=arrived,
             action_taken="Sampah diangkut dua gerobak.", after_photo=photo)
    box = _handoff(_page(app, "koor.dlh", world.item(dispatched.case_id).id))
    assert "Langkah sebelumnya: Penanganan lapangan" in box
    assert "Sampah diangkut dua gerobak." in box and "Waktu tiba" in box
    local = arrived.astimezone(world.services.zone)
    assert f"{local:%H:%M}" in box  # in the city's time
    assert f'src="/cases/attachments/{photo}"' in box


def test_the_officer_reads_why_the_work_was_sent_back(world, app, dispatched):
    world.field_work(world.qr_mariso, dispatched.case_id)
    world.do(actions.verify, world.dlh, dispatched.case_id, approve=False, reason="Foto tidak jelas, ulangi.")
    box = _handoff(_page(app, "qr.mariso", world.item(dispatched.case_id).id))
    assert "Langkah sebelumnya: Verifikasi: Kerjakan ulang" in box and "Foto tidak jelas, ulangi." in box


def test_an_escalation_review_is_not_the_previous_step(world, app, dispatched):
    """Side tasks run beside the case: after a supervisor's review of the late field work, the
    officer still reads the dispatch."""
    from sqlalchemy import select

    from escalation.sweeper import Sweeper
    from workflow.store.models import WorkItem

    item = world.item(dispatched.case_id)
    world.services.clock.set(item.due_at)
    Sweeper(world.services, worker="test").run_once()
    supervisor = world.user("sup.dlh", ("supervisor", "DLH"))
    with world.services.reading() as session:
        review = session.scalars(select(WorkItem).where(
            WorkItem.case_id == dispatched.case_id, WorkItem.completed_at.is_(None),
            WorkItem.id != item.id)).one()
    assert world.services.definition.task(review.task_name).side
    with world.services.uow() as uow:
        commands.complete_work_item(uow, supervisor, review.id, {"note": "Segera, warga menunggu."})
        uow.commit()
    world.qr_mariso
    box = _handoff(_page(app, "qr.mariso", item.id))
    assert "Langkah sebelumnya: Penugasan tim QR" in box and "Bawa gerobak" in box


def test_history_labels_each_completion_with_what_was_decided(world, app, dispatched):
    world.field_work(world.qr_mariso, dispatched.case_id)
    world.do(actions.verify, world.dlh, dispatched.case_id, approve=False, reason="Foto tidak jelas.")
    definition = world.services.definition
    expected = []
    for event in world.events(dispatched.case_id):
        if event.action != Action.TASK_COMPLETED:
            continue
        data = world.event_data(event)
        form = definition.forms[data["form"]]
        label = definition.label(event.task_name, "id")
        if form.decision is not None:
            label += ": " + form.decision.choice_labels[data["values"][form.decision.name]]["id"]
        expected.append(label)
    assert expected[:2] == ["Triase: Valid", "Disposisi: Terima"] and expected[-1] == "Verifikasi: Kerjakan ulang"
    web = WebClient(app)
    world.auditor
    web.login("inspektorat")
    case_page = web.get(f"/cases/{dispatched.case_id}").get_data(as_text=True)
    history = web.get(f"/audit/cases/{dispatched.case_id}").get_data(as_text=True)
    for label in expected:
        assert f"<strong>{label}</strong>" in case_page, label
        assert f"<strong>{label}</strong>" in history, label
    assert "<strong>Tugas diselesaikan</strong>" not in case_page


# -- claiming that protects work, and one case in one sitting -------------------------------------


def _version(html: str) -> str:
    return re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)


def test_a_task_someone_else_holds_opens_read_only_and_says_who_since_when(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.do(commands.claim, world.dlh, sub.case_id)
    world.user("koor.dlh2", ("coordinator", "DLH"))
    web = WebClient(app)
    web.login("koor.dlh2")
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert 'id="held-by"' in html and "koor.dlh" in html and "sedang mengerjakan tugas ini sejak" in html
    assert re.search(r'<fieldset class="plain" disabled>', html)
    late = web.post(f"/tasks/{item.id}", {"decision": "transfer", "transfer_to": "DPU", "version": _version(html),
                                          "reason": "Bukan urusan DLH."}, page=f"/tasks/{item.id}")
    assert late.status_code == 409 and "Bukan urusan DLH." in late.get_data(as_text=True)  # kept as typed
    assert world.item(sub.case_id).id == item.id  # nothing happened


def test_completing_an_unclaimed_task_claims_it_in_the_same_step(world):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    events = world.events(sub.case_id)
    claimed, completed = events[-3], events[-2]  # then case_routed
    assert (claimed.action, completed.action) == (Action.TASK_CLAIMED, Action.TASK_COMPLETED)
    assert claimed.actor_name == completed.actor_name == "triase" and claimed.occurred_at == completed.occurred_at
    with world.services.reading() as session:
        from workflow.store.models import WorkItem
        done = session.get(WorkItem, world.event_data(claimed)["work_item"])
        assert done.assignee_id == done.completed_by_id


def test_one_coordinator_goes_from_step_to_step_of_one_case(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    web = WebClient(app)
    world.dlh
    web.login("koor.dlh")
    web.get("/inbox?tab=mine&sort=due")  # the filters the coordinator works with
    accept = world.item(sub.case_id)
    page = web.get(f"/tasks/{accept.id}").get_data(as_text=True)
    done = web.post(f"/tasks/{accept.id}", {"decision": "accept", "version": _version(page)}, page=f"/tasks/{accept.id}")
    dispatch = world.item(sub.case_id)
    assert done.status_code == 302 and done.headers["Location"] == f"/tasks/{dispatch.id}"  # straight on
    page = web.get(f"/tasks/{dispatch.id}").get_data(as_text=True)
    done = web.post(f"/tasks/{dispatch.id}", {"team": "qr-mariso-1", "version": _version(page)},
                    page=f"/tasks/{dispatch.id}")
    # field work is the QR team's: back to the inbox, as it was filtered
    assert done.status_code == 302 and done.headers["Location"] == "/inbox?tab=mine&sort=due"


def _force_to_dpu(world, case_id: int, reason: str) -> None:
    supervisor = world.user("sup.kota", ("supervisor", None))
    with world.services.uow() as uow:
        commands.force_transfer(uow, supervisor, case_id, to_agency="DPU", reason=reason)
        uow.commit()


def test_after_a_forced_transfer_the_new_opd_reads_the_supervisors_reason(world, app, dispatched):
    _force_to_dpu(world, dispatched.case_id, "Saluran tersumbat: pekerjaan Dinas PU.")
    world.dpu
    box = _handoff(_page(app, "koor.dpu", world.item(dispatched.case_id).id))
    assert "Langkah sebelumnya: Pelimpahan oleh supervisor" in box
    assert "Saluran tersumbat: pekerjaan Dinas PU." in box and "DLH → DPU" in box
    assert "Bawa gerobak" not in box  # the old OPD's dispatch is not this OPD's instruction


def test_a_form_sent_to_a_case_gone_to_another_opd_is_a_conflict_not_a_missing_page(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.dlh
    web = WebClient(app)
    web.login("koor.dlh")
    version = _version(web.get(f"/tasks/{item.id}").get_data(as_text=True))
    _force_to_dpu(world, sub.case_id, "Urusan Dinas PU.")
    late = web.post(f"/tasks/{item.id}", {"decision": "accept", "version": version}, page="/inbox")
    assert late.status_code == 409


def test_after_someone_else_finished_the_form_comes_back_editable_with_what_was_typed(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.user("koor.dlh2", ("coordinator", "DLH"))
    web = WebClient(app)
    web.login("koor.dlh2")
    version = _version(web.get(f"/tasks/{item.id}").get_data(as_text=True))
    world.do(actions.accept, world.dlh, sub.case_id)
    late = web.post(f"/tasks/{item.id}", {"decision": "transfer", "transfer_to": "DPU", "version": version,
                                          "reason": "Urusan Dinas PU."}, page="/inbox")
    html = late.get_data(as_text=True)
    assert late.status_code == 409 and "Urusan Dinas PU." in html and "koor.dlh" in html
    assert '<fieldset class="plain">' in html and 'id="held-by"' not in html
    # what a phone sending a kept form reads: no longer to be completed, and who did it
    assert 'data-workable="no" data-done-by="koor.dlh"' in html


def test_a_held_task_offers_no_other_way_to_act_on_it(world, app):
    sub = world.report()
    world.do(commands.claim, world.triage, sub.case_id)
    world.user("triase2", ("triage", "KOMINFO"))
    web = WebClient(app)
    web.login("triase2")
    html = web.get(f"/tasks/{world.item(sub.case_id).id}").get_data(as_text=True)
    assert 'id="held-by"' in html and 'id="ask-form"' not in html and 'id="candidates-title"' not in html


def test_the_list_to_return_to_belongs_to_the_person_and_not_to_their_language(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.qr_mariso
    world.dlh
    web = WebClient(app)
    web.login("qr.mariso")
    web.get("/lapangan")
    web.logout()
    web.login("koor.dlh")
    web.get("/inbox?tab=all&lang=en")
    item = world.item(sub.case_id)
    page = web.get(f"/tasks/{item.id}?lang=id").get_data(as_text=True)
    done = web.post(f"/tasks/{item.id}", {"decision": "transfer", "transfer_to": "DPU", "reason": "Urusan PU.",
                                          "version": _version(page)}, page=f"/tasks/{item.id}")
    assert done.status_code == 302 and done.headers["Location"] == "/inbox?tab=all"  # not /lapangan, not ?lang=en


def test_the_coordinator_takes_field_work_off_an_officer_with_a_reason_and_it_is_audited(world, app, dispatched):
    item = world.item(dispatched.case_id)
    world.do(commands.claim, world.qr_mariso, dispatched.case_id)
    mariso2 = world.user("qr.mariso2", ("qr_officer", "qr-mariso-1"))
    colleague = WebClient(app)
    colleague.login("qr.mariso2")
    html = colleague.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert 'id="held-by"' in html and 'id="take-over-form"' not in html  # a colleague only reads it
    assert colleague.post(f"/tasks/{item.id}/takeover", {"takeover_to": "qr.mariso2", "takeover_reason": "Saya saja."},
                          page=f"/tasks/{item.id}").status_code == 403

    web = WebClient(app)
    web.login("koor.dlh")
    case_page = web.get(f"/cases/{dispatched.case_id}").get_data(as_text=True)
    assert f'href="/tasks/{item.id}">Penanganan lapangan</a>' in case_page and "diambil Qr.Mariso sejak" in case_page
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert 'id="take-over-form"' in html and '<option value="qr.mariso2">' in html
    assert '<option value="qr.mariso">' not in html  # not to the one who holds it
    assert '<option value="koor.dlh">' not in html  # a coordinator does not do field work
    assert re.search(r'<fieldset class="plain" disabled>', html)
    version = re.search(r'name="takeover_version" type="hidden" value="(\d+)"', html).group(1)
    no_reason = web.post(f"/tasks/{item.id}/takeover", {
        "takeover_to": "qr.mariso2", "takeover_reason": "", "takeover_version": version}, page=f"/tasks/{item.id}")
    assert no_reason.status_code == 400 and errors(no_reason) == ["wajib diisi"]
    assert '<option selected value="qr.mariso2">' in no_reason.get_data(as_text=True)  # the choice stays
    taken = web.post(f"/tasks/{item.id}/takeover", {"takeover_to": "qr.mariso2", "takeover_version": version,
                                                    "takeover_reason": "Qr.mariso sakit hari ini."}, page=f"/tasks/{item.id}")
    assert taken.status_code == 302
    assert world.item(dispatched.case_id).assignee_id == mariso2.user_id
    event = [e for e in world.events(dispatched.case_id) if e.action == Action.TASK_REASSIGNED][-1]
    assert (event.actor_name, event.actor_role, event.reason) == ("koor.dlh", "coordinator", "Qr.mariso sakit hari ini.")
    assert "Tugas dialihkan" in web.get(f"/cases/{dispatched.case_id}").get_data(as_text=True)
    html = colleague.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert 'id="held-by"' not in html and '<fieldset class="plain">' in html  # now theirs to complete


def test_a_supervisor_gives_a_held_task_on_but_cannot_complete_it(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.do(commands.claim, world.dlh, sub.case_id)
    world.user("koor.dlh2", ("coordinator", "DLH"))
    world.user("sup.dlh", ("supervisor", "DLH"))
    web = WebClient(app)
    web.login("sup.dlh")
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert 'id="take-over-form"' in html and '<option value="koor.dlh2">' in html and "Saya sendiri" not in html
    assert web.post(f"/tasks/{item.id}", {"decision": "accept", "version": _version(html)},
                    page=f"/tasks/{item.id}").status_code == 403
    stale = web.post(f"/tasks/{item.id}/takeover", {"takeover_to": "koor.dlh2", "takeover_reason": "Cuti.",
                                                    "takeover_version": int(_version(html)) - 1}, page=f"/tasks/{item.id}")
    again = stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Cuti.</textarea>" in again  # what was typed stays
    assert world.item(sub.case_id).assignee_id == world.dlh.user_id
    current = re.search(r'name="takeover_version" type="hidden" value="(\d+)"', again).group(1)
    assert current == _version(html)  # sent again as it came back, it goes through
    resent = web.post(f"/tasks/{item.id}/takeover", {"takeover_to": "koor.dlh2", "takeover_reason": "Cuti.",
                                                     "takeover_version": current}, page=f"/tasks/{item.id}")
    assert resent.status_code == 302
    world.user("sup.dpu", ("supervisor", "DPU"))
    other = WebClient(app)
    other.login("sup.dpu")
    assert other.get(f"/tasks/{item.id}").status_code in (403, 404)  # another OPD's supervisor


def test_nobody_takes_over_the_reporters_own_task(world, app):
    sub = world.approved()
    world.do(actions.close, world.dlh, sub.case_id, closure_note="Sampah sudah diangkut.")
    from sqlalchemy import select

    from workflow.store.models import WorkItem
    with world.services.reading() as session:
        asked = session.scalar(select(WorkItem).where(WorkItem.case_id == sub.case_id,
                                                      WorkItem.completed_at.is_(None)))
    assert asked.role == "citizen"
    world.user("sup.kota", ("supervisor", None))
    web = WebClient(app)
    web.login("sup.kota")
    assert web.get(f"/tasks/{asked.id}").status_code == 403
    page = web.get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert "menunggu pelapor" in page and f'href="/tasks/{asked.id}"' not in page


def test_taking_a_task_over_for_oneself_twice_is_not_refused_the_second_time(world, app):
    """A supervisor who also coordinates the OPD takes a held disposition for themselves; the same
    form sent again (the answer was lost) lands on the task, now theirs, instead of a 403."""
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.do(commands.claim, world.dlh, sub.case_id)
    boss = world.user("kabid.dlh", ("supervisor", "DLH"), ("coordinator", "DLH"))
    web = WebClient(app)
    web.login("kabid.dlh")
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert '<option value="kabid.dlh">Saya sendiri (kabid.dlh)</option>' in html
    form = {"takeover_to": "kabid.dlh", "takeover_reason": "Koordinator cuti.",
            "takeover_version": re.search(r'name="takeover_version" type="hidden" value="(\d+)"', html).group(1)}
    first = web.post(f"/tasks/{item.id}/takeover", form, page=f"/tasks/{item.id}")
    again = web.post(f"/tasks/{item.id}/takeover", form, page=f"/tasks/{item.id}")
    assert (first.status_code, again.status_code) == (302, 302)
    assert again.headers["Location"] == f"/tasks/{item.id}"
    assert world.item(sub.case_id).assignee_id == boss.user_id
    assert len([e for e in world.events(sub.case_id) if e.action == Action.TASK_REASSIGNED]) == 1
