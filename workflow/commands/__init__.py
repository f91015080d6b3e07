"""Every state change a user or a worker can make. Each takes a unit of work and never commits;
each command on a case runs inside one ``change.CaseChange``."""

from workflow.commands.case_extras import add_attachment, add_note
from workflow.commands.notices import follow_case, stop_notices
from workflow.commands.reports import ReportInput, Submitted, submit_report
from workflow.commands.supervision import (
    acknowledge_late_task,
    extend_deadline,
    force_transfer,
    instruct,
    reassign,
)
from workflow.commands.tasks import (
    answer_information,
    citizen_feedback,
    claim,
    complete_work_item,
    release,
    request_information,
)
from workflow.commands.timers import fire_timers, resolve_incident, retry_incident
from workflow.commands.users import authenticate, create_user, end_sessions

__all__ = [
    "ReportInput", "Submitted", "add_attachment", "add_note", "answer_information",
    "authenticate", "citizen_feedback", "claim", "complete_work_item", "create_user",
    "acknowledge_late_task", "end_sessions", "extend_deadline", "fire_timers", "force_transfer", "instruct", "reassign", "resolve_incident",
    "release", "request_information", "retry_incident", "stop_notices", "follow_case", "submit_report",
]
