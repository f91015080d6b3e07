"""User accounts as administrators see them: the list (search, role and state filters, pages),
one account, and the memberships (role and scope) an account may be given.

A membership reads as its role and scope code, ``coordinator:DLH``, ``qr_officer:qr-mariso-1``,
or the role alone when city-wide (``auditor``): how forms name them and how the security log
records them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflow.access import Actor, Screen, may_use
from workflow.errors import NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.read.paging import Page, paging_errors
from workflow.store.audit import canonical_json
from workflow.store.models import Agency, Membership, QrTeam, SecurityEvent, User, WorkItem
from workflow.store.reference import References
from workflow.text import BAD_TEXT, bad_text
from workflow.vocabulary import Role, SecurityAction

PER_PAGE = 25
STATES = ("all", "active", "inactive")
QUERY_MAX = 100
STAFF_ROLES = tuple(r for r in Role if r != Role.CITIZEN)


def require_admin(actor: Actor) -> None:
    """Accounts and the city's organisation are the administrators' (and the command line's)."""
    if actor.kind != "system" and not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can do this"))


def fingerprint(values: dict) -> str:
    """A short digest of an object's editable values: a form carries the one it was rendered
    with, and a change is refused as a conflict when the object no longer has it."""
    return hashlib.sha256(canonical_json(values).encode()).hexdigest()[:32]


# -- memberships ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipView:
    role: Role
    scope: str | None = None  # an agency or QR team code; None: city-wide
    scope_name: str | None = None  # the agency's short name or the team's name
    scope_active: bool = True

    @property
    def key(self) -> str:
        return membership_key(self.role, self.scope)


def membership_key(role: str, scope: str | None) -> str:
    return f"{role}:{scope}" if scope else str(role)


def parse_membership_key(key: str) -> tuple[str, str | None]:
    role, _, scope = (key or "").partition(":")
    return role, scope or None


def memberships_of(refs: References, user: User) -> tuple[MembershipView, ...]:
    """The user's memberships, by role (in the vocabulary's order) and scope code."""
    views = []
    for m in user.memberships:
        if m.team_id is not None:
            team = refs.teams_by_id[m.team_id]
            views.append(MembershipView(m.role, team.code, team.name, team.active))
        elif m.agency_id is not None:
            agency = refs.agencies_by_id[m.agency_id]
            views.append(MembershipView(m.role, agency.code, agency.short_name, agency.active))
        else:
            views.append(MembershipView(m.role))
    order = {role: n for n, role in enumerate(STAFF_ROLES)}
    return tuple(sorted(views, key=lambda v: (order.get(v.role, 99), v.scope or "")))


def membership_options(session: Session, keep: Iterable[MembershipView] = ()) -> list[MembershipView]:
    """The memberships an account may be given, by role: the command center's triage desk; a
    coordinator of an agency that handles reports; a supervisor of the city or of such an agency
    or the command center; an officer of a QR team; the city's auditor and administrator. Only
    active agencies and teams, plus the account's own memberships (``keep``), whatever they are."""
    agencies = list(session.scalars(select(Agency).where(Agency.active.is_(True)).order_by(Agency.name)))
    teams = list(session.scalars(select(QrTeam).where(QrTeam.active.is_(True)).order_by(QrTeam.name)))
    offered: dict[Role, list[MembershipView]] = {role: [] for role in STAFF_ROLES}
    for agency in agencies:
        view = (agency.code, agency.short_name)
        if agency.is_command_center:
            offered[Role.TRIAGE].append(MembershipView(Role.TRIAGE, *view))
        if agency.handles_reports:
            offered[Role.COORDINATOR].append(MembershipView(Role.COORDINATOR, *view))
        if agency.handles_reports or agency.is_command_center:
            offered[Role.SUPERVISOR].append(MembershipView(Role.SUPERVISOR, *view))
    offered[Role.SUPERVISOR].insert(0, MembershipView(Role.SUPERVISOR))
    offered[Role.QR_OFFICER] = [MembershipView(Role.QR_OFFICER, t.code, t.name) for t in teams]
    offered[Role.AUDITOR] = [MembershipView(Role.AUDITOR)]
    offered[Role.ADMIN] = [MembershipView(Role.ADMIN)]
    for own in keep:
        if own.role in offered and all(v.key != own.key for v in offered[own.role]):
            offered[own.role].append(own)
    return [view for role in STAFF_ROLES for view in offered[role]]


# -- accounts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserFilters:
    q: str | None = None  # words of the username or the full name
    role: str | None = None
    state: str = "all"  # all / active / inactive
    page: int = 1

    def errors(self) -> dict:
        errors = paging_errors(self.page, PER_PAGE)
        if self.q and bad_text(self.q):
            errors["q"] = BAD_TEXT
        elif self.q and len(self.q) > QUERY_MAX:
            errors["q"] = msg("write at most {limit} characters", limit=QUERY_MAX)
        for field, value, choices in (("role", self.role, STAFF_ROLES), ("state", self.state, STATES)):
            if value and value not in choices:
                errors[field] = msg("choose one of the list")
        return errors


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    full_name: str
    email: str | None
    active: bool
    memberships: tuple[MembershipView, ...]
    held_tasks: int  # open tasks the user has claimed

    @property
    def values(self) -> dict:
        """What an administrator edits, and what a form's :func:`fingerprint` covers."""
        return account_values(self.full_name, self.email, self.active, self.memberships)


def account_values(full_name: str, email: str | None, active: bool,
                   memberships: Iterable[MembershipView]) -> dict:
    return {"full_name": full_name, "email": email, "active": active,
            "roles": sorted(m.key for m in memberships)}


def _like(words: str) -> str:
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def held_counts(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    ids = list(user_ids)
    if not ids:
        return {}
    return dict(session.execute(
        select(WorkItem.assignee_id, func.count()).where(WorkItem.assignee_id.in_(ids),
                                                         WorkItem.completed_at.is_(None))
        .group_by(WorkItem.assignee_id)).all())


def _accounts(session: Session, users: list[User]) -> list[Account]:
    refs = References(session)
    held = held_counts(session, [u.id for u in users])
    return [Account(id=u.id, username=u.username, full_name=u.full_name, email=u.email, active=u.active,
                    memberships=memberships_of(refs, u), held_tasks=held.get(u.id, 0)) for u in users]


def user_list(session: Session, actor: Actor, filters: UserFilters, per_page: int = PER_PAGE) -> Page:
    """Accounts by username, filtered; ``ValidationError`` for filters that cannot be read."""
    require_admin(actor)
    errors = filters.errors()
    if errors:
        raise ValidationError(errors)
    where = []
    words = (filters.q or "").strip()
    if words:
        pattern = _like(words)
        where.append(or_(User.username.ilike(pattern, escape="\\"), User.full_name.ilike(pattern, escape="\\")))
    if filters.role:
        where.append(User.id.in_(select(Membership.user_id).where(Membership.role == Role(filters.role))))
    if filters.state != "all":
        where.append(User.active.is_(filters.state == "active"))
    total = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    users = list(session.scalars(select(User).where(*where).order_by(User.username)
                                 .limit(per_page).offset((filters.page - 1) * per_page)))
    return Page(rows=_accounts(session, users), total=total, page=filters.page, per_page=per_page)


def account(session: Session, actor: Actor, user_id: int) -> Account:
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(msg("user {user_id} not found", user_id=user_id))
    return _accounts(session, [user])[0]


def active_admins(session: Session) -> int:
    """How many active accounts hold the administrator's role."""
    return session.scalar(select(func.count(func.distinct(User.id))).select_from(User).join(Membership).where(
        User.active.is_(True), Membership.role == Role.ADMIN)) or 0


ADMIN_ACTIONS = (SecurityAction.ADMIN_CHANGED, SecurityAction.ROLES_CHANGED, SecurityAction.USER_DEACTIVATED,
                 SecurityAction.USER_REACTIVATED, SecurityAction.USER_CREATED)


def last_changed_by(session: Session, *, subject: str | None = None, subject_user_id: int | None = None) -> str | None:
    """Who made the latest administrative change of an object, from the security log: of an
    account (``subject_user_id``) or of what ``admin_change`` names ``entity:key`` (``subject``)."""
    where = [SecurityEvent.action.in_([str(a) for a in ADMIN_ACTIONS])]
    where.append(SecurityEvent.subject_user_id == subject_user_id if subject_user_id is not None
                 else SecurityEvent.subject == subject)
    return session.scalar(select(SecurityEvent.actor_name).where(*where).order_by(SecurityEvent.seq.desc()).limit(1))
