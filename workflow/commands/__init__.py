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
    triage,
    verify,
)
from .timers import extend_deadline, fire_timers
from .users import authenticate, create_user, end_sessions

__all__ = [
    "ReportInput", "Submitted", "accept", "authenticate", "end_sessions", "add_attachment", "add_note", "citizen_feedback", "claim",
    "close", "complete_work_item", "confirm", "create_user", "dispatch", "dispute", "extend_deadline", "fire_timers",
    "merge_duplicate", "record_field_work", "release", "submit_report", "transfer", "triage",
    "verify",
]
