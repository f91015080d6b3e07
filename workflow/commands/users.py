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
from workflow.errors import DomainError, NotFound, ValidationError
from workflow.messages import Message, msg
from workflow.store import security_log, throttle
from workflow.store.models import Agency, Membership, QrTeam, User
from workflow.store.security_log import Who
from workflow.store.types import utc_iso
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, FORBIDDEN, bad_text, check_fields
from workflow.vocabulary import Role, SecurityAction

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
                 device: KnownDevice | None = None, client_ip: str | None = None) -> LoginResult:
    """Check a login; at most :data:`MAX_ATTEMPTS` passwords are ever checked per account and
    window, however many requests arrive at once.

    Runs its own short transactions: the attempt is counted first, atomically
    (``throttle.hit``) and committed, and only an attempt within the budget has its password
    checked; a success gives its count back (so logging in often locks nobody out, and attempts
    already counted stay counted). Attempts are counted by the name typed, so an unknown name is
    answered exactly like a known one (same message, same work, same throttling). A known device
    of the account has a budget of its own.

    The security log gets each outcome, with ``client_ip``: a success (in the transaction that
    gives the count back), a failure (in one of its own) with the name as typed and the account
    it names if there is one (never the password), and a lockout once, when it starts: the
    attempt that went past the budget, in the transaction that counted it (the refusals after it
    in the same window are the same lockout, and a guessing script cannot grow the log with them).
    """
    typed = username or ""
    name = typed.strip().lower()
    password = password or ""
    now = services.clock.now()
    stranger = Who(None, as_typed(typed), client_ip)
    if bad_text(name) or bad_text(password) or not name or len(name) > 80:
        _failed(services, stranger, now, None, "unreadable")
        return LoginResult(None, DomainError(BAD_LOGIN, code="bad_login"))
    with services.reading() as session:
        account = session.scalar(select(User).where(User.username == name))
    user = account if account is not None and account.active else None
    trusted = device is not None and user is not None and device.user_id == user.id
    key = f"login:device:{device.device_id}" if trusted else f"login:user:{name}"
    with services.uow() as uow:
        count, until = throttle.hit(uow.session, key, ATTEMPT_WINDOW, now)
        if count == MAX_ATTEMPTS + 1:
            security_log.record(uow.session, action=SecurityAction.LOGIN_LOCKED, who=stranger, occurred_at=now,
                                subject_user_id=account.id if account else None,
                                details={"limit": "device" if trusted else "account", "until": utc_iso(until)})
        uow.commit()
    if count > MAX_ATTEMPTS:
        wait = max(1, int((until - now).total_seconds()))
        return LoginResult(None, DomainError(msg(
            "too many failed attempts; try again in {minutes} minutes", minutes=wait // 60 + 1),
            code="locked"), retry_after=wait)
    checked = password if len(password) <= MAX_PASSWORD else ""  # never hash a huge input
    passwords = services.passwords
    if not passwords.matches(user.password_hash if user else None, checked) or not checked:
        reason = "unknown_user" if account is None else ("inactive_user" if user is None else "wrong_password")
        _failed(services, stranger, now, account.id if account else None, reason)
        return LoginResult(None, DomainError(BAD_LOGIN, code="bad_login"))
    with services.uow() as uow:
        throttle.refund(uow.session, key, now)
        if passwords.outdated(user.password_hash):
            uow.session.get(User, user.id).password_hash = passwords.hash(password)
        security_log.record(uow.session, action=SecurityAction.LOGIN_SUCCEEDED,
                            who=Who(user.id, user.username, client_ip), occurred_at=now, subject_user_id=user.id,
                            details={"known_device": trusted})
        uow.commit()
    return LoginResult(user)


def login_refused(services: Services, username: str, *, retry_after: int, client_ip: str | None = None) -> None:
    """A login refused before any check because its client used up its failed attempts (the
    web's limits per address and network), in the security log once per client and lockout: the
    first refusal of the ``retry_after`` seconds it lasts."""
    now = services.clock.now()
    name = (username or "").strip().lower()
    with services.reading() as session:
        account_id = None if bad_text(name) else session.scalar(select(User.id).where(User.username == name))
    wait = timedelta(seconds=max(1, retry_after))
    with services.uow() as uow:
        count, until = throttle.hit(uow.session, f"security-log:client-locked:{client_ip}", wait, now)
        if count == 1:
            security_log.record(uow.session, action=SecurityAction.LOGIN_LOCKED,
                                who=Who(None, as_typed(username), client_ip), occurred_at=now,
                                subject_user_id=account_id, details={"limit": "client", "until": utc_iso(until)})
        uow.commit()


def as_typed(text: str) -> str:
    """A name someone typed, as the security log keeps it: the characters the text rule refuses
    (control characters, lone surrogates) written as ``\\uXXXX``, at most 200 characters,
    ``?`` for nothing at all."""
    shown = FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text or "")[:200]
    return shown if shown.strip() else "?"


def _failed(services: Services, who: Who, now, account_id: int | None, reason: str) -> None:
    """A failed login in the security log, in a transaction of its own (nothing else is written)."""
    with services.uow() as uow:
        security_log.record(uow.session, action=SecurityAction.LOGIN_FAILED, who=who, occurred_at=now,
                            subject_user_id=account_id, details={"reason": reason})
        uow.commit()


def end_sessions(uow: UnitOfWork, user_id: int) -> str | None:
    """Log the user out everywhere: every session id carries the token this replaces. Returns
    the new token (a session that stays, the one changing its password, carries it on)."""
    user = uow.session.get(User, user_id)
    if user is None:
        return None
    user.session_token = secrets.token_hex(16)
    return user.session_token


def log_out(uow: UnitOfWork, user_id: int, *, client_ip: str | None = None) -> None:
    """The user logs out: every session of theirs ends, and the security log says so."""
    user = uow.session.get(User, user_id)
    if user is None:
        return
    end_sessions(uow, user_id)
    security_log.record(uow.session, action=SecurityAction.LOGGED_OUT, who=Who(user.id, user.username, client_ip),
                        occurred_at=uow.clock.now(), subject_user_id=user.id)


# -- passwords -------------------------------------------------------------------------------------

class TooManyAttempts(ValidationError):
    """A field's message that is a throttle's refusal: answer it with a 429 and ``retry_after``."""

    def __init__(self, errors: dict, retry_after: int):
        super().__init__(errors)
        self.retry_after = retry_after


def change_password(services: Services, user_id: int, current: str, new: str, repeated: str, *,
                    client_ip: str | None = None) -> str:
    """The user changes their own password: the current one, then the new one twice. Returns
    the user's new session token: every other session of theirs ends (the caller's session
    carries the token on). ``ValidationError`` names the fields (``current_password``,
    ``new_password``, ``repeat_password``) and nothing is changed.

    The current password is checked like a login's (:data:`MAX_ATTEMPTS` per window, counted in
    a transaction of its own first, given back when right), so a session left open cannot be
    used to guess it. The change and its ``password_changed`` entry are one transaction.
    """
    current, new, repeated = current or "", new or "", repeated or ""
    errors: dict = {}
    for field, value in (("current_password", current), ("new_password", new), ("repeat_password", repeated)):
        if bad_text(value):
            errors[field] = BAD_TEXT
        elif not value:
            errors[field] = msg("this field is required")
    if "current_password" in errors:
        raise ValidationError(errors)
    now = services.clock.now()
    with services.reading() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound(msg("unknown or inactive user"))
        username, full_name, stored = user.username, user.full_name, user.password_hash
    key = f"password:user:{user_id}"
    with services.uow() as uow:
        count, until = throttle.hit(uow.session, key, ATTEMPT_WINDOW, now)
        uow.commit()
    if count > MAX_ATTEMPTS:
        wait = max(1, int((until - now).total_seconds()))
        raise TooManyAttempts({"current_password": msg(
            "too many failed attempts; try again in {minutes} minutes", minutes=wait // 60 + 1)}, wait)
    checked = current if len(current) <= MAX_PASSWORD else ""
    if not checked or not services.passwords.matches(stored, checked):
        errors["current_password"] = msg("this is not your current password")
        raise ValidationError(errors)
    if not errors:
        if new != repeated:
            errors["repeat_password"] = msg("the two new passwords differ")
        elif new == current:
            errors["new_password"] = msg("choose a password other than your current one")
        else:
            problem = password_problem(new, username=username, full_name=full_name)
            if problem:
                errors["new_password"] = problem
    new_hash = None if errors else services.passwords.hash(new)  # slow: outside the transaction
    with services.uow() as uow:
        throttle.refund(uow.session, key, now)  # the current password was right
        if not errors:
            uow.session.get(User, user_id).password_hash = new_hash
            token = end_sessions(uow, user_id)
            security_log.record(uow.session, action=SecurityAction.PASSWORD_CHANGED,
                                who=Who(user_id, username, client_ip), occurred_at=now, subject_user_id=user_id)
        uow.commit()
    if errors:
        raise ValidationError(errors)
    return token


def set_password(uow: UnitOfWork, username: str, password: str, *, who: Who | None = None) -> User:
    """Give an account a new password (the command line's reset: ``who`` None is the system).
    Every session of the account ends; the security log gets ``password_reset``."""
    user = uow.session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if user is None:
        raise NotFound(msg("no user {username}", username=username))
    problem = password_problem(password, username=user.username, full_name=user.full_name)
    if problem:
        raise ValidationError({"password": problem})
    user.password_hash = uow.services.passwords.hash(password)
    end_sessions(uow, user.id)
    security_log.record(uow.session, action=SecurityAction.PASSWORD_RESET, who=who or Who(None, security_log.SYSTEM),
                        occurred_at=uow.clock.now(), subject_user_id=user.id)
    return user
