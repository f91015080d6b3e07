"""The security log as auditors read it: searched by user, action and days of the city's
calendar, newest first, exported with the same filter, and its chain verified.

Verifying recomputes every hash from the first event (``store.security_log.verify``): linear in
the log's length, which a page can afford while the log holds some hundred thousand events; a
larger deployment verifies with ``tanggap audit verify`` on a schedule instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session, aliased

from workflow.access import Actor, Screen, may_use
from workflow.errors import PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.ranges import check_day
from workflow.read.paging import Page, paging_errors
from workflow.store import security_log
from workflow.store.models import SecurityEvent, User
from workflow.store.reference import city_zone
from workflow.text import BAD_TEXT, bad_text
from workflow.vocabulary import SecurityAction

USER_MAX = 200  # what a user filter may be: the log keeps names as typed, up to 200 characters


def require_auditor(actor: Actor) -> None:
    if not may_use(actor, Screen.SECURITY_LOG):
        raise PermissionDenied(msg("the security log is for auditors and administrators"))


@dataclass(frozen=True)
class SecurityFilters:
    user: str | None = None  # a username: entries it acted in or that concern its account
    action: str | None = None  # a SecurityAction
    date_from: date | None = None  # on or after this day of the city's calendar
    date_to: date | None = None  # on or before
    page: int = 1
    per_page: int = 50

    def validate(self) -> SecurityFilters:
        errors = paging_errors(self.page, self.per_page)
        if self.user is not None and bad_text(self.user):
            errors["user"] = BAD_TEXT
        elif self.user is not None and len(self.user) > USER_MAX:
            errors["user"] = msg("at most {limit} characters", limit=USER_MAX)
        if self.action and self.action not in {str(a) for a in SecurityAction}:
            errors["action"] = msg("choose an action from the list")
        check_day(self.date_from, "date_from", errors)
        check_day(self.date_to, "date_to", errors)
        if not errors and self.date_from and self.date_to and self.date_from > self.date_to:
            errors["date_to"] = msg("the end date is before the start date")
        if errors:
            raise ValidationError(errors)
        return self


@dataclass(frozen=True)
class SecurityRow:
    seq: int
    occurred_at: datetime
    action: str
    actor_user_id: int | None
    actor_name: str
    subject_user_id: int | None
    subject_username: str | None  # the account concerned, by its name today
    subject: str | None
    client_ip: str | None
    details: dict
    prev_hash: str
    hash: str


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _query(session: Session, filters: SecurityFilters):
    subject_user = aliased(User)
    query = (select(SecurityEvent, subject_user.username)
             .outerjoin(subject_user, subject_user.id == SecurityEvent.subject_user_id))
    if filters.user and filters.user.strip():
        name = filters.user.strip().lower()
        user_id = session.scalar(select(User.id).where(func.lower(User.username) == name))
        by_id = (or_(SecurityEvent.actor_user_id == user_id, SecurityEvent.subject_user_id == user_id)
                 if user_id is not None else false())
        query = query.where(or_(by_id, func.lower(SecurityEvent.actor_name) == name))
    if filters.action:
        query = query.where(SecurityEvent.action == filters.action)
    if filters.date_from or filters.date_to:
        zone = city_zone(session)
        if filters.date_from:
            query = query.where(SecurityEvent.occurred_at >= _day_start(filters.date_from, zone))
        if filters.date_to:
            query = query.where(SecurityEvent.occurred_at < _day_start(filters.date_to + timedelta(days=1), zone))
    return query


def _row(event: SecurityEvent, subject_username: str | None) -> SecurityRow:
    return SecurityRow(seq=event.seq, occurred_at=event.occurred_at, action=event.action,
                       actor_user_id=event.actor_user_id, actor_name=event.actor_name,
                       subject_user_id=event.subject_user_id, subject_username=subject_username,
                       subject=event.subject, client_ip=event.client_ip, details=json.loads(event.details),
                       prev_hash=event.prev_hash, hash=event.hash)


def search(session: Session, actor: Actor, filters: SecurityFilters) -> Page:
    """One page of the entries the filters keep, newest first (the chain's order)."""
    require_auditor(actor)
    filters.validate()
    query = _query(session, filters)
    total = session.scalar(select(func.count()).select_from(query.with_only_columns(SecurityEvent.id).subquery()))
    rows = session.execute(query.order_by(SecurityEvent.seq.desc())
                           .limit(filters.per_page).offset((filters.page - 1) * filters.per_page))
    return Page(rows=[_row(e, name) for e, name in rows], total=total or 0, page=filters.page,
                per_page=filters.per_page)


def export(session: Session, actor: Actor, filters: SecurityFilters, batch: int = 1000) -> Iterator[SecurityRow]:
    """Every entry the filters keep (paging aside), newest first, read in batches."""
    require_auditor(actor)
    filters.validate()
    result = session.execute(_query(session, filters).order_by(SecurityEvent.seq.desc())
                             .execution_options(yield_per=batch))
    try:
        for event, name in result:
            yield _row(event, name)
    finally:
        result.close()


@dataclass(frozen=True)
class ChainState:
    events: int  # entries in the log
    breaks: list[security_log.ChainBreak]

    @property
    def intact(self) -> bool:
        return not self.breaks


def chain_state(session: Session, actor: Actor) -> ChainState:
    """The whole chain recomputed (see the module's note on its cost)."""
    require_auditor(actor)
    return ChainState(events=security_log.count(session), breaks=security_log.verify(session))
