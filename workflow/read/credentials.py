"""API keys and tokens as administrators list them: never their secrets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.access import Actor, Screen, may_use
from workflow.errors import NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.read.paging import Page, paging_errors
from workflow.store.models import ApiCredential, User
from workflow.text import bad_text


@dataclass(frozen=True)
class CredentialRow:
    prefix: str
    kind: str  # open311 / token
    name: str
    username: str | None  # the user a token acts as
    full_name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _require_admin(actor: Actor) -> None:
    if not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("API keys and tokens are for administrators"))


def _query():
    return (select(ApiCredential, User.username, User.full_name)
            .outerjoin(User, User.id == ApiCredential.user_id))


def _row(row: ApiCredential, username: str | None, full_name: str | None) -> CredentialRow:
    return CredentialRow(prefix=row.prefix, kind=row.kind, name=row.name, username=username, full_name=full_name,
                         created_at=row.created_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def credential_page(session: Session, actor: Actor, *, page: int = 1, per_page: int = 50) -> Page:
    """Every credential, the newest first: the live ones and the revoked, kept for the record."""
    _require_admin(actor)
    errors = paging_errors(page, per_page)
    if errors:
        raise ValidationError(errors)
    total = session.scalar(select(func.count()).select_from(ApiCredential))
    rows = session.execute(_query().order_by(ApiCredential.created_at.desc(), ApiCredential.id.desc())
                           .limit(per_page).offset((page - 1) * per_page))
    return Page(rows=[_row(*r) for r in rows], total=total or 0, page=page, per_page=per_page)


def credential(session: Session, actor: Actor, prefix: str) -> CredentialRow:
    _require_admin(actor)
    found = None if bad_text(prefix or "") else session.execute(
        _query().where(ApiCredential.prefix == (prefix or ""))).first()
    if found is None:
        raise NotFound(msg("no credential {prefix}", prefix=prefix))
    return _row(*found)
