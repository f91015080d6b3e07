"""Display names for codes that reach the pages: audit actions, roles, notice channels,
attachment kinds, operations, security log actions and what their entries record."""

from flask_babel import lazy_gettext as _l

from workflow.read.public import Entry, Milestone
from workflow.vocabulary import (
    Action,
    AttachmentKind,
    CaseStatus,
    MigrationState,
    NoticeChannel,
    Operation,
    Role,
    SecurityAction,
)

ACTIONS = {
    Action.REPORT_SUBMITTED: _l("Report submitted"), Action.TASK_COMPLETED: _l("Task completed"),
    Action.TASK_CLAIMED: _l("Task claimed"), Action.TASK_RELEASED: _l("Task released"),
    Action.CASE_ROUTED: _l("Routed to an agency"), Action.CASE_TRANSFERRED: _l("Transferred"),
    Action.CASE_RECATEGORIZED: _l("Category corrected"), Action.TEAM_DISPATCHED: _l("QR team dispatched"),
    Action.FIELD_WORK_RETURNED: _l("Field work sent back"), Action.CASE_RESOLVED: _l("Resolved"),
    Action.CASE_REOPENED: _l("Reopened after a dispute"), Action.CASE_CLOSED: _l("Closed"),
    Action.CASE_REJECTED: _l("Rejected"), Action.CASE_MERGED: _l("Merged into another case"),
    Action.REPORT_MERGED: _l("Duplicate report merged in"), Action.NOTE_ADDED: _l("Note added"),
    Action.ATTACHMENT_ADDED: _l("Photo added"), Action.TIMER_FIRED: _l("Deadline passed"),
    Action.TIMERS_GIVEN_UP: _l("Deadline watch failed: see incidents"),
    Action.ESCALATION_RAISED: _l("Escalated"), Action.ESCALATION_ACKNOWLEDGED: _l("Escalation acknowledged"),
    Action.ESCALATION_RESOLVED: _l("Escalation resolved"), Action.DEADLINE_EXTENDED: _l("Deadline extended"),
    Action.TASK_REASSIGNED: _l("Task given to someone else"),
    Action.TRANSFER_FORCED: _l("Transfer ordered by a supervisor"),
    Action.INSTRUCTION_GIVEN: _l("Supervisor's instruction"),
    Action.INFORMATION_REQUESTED: _l("Reporter asked for more information"),
    Action.SLA_PAUSED: _l("SLA clock paused (waiting for the reporter)"),
    Action.SLA_RESUMED: _l("SLA clock running again"), Action.TIMERS_RETRIED: _l("Deadline watch retried"),
    Action.NOTIFICATION_SENT: _l("Message sent"), Action.NOTIFICATION_FAILED: _l("Message could not be sent"),
    Action.NOTICES_STOPPED: _l("Messages stopped by the recipient"),
    Action.CASE_FOLLOWED: _l("Followed by a citizen with the same problem"),
    Action.NOTICES_RETRIED: _l("Messages queued again"),
    Action.INCIDENT_RESOLVED: _l("Incident closed by an administrator"),
    Action.PROCESS_MIGRATED: _l("Moved onto another process version"),
}
MIGRATION_STATES = {MigrationState.QUEUED: _l("Waiting for a worker"), MigrationState.RUNNING: _l("Running"),
                    MigrationState.DONE: _l("Done"), MigrationState.CANCELLED: _l("Stopped")}
ROLES = {  # the role an audit event's actor acted under
    Role.TRIAGE: _l("Triage officer"), Role.COORDINATOR: _l("OPD coordinator"), Role.QR_OFFICER: _l("QR officer"),
    Role.SUPERVISOR: _l("Supervisor"), Role.AUDITOR: _l("Auditor"), Role.ADMIN: _l("Administrator"),
    Role.CITIZEN: _l("Citizen"), "system": _l("System"),
}
CHANNELS = {NoticeChannel.EMAIL: _l("e-mail"), NoticeChannel.WHATSAPP: "WhatsApp", NoticeChannel.SMS: "SMS"}
KINDS = {AttachmentKind.BEFORE: _l("Before"), AttachmentKind.AFTER: _l("After"),
         AttachmentKind.EVIDENCE: _l("Evidence")}
OPERATIONS = {
    Operation.SUBMIT_REPORT: _l("Filing a report"), Operation.COMPLETE_TASK: _l("Completing a task"),
    Operation.REQUEST_INFORMATION: _l("Asking the reporter"), Operation.EXTEND_DEADLINE: _l("Extending a deadline"),
    Operation.REASSIGN: _l("Reassigning a task"), Operation.FORCE_TRANSFER: _l("Forcing a transfer"),
    Operation.FIRE_TIMERS: _l("Watching deadlines"), Operation.DELIVER_NOTICE: _l("Sending a message"),
}

SECURITY_ACTIONS = {
    SecurityAction.LOGIN_SUCCEEDED: _l("Logged in"), SecurityAction.LOGIN_FAILED: _l("Login failed"),
    SecurityAction.LOGIN_LOCKED: _l("Login locked (too many failures)"), SecurityAction.LOGGED_OUT: _l("Logged out"),
    SecurityAction.PASSWORD_CHANGED: _l("Password changed by its owner"),
    SecurityAction.PASSWORD_RESET: _l("Password reset"), SecurityAction.USER_CREATED: _l("Account created"),
    SecurityAction.USER_DEACTIVATED: _l("Account deactivated"),
    SecurityAction.USER_REACTIVATED: _l("Account reactivated"),
    SecurityAction.ROLES_CHANGED: _l("Roles or their scopes changed"),
    SecurityAction.CREDENTIAL_CREATED: _l("API key or token created"),
    SecurityAction.CREDENTIAL_FIRST_USE: _l("API key or token: first use of the day"),
    SecurityAction.CREDENTIAL_REVOKED: _l("API key or token revoked"),
    SecurityAction.ADMIN_CHANGED: _l("Change by an administrator"),
    SecurityAction.CONTACT_VIEWED: _l("Reporter's contact opened"),
}
LOGIN_FAILURES = {  # a failed login's "reason"
    "wrong_password": _l("wrong password"), "unknown_user": _l("no account of that name"),
    "inactive_user": _l("the account is deactivated"), "unreadable": _l("unreadable name or password"),
}
LOCK_LIMITS = {  # whose attempts ran out: a lockout's "limit"
    "account": _l("attempts for this account"), "device": _l("attempts of this account's known browser"),
    "client": _l("failed attempts from this address or its network"),
}
CREDENTIAL_KINDS = {"open311": _l("Open311 API key"), "token": _l("JSON API token")}
ADMIN_CHANGES = {"created": _l("created"), "changed": _l("changed"), "removed": _l("removed")}
ADMIN_FIELDS = {  # the values an admin_changed entry records, by the name they are recorded under
    "code": _l("Code"), "name": _l("Name"), "name_id": _l("Name (Indonesian)"), "name_en": _l("Name (English)"),
    "short_name": _l("Short name"), "description_id": _l("Description (Indonesian)"),
    "description_en": _l("Description (English)"), "group": _l("Group"), "keywords": _l("Keywords"),
    "active": _l("Active"), "nearby_m": _l("Duplicate radius (m)"), "attributes": _l("Extra fields"),
    "handles_reports": _l("Handles reports"), "kecamatan": _l("Kecamatan"), "full_name": _l("Full name"),
    "email": _l("E-mail"), "place": _l("Form field"), "category": _l("Category"), "title_id": _l("Title (Indonesian)"),
    "title_en": _l("Title (English)"), "text_id": _l("Text (Indonesian)"), "text_en": _l("Text (English)"),
    "lat": _l("Latitude"), "lon": _l("Longitude"), "geometry": _l("Boundary (SHA-256)"),
    "file_sha256": _l("File (SHA-256)"), "duplicate_days": _l("Days triage looks back for duplicates"),
    "domain": _l("Domain"), "contact": _l("Contact"), "phone_country": _l("Country calling code"),
    "quiet_notices": _l("Events not told"), "workdays": _l("Working days"), "starts": _l("Starts"),
    "ends": _l("Ends"), "kind": _l("Kind"), "note": _l("Note"), "text": _l("Text"), "changed": _l("Changed"),
    "current": _l("Current version"), "files": _l("Files"), "from": _l("From version"), "to": _l("To version"),
    "filter": _l("Filter"), "cases": _l("Cases"), "state": _l("State"), "resolved": _l("Resolved"),
    "operation": _l("Operation"), "case_id": _l("Case"), "retried": _l("Sent again"),
}
ADMIN_ENTITIES = {  # what an administrator changed (the security log's admin_changed entries)
    "agency": _l("OPD"), "qr_team": _l("QR team"), "user": _l("User"), "category": _l("Category"),
    "response_template": _l("Response template"), "area": _l("Area"), "area_boundaries": _l("Area boundaries"),
    "city": _l("City"), "calendar": _l("Working hours"), "calendar_day": _l("Calendar day"),
    "notice_template": _l("Message text"), "process": _l("Process version"),
    "process_migration": _l("Migration of cases"), "incident": _l("Incident"),
}
CONTACT_FIELDS = {"email": _l("e-mail"), "phone": _l("phone")}


def role_label(role: str) -> str:
    return str(ROLES.get(role, role))


def actor_label(name: str | None, role: str) -> str:
    """Who acted, as a sentence names them: "Andi Wijaya (OPD coordinator)", or the role alone
    for the system and citizens (``name`` None)."""
    return f"{name} ({role_label(role)})" if name else role_label(role)


def event_actor(name: str, role: str) -> str:
    """Who an audit event says acted: "koor.dlh (OPD coordinator)"; the system and the reporter
    by their role alone (their recorded name is their kind)."""
    return actor_label(None if role in (Role.CITIZEN, "system") else name, role)


def migration_state(state: str) -> str:
    return str(MIGRATION_STATES.get(state, state))


def operation_label(operation: str) -> str:
    """What was being done when an incident happened (``complete:<form>`` names the task's form)."""
    head = operation.split(":", 1)[0]
    return str(OPERATIONS.get(head, operation))


def attribute_answers(category, answers: dict | None, locale: str) -> list[tuple[str, str]]:
    """(question, answer) pairs of a report's answers to its category's extra fields, in the
    category's order, list keys shown by their names."""
    english = locale == "en"
    shown = []
    for a in category.attributes or []:
        if a["code"] not in (answers or {}):
            continue
        names = {v["key"]: v["name_en" if english else "name_id"] for v in a["values"]}
        answer = answers[a["code"]]
        values = answer if isinstance(answer, list) else [answer]
        shown.append((a["description_en" if english else "description_id"],
                      ", ".join(names.get(str(v), str(v)) for v in values)))
    return shown


def _definition():
    from flask import current_app

    return current_app.extensions["tanggap"].definition


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale())


def task_label(name: str | None) -> str:
    """A task's label for staff, by BPMN id or form key (from ``bpmn/tasks.yaml``)."""
    return _definition().label(name, _locale())


def event_label(action: str, task_name: str | None, data: dict | None) -> str:
    """An audit event as staff read it; a completed task says which task and what was decided
    ("Disposisi: Terima", "Verifikasi: Kerjakan ulang"), from the task's form in tasks.yaml."""
    if action != Action.TASK_COMPLETED or not task_name:
        return str(ACTIONS.get(action, action))
    definition = _definition()
    form = definition.forms.get((data or {}).get("form") or "")
    decision = form.decision if form else None
    value = ((data or {}).get("values") or {}).get(decision.name) if decision else None
    label = task_label(task_name)
    if value is None or value not in decision.choice_labels:
        return label
    choice = decision.choice_labels[value]
    return f"{label}: {choice.get(_locale()) or choice.get('id')}"


def public_stage(name: str | None) -> str | None:
    """What the reporter reads while their case is at this task."""
    return _definition().public_label(name, _locale())


def priority_label(priority: str | None) -> str:
    return _definition().priority_label(priority, _locale())


def level_label(level: str) -> str:
    return _definition().level_label(level, _locale())


def level_severe(level: str) -> bool:
    known = _definition().levels.get(level)
    return bool(known and known.severe)


def force_transferable(name: str | None) -> bool:
    """Whether a supervisor may move the case to another OPD while this task is open."""
    task = _definition().task(name or "")
    return bool(task and task.force_transferable)


STATUS_LABELS = {  # what staff call a case's status
    CaseStatus.TRIAGE: _l("Waiting for triage"),
    CaseStatus.IN_PROGRESS: _l("Being handled"),
    CaseStatus.RESOLVED: _l("Waiting for the reporter's confirmation"),
    CaseStatus.CLOSED: _l("Closed"),
    CaseStatus.REJECTED: _l("Rejected"),
    CaseStatus.MERGED: _l("Merged"),
}


MILESTONES = {  # the reporter's timeline: %(agency)s is the OPD concerned, %(previous)s a transfer's first
    Milestone.RECEIVED: _l("Report received"),
    Milestone.ROUTED: _l("Checked and handed to %(agency)s"),
    Milestone.TRANSFERRED: _l("Handed over from %(previous)s to %(agency)s"),
    Milestone.DISPATCHED: _l("%(agency)s sent a field team"),
    Milestone.ESCALATED: _l("Raised to the supervisors at %(agency)s"),
    Milestone.QUESTION: _l("An officer of %(agency)s asks"),
    Milestone.ANSWER: _l("You answered"),
    Milestone.REPLY: _l("An officer of %(agency)s writes"),
    Milestone.RESOLVED: _l("%(agency)s reports the problem handled"),
    Milestone.CONFIRMED: _l("You confirmed the problem is fixed; the report is closed"),
    Milestone.DISPUTED: _l("You said the problem is not fixed; the report went back to %(agency)s"),
    Milestone.REOPENED: _l("Reopened: the report went back to %(agency)s"),
    Milestone.CLOSED: _l("Report closed"),
    Milestone.REJECTED: _l("Report rejected"),
    Milestone.MERGED: _l("Merged with another report of the same problem"),
}
CITY_ESCALATION = _l("Raised to the city's supervisors")  # an escalation without an OPD
HANDED = (Milestone.ROUTED, Milestone.TRANSFERRED, Milestone.DISPUTED, Milestone.REOPENED,
          Milestone.ESCALATED)  # the OPD by its full name; elsewhere by its short name


def milestone_text(entry: Entry) -> str:
    """A line of the reporter's timeline, naming OPDs, never people."""
    if entry.kind == Milestone.ESCALATED and entry.agency is None:
        return str(CITY_ESCALATION)

    def named(agency) -> str:
        if agency is None:
            return "—"
        return agency.name if entry.kind in HANDED else (agency.short_name or agency.name)

    return str(MILESTONES[entry.kind]) % {"agency": named(entry.agency), "previous": named(entry.previous)}
