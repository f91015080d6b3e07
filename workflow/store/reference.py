"""Look-ups of reference data by code, cached for the length of one unit of work."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.store.models import Agency, Area, Category, City, QrTeam


class References:
    def __init__(self, session: Session):
        self.session = session

    @cached_property
    def agencies(self) -> dict[str, Agency]:
        return {a.code: a for a in self.session.scalars(select(Agency))}

    @cached_property
    def agencies_by_id(self) -> dict[int, Agency]:
        return {a.id: a for a in self.agencies.values()}

    @cached_property
    def command_center(self) -> Agency:
        for agency in self.agencies.values():
            if agency.is_command_center:
                return agency
        raise LookupError("no command-center agency in the reference data (run `tanggap seed`)")

    @cached_property
    def categories(self) -> dict[str, Category]:
        return {c.code: c for c in self.session.scalars(select(Category))}

    @cached_property
    def categories_by_id(self) -> dict[int, Category]:
        return {c.id: c for c in self.categories.values()}

    @cached_property
    def areas(self) -> dict[str, Area]:
        return {a.code: a for a in self.session.scalars(select(Area))}

    @cached_property
    def areas_by_id(self) -> dict[int, Area]:
        return {a.id: a for a in self.areas.values()}

    @cached_property
    def teams(self) -> dict[str, QrTeam]:
        return {t.code: t for t in self.session.scalars(select(QrTeam))}

    @cached_property
    def teams_by_id(self) -> dict[int, QrTeam]:
        return {t.id: t for t in self.teams.values()}

    @cached_property
    def city(self) -> City:
        city = self.session.scalars(select(City)).first()
        if city is None:
            raise LookupError("no city in the reference data (run `tanggap seed`)")
        return city

    def agency_code(self, agency_id: int | None) -> str | None:
        return self.agencies_by_id[agency_id].code if agency_id is not None else None

    def team_code(self, team_id: int | None) -> str | None:
        return self.teams_by_id[team_id].code if team_id is not None else None
