"""What an administrator (or the command line, as the system) does to user accounts: create,
edit the name, e-mail and memberships, reset the password, deactivate and reactivate.

Each change is written to the security log in the same unit of work, with what it was and what
it became; passwords never are. The validation of an account is ``users.create_user``'s
(``check_profile``, ``memberships_for``). Work the user holds and can no longer do (all of it,
when deactivated) goes back to its queue through ``tasks.unassign``: a ``task_released`` event
in each case's trail.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from workflow.access import Actor, Scope, role_for_item
from workflow.commands import credentials
from workflow.commands.tasks import unassign
from workflow.commands.users import (
    check_profile,
    create_user,
    end_sessions,
    memberships_for,
    password_problem,
)
from workflow.errors import Conflict, DomainError, NotFound, ValidationError
from workflow.messages import msg
from workflow.read.people import (
    account_values,
    active_admins,
    fingerprint,
    last_changed_by,
    membership_key,
    memberships_of,
    parse_membership_key,
    require_admin,
)
from workflow.store import security_log
from workflow.store.audit import ActorRef
from workflow.store.models import ApiCredential, Membership, User, WorkItem
from workflow.store.reference import References
from workflow.store.security_log import Who
from workflow.store.uow import UnitOfWork
from workflow.vocabulary import Role, SecurityAction

PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing read as something else (l 1, o 0)
PASSWORD_GROUPS, GROUP_LENGTH = 4, 5  # xxxxx-xxxxx-xxxxx-xxxxx: about 99 bits


def new_password(*, username: str = "", full_name: str = "") -> str:
    """A strong random password someone can type from a screen, that passes the password rule."""
    while True:
        password = "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GROUP_LENGTH))
                            for _ in range(PASSWORD_GROUPS))
        if password_problem(password, username=username, full_name=full_name) is None:
            return password


def _who(actor: Actor, client_ip: str | None) -> Who:
    return Who(actor.user_id, actor.name, client_ip)


def _by(actor: Actor) -> ActorRef:
    """Who a case's trail says acted: the administrator in that role, or the system."""
    return actor.ref(Role.ADMIN) if actor.kind == "user" else actor.ref()


def _user(uow: UnitOfWork, user_id: int, *, admins_too: bool = False) -> User:
    """The account, its row locked until commit (PostgreSQL; SQLite's writers queue anyway), so
    that what a command checks (the form's fingerprint) still holds when it writes. With
    ``admins_too``, the active administrators' rows first, in id order: two administrators taking
    each other's role or account at once queue, and the second finds only one administrator left."""
    if admins_too:
        uow.session.execute(select(User.id).where(User.active.is_(True), User.id.in_(
            select(Membership.user_id).where(Membership.role == Role.ADMIN))).order_by(User.id).with_for_update())
    user = uow.session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None:
        raise NotFound(msg("user {user_id} not found", user_id=user_id))
    return user


def _keys(refs: References, memberships: Iterable[Membership]) -> list[str]:
    codes = []
    for m in memberships:
        scope = refs.team_code(m.team_id) if m.team_id is not None else refs.agency_code(m.agency_id)
        codes.append(membership_key(m.role, scope))
    return sorted(codes)


@dataclass(frozen=True)
class Created:
    user: User
    password: str | None  # the one generated, to be shown once; None when it was given


def create_account(uow: UnitOfWork, actor: Actor, *, username: str, full_name: str, email: str | None,
                   roles: Iterable[tuple[str, str | None]], password: str | None = None,
                   client_ip: str | None = None) -> Created:
    """A new account with its memberships; without ``password``, a strong one is made for it."""
    require_admin(actor)
    given = password is not None
    if not given:
        password = new_password(username=(username or "").strip().lower(), full_name=(full_name or "").strip())
    user = create_user(uow, username=username, full_name=full_name, password=password, roles=roles, email=email)
    security_log.record(uow.session, action=SecurityAction.USER_CREATED, who=_who(actor, client_ip),
                        occurred_at=uow.clock.now(), subject_user_id=user.id, subject=user.username,
                        details={"full_name": user.full_name, "email": user.email,
                                 "roles": _keys(References(uow.session), user.memberships)})
    return Created(user, None if given else password)


def _conflict(uow: UnitOfWork, user: User) -> Conflict:
    who = last_changed_by(uow.session, subject_user_id=user.id)
    if who:
        return Conflict(msg("{who} changed this account while you were editing it. Reload the page to see "
                            "the change, then make yours again.", who=who), by=who)
    return Conflict(msg("This account changed while you were editing it. Reload the page to see the "
                        "change, then make yours again."))


def account_fingerprint(uow: UnitOfWork, user: User) -> str:
    """The :func:`fingerprint` of the account as it is now (what its edit form carries)."""
    return fingerprint(account_values(user.full_name, user.email, user.active,
                                      memberships_of(References(uow.session), user)))


def _release(uow: UnitOfWork, actor: Actor, user: User, cause: SecurityAction,
             keep: Actor | None = None) -> list[int]:
    """Give back to their queues the open tasks ``user`` holds (those ``keep``, the account as it
    will be, may not work; all of them without it). Returns the work items released."""
    held = list(uow.session.scalars(select(WorkItem).where(
        WorkItem.assignee_id == user.id, WorkItem.completed_at.is_(None)).order_by(WorkItem.id)))
    released = []
    for item in held:
        if keep is not None and role_for_item(keep, item) is not None:
            continue
        unassign(uow, item, _by(actor), assignee=user.username, cause=str(cause))
        released.append(item.id)
    return released


def _last_admin(uow: UnitOfWork, user: User) -> bool:
    return user.active and any(m.role == Role.ADMIN for m in user.memberships) and active_admins(uow.session) <= 1


@dataclass(frozen=True)
class Updated:
    released: list[int]  # work items the account held and can no longer work


def update_account(uow: UnitOfWork, actor: Actor, user_id: int, *, full_name: str, email: str | None,
                   roles: Iterable[str], expected: str | None = None, client_ip: str | None = None) -> Updated:
    """Change an account's name, e-mail and memberships (``roles``: ``role`` or ``role:SCOPE``
    keys). ``expected``: the :func:`fingerprint` of the account the form showed; a conflict when
    someone changed it since. Tasks the account holds and its new roles cannot work are released."""
    require_admin(actor)
    user = _user(uow, user_id, admins_too=True)
    if expected is not None and expected != account_fingerprint(uow, user):
        raise _conflict(uow, user)
    refs = References(uow.session)
    before = memberships_of(refs, user)
    errors: dict = {}
    name, address = check_profile(full_name, email, errors)
    wanted = memberships_for(uow, [parse_membership_key(k) for k in roles], errors,
                             current=[(m.role, m.scope) for m in before])
    if errors:
        raise ValidationError(errors)
    old_keys, new_keys = _keys(refs, user.memberships), _keys(refs, wanted)
    loses_admin = any(m.role == Role.ADMIN for m in user.memberships) and all(m.role != Role.ADMIN for m in wanted)
    if loses_admin and user.id == actor.user_id:
        raise ValidationError({"roles": msg("you cannot take the administrator's role from your own account: "
                                            "ask another administrator")})
    if loses_admin and _last_admin(uow, user):
        raise ValidationError({"roles": msg("{username} is the last active administrator: give another "
                                            "account the administrator's role first", username=user.username)})
    released: list[int] = []
    if old_keys != new_keys:
        existing = {(m.role, m.agency_id, m.team_id): m for m in user.memberships}
        target = {(m.role, m.agency_id, m.team_id): m for m in wanted}
        for key, membership in existing.items():
            if key not in target:
                user.memberships.remove(membership)
        for key, membership in target.items():
            if key not in existing:
                user.memberships.append(membership)
        uow.session.flush()
        after = Actor(user.id, user.username, tuple(Scope(m.role, m.agency_id, m.team_id) for m in user.memberships))
        released = _release(uow, actor, user, SecurityAction.ROLES_CHANGED, keep=after)
        security_log.record(uow.session, action=SecurityAction.ROLES_CHANGED, who=_who(actor, client_ip),
                            occurred_at=uow.clock.now(), subject_user_id=user.id, subject=user.username,
                            details={"old": old_keys, "new": new_keys, "tasks_released": len(released)})
    security_log.admin_change(uow.session, who=_who(actor, client_ip), occurred_at=uow.clock.now(),
                              entity="user", key=user.username, subject_user_id=user.id,
                              old={"full_name": user.full_name, "email": user.email},
                              new={"full_name": name, "email": address})
    user.full_name, user.email = name, address
    uow.session.flush()
    return Updated(released)


def reset_password(uow: UnitOfWork, actor: Actor, user_id: int, *, client_ip: str | None = None) -> str:
    """A new strong password for the account, returned to be shown once; its sessions end."""
    require_admin(actor)
    user = _user(uow, user_id)
    password = new_password(username=user.username, full_name=user.full_name)
    user.password_hash = uow.services.passwords.hash(password)
    end_sessions(uow, user.id)
    security_log.record(uow.session, action=SecurityAction.PASSWORD_RESET, who=_who(actor, client_ip),
                        occurred_at=uow.clock.now(), subject_user_id=user.id, subject=user.username,
                        details={"sessions_ended": True})
    uow.session.flush()
    return password


@dataclass(frozen=True)
class Deactivated:
    released: list[int]  # the work items given back to their queues
    tokens_revoked: list[str]  # prefixes of the JSON API tokens acting as the user


def deactivate_user(uow: UnitOfWork, actor: Actor, user_id: int, *, client_ip: str | None = None) -> Deactivated:
    """The account can no longer log in: every task it holds goes back to its queue, its sessions
    end, its JSON API tokens are revoked. Never one's own account, nor the last active
    administrator."""
    require_admin(actor)
    user = _user(uow, user_id, admins_too=True)
    if user.id == actor.user_id:
        raise DomainError(msg("You cannot deactivate your own account: ask another administrator."), code="self")
    if not user.active:
        raise Conflict(msg("{username} is already deactivated.", username=user.username))
    if _last_admin(uow, user):
        raise DomainError(msg("{username} is the last active administrator: give another account the "
                              "administrator's role first.", username=user.username), code="last_admin")
    released = _release(uow, actor, user, SecurityAction.USER_DEACTIVATED)
    user.active = False
    end_sessions(uow, user.id)
    tokens = list(uow.session.scalars(select(ApiCredential).where(
        ApiCredential.user_id == user.id, ApiCredential.revoked_at.is_(None)).order_by(ApiCredential.id)))
    revoked = [credentials.revoke(uow, token.prefix, who=_who(actor, client_ip)).prefix for token in tokens]
    security_log.record(uow.session, action=SecurityAction.USER_DEACTIVATED, who=_who(actor, client_ip),
                        occurred_at=uow.clock.now(), subject_user_id=user.id, subject=user.username,
                        details={"tasks_released": len(released), "work_items": released,
                                 "tokens_revoked": revoked})
    uow.session.flush()
    return Deactivated(released, revoked)


def reactivate_user(uow: UnitOfWork, actor: Actor, user_id: int, *, client_ip: str | None = None) -> None:
    """The account may log in again (with its password; its revoked tokens stay revoked)."""
    require_admin(actor)
    user = _user(uow, user_id)
    if user.active:
        raise Conflict(msg("{username} is already active.", username=user.username))
    user.active = True  # its sessions from before ended with the deactivation
    security_log.record(uow.session, action=SecurityAction.USER_REACTIVATED, who=_who(actor, client_ip),
                        occurred_at=uow.clock.now(), subject_user_id=user.id, subject=user.username)
    uow.session.flush()
