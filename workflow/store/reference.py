"""Look-ups of reference data by code, cached for the length of one unit of work; and the
city's time zone (seed data), which decides what a local day and a local time are."""

from __future__ import annotations

from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from workflow.store.models import Agency, Area, Category, City, QrTeam


def city_zone(session: Session) -> ZoneInfo:
    """The city's time zone (the seed's ``city.timezone``)."""
    name = session.scalar(select(City.timezone).order_by(City.id).limit(1))
    if name is None:
        raise LookupError("no city in the reference data (run `tanggap seed`)")
    return ZoneInfo(name)  # ZoneInfo caches its instances by name


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
        # not the polygons (workflow.areas builds its shapes once; they may be megabytes)
        return {a.code: a for a in self.session.scalars(select(Area).options(defer(Area.geometry)))}

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

    @cached_property
    def zone(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.city.timezone)

    def agency_code(self, agency_id: int | None) -> str | None:
        return self.agencies_by_id[agency_id].code if agency_id is not None else None

    def team_code(self, team_id: int | None) -> str | None:
        return self.teams_by_id[team_id].code if team_id is not None else None
