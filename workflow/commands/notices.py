"""The recipient's side of notices: stopping them with the link every message carries."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from workflow.access import Actor
from workflow.errors import NotFound
from workflow.messages import msg
from workflow.notify import notices
from workflow.store.models import Subscription
from workflow.store.tracking import TrackingCodes
from workflow.store.uow import UnitOfWork
from workflow.text import mask
from workflow.vocabulary import Action


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

