"""The recipient's side of notices: following a report someone else filed, and stopping notices
with the link every message carries."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow.access import Actor
from workflow.commands.reports import EMAIL_RE, PHONE_RE, notify_channel
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.notify import notices
from workflow.store.models import Case, Subscription
from workflow.store.tracking import TrackingCodes
from workflow.store.uow import UnitOfWork
from workflow.text import mask
from workflow.vocabulary import OPEN_STATUSES, Action, Following, NoticeChannel


def followable(session: Session, number: str, *, open_only: bool = True) -> Case:
    """A not confidential case by its number (what the nearby list and the map show), open
    unless ``open_only`` is false (its public page, which followers' messages link to)."""
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or case.report.confidential or (open_only and case.status not in OPEN_STATUSES):
        raise NotFound(msg("no open report with this number"))
    return case


def follow_case(uow: UnitOfWork, number: str, *, notify_by: str | None, email: str | None,
                phone: str | None, language: str) -> Subscription:
    """A citizen with the same problem follows the case instead of filing a copy: they are told
    what its reporter is told from now on, and count as one of its supporters. Following again
    with the same address changes nothing."""
    case = followable(uow.session, number)
    email, phone = (email or "").strip(), (phone or "").strip()
    errors: dict = {}
    if email and (len(email) > 200 or not EMAIL_RE.match(email)):
        errors["contact_email"] = msg("not a valid e-mail address")
    if phone and not PHONE_RE.match(phone):
        errors["contact_phone"] = msg("not a valid phone number")
    channel = notify_channel(notify_by or "", email, phone, notices.offered(uow.settings), errors)
    if channel is None and not errors:
        errors["notify_by"] = msg("choose how to be told")
    if errors:
        raise ValidationError(errors)
    address = email if channel == NoticeChannel.EMAIL else phone
    existing = uow.session.scalar(select(Subscription).where(
        Subscription.case_id == case.id, func.lower(Subscription.address) == address.lower(),
        Subscription.stopped_at.is_(None)).limit(1))
    if existing is not None:
        return existing
    subscription = notices.subscribe(uow, case, following=Following.FOLLOWER, channel=channel,
                                     address=address, language=language)
    # beside the case, like notices: a citizen following must not make staff editing it reload
    notices.record(uow, case.id, Actor.citizen().ref(), Action.CASE_FOLLOWED,
                   {"to": mask(address), "channel": str(channel)})
    return subscription


def stopping(session: Session, codes: TrackingCodes, token: str) -> Subscription:
    """The subscription a stop link names; not found for any other text."""
    subscription_id = codes.subscription_of(token)
    subscription = session.get(Subscription, subscription_id) if subscription_id else None
    if subscription is None:
        raise NotFound(msg("this link is not valid"))
    return subscription


def stop_notices(uow: UnitOfWork, token: str) -> Subscription:
    """No more notices about this case to this address, on any channel it was given for.
    Stopping twice changes nothing; the case's trail records the first stop."""
    subscription = stopping(uow.session, uow.services.tracking, token)
    if subscription.stopped_at is not None:
        return subscription
    uow.session.execute(update(Subscription).where(
        Subscription.case_id == subscription.case_id, Subscription.address == subscription.address,
        Subscription.stopped_at.is_(None)).values(stopped_at=uow.clock.now()))
    # recorded beside the case, like the notices themselves: no one editing it must reload
    notices.record(uow, subscription.case_id, Actor.citizen().ref(), Action.NOTICES_STOPPED,
                   {"to": mask(subscription.address), "channel": str(subscription.channel)})
    uow.session.refresh(subscription)
    return subscription

