"""The city's organisation as administrators see it: agencies (OPD) with what still depends on
each (open cases, rules of the routing table, coordinators), and QR teams with their kecamatan,
officers and open field tasks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.access import Actor
from workflow.engine.definition import ProcessDefinition
from workflow.engine.routing import routed_agencies
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.read.paging import Page, paging_errors
from workflow.read.people import require_admin
from workflow.store.models import Agency, Area, Case, Membership, QrTeam, User, WorkItem
from workflow.vocabulary import OPEN_STATUSES, Role

PER_PAGE = 25


def _page_checked(page: int) -> None:
    errors = paging_errors(page, PER_PAGE)
    if errors:
        raise ValidationError(errors)


# -- agencies ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyRow:
    id: int
    code: str
    name: str
    short_name: str
    is_command_center: bool
    handles_reports: bool
    active: bool
    open_cases: int  # cases it holds that are not over
    routing_rules: int  # rules of the current routing table that send cases to it
    members: int  # active accounts with a role in it

    @property
    def values(self) -> dict:
        """What an administrator edits (the code is fixed: cases and the routing table name it)."""
        return agency_values(self.name, self.short_name, self.handles_reports, self.active)


def agency_values(name: str, short_name: str, handles_reports: bool, active: bool) -> dict:
    return {"name": name, "short_name": short_name, "handles_reports": handles_reports, "active": active}


def open_cases_held(session: Session, agency_ids: list[int]) -> dict[int, int]:
    if not agency_ids:
        return {}
    return dict(session.execute(select(Case.agency_id, func.count()).where(
        Case.agency_id.in_(agency_ids), Case.status.in_(OPEN_STATUSES)).group_by(Case.agency_id)).all())


def _agency_rows(session: Session, definition: ProcessDefinition, agencies: list[Agency]) -> list[AgencyRow]:
    ids = [a.id for a in agencies]
    cases = open_cases_held(session, ids)
    routed: Counter[str] = routed_agencies(definition)
    members = dict(session.execute(
        select(Membership.agency_id, func.count(func.distinct(User.id))).join(User)
        .where(Membership.agency_id.in_(ids), User.active.is_(True)).group_by(Membership.agency_id)).all()) if ids else {}
    return [AgencyRow(id=a.id, code=a.code, name=a.name, short_name=a.short_name,
                      is_command_center=a.is_command_center, handles_reports=a.handles_reports, active=a.active,
                      open_cases=cases.get(a.id, 0), routing_rules=routed.get(a.code, 0),
                      members=members.get(a.id, 0)) for a in agencies]


def agency_list(session: Session, actor: Actor, definition: ProcessDefinition, *, page: int = 1,
                per_page: int = PER_PAGE) -> Page:
    """Agencies by name; what still depends on each is counted (``definition``: the process
    deployed now, whose routing table new cases follow)."""
    require_admin(actor)
    _page_checked(page)
    total = session.scalar(select(func.count()).select_from(Agency)) or 0
    agencies = list(session.scalars(select(Agency).order_by(Agency.name, Agency.code)
                                    .limit(per_page).offset((page - 1) * per_page)))
    return Page(rows=_agency_rows(session, definition, agencies), total=total, page=page, per_page=per_page)


def agency(session: Session, actor: Actor, definition: ProcessDefinition, code: str) -> AgencyRow:
    require_admin(actor)
    row = session.scalar(select(Agency).where(Agency.code == code))
    if row is None:
        raise NotFound(msg("no agency {code}", code=code))
    return _agency_rows(session, definition, [row])[0]


# -- QR teams ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamRow:
    id: int
    code: str
    name: str
    kecamatan: str  # the area's code
    kecamatan_name: str
    active: bool
    officers: int  # active accounts with the QR officer's role in the team
    open_tasks: int  # field tasks given to the team and not done

    @property
    def values(self) -> dict:
        return team_values(self.name, self.kecamatan, self.active)


def team_values(name: str, kecamatan: str, active: bool) -> dict:
    return {"name": name, "kecamatan": kecamatan, "active": active}


def open_team_tasks(session: Session, team_ids: list[int]) -> dict[int, int]:
    if not team_ids:
        return {}
    return dict(session.execute(select(WorkItem.team_id, func.count()).where(
        WorkItem.team_id.in_(team_ids), WorkItem.completed_at.is_(None)).group_by(WorkItem.team_id)).all())


def _team_rows(session: Session, teams: list[QrTeam]) -> list[TeamRow]:
    ids = [t.id for t in teams]
    tasks = open_team_tasks(session, ids)
    officers = dict(session.execute(
        select(Membership.team_id, func.count(func.distinct(User.id))).join(User)
        .where(Membership.team_id.in_(ids), Membership.role == Role.QR_OFFICER, User.active.is_(True))
        .group_by(Membership.team_id)).all()) if ids else {}
    return [TeamRow(id=t.id, code=t.code, name=t.name, kecamatan=t.area.code, kecamatan_name=t.area.name,
                    active=t.active, officers=officers.get(t.id, 0), open_tasks=tasks.get(t.id, 0))
            for t in teams]


def team_list(session: Session, actor: Actor, *, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """QR teams by kecamatan and name."""
    require_admin(actor)
    _page_checked(page)
    total = session.scalar(select(func.count()).select_from(QrTeam)) or 0
    teams = list(session.scalars(select(QrTeam).join(Area, Area.id == QrTeam.area_id)
                                 .order_by(Area.name, QrTeam.name, QrTeam.code)
                                 .limit(per_page).offset((page - 1) * per_page)))
    return Page(rows=_team_rows(session, teams), total=total, page=page, per_page=per_page)


def team(session: Session, actor: Actor, code: str) -> TeamRow:
    require_admin(actor)
    row = session.scalar(select(QrTeam).where(QrTeam.code == code))
    if row is None:
        raise NotFound(msg("no QR team {code}", code=code))
    return _team_rows(session, [row])[0]


def kecamatan_options(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every kecamatan (an area without a parent), by name."""
    return [(a.code, a.name) for a in session.execute(
        select(Area.code, Area.name).where(Area.parent_id.is_(None)).order_by(Area.name))]
