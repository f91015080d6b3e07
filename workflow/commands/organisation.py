"""What an administrator changes of the city's organisation: agencies (OPD) and QR teams.

A code is fixed once created: cases, the process's variables and the routing table name it.
Each change is written to the security log (``admin_change``, old and new values) in the same
unit of work. A change that would leave work depending on what it turns off is said first
(:class:`NeedsConfirmation`, with the counts) and made only when confirmed; deactivating an agency
that still holds open cases is refused. Routing and SLA targets are not here: they are the
process's routing table (``bpmn/``), deployed as a new process version, for new cases.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from workflow.access import Actor
from workflow.engine.routing import routed_agencies
from workflow.errors import Conflict, DomainError, NotFound, ValidationError
from workflow.messages import Message, msg
from workflow.read.organisation import agency_values, open_cases_held, open_team_tasks, team_values
from workflow.read.people import fingerprint, last_changed_by, require_admin
from workflow.store import security_log
from workflow.store.models import Agency, Area, QrTeam
from workflow.store.security_log import Who
from workflow.store.uow import UnitOfWork
from workflow.text import check_fields

AGENCY_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{1,31}$")
TEAM_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
NAME_MAX, SHORT_NAME_MAX, TEAM_NAME_MAX = 200, 60, 120  # the columns' lengths


class NeedsConfirmation(DomainError):
    """The change would leave work depending on what it turns off; ``warnings`` say what, with
    the counts. Sent again confirmed, it is made."""

    code = "unconfirmed"

    def __init__(self, warnings: list[Message]):
        super().__init__("; ".join(warnings))
        self.warnings = warnings


def _who(actor: Actor, client_ip: str | None) -> Who:
    return Who(actor.user_id, actor.name, client_ip)


def _text(value: str | None, field: str, limit: int, errors: dict) -> str:
    text = (value or "").strip()
    if field in errors:
        return text
    if not text:
        errors[field] = msg("this field is required")
    elif len(text) > limit:
        errors[field] = msg("write at most {limit} characters", limit=limit)
    return text


def _conflict(uow: UnitOfWork, subject: str) -> Conflict:
    who = last_changed_by(uow.session, subject=subject)
    if who:
        return Conflict(msg("{who} changed this while you were editing it. Reload the page to see the "
                            "change, then make yours again.", who=who), by=who)
    return Conflict(msg("This was changed while you were editing it. Reload the page to see the change, "
                        "then make yours again."))


# -- agencies ------------------------------------------------------------------------------------


def _locked(uow: UnitOfWork, model, code: str, not_found):
    """The row of ``code``, locked until commit (what an edit checks still holds when it writes)."""
    row = uow.session.scalar(select(model).where(model.code == code).with_for_update()
                             .execution_options(populate_existing=True))
    if row is None:
        raise NotFound(not_found)
    return row


def _values_of(agency: Agency) -> dict:
    return agency_values(agency.name, agency.short_name, agency.handles_reports, agency.active)


def agency_fingerprint(agency: Agency) -> str:
    return fingerprint(_values_of(agency))


def create_agency(uow: UnitOfWork, actor: Actor, *, code: str, name: str, short_name: str,
                  handles_reports: bool = True, active: bool = True, client_ip: str | None = None) -> Agency:
    require_admin(actor)
    errors: dict = {}
    check_fields({"code": code, "name": name, "short_name": short_name}, errors)
    code = (code or "").strip().upper()
    if "code" not in errors:
        if not AGENCY_CODE.match(code):
            errors["code"] = msg("2-32 characters: capital letters, digits, _ or -, starting with a letter")
        elif uow.session.scalar(select(Agency.id).where(Agency.code == code)):
            errors["code"] = msg("an agency {code} already exists", code=code)
    name = _text(name, "name", NAME_MAX, errors)
    short_name = _text(short_name, "short_name", SHORT_NAME_MAX, errors)
    if errors:
        raise ValidationError(errors)
    agency = Agency(code=code, name=name, short_name=short_name, is_command_center=False,
                    handles_reports=bool(handles_reports), active=bool(active))
    uow.session.add(agency)
    uow.session.flush()
    security_log.admin_change(uow.session, who=_who(actor, client_ip), occurred_at=uow.clock.now(),
                              entity="agency", key=code, old=None, new=_values_of(agency))
    return agency


def update_agency(uow: UnitOfWork, actor: Actor, code: str, *, name: str, short_name: str,
                  handles_reports: bool, active: bool, expected: str | None = None, confirmed: bool = False,
                  client_ip: str | None = None) -> list[Message]:
    """Change an agency's names, whether it handles reports and whether it is active.

    Deactivating is refused while the agency holds open cases (and for the command center, which
    receives every report). Turning it off (either flag) while the routing table deployed now
    still sends cases to it, or taking it off report handling while it holds open cases, needs
    ``confirmed``; the warnings are returned (to be said again) once it is made."""
    require_admin(actor)
    agency = _locked(uow, Agency, code, msg("no agency {code}", code=code))
    if expected is not None and expected != agency_fingerprint(agency):
        raise _conflict(uow, f"agency:{agency.code}")
    errors: dict = {}
    check_fields({"name": name, "short_name": short_name}, errors)
    name = _text(name, "name", NAME_MAX, errors)
    short_name = _text(short_name, "short_name", SHORT_NAME_MAX, errors)
    handles_reports, active = bool(handles_reports), bool(active)
    deactivating = agency.active and not active
    leaving = deactivating or (agency.handles_reports and not handles_reports)
    open_cases = open_cases_held(uow.session, [agency.id]).get(agency.id, 0)
    if deactivating and agency.is_command_center:
        errors["active"] = msg("The command center receives every report: it cannot be deactivated.")
    elif deactivating and open_cases:
        errors["active"] = msg("{agency} still holds {count} open cases: they must be finished or transferred "
                               "before it can be deactivated.", agency=agency.short_name, count=open_cases)
    if errors:
        raise ValidationError(errors)
    warnings: list[Message] = []
    rules = routed_agencies(uow.definition).get(agency.code, 0) if leaving else 0
    if rules:
        warnings.append(msg("The routing table in use still sends cases to {agency} ({count} rules): new reports "
                            "it routes there still go to {agency} until the routing table is changed.",
                            agency=agency.short_name, count=rules))
    if agency.handles_reports and not handles_reports and open_cases:
        warnings.append(msg("{agency} holds {count} open cases: they stay with it, but no case can be "
                            "transferred to it any more.", agency=agency.short_name, count=open_cases))
    if warnings and not confirmed:
        raise NeedsConfirmation(warnings)
    old = _values_of(agency)
    agency.name, agency.short_name = name, short_name
    agency.handles_reports, agency.active = handles_reports, active
    uow.session.flush()
    security_log.admin_change(uow.session, who=_who(actor, client_ip), occurred_at=uow.clock.now(),
                              entity="agency", key=agency.code, old=old, new=_values_of(agency))
    return warnings


# -- QR teams ------------------------------------------------------------------------------------


def _team_values(team: QrTeam) -> dict:
    return team_values(team.name, team.area.code, team.active)


def team_fingerprint(team: QrTeam) -> str:
    return fingerprint(_team_values(team))


def _kecamatan(uow: UnitOfWork, code: str | None, errors: dict) -> Area | None:
    if "kecamatan" in errors:
        return None
    area = uow.session.scalar(select(Area).where(Area.code == (code or ""), Area.parent_id.is_(None)))
    if area is None:
        errors["kecamatan"] = msg("choose a kecamatan")
    return area


def create_team(uow: UnitOfWork, actor: Actor, *, code: str, name: str, kecamatan: str,
                active: bool = True, client_ip: str | None = None) -> QrTeam:
    require_admin(actor)
    errors: dict = {}
    check_fields({"code": code, "name": name, "kecamatan": kecamatan}, errors)
    code = (code or "").strip().lower()
    if "code" not in errors:
        if not TEAM_CODE.match(code):
            errors["code"] = msg("2-64 characters: lower-case letters, digits and -")
        elif uow.session.scalar(select(QrTeam.id).where(QrTeam.code == code)):
            errors["code"] = msg("a QR team {code} already exists", code=code)
    name = _text(name, "name", TEAM_NAME_MAX, errors)
    area = _kecamatan(uow, kecamatan, errors)
    if errors:
        raise ValidationError(errors)
    team = QrTeam(code=code, name=name, area_id=area.id, active=bool(active))
    uow.session.add(team)
    uow.session.flush()
    uow.session.refresh(team, ["area"])
    security_log.admin_change(uow.session, who=_who(actor, client_ip), occurred_at=uow.clock.now(),
                              entity="qr_team", key=code, old=None, new=_team_values(team))
    return team


def update_team(uow: UnitOfWork, actor: Actor, code: str, *, name: str, kecamatan: str, active: bool,
                expected: str | None = None, confirmed: bool = False,
                client_ip: str | None = None) -> list[Message]:
    """Change a team's name, kecamatan and whether it is active. Deactivating a team that has open
    field tasks needs ``confirmed`` (they stay with the team, whose officers can still finish
    them, but it is no longer offered for dispatch); the warnings are returned once it is made."""
    require_admin(actor)
    team = _locked(uow, QrTeam, code, msg("no QR team {code}", code=code))
    if expected is not None and expected != team_fingerprint(team):
        raise _conflict(uow, f"qr_team:{team.code}")
    errors: dict = {}
    check_fields({"name": name, "kecamatan": kecamatan}, errors)
    name = _text(name, "name", TEAM_NAME_MAX, errors)
    area = _kecamatan(uow, kecamatan, errors)
    if errors:
        raise ValidationError(errors)
    active = bool(active)
    warnings: list[Message] = []
    tasks = open_team_tasks(uow.session, [team.id]).get(team.id, 0) if team.active and not active else 0
    if tasks:
        warnings.append(msg("{team} has {count} open field tasks: they stay with the team and its officers can "
                            "still finish them, but it is no longer offered when a QR team is dispatched.",
                            team=team.name, count=tasks))
    if warnings and not confirmed:
        raise NeedsConfirmation(warnings)
    old = _team_values(team)
    team.name, team.area, team.active = name, area, active
    uow.session.flush()
    security_log.admin_change(uow.session, who=_who(actor, client_ip), occurred_at=uow.clock.now(),
                              entity="qr_team", key=team.code, old=old, new=_team_values(team))
    return warnings
