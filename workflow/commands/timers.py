"""Firing a case's due timers: what the escalation sweeper calls for each due ``timers`` row."""

from __future__ import annotations

from sqlalchemy import select

from workflow.access import Actor, Screen, may_use
from workflow.commands.change import CaseChange, get_case
from workflow.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.store import security_log
from workflow.store.models import Incident, OutboxMessage, Timer
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, bad_text
from workflow.vocabulary import RETRYABLE_OPERATIONS, Action, Operation, Role


def fire_timers(uow: UnitOfWork, case_id: int) -> int:
    """Fire every timer of the case that is due by the clock (deadline reached), run the
    process on, and return how many fired.

    Each fired timer is written to the audit trail as ``timer_fired`` by the system actor,
    followed by whatever it caused (an SLA escalation message, an automatic closure).
    """
    with CaseChange(uow, get_case(uow, case_id), Actor.system().ref(),
                    operation=Operation.FIRE_TIMERS) as change:
        due = [t for t in change.snapshot.timers if t.due_at <= uow.clock.now()]
        change.process.refresh_timers(change.workflow)
        change.save()
    return len(due)


def _log_incident(uow: UnitOfWork, actor: Actor, incident: Incident, client_ip: str | None, **new) -> None:
    """Every administrator's action on an incident goes into the security log (an incident of no
    case has no trail of its own)."""
    security_log.admin_change(uow.session, who=security_log.Who(actor.user_id, actor.name, client_ip),
                              occurred_at=uow.clock.now(), entity="incident", key=str(incident.id),
                              old={"resolved": False}, new={"resolved": True, "operation": incident.operation,
                                                            "case_id": incident.case_id, **new})


def retry_incident(uow: UnitOfWork, actor: Actor, incident_id: int, *, client_ip: str | None = None) -> int:
    """An admin sends a case whose timers the sweeper gave up on back to the sweeper.

    Only ``fire_timers`` incidents are retried this way (the other incidents record a user's
    step that failed, which the user saw and can repeat). The timers lose their failure marks
    and are due at once; the incident is resolved, and the case's trail says who retried it.
    Returns how many timers are due again.
    """
    if not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can retry incidents"))
    incident = uow.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(msg("incident {incident_id} not found", incident_id=incident_id))
    if incident.resolved_at is not None:
        raise Conflict(msg("This incident was already resolved."))
    if incident.operation not in RETRYABLE_OPERATIONS:
        raise DomainError(msg("only incidents of the timer sweeper and of notices can be retried"),
                          code="not_retryable")
    if incident.operation == Operation.DELIVER_NOTICE:
        count = _retry_notices(uow, actor, incident)
        _log_incident(uow, actor, incident, client_ip, retried=count)
        return count
    if incident.case_id is None:
        raise DomainError(msg("only incidents of the timer sweeper and of notices can be retried"),
                          code="not_retryable")
    now = uow.clock.now()
    case = get_case(uow, incident.case_id)
    with CaseChange(uow, case, actor.ref(Role.ADMIN)) as change:
        timers = list(uow.session.scalars(select(Timer).where(
            Timer.case_id == case.id, Timer.failed_at.is_not(None))))
        for timer in timers:
            timer.failed_at = timer.next_attempt_at = None
            timer.attempts = 0
            timer.lease_owner = timer.lease_expires_at = None
        incident.resolved_at, incident.resolved_by_id = now, actor.user_id
        change.record(Action.TIMERS_RETRIED, data={"incident": incident.id,
                                                   "timers": sorted(t.timer_name for t in timers)})
    _log_incident(uow, actor, incident, client_ip, retried=len(timers))
    return len(timers)


RESOLUTION_MAX = 2000


def resolve_incident(uow: UnitOfWork, actor: Actor, incident_id: int, note: str, *,
                     client_ip: str | None = None) -> None:
    """An administrator closes an incident with a note saying what was done (the user repeated
    the step, the case was handled by hand): for an incident of a case, the case's trail keeps
    who closed it, when, and the note."""
    if not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can close incidents"))
    incident = uow.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(msg("incident {incident_id} not found", incident_id=incident_id))
    note = (note or "").strip()
    if bad_text(note):
        raise ValidationError({"note": BAD_TEXT})
    if not note:
        raise ValidationError({"note": msg("say what was done about it")})
    if len(note) > RESOLUTION_MAX:
        raise ValidationError({"note": msg("write at most {limit} characters", limit=RESOLUTION_MAX)})
    if incident.resolved_at is not None:
        raise Conflict(msg("This incident was already resolved."))
    incident.resolved_at, incident.resolved_by_id = uow.clock.now(), actor.user_id
    incident.resolution_note = note
    _log_incident(uow, actor, incident, client_ip, note=note)
    if incident.case_id is not None:
        with CaseChange(uow, get_case(uow, incident.case_id), actor.ref(Role.ADMIN)) as change:
            change.record(Action.INCIDENT_RESOLVED, reason=note,
                          data={"incident": incident.id, "operation": incident.operation})
    uow.session.flush()


def _retry_notices(uow: UnitOfWork, actor: Actor, incident: Incident) -> int:
    """The notices given up into this incident are queued again, due at once."""
    rows = list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident.id)))
    for row in rows:
        row.failed_at = row.next_attempt_at = row.incident_id = None
        row.attempts = 0
        row.lease_owner = row.lease_expires_at = None
    incident.resolved_at, incident.resolved_by_id = uow.clock.now(), actor.user_id
    # each case's trail says so (a digest's incident spans several cases), in case order
    for case_id in sorted({r.case_id for r in rows if r.case_id is not None}):
        with CaseChange(uow, get_case(uow, case_id), actor.ref(Role.ADMIN)) as change:
            change.record(Action.NOTICES_RETRIED, data={
                "incident": incident.id, "messages": [r.id for r in rows if r.case_id == case_id]})
    return len(rows)
