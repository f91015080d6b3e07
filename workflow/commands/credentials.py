"""API credentials: Open311 keys for client applications, bearer tokens for the JSON API.

A credential is shown once, when it is issued: ``tg<kind letter>_<prefix>_<secret>``. Only the
sha256 of the whole string is stored (the secret is 256 random bits, so a slow password hash
would add nothing); the prefix finds the row. Revoking keeps the row for the record.

The security log gets each credential's creation and revocation (with who did it: an
administrator, or the system for the command line) and its first use of each day of the city's
calendar (:func:`record_use`), each in the transaction of what it records.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from workflow.errors import Conflict, NotFound, ValidationError
from workflow.messages import msg
from workflow.store import security_log
from workflow.store.models import ApiCredential, User
from workflow.store.reference import city_zone
from workflow.store.security_log import Who
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, bad_text
from workflow.vocabulary import SecurityAction

KINDS = {"open311": "k", "token": "t"}


def _hash(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def issue(uow: UnitOfWork, kind: str, name: str, *, username: str | None = None,
          who: Who | None = None) -> tuple[ApiCredential, str]:
    """A new credential and its secret (shown once). Tokens act as ``username``. ``who`` issued
    it (None: the system, i.e. the command line)."""
    errors = {}
    if kind not in KINDS:
        errors["kind"] = msg("must be one of {choices}", choices=", ".join(KINDS))
    name = (name or "").strip()
    if bad_text(name):
        errors["name"] = BAD_TEXT
    elif not name or len(name) > 120:
        errors["name"] = msg("give a name of at most {limit} characters", limit=120)
    user = None
    if kind == "token" and bad_text(username or ""):
        errors["username"] = BAD_TEXT
    elif kind == "token":
        user = uow.session.scalar(select(User).where(User.username == (username or "")))
        if user is None or not user.active:
            errors["username"] = msg("no active user {username}", username=username or "")
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(4)
    secret = f"tg{KINDS[kind]}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiCredential(kind=kind, name=name, prefix=prefix, secret_hash=_hash(secret),
                        user_id=user.id if user else None, created_at=uow.clock.now())
    uow.session.add(row)
    uow.session.flush()
    _log(uow, SecurityAction.CREDENTIAL_CREATED, row, who or Who(None, security_log.SYSTEM),
         user=user.username if user else None)
    return row, secret


def revoke(uow: UnitOfWork, prefix: str, *, who: Who | None = None) -> ApiCredential:
    """Revoke the credential of ``prefix`` (``who``: as for :func:`issue`)."""
    row = None if bad_text(prefix or "") else uow.session.scalar(
        select(ApiCredential).where(ApiCredential.prefix == (prefix or "")))
    if row is None:
        raise NotFound(msg("no credential {prefix}", prefix=prefix))
    if row.revoked_at is not None:
        raise Conflict(msg("credential {prefix} was already revoked", prefix=prefix))
    row.revoked_at = uow.clock.now()
    _log(uow, SecurityAction.CREDENTIAL_REVOKED, row, who or Who(None, security_log.SYSTEM))
    return row


def _log(uow: UnitOfWork, action: SecurityAction, row: ApiCredential, who: Who, **details) -> None:
    security_log.record(uow.session, action=action, who=who, occurred_at=uow.clock.now(),
                        subject_user_id=row.user_id, subject=subject(row),
                        details={"kind": row.kind, "name": row.name, "prefix": row.prefix, **details})


def subject(row: ApiCredential) -> str:
    """What the security log says a credential's entries concern: ``credential:<prefix>``."""
    return f"credential:{row.prefix}"


def find(session: Session, kind: str, presented: str | None) -> ApiCredential | None:
    """The live credential of ``kind`` whose secret is ``presented``, else None."""
    if bad_text(presented or ""):
        return None
    parts = (presented or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != f"tg{KINDS[kind]}":
        return None
    row = session.scalar(select(ApiCredential).where(ApiCredential.prefix == parts[1],
                                                     ApiCredential.kind == kind))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(presented.strip())):
        return None
    if row.user is not None and not row.user.active:
        return None
    return row


def listing(session: Session, kind: str | None = None) -> list[tuple[ApiCredential, str | None]]:
    query = (select(ApiCredential, User.username).outerjoin(User, User.id == ApiCredential.user_id)
             .order_by(ApiCredential.created_at, ApiCredential.id))
    if kind:
        query = query.where(ApiCredential.kind == kind)
    return [(row, username) for row, username in session.execute(query)]


USE_RESOLUTION = timedelta(minutes=1)  # last use is kept to the minute: one write a minute at most


def used_recently(row: ApiCredential, now: datetime, zone: ZoneInfo) -> bool:
    """Whether the last use noted is less than :data:`USE_RESOLUTION` ago and on the same day of
    the city's calendar: then :func:`record_use` has nothing to write, and is not called."""
    return (row.last_used_at is not None and now - row.last_used_at < USE_RESOLUTION
            and row.last_used_at >= day_start(now, zone))


def day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of ``now``'s day in the city (``zone``), as an aware instant."""
    return datetime.combine(now.astimezone(zone).date(), time(0), zone)


def record_use(uow: UnitOfWork, credential_id: int, now: datetime, *, client_ip: str | None = None) -> None:
    """Note that a credential was used (``last_used_at``, for the lists), at most once a minute,
    and, the first time on a day of the city's calendar, ``credential_first_use`` in the security
    log. Both are conditional updates, so two requests at once record the day's first use once:
    the second finds the row already moved (it waits for the first's row lock on PostgreSQL; SQLite
    has one writer)."""
    today = day_start(now, city_zone(uow.session))
    first = uow.session.execute(update(ApiCredential).where(
        ApiCredential.id == credential_id,
        or_(ApiCredential.last_used_at.is_(None), ApiCredential.last_used_at < today))
        .values(last_used_at=now)).rowcount
    if first:
        row = uow.session.get(ApiCredential, credential_id)
        who = Who(row.user_id, row.user.username if row.user else row.name, client_ip)
        _log(uow, SecurityAction.CREDENTIAL_FIRST_USE, row, who)
        return
    uow.session.execute(update(ApiCredential).where(
        ApiCredential.id == credential_id,
        or_(ApiCredential.last_used_at.is_(None), ApiCredential.last_used_at < now - USE_RESOLUTION))
        .values(last_used_at=now))
