"""The words the domain stores and compares, each enumerated once.

Values are what the database holds (and what audit events were hashed with), so a member
compares and serializes as its plain string. The process's own words (task ids, escalation
levels, messages) are not here: they belong to ``bpmn/`` and are read by
``workflow.engine.definition``.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    TRIAGE = "triage"
    COORDINATOR = "coordinator"
    QR_OFFICER = "qr_officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    CITIZEN = "citizen"  # never a membership: the public acting through a tracking code


SLA_ROLES = (Role.TRIAGE, Role.COORDINATOR, Role.QR_OFFICER)  # escalation reviews are not SLA work

class CaseStatus(enum.StrEnum):
    TRIAGE = "triage"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"  # closed by the OPD, inside the citizen's dispute window
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"


OPEN_STATUSES = (CaseStatus.TRIAGE, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED)
FINAL_STATUSES = (CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED)  # the case is over


class Channel(enum.StrEnum):
    WEB = "web"
    API = "api"
    OPEN311 = "open311"
    DEMO = "demo"


class Outcome(enum.StrEnum):
    """How a work item left the inbox."""

    COMPLETED = "completed"  # someone did it
    CANCELLED = "cancelled"  # the process took it away (an interrupting event, a merge)


class AttachmentKind(enum.StrEnum):
    BEFORE = "before"  # sent with the report
    AFTER = "after"  # the field team's proof of the fix
    EVIDENCE = "evidence"  # anything else staff add


PUBLIC_PHOTO_KINDS = (AttachmentKind.BEFORE, AttachmentKind.AFTER)  # on the citizen's status page


class Operation(enum.StrEnum):
    """What was being done when a step failed (``incidents.operation``)."""

    SUBMIT_REPORT = "submit_report"
    COMPLETE_TASK = "complete"  # stored as ``complete:<form key>``
    REQUEST_INFORMATION = "request_information"
    EXTEND_DEADLINE = "extend_deadline"
    REASSIGN = "reassign"
    FORCE_TRANSFER = "force_transfer"
    FIRE_TIMERS = "fire_timers"
    DELIVER_NOTICE = "deliver_notice"

    def of(self, detail: str) -> str:
        return f"{self.value}:{detail}"


# Incidents an administrator retries from /admin/incidents (the others record a user's step that
# failed, which the user saw and can repeat).
RETRYABLE_OPERATIONS = (Operation.FIRE_TIMERS, Operation.DELIVER_NOTICE)


class Action(enum.StrEnum):
    """Audit trail actions: ``<subject>_<past verb>``."""

    REPORT_SUBMITTED = "report_submitted"
    REPORT_MERGED = "report_merged"  # a duplicate joined this case
    TASK_CLAIMED = "task_claimed"
    TASK_RELEASED = "task_released"
    TASK_COMPLETED = "task_completed"
    TASK_REASSIGNED = "task_reassigned"
    CASE_ROUTED = "case_routed"
    CASE_TRANSFERRED = "case_transferred"
    CASE_RECATEGORIZED = "case_recategorized"
    TEAM_DISPATCHED = "team_dispatched"
    FIELD_WORK_RETURNED = "field_work_returned"
    CASE_RESOLVED = "case_resolved"
    CASE_REOPENED = "case_reopened"
    CASE_CLOSED = "case_closed"
    CASE_REJECTED = "case_rejected"
    CASE_MERGED = "case_merged"
    CASE_FOLLOWED = "case_followed"  # a citizen with the same problem follows the case
    NOTE_ADDED = "note_added"
    ATTACHMENT_ADDED = "attachment_added"
    TIMER_FIRED = "timer_fired"
    TIMERS_GIVEN_UP = "timers_given_up"
    TIMERS_RETRIED = "timers_retried"
    ESCALATION_RAISED = "escalation_raised"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged"
    ESCALATION_RESOLVED = "escalation_resolved"
    DEADLINE_EXTENDED = "deadline_extended"
    TRANSFER_FORCED = "transfer_forced"
    INSTRUCTION_GIVEN = "instruction_given"
    INFORMATION_REQUESTED = "information_requested"
    SLA_PAUSED = "sla_paused"
    SLA_RESUMED = "sla_resumed"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"  # given up after the last attempt
    NOTICES_STOPPED = "notices_stopped"  # a recipient used the stop link
    NOTICES_RETRIED = "notices_retried"  # an administrator queued given-up notices again
    PROCESS_MIGRATED = "process_migrated"  # an administrator moved the case onto another process version
    INCIDENT_RESOLVED = "incident_resolved"  # an administrator closed an incident of the case with a note


class SecurityAction(enum.StrEnum):
    """Security log actions (``workflow.store.security_log``): ``<subject>_<past verb>``."""

    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"  # refused: too many failures for the account or the client
    LOGGED_OUT = "logged_out"
    PASSWORD_CHANGED = "password_changed"  # by its owner
    PASSWORD_RESET = "password_reset"  # by an administrator (the new one is shown once)
    USER_CREATED = "user_created"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    ROLES_CHANGED = "roles_changed"  # memberships: roles and their scopes
    CREDENTIAL_CREATED = "credential_created"  # an Open311 API key or a JSON API token
    CREDENTIAL_FIRST_USE = "credential_first_use"  # its first use of the day (city time)
    CREDENTIAL_REVOKED = "credential_revoked"
    ADMIN_CHANGED = "admin_changed"  # reference data, settings, processes: old and new values
    CONTACT_VIEWED = "contact_viewed"  # a staff member opened a reporter's contact details


class MigrationState(enum.StrEnum):
    """Where a background migration of open cases onto another process version stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


MIGRATION_ACTIVE = (MigrationState.QUEUED, MigrationState.RUNNING)
class DayKind(enum.StrEnum):
    """A day of the city's business calendar that differs from its working week
    (``calendar_days.kind``); national holidays come from the ``holidays`` package instead."""

    CUTI_BERSAMA = "cuti_bersama"  # collective leave, decreed each year (SKB 3 Menteri)
    HOLIDAY = "holiday"  # a day off of the city's own (its anniversary, a holiday the package lacks)
    WORKING_DAY = "working_day"  # worked although a weekend or a national holiday


DAYS_OFF = (DayKind.CUTI_BERSAMA, DayKind.HOLIDAY)


class NoticeChannel(enum.StrEnum):
    """How someone who follows a case is told (``subscriptions.channel``)."""

    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"


class Following(enum.StrEnum):
    """Why someone is told about a case."""

    REPORTER = "reporter"
    DUPLICATE = "duplicate"  # reported a duplicate that was merged into the case
    FOLLOWER = "follower"


# The action written when a case reaches a status (the process's end events and the resolved
# state of the dispute window); reopening is any step back from RESOLVED.
STATUS_ACTIONS = {CaseStatus.REJECTED: Action.CASE_REJECTED, CaseStatus.MERGED: Action.CASE_MERGED,
                  CaseStatus.RESOLVED: Action.CASE_RESOLVED, CaseStatus.CLOSED: Action.CASE_CLOSED}

# Events written beside the case (``workflow.store.audit.append_aside``): the chain grows but the
# case's version does not move, so they are not what someone with a stale version missed.
ASIDE_ACTIONS = frozenset({Action.NOTIFICATION_SENT, Action.NOTIFICATION_FAILED, Action.NOTICES_STOPPED,
                           Action.CASE_FOLLOWED})
