"""API credentials: Open311 keys for client applications, bearer tokens for the JSON API.

A credential is shown once, when it is issued: ``tg<kind letter>_<prefix>_<secret>``. Only the
sha256 of the whole string is stored (the secret is 256 random bits, so a slow password hash
would add nothing); the prefix finds the row. Revoking keeps the row for the record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from workflow.errors import Conflict, NotFound, ValidationError
from workflow.messages import msg
from workflow.store.models import ApiCredential, User
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, bad_text

KINDS = {"open311": "k", "token": "t"}


def _hash(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def issue(uow: UnitOfWork, kind: str, name: str, *, username: str | None = None) -> tuple[ApiCredential, str]:
    """A new credential and its secret (shown once). Tokens act as ``username``."""
    if kind not in KINDS:
        raise ValidationError({"kind": msg("must be one of {choices}", choices=", ".join(KINDS))})
    name = (name or "").strip()
    errors = {}
    if bad_text(name):
        errors["name"] = BAD_TEXT
    elif not name or len(name) > 120:
        errors["name"] = msg("give a name of at most {limit} characters", limit=120)
    user = None
    if kind == "token":
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
    return row, secret


def revoke(uow: UnitOfWork, prefix: str) -> ApiCredential:
    row = uow.session.scalar(select(ApiCredential).where(ApiCredential.prefix == prefix))
    if row is None:
        raise NotFound(msg("no credential {prefix}", prefix=prefix))
    if row.revoked_at is not None:
        raise Conflict(msg("credential {prefix} was already revoked", prefix=prefix))
    row.revoked_at = uow.clock.now()
    return row


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


def touch(row: ApiCredential, now: datetime) -> None:
    row.last_used_at = now


def used_recently(row: ApiCredential, now: datetime) -> bool:
    return row.last_used_at is not None and now - row.last_used_at < USE_RESOLUTION


def record_use(uow: UnitOfWork, credential_id: int, now: datetime) -> None:
    """Note that a credential was used (for ``tanggap tokens list``), at most once a minute."""
    uow.session.execute(update(ApiCredential).where(
        ApiCredential.id == credential_id,
        or_(ApiCredential.last_used_at.is_(None), ApiCredential.last_used_at < now - USE_RESOLUTION))
        .values(last_used_at=now))
