"""Pure access rules: may this actor see this case, work this item, read contact details.

Objects outside an actor's scope are reported as not found (404), never as forbidden, so that
their existence does not leak; a wrong role on a visible object is forbidden (403).
"""

from __future__ import annotations

from typing import Protocol

from workflow.actors import Actor
from workflow.vocabulary import OPEN_STATUSES, CaseStatus, Role

CITY_WIDE_READERS = (Role.TRIAGE, Role.AUDITOR, Role.ADMIN)
STAFF_WRITERS = (Role.TRIAGE, Role.COORDINATOR, Role.QR_OFFICER, Role.SUPERVISOR)


class CaseLike(Protocol):
    agency_id: int | None
    team_id: int | None


class ItemLike(Protocol):
    role: Role
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


def role_for_item(actor: Actor, item: ItemLike) -> Role | None:
    """The role under which ``actor`` may claim and complete ``item``, if any."""
    for scope in actor.scopes_for(item.role):
        if item.role == Role.CITIZEN:
            return Role.CITIZEN
        if item.role == Role.QR_OFFICER:
            if item.team_id is not None and scope.team_id == item.team_id:
                return scope.role
        elif item.role == Role.SUPERVISOR and item.agency_id is None:
            if scope.agency_id is None:  # city-level escalations: city-wide supervisors
                return scope.role
        elif item.agency_id is not None and scope.agency_id == item.agency_id:
            return scope.role
    return None


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


def can_write_notes(actor: Actor, case: CaseLike) -> Role | None:
    for scope in actor.scopes:
        if scope.role in STAFF_WRITERS and can_view_case(
                Actor(actor.user_id, actor.name, (scope,)), case):
            return scope.role
    return None
