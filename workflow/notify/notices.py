"""Who is told about a case, and queueing what they are told, in the transaction of the change.

An audit action is told to the case's followers when ``templates/<language>/<action>.txt``
exists; a city may keep some quiet (``notices.quiet`` in its seed file). Each queued row names
one recipient on one channel and carries only public facts of the case (never the tracking code,
which is sealed on the reporter's subscription and opened by the worker to build links).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from workflow.config import Settings
from workflow.read.public import closing_note
from workflow.store import audit
from workflow.store.models import Case, Membership, OutboxMessage, Subscription, User, WorkItem
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.vocabulary import Action, Following, NoticeChannel, Role

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
STAFF_LANGUAGE = "id"  # of the e-mails to staff: the language of the staff screens


@functools.cache
def told_actions() -> frozenset[str]:
    """The audit actions a follower is told of: those with a template in every language."""
    per_language = [{p.stem for p in (TEMPLATES / lang).glob("*.txt")} for lang in LANGUAGES]
    return frozenset(set.intersection(*per_language)) & {a.value for a in Action}


# Told to the reporter alone: only they (with their code) answer an officer's question, and
# only their dispute reopens a case.
REPORTER_ONLY = frozenset({Action.INFORMATION_REQUESTED.value, Action.CASE_REOPENED.value})


def offered(settings: Settings) -> tuple[NoticeChannel, ...]:
    """The channels this deployment sends on: the ones a reporter may choose."""
    configured = {NoticeChannel.EMAIL: settings.smtp, NoticeChannel.WHATSAPP: settings.whatsapp,
                  NoticeChannel.SMS: settings.sms}
    return tuple(channel for channel, setting in configured.items() if setting is not None)


@functools.cache
def staff_actions() -> frozenset[str]:
    """The audit actions staff are e-mailed about: those with a template under ``staff/``."""
    per_language = [{p.stem for p in (TEMPLATES / lang / "staff").glob("*.txt")} for lang in LANGUAGES]
    return frozenset(set.intersection(*per_language)) & {a.value for a in Action}


def addressed(session, event: dict) -> list[User]:
    """The staff an escalation is addressed to: those holding the role its review task asks for,
    in its scope (the agency, or the whole city), with an e-mail address."""
    item = session.get(WorkItem, (event.get("data") or {}).get("work_item"))
    if item is None:
        return []
    scope = Membership.agency_id == item.agency_id if item.agency_id else Membership.agency_id.is_(None)
    return list(session.scalars(select(User).join(Membership).where(
        Membership.role == item.role, scope, User.active.is_(True), User.email.is_not(None))
        .order_by(User.id).distinct()))


def subscribe(uow: UnitOfWork, case: Case, *, following: Following, channel: NoticeChannel,
              address: str, language: str, code: str | None = None, flush: bool = True) -> Subscription:
    """A subscription to the case's notices. ``flush=False``: written with the caller's next
    flush (a new case's first save, which tells it)."""
    subscription = Subscription(
        case_id=case.id, following=following, channel=channel, address=address,
        language=language if language in LANGUAGES else DEFAULT_LANGUAGE,
        sealed_code=uow.services.tracking.seal(code) if code else None, created_at=uow.clock.now())
    uow.session.add(subscription)
    if flush:
        uow.session.flush()
    return subscription


def follow_merged(uow: UnitOfWork, duplicate: Case, target: Case) -> None:
    """The reporter of a duplicate, and its followers, hear what its target case's followers
    hear from now on (an address the target already tells is not added twice)."""
    told = {sub.address.lower() for sub in _active(uow, target.id)}
    for sub in _active(uow, duplicate.id):
        if sub.address.lower() in told:
            continue
        told.add(sub.address.lower())
        following = Following.DUPLICATE if sub.following == Following.REPORTER else sub.following
        uow.session.add(Subscription(
            case_id=target.id, following=following, channel=sub.channel,
            address=sub.address, language=sub.language,
            sealed_code=sub.sealed_code if following == Following.DUPLICATE else None,
            created_at=uow.clock.now()))


def _active(uow: UnitOfWork, case_id: int) -> list[Subscription]:
    return list(uow.session.scalars(select(Subscription).where(
        Subscription.case_id == case_id, Subscription.stopped_at.is_(None)).order_by(Subscription.id)))


def queue(uow: UnitOfWork, case: Case, events: list[tuple[int, dict]], *, refs: References,
          now: datetime) -> int:
    """An outbox row per told event (``(seq, event)`` as appended) and active subscription of
    the case; returns how many."""
    queued = _queue_staff(uow, case, events, refs=refs, now=now)
    quiet = set(refs.city.quiet_notices)
    told = [(seq, e) for seq, e in events if str(e["action"]) in told_actions() - quiet]
    if not told:
        return queued
    subscriptions = _active(uow, case.id)
    for seq, event in told:
        facts = _facts(uow, case, event, refs)
        for sub in subscriptions:
            if str(event["action"]) in REPORTER_ONLY and sub.following != Following.REPORTER:
                continue
            uow.session.add(OutboxMessage(
                created_at=now, topic=str(event["action"]), case_id=case.id, subscription_id=sub.id,
                channel=sub.channel, recipient=sub.address, payload=facts,
                key=f"tanggap-{case.id}-{seq}-{sub.id}"))
            queued += 1
    return queued


def _queue_staff(uow: UnitOfWork, case: Case, events: list[tuple[int, dict]], *, refs: References,
                 now: datetime) -> int:
    """E-mails to the staff an event is addressed to (an escalation to its supervisors). With
    hourly digests (``TANGGAP_ESCALATION_MAIL=hourly``) each row waits for the top of the next
    hour, when the worker sends one message per recipient listing all of them."""
    mode = uow.settings.escalation_mail
    if mode == "off" or uow.settings.smtp is None:
        return 0
    digest = mode == "hourly"
    due = digest_hour(now) if digest else None
    queued = 0
    for seq, event in events:
        if str(event["action"]) not in staff_actions():
            continue
        facts = {"case_number": case.number, "case_id": case.id,
                 "category": refs.categories_by_id[case.category_id].code,
                 "level": (event.get("data") or {}).get("level"), "task": event.get("task_name"),
                 "agency": event.get("to_agency")}
        if digest:
            facts["digest"] = True
        for user in addressed(uow.session, event):
            uow.session.add(OutboxMessage(
                created_at=now, topic=str(event["action"]), case_id=case.id, channel=NoticeChannel.EMAIL,
                recipient=user.email, payload=facts, key=f"tanggap-{case.id}-{seq}-u{user.id}",
                next_attempt_at=due))
            queued += 1
    return queued


def digest_hour(now: datetime) -> datetime:
    """The top of the hour after ``now``: when an hourly digest goes out."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _facts(uow: UnitOfWork, case: Case, event: dict, refs: References) -> dict:
    """The public facts a notice of ``event`` names: nothing of another person."""
    facts: dict = {"case_number": case.number, "category": refs.categories_by_id[case.category_id].code}
    action = Action(event["action"])
    data = event.get("data") or {}
    if action == Action.INFORMATION_REQUESTED:
        facts["question"] = data.get("question")
    if action == Action.CASE_REJECTED and event.get("reason"):
        facts["reason"] = event["reason"]
    if action in (Action.CASE_TRANSFERRED, Action.CASE_ROUTED) and event.get("to_agency"):
        facts["agency"] = event["to_agency"]
    if action in (Action.CASE_RESOLVED, Action.CASE_CLOSED):
        facts["closure_note"] = closing_note(uow.session, uow.definition, case)
    if action in (Action.INFORMATION_REQUESTED, Action.CASE_RESOLVED):
        deadline = uow.session.scalar(select(WorkItem.due_at).where(
            WorkItem.case_id == case.id, WorkItem.role == Role.CITIZEN, WorkItem.completed_at.is_(None))
            .order_by(WorkItem.due_at))
        if deadline is not None:
            facts["deadline"] = deadline.isoformat()
    return json.loads(json.dumps(facts, default=str))


def record(uow: UnitOfWork, case_id: int, actor: audit.ActorRef, action: Action, data: dict) -> None:
    """An audit event about a case's notices (sent, given up, stopped). The case's chain grows
    but its version does not move: a notice is not a change that someone editing the case must
    reload for."""
    audit.append_aside(uow.session, case_id=case_id, actor=actor, action=action, occurred_at=uow.clock.now(),
                       data=data)
