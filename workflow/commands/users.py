"""Creating users and their role memberships."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select

from ..errors import DomainError, ValidationError
from ..messages import msg
from ..models import Agency, Membership, QrTeam, Role, User
from ..uow import UnitOfWork

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _hasher).hash(password)


def create_user(uow: UnitOfWork, *, username: str, full_name: str, password: str,
                roles: Iterable[tuple[str, str | None]], email: str | None = None,
                hasher: PasswordHasher | None = None) -> User:
    """``roles``: (role, scope code) pairs; the scope is an agency code, a QR team code for
    ``qr_officer``, or None for city-wide roles."""
    errors: dict[str, str] = {}
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        errors["username"] = "3-80 characters: lower-case letters, digits, . _ -"
    elif uow.session.scalar(select(User.id).where(User.username == username)):
        errors["username"] = f"{username} is already taken"
    if not (full_name or "").strip():
        errors["full_name"] = "required"
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = f"at least {MIN_PASSWORD} characters"
    memberships = []
    for role_name, scope in roles:
        try:
            role = Role(role_name)
        except ValueError:
            errors["roles"] = f"unknown role {role_name!r}"
            continue
        if role == Role.CITIZEN:
            errors["roles"] = "citizen is not a staff role"
            continue
        agency_id = team_id = None
        if role == Role.QR_OFFICER:
            team = uow.session.scalar(select(QrTeam).where(QrTeam.code == scope))
            if team is None:
                errors["roles"] = f"qr_officer needs a QR team code, {scope!r} is unknown"
                continue
            team_id = team.id
        elif scope:
            agency = uow.session.scalar(select(Agency).where(Agency.code == scope))
            if agency is None:
                errors["roles"] = f"unknown agency {scope!r}"
                continue
            agency_id = agency.id
        elif role in (Role.TRIAGE, Role.COORDINATOR):
            errors["roles"] = f"{role} needs an agency"
            continue
        memberships.append(Membership(role=role, agency_id=agency_id, team_id=team_id))
    if not memberships and "roles" not in errors:
        errors["roles"] = "give at least one role"
    if errors:
        raise ValidationError(errors)
    user = User(username=username, full_name=full_name.strip(), email=email,
                password_hash=hash_password(password, hasher), created_at=uow.clock.now(),
                memberships=memberships)
    uow.session.add(user)
    uow.session.flush()
    return user


MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: DomainError | None = None


def authenticate(uow: UnitOfWork, username: str, password: str) -> LoginResult:
    """Check a login. Five failures in a row lock the account for 15 minutes.

    Returns the outcome instead of raising: the caller commits either way, so that failures
    are counted. The same message is given for an unknown user and a wrong password.
    """
    now = uow.clock.now()
    user = uow.session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if user is None or not user.active:
        try:  # spend the same time as for a known user
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerifyMismatchError:
            pass
        return LoginResult(None, DomainError(msg("wrong username or password"), code="bad_login"))
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(None, DomainError(
            msg("too many failed attempts; try again in {minutes} minutes", minutes=minutes),
            code="locked"))
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        return LoginResult(None, DomainError(msg("wrong username or password"), code="bad_login"))
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginResult(user)


def end_sessions(uow: UnitOfWork, user_id: int) -> None:
    """Log the user out everywhere: every session id carries the token this replaces."""
    user = uow.session.get(User, user_id)
    if user is not None:
        user.session_token = secrets.token_hex(16)
