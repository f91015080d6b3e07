"""Whole case lives driven through the commands: final state, open work, and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import actions
from workflow import commands
from workflow.errors import NotFound
from workflow.read.cases import case_detail
from workflow.read.inbox import InboxFilters, inbox
from workflow.store.models import Agency, OutboxMessage, Timer
from workflow.vocabulary import CaseStatus


def _agency_id(world, code):
    with world.services.reading() as session:
        return session.scalar(select(Agency.id).where(Agency.code == code))


def _to_field_work(w, case_id):
    w.do(actions.triage, w.triage, case_id, decision="valid")
    w.do(actions.accept, w.dlh, case_id)
    w.do(actions.dispatch, w.dlh, case_id, team="qr-mariso-1", instructions="Bawa truk sampah")


def _to_resolved(w, case_id, closure_note="Selesai"):
    """From dispatched to closed by the OPD: field work, approval, closure."""
    w.field_work(w.qr_mariso, case_id)
    w.do(actions.verify, w.dlh, case_id, approve=True)
    w.do(actions.close, w.dlh, case_id, closure_note=closure_note)


def _handoffs(w, case_id):
    """(action, from, to) of the events that move a case between hands."""
    keep = {"report_submitted", "case_routed", "case_transferred", "team_dispatched",
            "case_resolved", "case_reopened", "case_closed", "case_rejected", "case_merged",
            "field_work_returned", "report_merged"}
    return [(e.action, e.from_agency, e.to_agency, e.reason)
            for e in w.events(case_id) if e.action in keep]


def test_happy_path_ends_closed_with_every_handoff_in_order(world):
    w = world
    sub = w.report()
    assert sub.case_number.startswith("2026-")
    _to_field_work(w, sub.case_id)
    _to_resolved(w, sub.case_id, closure_note="Sampah sudah diangkut.")

    resolved = w.case(sub.case_id)
    assert resolved.status == CaseStatus.RESOLVED
    assert [i.task_name for i in w.open_items(sub.case_id)] == ["citizen_feedback"]
    with w.services.reading() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "case_resolved"))
    assert message.recipient == "daeng@example.id"
    assert message.payload["closure_note"] == "Sampah sudah diangkut."
    assert "tracking_code" not in message.payload  # the citizen's credential is never stored

    w.citizen(actions.confirm, sub.tracking_code)

    case = w.case(sub.case_id)
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    assert case.stage is None and case.due_at is None
    assert w.open_items(sub.case_id) == []
    with w.services.reading() as session:
        assert session.scalars(select(Timer).where(Timer.case_id == sub.case_id)).all() == []
    assert w.actions(sub.case_id) == [  # each task done without claiming it first is claimed with it
        "report_submitted",
        "task_claimed", "task_completed", "case_routed",      # triage -> DLH
        "task_claimed", "task_completed",                     # disposition: accepted
        "task_claimed", "task_completed", "team_dispatched",  # dispatch
        "attachment_added", "task_claimed", "task_completed",  # field work with after-photo
        "task_claimed", "task_completed",                     # verification
        "task_claimed", "task_completed", "case_resolved",    # closure
        "task_completed", "case_closed",                      # the citizen confirms (no claiming)
    ]
    events = w.events(sub.case_id)
    assert [(e.from_task, e.to_task) for e in events if e.action == "task_completed"] == [
        ("triage", "disposition"), ("disposition", "dispatch"), ("dispatch", "field_work"),
        ("field_work", "verification"), ("verification", "closure"),
        ("closure", "citizen_feedback"), ("citizen_feedback", None)]
    assert [(e.actor_name, e.actor_role) for e in events if e.action == "task_completed"] == [
        ("triase", "triage"), ("koor.dlh", "coordinator"), ("koor.dlh", "coordinator"),
        ("qr.mariso", "qr_officer"), ("koor.dlh", "coordinator"), ("koor.dlh", "coordinator"),
        ("citizen", "citizen")]
    assert w.chain_breaks() == []


def test_reject_ends_the_case_with_the_reason(world):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="reject",
         reason="Lokasi di luar kewenangan kota")
    case = w.case(sub.case_id)
    assert case.status == CaseStatus.REJECTED and case.closed_at is not None
    assert case.agency_id is None
    assert w.open_items(sub.case_id) == []
    assert _handoffs(w, sub.case_id) == [
        ("report_submitted", None, None, None),
        ("case_rejected", None, None, "Lokasi di luar kewenangan kota")]
    assert w.chain_breaks() == []


def test_duplicate_merges_into_the_open_case(world):
    w = world
    original = w.report()
    w.do(actions.triage, w.triage, original.case_id, decision="valid")
    duplicate = w.report(description="Sampah di depan pasar belum diangkut juga.")
    w.do(actions.merge_duplicate, w.triage, duplicate.case_id,
         into_case_number=original.case_number, reason="Lokasi dan masalah sama")

    dup = w.case(duplicate.case_id)
    assert dup.status == CaseStatus.MERGED and dup.merged_into_id == original.case_id
    assert w.open_items(duplicate.case_id) == []
    assert w.case(original.case_id).status == CaseStatus.IN_PROGRESS
    assert w.actions(duplicate.case_id)[-1] == "case_merged"
    merged = w.events(original.case_id)[-1]
    assert merged.action == "report_merged"
    assert w.event_data(merged) == {"duplicate_case": duplicate.case_number}
    assert w.chain_breaks() == []


def test_transfer_a_to_b_to_c_keeps_reasons_and_moves_the_work(world):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran tersumbat: PU")
    assert w.item(sub.case_id).agency_id == _agency_id(w, "DPU")
    w.do(actions.transfer, w.dpu, sub.case_id, to_agency="DISHUB", reason="Truk parkir di jalan")
    w.do(actions.accept, w.dishub, sub.case_id)

    case = w.case(sub.case_id)
    assert case.transfer_count == 2
    assert case.agency_id == _agency_id(w, "DISHUB")
    item = w.item(sub.case_id)
    assert (item.task_name, item.agency_id) == ("dispatch", _agency_id(w, "DISHUB"))
    assert _handoffs(w, sub.case_id) == [
        ("report_submitted", None, None, None),
        ("case_routed", None, "DLH", None),
        ("case_transferred", "DLH", "DPU", "Saluran tersumbat: PU"),
        ("case_transferred", "DPU", "DISHUB", "Truk parkir di jalan"),
    ]
    # The agencies that handed the case on no longer see it.
    with w.services.reading() as session:
        with pytest.raises(NotFound):
            case_detail(session, w.dlh, sub.case_id)
        assert inbox(session, w.dpu, InboxFilters(), w.services.clock.now()).total == 0
        assert inbox(session, w.dishub, InboxFilters(), w.services.clock.now()).total == 1
    assert w.chain_breaks() == []


def test_verification_sends_back_once_then_approves(world):
    w = world
    sub = w.report()
    _to_field_work(w, sub.case_id)
    w.field_work(w.qr_mariso, sub.case_id, action="Sebagian diangkut")
    w.do(actions.verify, w.dlh, sub.case_id, approve=False, reason="Masih ada sisa sampah")
    item = w.item(sub.case_id)
    assert item.task_name == "field_work"
    w.field_work(w.qr_mariso, sub.case_id, action="Semua diangkut")
    w.do(actions.verify, w.dlh, sub.case_id, approve=True)

    case = w.case(sub.case_id)
    assert case.rework_count == 1 and case.stage == "closure"
    assert ("field_work_returned", None, None, "Masih ada sisa sampah") in _handoffs(w, sub.case_id)
    completed = [e.task_name for e in w.events(sub.case_id) if e.action == "task_completed"]
    assert completed == ["triage", "disposition", "dispatch", "field_work", "verification",
                         "field_work", "verification"]
    assert w.chain_breaks() == []


def test_dispute_reopens_at_disposition_then_closes(world):
    w = world
    sub = w.report()
    _to_field_work(w, sub.case_id)
    _to_resolved(w, sub.case_id)
    w.citizen(actions.dispute, sub.tracking_code, reason="Besoknya menumpuk lagi")

    case = w.case(sub.case_id)
    assert case.status == CaseStatus.IN_PROGRESS and case.stage == "disposition"
    assert case.reopen_count == 1 and case.agency_id == _agency_id(w, "DLH")
    assert ("case_reopened", None, None, "Besoknya menumpuk lagi") in _handoffs(w, sub.case_id)

    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    _to_resolved(w, sub.case_id, closure_note="Diangkut dan dijadwalkan rutin")
    w.citizen(actions.confirm, sub.tracking_code)
    assert w.case(sub.case_id).status == CaseStatus.CLOSED
    assert w.actions(sub.case_id).count("case_resolved") == 2
    assert w.chain_breaks() == []


def test_dispute_window_closes_the_case_by_itself(world):
    w = world
    sub = w.report()
    _to_field_work(w, sub.case_id)
    _to_resolved(w, sub.case_id)

    w.services.clock.advance(timedelta(days=6, hours=23))
    with w.services.uow() as uow:
        commands.fire_timers(uow, sub.case_id)
        uow.commit()
    assert w.case(sub.case_id).status == CaseStatus.RESOLVED

    w.services.clock.advance(timedelta(hours=2))
    with w.services.uow() as uow:
        commands.fire_timers(uow, sub.case_id)
        uow.commit()
    case = w.case(sub.case_id)
    assert case.status == CaseStatus.CLOSED
    assert w.open_items(sub.case_id) == []
    fired = [e for e in w.events(sub.case_id) if e.action == "timer_fired"]
    assert [e.task_name for e in fired] == ["citizen_feedback_window"]
    assert fired[0].actor_name == "system"
    assert w.actions(sub.case_id)[-1] == "case_closed"
    assert w.chain_breaks() == []


def test_triage_corrects_the_category_and_routing_follows(world):
    w = world
    sub = w.report(description="Mobil parkir di trotoar depan pasar setiap pagi.")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid",
         corrected_category="parkir-liar")
    case = w.case(sub.case_id)
    assert case.agency_id == _agency_id(w, "DISHUB")
    with w.services.reading() as session:
        from workflow.store.models import Category
        assert session.get(Category, case.category_id).code == "parkir-liar"
    recategorized = [e for e in w.events(sub.case_id) if e.action == "case_recategorized"]
    assert [w.event_data(e) for e in recategorized] == [{"category": ["sampah", "parkir-liar"]}]
    assert ("case_routed", None, "DISHUB", None) in _handoffs(w, sub.case_id)
    # The report as the citizen sent it is not rewritten.
    with w.services.reading() as session:
        from workflow.store.models import Category, Report
        report = session.get(Report, case.report_id)
        assert session.get(Category, report.category_id).code == "sampah"
