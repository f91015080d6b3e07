"""Every state change a user or a worker can make. Each takes a unit of work and never commits."""

from workflow.commands.case_extras import add_attachment, add_note
from workflow.commands.reports import ReportInput, Submitted, submit_report
from workflow.commands.supervision import extend_deadline, force_transfer, instruct, reassign
from workflow.commands.tasks import (
    accept,
    answer_information,
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
    request_information,
    transfer,
    triage,
    verify,
)
from workflow.commands.timers import fire_timers, retry_incident
from workflow.commands.users import authenticate, create_user, end_sessions

__all__ = [
    "ReportInput", "Submitted", "accept", "add_attachment", "add_note", "answer_information",
    "authenticate", "citizen_feedback", "claim", "close", "complete_work_item", "confirm",
    "create_user", "dispatch", "dispute", "end_sessions", "extend_deadline", "fire_timers",
    "force_transfer", "instruct", "merge_duplicate", "reassign", "record_field_work", "release",
    "request_information", "retry_incident", "submit_report", "transfer", "triage", "verify",
]
