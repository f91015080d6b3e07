"""Supervisor actions on late or bouncing work (reassign, force a transfer, instruct), the
ping-pong escalation, asking the citizen (which stops the SLA clock), and retrying incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from escalation.sweeper import Sweeper
from tests import actions
from workflow import commands
from workflow.engine.runtime import ProcessEngine
from workflow.errors import DomainError, NotFound, PermissionDenied, ValidationError
from workflow.read.public import public_status
from workflow.store.models import Escalation, Incident, Note, OutboxMessage, Timer, WorkItem
from workflow.vocabulary import Role


def _sweep(world):
    return Sweeper(world.services, worker="test").run_once()


def _escalations(world, case_id):
    with world.services.reading() as session:
        return [(e.level, e.task_name, e.resolved_at is not None) for e in session.scalars(
            select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id))]


def _run(world, command, *args, **kwargs):
    with world.services.uow() as uow:
        result = command(uow, *args, **kwargs)
        uow.commit()
    return result


@pytest.fixture
def sup_dlh(world):
    return world.user("sup.dlh", ("supervisor", "DLH"))


@pytest.fixture
def in_field_work(world):
    """A DLH rubbish case in Tamalate (two QR teams), dispatched to the first team."""
    w = world
    sub = w.report(area="tamalate", kelurahan="tamalate/jongaya")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-tamalate-1")
    return sub


# -- ping-pong -------------------------------------------------------------------------------

def test_more_than_two_transfers_escalate_as_ping_pong_until_an_opd_accepts(world, sup_dlh):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Bukan sampah, saluran")
    w.do(actions.transfer, w.dpu, sub.case_id, to_agency="DLH", reason="Ini sampah di saluran")
    assert _escalations(w, sub.case_id) == []  # two transfers: still the OPDs' business
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Tetap saluran")
    assert _escalations(w, sub.case_id) == [("pingpong", "disposition", False)]
    review = next(i for i in w.open_items(sub.case_id) if i.form_key == "escalation_review")
    dpu_id = w.case(sub.case_id).agency_id
    assert (review.role, review.agency_id) == (Role.SUPERVISOR, dpu_id)  # the OPD holding it now
    assert w.case(sub.case_id).stage == "disposition"
    raised = next(e for e in w.events(sub.case_id) if e.action == "escalation_raised")
    assert w.event_data(raised)["level"] == "pingpong" and raised.to_agency == "DPU"

    w.do(actions.accept, w.dpu, sub.case_id)
    assert _escalations(w, sub.case_id) == [("pingpong", "disposition", True)]
    assert w.case(sub.case_id).stage == "dispatch" and w.chain_breaks() == []


def test_the_ping_pong_limit_is_a_setting(world, services):
    w = world
    object.__setattr__(services.settings, "max_transfers", 0)
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran")
    assert _escalations(w, sub.case_id) == [("pingpong", "disposition", False)]


# -- force transfer --------------------------------------------------------------------------

def test_a_supervisor_forces_a_transfer_during_field_work(world, sup_dlh, in_field_work):
    w = world
    sub = in_field_work
    field = w.item(sub.case_id)
    w.services.clock.set(field.due_at)
    _sweep(w)  # field work is late: a breach review is open
    assert _escalations(w, sub.case_id) == [("breach", "field_work", False)]
    before = w.case(sub.case_id)

    _run(w, commands.force_transfer, sup_dlh, sub.case_id, to_agency="DPU",
         reason="Ternyata saluran tersumbat, kewenangan DPU")
    case = w.case(sub.case_id)
    assert (case.stage, case.team_id, case.transfer_count) == ("disposition", None, before.transfer_count)
    item = w.item(sub.case_id)
    assert (item.task_name, item.role) == ("disposition", Role.COORDINATOR)
    with w.services.reading() as session:
        old = session.get(WorkItem, field.id)
        timers = {t.timer_name for t in session.scalars(select(Timer).where(Timer.case_id == sub.case_id))}
    assert old.outcome == "cancelled"
    assert timers == {"disposition_sla", "disposition_critical"}  # field work's timers are gone
    assert _escalations(w, sub.case_id) == [("breach", "field_work", True)]
    events = [(e.action, e.actor_name, e.from_agency, e.to_agency) for e in w.events(sub.case_id)
              if e.action in ("transfer_forced", "case_transferred")]
    assert events == [("transfer_forced", "sup.dlh", "DLH", "DPU"), ("case_transferred", "sup.dlh", "DLH", "DPU")]
    forced = next(e for e in w.events(sub.case_id) if e.action == "transfer_forced")
    assert forced.reason == "Ternyata saluran tersumbat, kewenangan DPU"
    w.do(actions.accept, w.dpu, sub.case_id)  # the receiving OPD works it from disposition
    assert w.case(sub.case_id).stage == "dispatch" and w.chain_breaks() == []


def test_force_transfer_scope_and_validation(world, sup_dlh, in_field_work):
    w = world
    sub = in_field_work
    other = w.user("sup.dinsos", ("supervisor", "DINSOS"))
    city = w.user("sup.kota", ("supervisor", None))
    counts = w.table_counts()
    with pytest.raises(NotFound):  # another OPD's supervisor does not see the case
        _run(w, commands.force_transfer, other, sub.case_id, to_agency="DPU", reason="x")
    with pytest.raises(PermissionDenied):  # the coordinator sees it but does not supervise
        _run(w, commands.force_transfer, w.dlh, sub.case_id, to_agency="DPU", reason="x")
    with pytest.raises(ValidationError) as missing:
        _run(w, commands.force_transfer, sup_dlh, sub.case_id, to_agency="", reason="  ")
    assert set(missing.value.errors) == {"to_agency", "reason"}
    with pytest.raises(ValidationError) as same:
        _run(w, commands.force_transfer, sup_dlh, sub.case_id, to_agency="DLH", reason="x")
    assert set(same.value.errors) == {"to_agency"}
    assert w.table_counts() == counts
    _run(w, commands.force_transfer, city, sub.case_id, to_agency="DISHUB", reason="Keputusan kota")
    assert w.case(sub.case_id).stage == "disposition"


def test_no_forced_transfer_during_triage(world, sup_dlh):
    w = world
    city = w.user("sup.kota", ("supervisor", None))
    sub = w.report()
    with pytest.raises(DomainError) as err:
        _run(w, commands.force_transfer, city, sub.case_id, to_agency="DPU", reason="x")
    assert err.value.code == "not_transferable"


# -- reassign --------------------------------------------------------------------------------

def test_reassign_a_task_to_another_coordinator_of_the_opd(world, sup_dlh):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    colleague = w.user("koor2.dlh", ("coordinator", "DLH"))
    item = w.item(sub.case_id)
    _run(w, commands.claim, w.dlh, item.id)
    with pytest.raises(ValidationError) as wrong:
        _run(w, commands.reassign, sup_dlh, item.id, to_user=w.dpu.name, reason="Cuti")
    assert "to_user" in wrong.value.errors  # DPU's coordinator cannot work a DLH task
    with pytest.raises(ValidationError) as no_reason:
        _run(w, commands.reassign, sup_dlh, item.id, to_user=colleague.name, reason="")
    assert set(no_reason.value.errors) == {"reason"}

    _run(w, commands.reassign, sup_dlh, item.id, to_user=colleague.name, reason="Koordinator cuti")
    assert w.item(sub.case_id).assignee_id == colleague.user_id
    event = w.events(sub.case_id)[-1]
    assert (event.action, event.reason, w.event_data(event)["assignee"]) == (
        "task_reassigned", "Koordinator cuti", ["koor.dlh", "koor2.dlh"])
    w.do(actions.accept, colleague, sub.case_id)
    assert w.chain_breaks() == []


def test_reassign_field_work_to_another_qr_team(world, sup_dlh, in_field_work):
    w = world
    sub = in_field_work
    team2 = w.user("qr.tamalate2", ("qr_officer", "qr-tamalate-2"))
    item = w.item(sub.case_id)
    with pytest.raises(ValidationError) as bad:
        _run(w, commands.reassign, sup_dlh, item.id, to_team="qr-mariso-1", reason="x")
    assert "to_team" in bad.value.errors  # not a team of the case's kecamatan
    _run(w, commands.reassign, sup_dlh, item.id, to_team="qr-tamalate-2", reason="Tim 1 sedang di banjir")
    moved = w.item(sub.case_id)
    assert moved.id == item.id and moved.team_id != item.team_id
    assert w.case(sub.case_id).team_id == moved.team_id
    w.field_work(team2, sub.case_id)  # the new team can work it
    assert w.case(sub.case_id).stage == "verification" and w.chain_breaks() == []


def test_another_opds_supervisor_cannot_reassign_or_instruct(world, in_field_work):
    w = world
    other = w.user("sup.dpu", ("supervisor", "DPU"))
    item = w.item(in_field_work.case_id)
    with pytest.raises(NotFound):
        _run(w, commands.reassign, other, item.id, to_team="qr-tamalate-2", reason="x")
    with pytest.raises(NotFound):
        _run(w, commands.instruct, other, item.id, text="Segera")


# -- instructions ----------------------------------------------------------------------------

def test_an_instruction_is_attached_to_the_task(world, sup_dlh, in_field_work):
    w = world
    item = w.item(in_field_work.case_id)
    with pytest.raises(ValidationError):
        _run(w, commands.instruct, sup_dlh, item.id, text=" ")
    note = _run(w, commands.instruct, sup_dlh, item.id, text="Bawa truk besar, sampah 3 m3")
    with w.services.reading() as session:
        stored = session.get(Note, note.id)
    assert (stored.work_item_id, stored.public) == (item.id, False)
    event = w.events(in_field_work.case_id)[-1]
    assert (event.action, event.reason) == ("instruction_given", "Bawa truk besar, sampah 3 m3")


# -- asking the citizen stops the SLA clock --------------------------------------------------

def test_asking_the_citizen_pauses_the_sla_until_the_answer(world):
    w = world
    sub = w.report()
    item = w.item(sub.case_id)  # triage, 4 h target (sampah)
    target = item.due_at - item.created_at
    w.services.clock.advance(timedelta(hours=1))
    w.do(commands.request_information, w.triage, sub.case_id,
         question="Di sisi jalan yang mana tumpukannya?")  # clock +30 min after
    paused = w.item(sub.case_id)
    assert paused.sla_paused_since is not None and paused.due_at is None
    with w.services.reading() as session:
        timers = {t.timer_name for t in session.scalars(select(Timer).where(Timer.case_id == sub.case_id))}
        outbox = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "information_requested"))
        status = public_status(session, w.services.tracking, w.services.definition, sub.tracking_code)
    assert timers == {"ask_citizen_window"}  # the triage deadlines wait
    assert outbox.recipient == "daeng@example.id" and "sisi jalan" in outbox.payload["question"]
    assert status.question == "Di sisi jalan yang mana tumpukannya?" and not status.awaiting_feedback

    w.services.clock.advance(timedelta(days=2))  # long past the original deadline
    assert _sweep(w).fired == 0
    w.citizen(commands.answer_information, sub.tracking_code, answer="Sisi utara, dekat masjid")
    resumed = w.item(sub.case_id)
    left = target - timedelta(hours=1)  # the hour before the question counted, the wait did not
    assert resumed.sla_paused_since is None
    assert resumed.due_at == w.services.clock.now() + left
    assert [a for a in w.actions(sub.case_id) if a.startswith("sla_")] == ["sla_paused", "sla_resumed"]
    with w.services.reading() as session:
        status = public_status(session, w.services.tracking, w.services.definition, sub.tracking_code)
    assert [n.body for n in status.replies] == ["Di sisi jalan yang mana tumpukannya?",
                                                "Sisi utara, dekat masjid"]
    assert status.question is None
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    assert w.chain_breaks() == []


def test_an_unanswered_question_times_out_and_the_clock_runs_again(world):
    w = world
    sub = w.report()
    w.do(commands.request_information, w.triage, sub.case_id, question="Foto lebih jelas?")
    with pytest.raises(DomainError):  # one question at a time
        w.do(commands.request_information, w.triage, sub.case_id, question="Lagi?")
    w.services.clock.advance(timedelta(days=3))
    assert _sweep(w).fired == 1  # the answer window
    item = w.item(sub.case_id)
    assert item.sla_paused_since is None and item.due_at > w.services.clock.now()
    assert [i.form_key for i in w.open_items(sub.case_id)] == ["triage"]
    with pytest.raises(DomainError):
        w.citizen(commands.answer_information, sub.tracking_code, answer="Terlambat")


def test_only_triage_and_disposition_ask_and_completing_the_task_withdraws_the_question(world, in_field_work):
    w = world
    qr = w.user("qr.tamalate", ("qr_officer", "qr-tamalate-1"))
    with pytest.raises(DomainError) as err:
        w.do(commands.request_information, qr, in_field_work.case_id, question="Alamat?")
    assert err.value.code == "cannot_ask"
    sub = w.report()
    w.do(commands.request_information, w.triage, sub.case_id, question="Alamat lengkap?")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    assert [i.form_key for i in w.open_items(sub.case_id)] == ["disposition"]
    with w.services.reading() as session:
        assert public_status(session, w.services.tracking, w.services.definition, sub.tracking_code).question is None


# -- incidents -------------------------------------------------------------------------------

def test_an_admin_retries_a_given_up_case(world, monkeypatch):
    w = world
    sub = w.report()
    admin = w.user("admin.kota", ("admin", None))
    w.services.clock.advance(timedelta(hours=5))
    real_refresh = ProcessEngine.refresh_timers
    monkeypatch.setattr(ProcessEngine, "refresh_timers",
                        lambda self, wf: (_ for _ in ()).throw(RuntimeError("engine down")))
    sweeper = Sweeper(w.services, worker="w", max_attempts=1)
    incident_id = sweeper.run_once().given_up[0]
    monkeypatch.setattr(ProcessEngine, "refresh_timers", real_refresh)
    assert sweeper.run_once().claimed == 0

    with pytest.raises(PermissionDenied):
        _run(w, commands.retry_incident, w.triage, incident_id)
    assert _run(w, commands.retry_incident, admin, incident_id) == 1
    with pytest.raises(Exception) as again:
        _run(w, commands.retry_incident, admin, incident_id)
    assert "already resolved" in str(again.value)
    assert sweeper.run_once().fired == 1
    with w.services.reading() as session:
        incident = session.get(Incident, incident_id)
    assert incident.resolved_at is not None and incident.resolved_by_id == admin.user_id
    assert "timers_retried" in w.actions(sub.case_id) and "escalation_raised" in w.actions(sub.case_id)
    assert w.chain_breaks() == []
