"""Look-ups of reference data by code; and the city's time zone (seed data), which decides what a
local day and a local time are.

:class:`References` reads each table once per session. A unit of work's ``References`` takes
agencies, categories, QR teams and the city from :class:`ReferenceCache` instead, which one
process (a gunicorn worker, the sweeper) keeps between units of work: every unit of work reads
the fingerprint of those tables (:func:`fingerprint`, computed by the database in the unit of
work's first statement, ``workflow.store.generations``) and the cache is read again only when it
moved. A change made by any worker, the CLI, the seed or plain SQL changes the content and so
the fingerprint: the next unit of work of every worker sees it; none serves a stale copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.orm import Session

from workflow.store.models import Agency, Area, Category, City, QrTeam

CACHED = (Agency, Category, QrTeam, City)  # small tables read on every command; areas are not (polygons)


def city_zone(session: Session) -> ZoneInfo:
    """The city's time zone (the seed's ``city.timezone``)."""
    name = session.scalar(select(City.timezone).order_by(City.id).limit(1))
    if name is None:
        raise LookupError("no city in the reference data (run `tanggap seed`)")
    return ZoneInfo(name)  # ZoneInfo caches its instances by name


_FINGERPRINTS: dict[str, Any] = {}  # by dialect: built once (compiling it costs more than running it)


def fingerprint(session: Session):
    """A scalar expression: the MD5 of every column of every row of the cached tables (``md5``
    is PostgreSQL's, and SQLite's through ``workflow.store.db``). A few dozen rows: cheap enough
    to compute in every unit of work, exact enough that no change goes unseen."""
    dialect = session.get_bind().dialect.name
    if dialect not in _FINGERPRINTS:
        bar, missing, newline = literal_column("'|'"), literal_column("'~'"), literal_column("'\n'")
        parts = []
        for model in CACHED:
            table = model.__table__
            row = None
            for column in table.columns:
                value = func.coalesce(cast(column, Text), missing)
                row = value if row is None else row.op("||")(bar).op("||")(value)
            rows = select(row.label("r")).order_by(table.c.id).subquery()
            joined = (func.string_agg(rows.c.r, newline) if dialect == "postgresql"
                      else func.group_concat(rows.c.r, newline))
            parts.append(select(func.coalesce(joined, literal_column("''"))).scalar_subquery())
        whole = parts[0]
        for part in parts[1:]:
            whole = whole.op("||")(literal_column("'#'")).op("||")(part)
        _FINGERPRINTS[dialect] = func.md5(whole)
    return _FINGERPRINTS[dialect]


@dataclass(frozen=True)
class AreaRow:
    """A kecamatan or kelurahan as look-ups and forms need it: plain values, not an ORM object
    (a city has a few hundred, read on many requests) and not its polygon (``workflow.areas``
    builds the shapes once; they may be megabytes)."""

    id: int
    code: str
    name: str
    parent_id: int | None
    lat: float | None  # the seed's approximate centre
    lon: float | None

    is_kecamatan = Area.is_kecamatan  # the model's rule


def area_rows(session: Session) -> list[AreaRow]:
    """Every area, by name."""
    return [AreaRow(*row) for row in session.execute(
        select(Area.id, Area.code, Area.name, Area.parent_id, Area.lat, Area.lon).order_by(Area.name))]


@dataclass(frozen=True)
class ReferenceRows:
    """The cached tables as read at one fingerprint: rows detached from the session that read
    them, shared read-only by every thread of the process (never changed, never flushed)."""

    agencies: dict[str, Agency]
    categories: dict[str, Category]
    teams: dict[str, QrTeam]
    city: City | None

    @classmethod
    def read(cls, session: Session) -> ReferenceRows:
        agencies = list(session.scalars(select(Agency)))
        categories = list(session.scalars(select(Category)))
        teams = list(session.scalars(select(QrTeam)))
        city = session.scalars(select(City).order_by(City.id)).first()
        for row in [*agencies, *categories, *teams, *([city] if city else [])]:
            session.expunge(row)
        return cls(agencies={a.code: a for a in agencies}, categories={c.code: c for c in categories},
                   teams={t.code: t for t in teams}, city=city)


class ReferenceCache:
    """The cached tables of one process, keyed by their fingerprint (see the module docstring).
    Shared by threads: a new reading replaces the held one in one assignment."""

    def __init__(self) -> None:
        self._held: tuple[str, ReferenceRows] | None = None
        self._lock = threading.Lock()

    def rows(self, session: Session, key: str | None) -> ReferenceRows:
        """The rows at fingerprint ``key`` (this transaction's), read in ``session`` when the held
        ones are of another."""
        held = self._held
        if held is not None and key is not None and held[0] == key:
            return held[1]
        rows = ReferenceRows.read(session)
        if key is not None:
            with self._lock:
                self._held = (key, rows)
        return rows


class References:
    """Reference data by code and id. ``cached``: the rows of :class:`ReferenceCache` for the
    tables it holds (a unit of work's), instead of reading them in ``session``."""

    def __init__(self, session: Session, cached: ReferenceRows | None = None):
        self.session = session
        self._cached = cached

    @cached_property
    def agencies(self) -> dict[str, Agency]:
        if self._cached is not None:
            return self._cached.agencies
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
        if self._cached is not None:
            return self._cached.categories
        return {c.code: c for c in self.session.scalars(select(Category))}

    @cached_property
    def categories_by_id(self) -> dict[int, Category]:
        return {c.id: c for c in self.categories.values()}

    @cached_property
    def areas(self) -> dict[str, AreaRow]:
        return {a.code: a for a in area_rows(self.session)}

    @cached_property
    def areas_by_id(self) -> dict[int, AreaRow]:
        return {a.id: a for a in self.areas.values()}

    @cached_property
    def teams(self) -> dict[str, QrTeam]:
        if self._cached is not None:
            return self._cached.teams
        return {t.code: t for t in self.session.scalars(select(QrTeam))}

    @cached_property
    def teams_by_id(self) -> dict[int, QrTeam]:
        return {t.id: t for t in self.teams.values()}

    @cached_property
    def city(self) -> City:
        city = self._cached.city if self._cached is not None else self.session.scalars(select(City)).first()
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
