"""Choices offered on forms: report categories and areas, a task's agencies and teams, and
the users a supervisor may reassign a task to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Integer, literal, select, union
from sqlalchemy.orm import Session

from workflow.access import ItemLike, memberships_working
from workflow.engine.forms import FormField
from workflow.store.models import Agency, Case, Category, Membership, QrTeam, User, WorkItem
from workflow.store.reference import AreaRow, References, area_rows


@dataclass(frozen=True)
class ReportOptions:
    categories: list[Category]
    kecamatan: list[AreaRow]
    kelurahan: dict[int, list[AreaRow]]  # by kecamatan id


def report_options(session: Session) -> ReportOptions:
    categories = list(session.scalars(select(Category).where(Category.active.is_(True))
                                      .order_by(Category.group, Category.name_id)))
    areas = area_rows(session)
    kecamatan = [a for a in areas if a.is_kecamatan]
    kelurahan: dict[int, list[AreaRow]] = {k.id: [] for k in kecamatan}
    for a in areas:
        if not a.is_kecamatan:
            kelurahan[a.parent_id].append(a)
    return ReportOptions(categories=categories, kecamatan=kecamatan, kelurahan=kelurahan)


@dataclass(frozen=True)
class ChoiceOption:
    code: str
    name_id: str
    name_en: str

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id


class CasePlace(Protocol):
    """What the choices of a case's form depend on: a ``Case``, or a row of its columns."""

    agency_id: int | None
    area_id: int | None


def task_choices(session: Session, case: CasePlace, source: str, refs: References | None = None) -> list[ChoiceOption]:
    """The options of a form field whose choices come from the database, for this case:
    categories, the OPDs a case can be transferred to, the QR teams of the case's kecamatan.
    ``refs``: a unit of work's reference data (the process's cache, checked for this
    transaction) instead of reading the tables again: the same rows."""
    if refs is not None:
        return _cached_choices(refs, case, source)
    if source == "categories":
        rows = session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.name_id))
        return [ChoiceOption(c.code, c.name_id, c.name_en) for c in rows]
    if source == "agencies":
        rows = session.scalars(select(Agency).where(
            Agency.active.is_(True), Agency.handles_reports.is_(True),
            Agency.id != (case.agency_id or 0)).order_by(Agency.name))
        return [ChoiceOption(a.code, a.name, a.name) for a in rows]
    if source == "teams":
        rows = session.scalars(select(QrTeam).where(
            QrTeam.active.is_(True), QrTeam.area_id == case.area_id).order_by(QrTeam.code))
        return [ChoiceOption(t.code, t.name, t.name) for t in rows]
    raise ValueError(f"unknown choice source {source!r}")


def _cached_choices(refs: References, case: CasePlace, source: str) -> list[ChoiceOption]:
    if source == "categories":
        rows = sorted((c for c in refs.categories.values() if c.active), key=lambda c: c.name_id)
        return [ChoiceOption(c.code, c.name_id, c.name_en) for c in rows]
    if source == "agencies":
        rows = sorted((a for a in refs.agencies.values()
                       if a.active and a.handles_reports and a.id != (case.agency_id or 0)), key=lambda a: a.name)
        return [ChoiceOption(a.code, a.name, a.name) for a in rows]
    if source == "teams":
        rows = sorted((t for t in refs.teams.values() if t.active and t.area_id == case.area_id),
                      key=lambda t: t.code)
        return [ChoiceOption(t.code, t.name, t.name) for t in rows]
    raise ValueError(f"unknown choice source {source!r}")


def field_options(session: Session, case: Case, field: FormField) -> list[ChoiceOption]:
    """The options of a choice field of a task form for this case, named: its static choices
    with their ``choice_labels`` from ``bpmn/tasks.yaml`` (the code where a label is missing),
    or the options of its ``source``."""
    if field.source:
        return task_choices(session, case, field.source)
    options = []
    for code in field.choices:
        labels = field.choice_labels.get(code) or {}
        name_id = labels.get("id") or code
        options.append(ChoiceOption(code, name_id, labels.get("en") or name_id))
    return options


def assignees_for(session: Session, item: WorkItem) -> list[ChoiceOption]:
    """Active users who could work ``item`` (a supervisor reassigning it picks one of these)."""
    return assignees_for_each(session, [item])[0]


def assignees_for_each(session: Session, items: Sequence[WorkItem]) -> list[list[ChoiceOption]]:
    """:func:`assignees_for` of each of ``items``, in one statement."""
    return [[option for user_id, option in users if user_id != item.assignee_id]
            for item, users in zip(items, working_users_of(session, items))]


def working_users_of(session: Session, items: Sequence[ItemLike]) -> list[list[tuple[int, ChoiceOption]]]:
    """For each of ``items``: (user id, option) of the active users whose memberships let them
    work it, whoever holds it now (the same for every item of one scope: role, OPD, team), by
    username. One statement for all: a UNION of one select per item."""
    if not items:
        return []
    parts = [select(literal(i, Integer).label("item"), User.id, User.username, User.full_name).join(Membership)
             .where(User.active.is_(True), memberships_working(item)) for i, item in enumerate(items)]
    found: list[list[tuple[int, ChoiceOption]]] = [[] for _ in items]
    rows = session.execute(parts[0] if len(parts) == 1 else union(*parts)).all()
    for i, user_id, username, name in sorted(set(rows), key=lambda r: (r[0], r[2])):
        found[i].append((user_id, ChoiceOption(username, f"{name} ({username})", f"{name} ({username})")))
    return found
