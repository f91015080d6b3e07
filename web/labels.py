"""Display names for codes that reach staff pages: audit actions and attachment kinds."""

from flask_babel import lazy_gettext as _l

ACTIONS = {
    "report_submitted": _l("Report submitted"), "task_completed": _l("Task completed"),
    "task_claimed": _l("Task claimed"), "task_released": _l("Task released"),
    "case_routed": _l("Routed to an agency"), "case_transferred": _l("Transferred"),
    "case_recategorized": _l("Category corrected"), "team_dispatched": _l("QR team dispatched"),
    "field_work_returned": _l("Field work sent back"), "case_resolved": _l("Resolved"),
    "case_reopened": _l("Reopened after a dispute"), "case_closed": _l("Closed"),
    "case_rejected": _l("Rejected"), "case_merged": _l("Merged into another case"),
    "report_merged": _l("Duplicate report merged in"), "note_added": _l("Note added"),
    "attachment_added": _l("Photo added"), "timer_fired": _l("Deadline passed"),
    "timers_given_up": _l("Deadline watch failed: see incidents"),
    "escalation_raised": _l("Escalated"), "escalation_acknowledged": _l("Escalation acknowledged"),
    "escalation_resolved": _l("Escalation resolved"), "deadline_extended": _l("Deadline extended"),
    "task_reassigned": _l("Task reassigned by a supervisor"),
    "transfer_forced": _l("Transfer ordered by a supervisor"),
    "instruction_given": _l("Supervisor's instruction"),
    "information_requested": _l("Reporter asked for more information"),
    "sla_paused": _l("SLA clock paused (waiting for the reporter)"),
    "sla_resumed": _l("SLA clock running again"), "timers_retried": _l("Deadline watch retried"),
}
KINDS = {"before": _l("Before"), "after": _l("After"), "evidence": _l("Evidence")}


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

