"""What an administrator changes of the city's settings: the business calendar (the working week
and hours, the days that differ from it) and the notices (which actions followers are told of,
the text of each template).

Each change is one unit of work that also writes the security log's ``admin_changed`` event with
the old and new values. The city's row is locked first (a row lock on PostgreSQL; SQLite's
writers queue anyway), so two administrators' changes of these settings never interleave; a
form carries what it was shown (``loaded``), and a change made by someone else meanwhile is a
:class:`Conflict`, never silently overwritten.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from workflow import calendar
from workflow.access import Actor, Screen, may_use
from workflow.errors import Conflict, NotFound, PermissionDenied, ValidationError
from workflow.messages import msg
from workflow.notify import editing
from workflow.notify.notices import told_actions
from workflow.store import security_log
from workflow.store.models import CalendarDay, City, NoticeTemplate
from workflow.store.reference import References
from workflow.store.security_log import Who
from workflow.store.uow import UnitOfWork
from workflow.text import BAD_TEXT, bad_text
from workflow.vocabulary import DAYS_OFF, DayKind


@dataclass(frozen=True)
class Admin:
    """The administrator acting, and the address their request came from (for the log)."""

    actor: Actor
    client_ip: str | None = None

    @property
    def who(self) -> Who:
        return Who(self.actor.user_id, self.actor.name, self.client_ip)


def _city(uow: UnitOfWork, admin: Admin) -> City:
    """The city's row, locked: the settings' changes queue behind it."""
    if not may_use(admin.actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can do this"))
    city = uow.session.scalar(select(City).order_by(City.id).limit(1).with_for_update())
    if city is None:
        raise NotFound(msg("no city in the reference data (run `tanggap seed`)"))
    return city


def _log(uow: UnitOfWork, admin: Admin, entity: str, key: str, old: dict | None, new: dict | None) -> None:
    security_log.admin_change(uow.session, who=admin.who, occurred_at=uow.clock.now(), entity=entity, key=key,
                              old=old, new=new)


# -- the business calendar -----------------------------------------------------------------------------


def set_working_hours(uow: UnitOfWork, admin: Admin, *, workdays: list[str], starts: str, ends: str,
                      loaded: str) -> bool:
    """The working week and hours; ``loaded``: ``Rules.hours_token`` of what the form showed.
    False when nothing changed."""
    values = {"starts": starts, "ends": ends, "workdays": " ".join(workdays or [])}
    errors = {name: BAD_TEXT for name, value in values.items() if bad_text(value or "")}
    errors = errors or calendar.hours_problems(workdays, starts, ends)
    if errors:
        raise ValidationError(errors)
    city = _city(uow, admin)
    rules = calendar.read_rules(uow.session)
    if loaded != rules.hours_token():
        raise Conflict(msg("Someone else changed the working hours since you opened this page: the page "
                           "now shows them as they are. Check the form and save again."))
    old = {"workdays": list(rules.workdays), "starts": rules.starts, "ends": rules.ends}
    new = {"workdays": list(calendar.in_week_order(workdays)), "starts": starts.strip(), "ends": ends.strip()}
    if old == new:
        return False
    city.workdays, city.work_starts, city.work_ends = new["workdays"], new["starts"], new["ends"]
    calendar.refresh_calendar_hash(uow.session)
    _log(uow, admin, "calendar", "working_hours", old, new)
    return True


def add_calendar_day(uow: UnitOfWork, admin: Admin, *, day: str, kind: str, note: str) -> date:
    """A day off (cuti bersama, a holiday of the city's) or an extra working day, of this year or
    the next (the city's), with a note saying why."""
    errors: dict = {name: BAD_TEXT for name, value in (("day", day), ("kind", kind), ("note", note))
                    if bad_text(value or "")}
    if errors:
        raise ValidationError(errors)
    when, note = calendar.parse_day(day), (note or "").strip()
    this_year = uow.clock.now().astimezone(References(uow.session).zone).year
    if not (day or "").strip():
        errors["day"] = msg("this field is required")
    elif when is None:
        errors["day"] = msg("give the date as YYYY-MM-DD")
    elif when.year not in (this_year, this_year + 1):
        errors["day"] = msg("choose a day of {this_year} or {next_year}", this_year=this_year,
                            next_year=this_year + 1)
    if kind not in {k.value for k in DayKind}:
        errors["kind"] = msg("choose one of the kinds listed")
    if not note:
        errors["note"] = msg("this field is required")
    elif len(note) > calendar.NOTE_MAX:
        errors["note"] = msg("write at most {limit} characters", limit=calendar.NOTE_MAX)
    if errors:
        raise ValidationError(errors)
    _city(uow, admin)
    if uow.session.scalar(select(CalendarDay.id).where(CalendarDay.day == when)) is not None:
        raise ValidationError({"day": msg("this day is already in the calendar: remove it first to change it")})
    kind = DayKind(kind)
    rules = calendar.read_rules(uow.session)
    usually_worked = when.weekday() in rules.weekdays() and when not in calendar.national_holidays(when.year)
    if kind in DAYS_OFF and not usually_worked:
        raise ValidationError({"day": msg("this day is not a working day anyway (a day off of the week, "
                                          "or a national holiday)")})
    if kind == DayKind.WORKING_DAY and usually_worked:
        raise ValidationError({"day": msg("this day is a working day already")})
    uow.session.add(CalendarDay(day=when, kind=kind, note=note))
    calendar.refresh_calendar_hash(uow.session)
    _log(uow, admin, "calendar_day", when.isoformat(), None, {"kind": str(kind), "note": note})
    return when


def remove_calendar_day(uow: UnitOfWork, admin: Admin, day_id: int) -> date:
    _city(uow, admin)
    row = uow.session.get(CalendarDay, day_id)
    if row is None:
        raise Conflict(msg("This day is no longer in the calendar: someone else removed it."))
    when, old = row.day, {"kind": str(row.kind), "note": row.note}
    uow.session.delete(row)
    calendar.refresh_calendar_hash(uow.session)
    _log(uow, admin, "calendar_day", when.isoformat(), old, None)
    return when


# -- notices -------------------------------------------------------------------------------------------


def quiet_token(quiet) -> str:
    """What the form of the notices told showed (a change made meanwhile changes it)."""
    return ",".join(sorted(quiet or []))


def set_told_notices(uow: UnitOfWork, admin: Admin, *, told: list[str], loaded: str) -> bool:
    """Which of the actions a template exists for are told to reporters and followers (the
    others are the city's ``quiet_notices``). False when nothing changed."""
    choices = told_actions()
    if any(bad_text(a) for a in told or []):
        raise ValidationError({"told": BAD_TEXT})
    if not set(told or []) <= choices:
        raise ValidationError({"told": msg("choose among the messages listed")})
    city = _city(uow, admin)
    if loaded != quiet_token(city.quiet_notices):
        raise Conflict(msg("Someone else changed which messages are sent since you opened this page: the "
                           "page now shows it as it is. Check the form and save again."))
    old = sorted(city.quiet_notices or [])
    new = sorted((set(old) - choices) | (choices - set(told or [])))  # a code no template has stays
    if old == new:
        return False
    city.quiet_notices = new
    _log(uow, admin, "city", city.code, {"quiet_notices": old}, {"quiet_notices": new})
    return True


def _template(language: str, name: str) -> editing.Template:
    template = editing.find(language, name)
    if template is None:
        raise NotFound(msg("no such notice template"))
    return template


def _override(uow: UnitOfWork, template: editing.Template) -> NoticeTemplate | None:
    return uow.session.scalar(select(NoticeTemplate).where(NoticeTemplate.language == template.language,
                                                           NoticeTemplate.name == template.name))


def text_token(text: str) -> str:
    """What the form of a template showed, to tell whether someone changed it meanwhile."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sample(uow: UnitOfWork) -> editing.Sample:
    return editing.Sample.read(uow.session, uow.definition, public_url=uow.settings.public_url,
                               zone=References(uow.session).zone, now=uow.clock.now())


def save_notice_template(uow: UnitOfWork, admin: Admin, *, language: str, name: str, text: str,
                         loaded: str) -> bool:
    """The administrator's text of a template, used instead of its file from the next notice
    the delivery worker renders; checked first (``editing.problems``). False when the text is
    the one in use."""
    template = _template(language, name)
    text = editing.normalized(text)
    found = editing.problems(template, text, _sample(uow))
    if found:
        raise ValidationError({"body": found[0]})
    _city(uow, admin)
    row = _override(uow, template)
    current = row.body if row else template.default_text()
    if loaded != text_token(current):
        raise Conflict(msg("Someone else changed this template since you opened it: its text as it is now "
                           "is below the form, which keeps yours. Save again to replace it."))
    if text == current:
        return False
    old = {"text": current, "changed": row is not None}
    if row is None:
        row = NoticeTemplate(language=template.language, name=template.name, body=text,
                             changed_at=uow.clock.now(), changed_by=admin.actor.name)
        uow.session.add(row)
    else:
        row.body, row.changed_at, row.changed_by = text, uow.clock.now(), admin.actor.name
    uow.session.flush()
    _log(uow, admin, "notice_template", f"{template.language}/{template.name}", old,
         {"text": text, "changed": True})
    return True


def reset_notice_template(uow: UnitOfWork, admin: Admin, *, language: str, name: str, loaded: str) -> None:
    """Back to the file's text: the administrators' text is removed."""
    template = _template(language, name)
    _city(uow, admin)
    row = _override(uow, template)
    if row is None:
        raise Conflict(msg("This template has its default text already: someone else restored it."))
    if loaded != text_token(row.body):
        raise Conflict(msg("Someone else changed this template since you opened it: check its text as it is "
                           "now before you restore the default."))
    old = row.body
    uow.session.delete(row)
    uow.session.flush()
    _log(uow, admin, "notice_template", f"{template.language}/{template.name}", {"text": old, "changed": True},
         {"text": template.default_text(), "changed": False})
