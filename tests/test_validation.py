"""Bad input to each command: a clear domain error naming the problem, and nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import actions
from workflow import commands
from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError


@pytest.fixture
def routed(world):
    """A case waiting for DLH's disposition, with the cast of users created up front."""
    w = world
    for who in ("triage", "dlh", "dpu", "dinsos", "qr_mariso", "auditor"):
        getattr(w, who)
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    return sub


def _unchanged(world, action):
    """Run ``action`` in a unit of work that would commit; return the error it raised."""
    before = world.table_counts()
    with pytest.raises(DomainError) as info:
        with world.services.uow() as uow:
            action(uow)
            uow.commit()
    assert world.table_counts() == before
    return info.value


@pytest.mark.parametrize("overrides, field, words", [
    ({"category": "jalan-berlubang"}, "category", "unknown category"),
    ({"category": ""}, "category", "choose a category"),
    ({"category": "  "}, "category", "choose a category"),
    ({"lat": -6.2088, "lon": 106.8456}, "lat", "outside Kota Makassar"),       # Jakarta
    ({"lat": -5.0, "lon": 119.6}, "lat", "outside Kota Makassar"),             # Maros
    ({"lat": "abc"}, "lat", "latitude and longitude"),
    ({"lat": float("nan")}, "lat", "latitude and longitude"),
    ({"description": ""}, "description", "describe the problem"),
    ({"description": "   \n "}, "description", "describe the problem"),
    ({"description": "kotor"}, "description", "at least 10"),
    ({"description": "x" * 4001}, "description", "at most 4000"),
    ({"area": "gowa"}, "area", "unknown kecamatan"),
    ({"kelurahan": "tallo/buloa"}, "kelurahan", "not in kecamatan Mariso"),
    ({"contact_email": "bukan-email"}, "contact_email", "not a valid e-mail"),
    ({"contact_phone": "telepon saya"}, "contact_phone", "not a valid phone"),
])
def test_submit_report_refuses_bad_input(world, overrides, field, words):
    values = dict(category="sampah", description="Sampah menumpuk di depan pasar.",
                  lat=-5.156, lon=119.405, area="mariso", kelurahan="mariso/lette")
    values.update(overrides)
    error = _unchanged(world, lambda uow: commands.submit_report(uow, commands.ReportInput(**values)))
    assert isinstance(error, ValidationError)
    assert field in error.errors
    assert words in error.errors[field]


def test_submit_report_names_every_bad_field_at_once(world):
    error = _unchanged(world, lambda uow: commands.submit_report(uow, commands.ReportInput(
        category="nope", description="", lat=None, lon=None)))
    assert set(error.errors) >= {"category", "description", "area"}  # no point, no kecamatan: ask for one
    assert "give the location on the map" in error.errors["area"]


def test_kecamatan_is_inferred_from_the_point_when_not_given(world):
    sub = world.report(area=None, kelurahan=None, lat=-5.0852, lon=119.5148)
    with world.services.reading() as session:
        from workflow.store.models import Area, Case
        case = session.get(Case, sub.case_id)
        assert session.get(Area, case.area_id).code == "biringkanaya"


def _complete(world, actor, case_id, values):
    item = world.item(case_id)
    return lambda uow: commands.complete_work_item(uow, actor, item.id, values)


def test_wrong_role_is_forbidden(world, routed):
    # The triage desk can see every case but cannot do the OPD's disposition.
    error = _unchanged(world, _complete(world, world.triage, routed.case_id, {"decision": "accept"}))
    assert isinstance(error, PermissionDenied)
    assert "disposition" in error.message


def test_auditor_cannot_work_tasks(world, routed):
    error = _unchanged(world, _complete(world, world.auditor, routed.case_id, {"decision": "accept"}))
    assert isinstance(error, PermissionDenied)


def test_foreign_agency_work_item_is_not_found(world, routed):
    # Dinas Sosial must not learn that DLH's case exists.
    error = _unchanged(world, _complete(world, world.dinsos, routed.case_id, {"decision": "accept"}))
    assert isinstance(error, NotFound)
    item = world.item(routed.case_id)
    error = _unchanged(world, lambda uow: commands.claim(uow, world.dinsos, item.id))
    assert isinstance(error, NotFound)


def test_qr_officer_of_another_team_cannot_see_the_case(world, routed):
    error = _unchanged(world, _complete(world, world.qr_mariso, routed.case_id, {"decision": "accept"}))
    assert isinstance(error, NotFound)


@pytest.mark.parametrize("values, field, words", [
    ({}, "decision", "required"),
    ({"decision": "transfer"}, "transfer_to", "required"),
    ({"decision": "transfer", "transfer_to": "DPU"}, "reason", "required"),
    ({"decision": "transfer", "transfer_to": "DLH", "reason": "x"}, "transfer_to", "not one of"),
    ({"decision": "transfer", "transfer_to": "KOMINFO", "reason": "x"}, "transfer_to", "not one of"),
    ({"decision": "maybe"}, "decision", "not one of"),
    ({"decision": "accept", "colour": "red"}, "colour", "unknown field"),
    ({"decision": "transfer", "transfer_to": "DPU", "reason": "x" * 1001}, "reason", "at most 1000"),
])
def test_completing_with_missing_or_wrong_fields(world, routed, values, field, words):
    error = _unchanged(world, _complete(world, world.dlh, routed.case_id, values))
    assert isinstance(error, ValidationError)
    assert words in error.errors[field]


def test_dispatch_only_to_a_team_of_the_case_kecamatan(world, routed):
    world.do(actions.accept, world.dlh, routed.case_id)
    error = _unchanged(world, _complete(world, world.dlh, routed.case_id, {"team": "qr-tallo-1"}))
    assert "team" in error.errors


def test_field_work_needs_an_after_photo_of_this_case(world, routed):
    w = world
    w.do(actions.accept, w.dlh, routed.case_id)
    w.do(actions.dispatch, w.dlh, routed.case_id, team="qr-mariso-1")
    now = w.services.clock.now()
    error = _unchanged(w, _complete(w, w.qr_mariso, routed.case_id, {
        "arrived_at": now.isoformat(), "action_taken": "Diangkut", "after_photo": "999"}))
    assert "after_photo" in error.errors
    error = _unchanged(w, _complete(w, w.qr_mariso, routed.case_id, {
        "arrived_at": "2026-11-23 10:00", "action_taken": "Diangkut", "after_photo": "1"}))
    assert "time zone" in error.errors["arrived_at"]


def test_duplicate_of_must_be_another_open_case(world):
    w = world
    sub = w.report()
    error = _unchanged(w, _complete(w, w.triage, sub.case_id, {
        "decision": "duplicate", "duplicate_of": sub.case_number, "reason": "sama"}))
    assert "cannot duplicate itself" in error.errors["duplicate_of"]
    error = _unchanged(w, _complete(w, w.triage, sub.case_id, {
        "decision": "duplicate", "duplicate_of": "2026-999999", "reason": "sama"}))
    assert "no case 2026-999999" in error.errors["duplicate_of"]


def test_claimed_task_is_refused_to_a_colleague(world, routed):
    w = world
    colleague = w.user("koor.dlh2", ("coordinator", "DLH"))
    item = w.item(routed.case_id)
    with w.services.uow() as uow:
        commands.claim(uow, w.dlh, item.id)
        uow.commit()
    error = _unchanged(w, lambda uow: commands.claim(uow, colleague, item.id))
    assert isinstance(error, Conflict) and "koor.dlh" in error.message
    error = _unchanged(w, lambda uow: commands.release(uow, colleague, item.id))
    assert isinstance(error, PermissionDenied)
    error = _unchanged(w, _complete(w, colleague, routed.case_id, {"decision": "accept"}))
    assert isinstance(error, Conflict)
    with w.services.uow() as uow:
        commands.release(uow, w.dlh, item.id)
        uow.commit()
    assert w.item(routed.case_id).assignee_id is None
    assert w.actions(routed.case_id)[-2:] == ["task_claimed", "task_released"]


def test_stale_form_version_is_a_conflict_naming_who_acted(world, routed):
    w = world
    item = w.item(routed.case_id)
    seen_version = w.case(routed.case_id).version
    with w.services.uow() as uow:
        commands.add_note(uow, w.dlh, routed.case_id, "Sudah dihubungi lurah")
        uow.commit()
    error = _unchanged(w, lambda uow: commands.complete_work_item(
        uow, w.dlh, item.id, {"decision": "accept"}, expected_version=seen_version))
    assert isinstance(error, Conflict) and "koor.dlh" in error.message


def test_notes_validate_and_auditors_cannot_write(world, routed):
    error = _unchanged(world, lambda uow: commands.add_note(uow, world.dlh, routed.case_id, "  "))
    assert "body" in error.errors
    error = _unchanged(world, lambda uow: commands.add_note(uow, world.auditor, routed.case_id, "Catatan"))
    assert isinstance(error, PermissionDenied)
    error = _unchanged(world, lambda uow: commands.add_note(uow, world.dinsos, routed.case_id, "Catatan"))
    assert isinstance(error, NotFound)


def test_citizen_feedback_only_when_waiting_for_it(world, routed):
    error = _unchanged(world, lambda uow: actions.dispute(uow, routed.tracking_code, reason="Belum"))
    assert error.code == "not_resolved"
    error = _unchanged(world, lambda uow: actions.confirm(uow, "ZZZZ-ZZZZ"))
    assert isinstance(error, NotFound)


@pytest.mark.parametrize("spec, problem", [
    ({"type": "attachment", "max_files": 0}, "max_files must be a whole number from 1 to 10"),
    ({"type": "attachment", "max_files": 11}, "max_files must be a whole number from 1 to 10"),
    ({"type": "attachment", "max_files": True}, "max_files must be a whole number from 1 to 10"),
    ({"type": "attachment", "max_files": "4"}, "max_files must be a whole number from 1 to 10"),
    ({"type": "text", "max_files": 2}, "only attachment fields take max_files"),
])
def test_a_form_definition_with_a_wrong_photo_count_is_refused(spec, problem):
    from workflow.engine.forms import parse_forms
    with pytest.raises(ValueError, match=problem):
        parse_forms({"f": {"fields": [{"name": "photos", **spec}]}})


def test_a_field_taking_several_photos_reads_one_id_as_a_list_and_refuses_too_many():
    from workflow.engine.forms import clean, parse_forms
    form = parse_forms({"f": {"fields": [{"name": "photos", "type": "attachment", "max_files": 3,
                                          "required": True}]}})["f"]
    assert clean(form, {"photos": 7}, lambda _s: set()) == {"photos": [7]}
    assert clean(form, {"photos": ["7", 8]}, lambda _s: set()) == {"photos": [7, 8]}
    for value, error in (([], "this field is required"), ([1, 2, 3, 4], "at most 3 photos"),
                         ([1, True], "must be an attachment id"), ([5, 5], "the same photo is named twice")):
        with pytest.raises(ValidationError) as raised:
            clean(form, {"photos": value}, lambda _s: set())
        assert raised.value.errors == {"photos": error}


def test_an_arrival_typed_in_the_minute_the_report_came_in_is_not_before_it(world):
    """The form gives the arrival to the minute: a report at 10:00:42 and an officer who arrived
    at 10:00 (typed as such) is not refused; 09:59 is."""
    w = world
    for who in ("triage", "dlh", "qr_mariso"):
        getattr(w, who)
    w.services.clock.set(w.services.clock.now().replace(second=0, microsecond=0) + timedelta(seconds=42))
    sub = w.report()
    reported = w.case(sub.case_id).created_at
    assert reported.second == 42
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    photo = w.after_photo(w.qr_mariso, sub.case_id)
    minute = reported.replace(second=0, microsecond=0)
    error = _unchanged(w, _complete(w, w.qr_mariso, sub.case_id, {
        "arrived_at": minute - timedelta(minutes=1), "action_taken": "Diangkut", "after_photo": photo}))
    assert "before the report" in error.errors["arrived_at"]
    w.do(actions.record_field_work, w.qr_mariso, sub.case_id, arrived_at=minute, action_taken="Diangkut",
         after_photo=photo)
    assert w.case(sub.case_id).stage == "verification"  # the field work was taken
