"""Creating users and their role memberships."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from zxcvbn import zxcvbn

from workflow.commands.reports import EMAIL_RE
from workflow.errors import DomainError, ValidationError
from workflow.messages import Message, msg
from workflow.store import throttle
from workflow.store.models import Agency, Membership, QrTeam, User
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, bad_text, check_fields
from workflow.vocabulary import Role

if TYPE_CHECKING:
    from workflow.services import Services

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD, MAX_PASSWORD = 10, 128  # the one length rule of the CLI, the web and the API
MIN_STRENGTH = 3  # zxcvbn score (0-4): 3 is "safely unguessable" against an online attack

def password_problem(password: str, *, username: str = "", full_name: str = "") -> Message | None:
    """Why ``password`` may not be used, or None. Length first, then zxcvbn's estimate, which
    knows common passwords, keyboard walks, repeats, dates and the user's own name."""
    password = password or ""
    if bad_text(password):
        return BAD_TEXT
    if len(password) < MIN_PASSWORD:
        return msg("at least {limit} characters", limit=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return msg("at most {limit} characters", limit=MAX_PASSWORD)
    inputs = [v for v in (username, full_name, *full_name.split()) if v]
    if any(password.lower() == v.lower() for v in inputs):
        return msg("must not be your username or name")
    if zxcvbn(password, user_inputs=inputs, max_length=MAX_PASSWORD)["score"] < MIN_STRENGTH:
        return msg("too easy to guess: use a longer phrase of unusual words")
    return None


FULL_NAME_MAX = EMAIL_MAX = 200  # the columns' lengths


def check_profile(full_name: str | None, email: str | None, errors: dict) -> tuple[str, str | None]:
    """An account's name and e-mail as they are kept (trimmed; no e-mail is None), with a
    message in ``errors`` for each that cannot be."""
    check_fields({"full_name": full_name, "email": email}, errors)
    if errors:
        return full_name or "", email
    name, address = (full_name or "").strip(), (email or "").strip() or None
    if not name:
        errors["full_name"] = msg("this field is required")
    elif len(name) > FULL_NAME_MAX:
        errors["full_name"] = msg("write at most {limit} characters", limit=FULL_NAME_MAX)
    if address and (len(address) > EMAIL_MAX or not EMAIL_RE.match(address)):
        errors["email"] = msg("not a valid e-mail address")
    return name, address


def memberships_for(uow: UnitOfWork, roles: Iterable[tuple[str, str | None]], errors: dict, *,
                    current: Iterable[tuple[str, str | None]] = ()) -> list[Membership]:
    """The memberships ``roles`` name: (role, scope code) pairs, the scope an agency code, a QR
    team code for ``qr_officer``, or None for city-wide roles (the triage desk and coordinators
    need an agency). A new membership needs an active agency or team; one of ``current`` (the
    account's own) is kept as it is. Messages go under ``roles`` in ``errors``."""
    kept = {(str(r), s or None) for r, s in current}
    memberships: list[Membership] = []
    seen: set[tuple[str, int | None, int | None]] = set()
    for role_name, scope in roles:
        scope = scope or None
        try:
            role = Role(role_name)
        except ValueError:
            errors["roles"] = msg("unknown role {role!r}", role=role_name)
            continue
        if role == Role.CITIZEN:
            errors["roles"] = msg("citizen is not a staff role")
            continue
        agency_id = team_id = None
        if role == Role.QR_OFFICER:
            team = uow.session.scalar(select(QrTeam).where(QrTeam.code == scope)) if scope else None
            if team is None:
                errors["roles"] = msg("qr_officer needs a QR team code, {scope!r} is unknown", scope=scope)
                continue
            if not team.active and (role, scope) not in kept:
                errors["roles"] = msg("the QR team {scope} is inactive", scope=scope)
                continue
            team_id = team.id
        elif scope:
            agency = uow.session.scalar(select(Agency).where(Agency.code == scope))
            if agency is None:
                errors["roles"] = msg("unknown agency {scope!r}", scope=scope)
                continue
            if not agency.active and (role, scope) not in kept:
                errors["roles"] = msg("the agency {scope} is inactive", scope=scope)
                continue
            agency_id = agency.id
        elif role in (Role.TRIAGE, Role.COORDINATOR):
            errors["roles"] = msg("{role} needs an agency", role=str(role))
            continue
        if (role, agency_id, team_id) not in seen:  # the same membership named twice is one
            seen.add((role, agency_id, team_id))
            memberships.append(Membership(role=role, agency_id=agency_id, team_id=team_id))
    if not memberships and "roles" not in errors:
        errors["roles"] = msg("give at least one role")
    return memberships


def create_user(uow: UnitOfWork, *, username: str, full_name: str, password: str,
                roles: Iterable[tuple[str, str | None]], email: str | None = None) -> User:
    """``roles``: (role, scope code) pairs (see :func:`memberships_for`)."""
    errors: dict[str, str] = {}
    check_fields({"username": username, "password": password}, errors)
    full_name, email = check_profile(full_name, email, errors)
    if errors:
        raise ValidationError(errors)
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        errors["username"] = msg("3-80 characters: lower-case letters, digits, . _ -")
    elif uow.session.scalar(select(User.id).where(User.username == username)):
        errors["username"] = msg("{username} is already taken", username=username)
    problem = password_problem(password, username=username, full_name=full_name)
    if problem:
        errors["password"] = problem
    memberships = memberships_for(uow, roles, errors)
    if errors:
        raise ValidationError(errors)
    user = User(username=username, full_name=full_name, email=email,
                password_hash=uow.services.passwords.hash(password), created_at=uow.clock.now(),
                memberships=memberships)
    uow.session.add(user)
    uow.session.flush()
    return user


MAX_ATTEMPTS = 5  # password checks per account (or per known device) and window
ATTEMPT_WINDOW = timedelta(minutes=15)
BAD_LOGIN = msg("wrong username or password")


@dataclass(frozen=True)
class KnownDevice:
    """A browser that logged in as ``user_id`` before (a signed cookie, checked by the web
    layer): its attempts count apart from everyone else's, so strangers guessing a password
    cannot lock its owner out."""

    user_id: int
    device_id: str


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: DomainError | None = None
    retry_after: int | None = None  # seconds, when throttled


def authenticate(services: Services, username: str, password: str, *,
                 device: KnownDevice | None = None) -> LoginResult:
    """Check a login; at most :data:`MAX_ATTEMPTS` passwords are ever checked per account and
    window, however many requests arrive at once.

    Runs its own short transactions: the attempt is counted first, atomically
    (``throttle.hit``) and committed, and only an attempt within the budget has its password
    checked; a success gives its count back (so logging in often locks nobody out, and attempts
    already counted stay counted). Attempts are counted by the name typed, so an unknown name is
    answered exactly like a known one (same message, same work, same throttling). A known device
    of the account has a budget of its own.
    """
    name = (username or "").strip().lower()
    password = password or ""
    now = services.clock.now()
    if bad_text(name) or bad_text(password) or not name or len(name) > 80:
        return LoginResult(None, DomainError(BAD_LOGIN, code="bad_login"))
    with services.reading() as session:
        user = session.scalar(select(User).where(User.username == name, User.active.is_(True)))
    trusted = device is not None and user is not None and device.user_id == user.id
    key = f"login:device:{device.device_id}" if trusted else f"login:user:{name}"
    with services.uow() as uow:
        count, until = throttle.hit(uow.session, key, ATTEMPT_WINDOW, now)
        uow.commit()
    if count > MAX_ATTEMPTS:
        wait = max(1, int((until - now).total_seconds()))
        return LoginResult(None, DomainError(msg(
            "too many failed attempts; try again in {minutes} minutes", minutes=wait // 60 + 1),
            code="locked"), retry_after=wait)
    checked = password if len(password) <= MAX_PASSWORD else ""  # never hash a huge input
    passwords = services.passwords
    if not passwords.matches(user.password_hash if user else None, checked) or not checked:
        return LoginResult(None, DomainError(BAD_LOGIN, code="bad_login"))
    with services.uow() as uow:
        throttle.refund(uow.session, key, now)
        if passwords.outdated(user.password_hash):
            uow.session.get(User, user.id).password_hash = passwords.hash(password)
        uow.commit()
    return LoginResult(user)


def end_sessions(uow: UnitOfWork, user_id: int) -> None:
    """Log the user out everywhere: every session id carries the token this replaces."""
    user = uow.session.get(User, user_id)
    if user is not None:
        user.session_token = secrets.token_hex(16)
