"""Named steps of the process, for tests: each is ``complete_work_item`` with the form of one task
filled in. (The product completes every task through its form; these only spare the tests
from spelling the forms out.)"""

from __future__ import annotations

from workflow.commands import citizen_feedback, complete_work_item


def triage(uow, actor, item_id, *, decision, reason=None, duplicate_of=None,
           corrected_category=None, expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "decision": decision, "reason": reason, "duplicate_of": duplicate_of,
        "corrected_category": corrected_category}, expected_version=expected_version,
        expected_form="triage")


def merge_duplicate(uow, actor, item_id, *, into_case_number, reason, expected_version=None):
    return triage(uow, actor, item_id, decision="duplicate", duplicate_of=into_case_number,
                  reason=reason, expected_version=expected_version)


def accept(uow, actor, item_id, *, expected_version=None):
    return complete_work_item(uow, actor, item_id, {"decision": "accept"},
                              expected_version=expected_version, expected_form="disposition")


def transfer(uow, actor, item_id, *, to_agency, reason, expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "decision": "transfer", "transfer_to": to_agency, "reason": reason},
        expected_version=expected_version, expected_form="disposition")


def dispatch(uow, actor, item_id, *, team, instructions=None, expected_version=None):
    return complete_work_item(uow, actor, item_id, {"team": team, "instructions": instructions},
                              expected_version=expected_version, expected_form="dispatch")


def record_field_work(uow, actor, item_id, *, arrived_at, action_taken, after_photo,
                      expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "arrived_at": arrived_at, "action_taken": action_taken, "after_photo": after_photo},
        expected_version=expected_version, expected_form="field_work")


def verify(uow, actor, item_id, *, approve: bool, reason=None, expected_version=None):
    return complete_work_item(uow, actor, item_id, {
        "decision": "approve" if approve else "send_back", "reason": reason},
        expected_version=expected_version, expected_form="verification")


def close(uow, actor, item_id, *, closure_note, expected_version=None):
    return complete_work_item(uow, actor, item_id, {"closure_note": closure_note},
                              expected_version=expected_version, expected_form="closure")


def dispute(uow, tracking_code: str, *, reason: str):
    return citizen_feedback(uow, tracking_code, decision="dispute", reason=reason)


def confirm(uow, tracking_code: str):
    return citizen_feedback(uow, tracking_code, decision="confirm")
