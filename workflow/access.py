"""Who may do what: actors, and every access rule once, as a Python predicate and, where lists
are read from the database, the SQL condition beside it (a property test holds each pair
equal: ``tests/test_access_rules.py``).

Objects outside an actor's scope are reported as not found (404), never as forbidden, so that
their existence does not leak; a wrong role on a visible object is forbidden (403). Screens
are gated by :class:`Screen`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, false, or_, true
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.store.audit import ActorRef
from workflow.store.models import Case, Escalation, Membership, Report, User, WorkItem
from workflow.vocabulary import OPEN_STATUSES, CaseStatus, Role

# -- who is acting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """One role membership: scoped to an agency, a QR team, or the whole city (both None)."""

    role: Role
    agency_id: int | None = None
    team_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """A user with scoped roles, the system worker, or a citizen with a tracking code."""

    user_id: int | None
    name: str
    scopes: tuple[Scope, ...] = ()
    kind: str = "user"  # user / system / citizen

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, name="system", kind="system")

    @classmethod
    def command_line(cls) -> Actor:
        """Whoever runs ``tanggap`` on the server: an administrator of the deployment, recorded
        as "system"."""
        return cls(user_id=None, name="system", scopes=(Scope(Role.ADMIN),), kind="system")

    @classmethod
    def citizen(cls) -> Actor:
        return cls(user_id=None, name="citizen", scopes=(Scope(Role.CITIZEN),), kind="citizen")

    def has_role(self, *roles: Role) -> bool:
        return any(s.role in roles for s in self.scopes)

    def scopes_for(self, role: Role) -> list[Scope]:
        return [s for s in self.scopes if s.role == role]

    def ref(self, role: str | None = None) -> ActorRef:
        if role is None:
            role = self.kind if self.kind != "user" else (
                self.scopes[0].role.value if self.scopes else "user")
        return ActorRef(user_id=self.user_id, name=self.name, role=str(role))


def actor_for_user(session: Session, user_id: int) -> Actor:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("unknown or inactive user")
    scopes = tuple(Scope(m.role, m.agency_id, m.team_id) for m in user.memberships)
    return Actor(user_id=user.id, name=user.username, scopes=scopes)


# -- screens ---------------------------------------------------------------------------------------


class Screen(enum.StrEnum):
    INBOX = "inbox"  # the task inbox
    FIELD = "field"  # a QR officer's day on a phone
    ESCALATIONS = "escalations"  # late and bouncing work
    DASHBOARD = "dashboard"
    HISTORY = "history"  # case histories from the audit trail
    SEARCH = "search"  # finding a case when a citizen calls
    ADMIN = "admin"
    SECURITY_LOG = "security_log"  # logins, administration and contact views


SCREEN_ROLES = {
    Screen.INBOX: (Role.TRIAGE, Role.COORDINATOR, Role.QR_OFFICER),
    Screen.FIELD: (Role.QR_OFFICER,),
    Screen.ESCALATIONS: (Role.SUPERVISOR,),
    Screen.DASHBOARD: (Role.AUDITOR, Role.ADMIN, Role.SUPERVISOR),
    Screen.HISTORY: (Role.AUDITOR, Role.ADMIN, Role.SUPERVISOR),
    Screen.SEARCH: (Role.TRIAGE, Role.COORDINATOR, Role.QR_OFFICER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN),
    Screen.ADMIN: (Role.ADMIN,),
    Screen.SECURITY_LOG: (Role.AUDITOR, Role.ADMIN),
}


def may_use(actor: Actor, screen: Screen) -> bool:
    return actor.has_role(*SCREEN_ROLES[screen])


def can_file_reports(actor: Actor) -> bool:
    """Staff file reports they take by phone or see in the street; auditors only read."""
    return not actor.scopes or any(s.role != Role.AUDITOR for s in actor.scopes)


# -- cases -----------------------------------------------------------------------------------------

CITY_WIDE_READERS = (Role.TRIAGE, Role.AUDITOR, Role.ADMIN)
STAFF_WRITERS = (Role.TRIAGE, Role.COORDINATOR, Role.QR_OFFICER, Role.SUPERVISOR)


class CaseLike(Protocol):
    agency_id: int | None
    team_id: int | None


def can_view_case(actor: Actor, case: CaseLike) -> bool:
    for scope in actor.scopes:
        if scope.role in CITY_WIDE_READERS:
            return True
        if scope.role == Role.SUPERVISOR and (scope.agency_id is None or scope.agency_id == case.agency_id):
            return True
        if scope.role == Role.COORDINATOR and case.agency_id is not None and scope.agency_id == case.agency_id:
            return True
        if scope.role == Role.QR_OFFICER and case.team_id is not None and scope.team_id == case.team_id:
            return True
    return False


def sees_every_case(actor: Actor) -> bool:
    """Whether :func:`can_view_case` lets the actor see every case (city-wide roles)."""
    return any(s.role in CITY_WIDE_READERS or (s.role == Role.SUPERVISOR and s.agency_id is None)
               for s in actor.scopes)


def cases_visible(actor: Actor):
    """SQL on ``Case``: the cases :func:`can_view_case` lets the actor see."""
    if sees_every_case(actor):
        return true()
    clauses = []
    for scope in actor.scopes:
        if scope.role in (Role.SUPERVISOR, Role.COORDINATOR):
            clauses.append(and_(Case.agency_id.is_not(None), Case.agency_id == scope.agency_id))
        elif scope.role == Role.QR_OFFICER:
            clauses.append(and_(Case.team_id.is_not(None), Case.team_id == scope.team_id))
    return or_(*clauses) if clauses else false()


def can_read_history(actor: Actor, case: CaseLike) -> bool:
    """Auditors and administrators read every case's history; supervisors their OPD's (or all,
    at city level)."""
    for scope in actor.scopes:
        if scope.role in (Role.AUDITOR, Role.ADMIN) or (scope.role == Role.SUPERVISOR and scope.agency_id is None):
            return True
        if scope.role == Role.SUPERVISOR and case.agency_id is not None and scope.agency_id == case.agency_id:
            return True
    return False


def histories_readable(actor: Actor):
    """SQL on ``Case``: the cases :func:`can_read_history` lets the actor read."""
    clauses = []
    for scope in actor.scopes:
        if scope.role in (Role.AUDITOR, Role.ADMIN) or (scope.role == Role.SUPERVISOR and scope.agency_id is None):
            return true()
        if scope.role == Role.SUPERVISOR:
            clauses.append(and_(Case.agency_id.is_not(None), Case.agency_id == scope.agency_id))
    return or_(*clauses) if clauses else false()


class ReportLike(Protocol):
    anonymous: bool


class ReportedCase(CaseLike, Protocol):
    status: CaseStatus
    report: ReportLike


def can_see_reporter(actor: Actor, case: ReportedCase) -> bool:
    """The reporter's name: every staff role that sees the case, unless the report is
    *anonim* (then no staff role at all: the agencies never learn who reported)."""
    return not case.report.anonymous and can_view_case(actor, case)


def can_see_contact(actor: Actor, case: ReportedCase) -> bool:
    """The reporter's e-mail and phone: only for the desk that must call back, which is the one
    working the case's current stage (the command center's triage desk while the case is in
    triage; the coordinators of the OPD responsible for it afterwards, until it is closed).
    Never for QR officers, supervisors, auditors or administrators, never once the case is
    over, and never when the report is anonymous."""
    if case.report.anonymous:
        return False
    for scope in actor.scopes:
        if scope.role == Role.TRIAGE and case.status == CaseStatus.TRIAGE:
            return True
        if (scope.role == Role.COORDINATOR and case.agency_id is not None
                and scope.agency_id == case.agency_id and case.status in OPEN_STATUSES
                and case.status != CaseStatus.TRIAGE):
            return True
    return False


CONTACT_DESKS = (Role.TRIAGE, Role.COORDINATOR)  # the roles that ever call a reporter back


def contacts_visible(actor: Actor):
    """SQL on ``Case`` joined with its ``Report``: the cases :func:`can_see_contact` lets the
    actor see the contact of (what a search by phone or e-mail may match)."""
    clauses = []
    for scope in actor.scopes:
        if scope.role == Role.TRIAGE:
            clauses.append(Case.status == CaseStatus.TRIAGE)
        elif scope.role == Role.COORDINATOR and scope.agency_id is not None:
            clauses.append(and_(Case.agency_id.is_not(None), Case.agency_id == scope.agency_id,
                                Case.status.in_([s for s in OPEN_STATUSES if s != CaseStatus.TRIAGE])))
    return and_(Report.anonymous.is_(False), or_(*clauses)) if clauses else false()


def can_write_notes(actor: Actor, case: CaseLike) -> Role | None:
    for scope in actor.scopes:
        if scope.role in STAFF_WRITERS and can_view_case(
                Actor(actor.user_id, actor.name, (scope,)), case):
            return scope.role
    return None


# -- work items ------------------------------------------------------------------------------------


class ItemLike(Protocol):
    role: Role
    agency_id: int | None
    team_id: int | None


def role_for_item(actor: Actor, item: ItemLike) -> Role | None:
    """The role under which ``actor`` may claim and complete ``item``, if any."""
    for scope in actor.scopes_for(item.role):
        if item.role == Role.CITIZEN:
            return Role.CITIZEN
        if item.role == Role.QR_OFFICER:
            if item.team_id is not None and scope.team_id == item.team_id:
                return scope.role
        elif item.role == Role.SUPERVISOR:  # an OPD's escalations: its supervisors and the city's
            if scope.agency_id is None or scope.agency_id == item.agency_id:
                return scope.role
        elif item.agency_id is not None and scope.agency_id == item.agency_id:
            return scope.role
    return None


def memberships_working(item: ItemLike):
    """SQL on ``Membership``: the memberships under which :func:`role_for_item` lets a user
    work ``item`` (whom a supervisor may reassign it to)."""
    if item.role == Role.CITIZEN:
        return Membership.role == Role.CITIZEN
    if item.role == Role.QR_OFFICER:
        if item.team_id is None:
            return false()
        return and_(Membership.role == item.role, Membership.team_id == item.team_id)
    if item.role == Role.SUPERVISOR:
        if item.agency_id is None:
            return and_(Membership.role == item.role, Membership.agency_id.is_(None))
        return and_(Membership.role == item.role,
                    or_(Membership.agency_id.is_(None), Membership.agency_id == item.agency_id))
    if item.agency_id is None:
        return false()
    return and_(Membership.role == item.role, Membership.agency_id == item.agency_id)


def items_workable(actor: Actor):
    """SQL on ``WorkItem``: the items of the inbox's roles that :func:`role_for_item` lets the
    actor work (supervisors' reviews and the reporter's tasks are not inbox work)."""
    clauses = []
    for s in actor.scopes:
        if s.role in (Role.TRIAGE, Role.COORDINATOR) and s.agency_id is not None:
            clauses.append(and_(WorkItem.role == s.role, WorkItem.agency_id == s.agency_id))
        elif s.role == Role.QR_OFFICER and s.team_id is not None:
            clauses.append(and_(WorkItem.role == Role.QR_OFFICER, WorkItem.team_id == s.team_id))
    return or_(*clauses) if clauses else false()


# -- supervision -----------------------------------------------------------------------------------


def supervising_role(actor: Actor, agency_id: int | None) -> Role | None:
    """SUPERVISOR when ``actor`` supervises ``agency_id``'s work (or the whole city)."""
    if any(s.role == Role.SUPERVISOR and s.agency_id in (None, agency_id) for s in actor.scopes):
        return Role.SUPERVISOR
    return None


def work_supervised(actor: Actor):
    """SQL on ``WorkItem``: the items whose OPD :func:`supervising_role` lets the actor supervise."""
    return _supervised(actor, WorkItem.agency_id)


def _supervised(actor: Actor, agency):
    """SQL: the rows whose ``agency`` column is an OPD the actor supervises (any, city-wide)."""
    clauses = []
    for s in actor.scopes:
        if s.role == Role.SUPERVISOR:
            if s.agency_id is None:
                return true()
            clauses.append(and_(agency.is_not(None), agency == s.agency_id))
    return or_(*clauses) if clauses else false()


def overseeing_role(actor: Actor, item: ItemLike) -> Role | None:
    """Who may give an open task to someone else (take it over from the person holding it):
    a supervisor of its OPD (or the whole city), and for field work also a coordinator of the
    OPD, who dispatched it. Never the reporter's own tasks (an answer, a confirmation)."""
    if item.role == Role.CITIZEN:
        return None
    role = supervising_role(actor, item.agency_id)
    if role is None and item.role == Role.QR_OFFICER and item.agency_id is not None and any(
            s.role == Role.COORDINATOR and s.agency_id == item.agency_id for s in actor.scopes):
        role = Role.COORDINATOR
    return role


def can_see_escalation(actor: Actor, escalation) -> bool:
    """Supervisors of an OPD see its escalations; city-wide supervisors see all."""
    return any(s.role == Role.SUPERVISOR and (s.agency_id is None or s.agency_id == escalation.agency_id)
               for s in actor.scopes)


def escalations_visible(actor: Actor):
    """SQL on ``Escalation``: what :func:`can_see_escalation` lets the actor see."""
    return _supervised(actor, Escalation.agency_id)
