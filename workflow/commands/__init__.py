"""Every state change a user or a worker can make. Each takes a unit of work and never commits."""

from .case_extras import add_attachment, add_note
from .reports import ReportInput, Submitted, submit_report
from .tasks import (
    accept,
    citizen_feedback,
    claim,
    close,
    complete_work_item,
    confirm,
    dispatch,
    dispute,
    merge_duplicate,
    record_field_work,
    release,
    transfer,
    answer_information,
    request_information,
    triage,
    verify,
)
from .supervision import extend_deadline, force_transfer, instruct, reassign
from .timers import fire_timers, retry_incident
from .users import authenticate, create_user, end_sessions

__all__ = [
    "ReportInput", "Submitted", "accept", "add_attachment", "add_note", "answer_information",
    "authenticate", "citizen_feedback", "claim", "close", "complete_work_item", "confirm",
    "create_user", "dispatch", "dispute", "end_sessions", "extend_deadline", "fire_timers",
    "force_transfer", "instruct", "merge_duplicate", "reassign", "record_field_work", "release",
    "request_information", "retry_incident", "submit_report", "transfer", "triage", "verify",
]
