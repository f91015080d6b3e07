"""Kecamatan and kelurahan as polygons: the area a point lies in, and replacing the geometry
with a city's official boundaries.

The geometry is GeoJSON (longitude first) on each ``areas`` row. ``AreaMap`` holds it as shapely
shapes, prepared for repeated point tests; it is built once per content (the city's
``geometry_hash``, which the seed and the importer keep) and shared by every request and worker
thread of the process.

The rules, in one place:

* The point decides the kecamatan. A point within ``BORDER_TOLERANCE_M`` of the kecamatan the
  reporter chose counts as in it (GPS is not more exact than that, and neither are most
  boundary files).
* A point in no kecamatan is outside the city (the message names the nearest kecamatan), unless
  it is within the tolerance of one (the coast, the city's edge): then it is in that one.
* The kelurahan comes from the point when the reporter did not choose one (the kelurahan whose
  polygon holds the point, or failing that the nearest one of the kecamatan within the tolerance).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import shapely
from shapely.geometry import Point, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import geo
from workflow.addresses import fold
from workflow.messages import msg
from workflow.store.models import Area, City
from workflow.text import bad_text

BORDER_TOLERANCE_M = 50
NAME_MAX = 200  # characters of an area's name in a boundary file (the areas' own are at most 120)
MIN_AREA = 1e-10  # square degrees, about a square metre: less is a line drawn as a polygon
LEVELS = ("kecamatan", "kelurahan")


@dataclass(frozen=True)
class Shape:
    area_id: int
    code: str
    name: str
    parent_id: int | None
    geometry: BaseGeometry


@dataclass(frozen=True)
class Located:
    kecamatan_id: int
    kelurahan_id: int | None


@dataclass(frozen=True)
class Outside:
    """The point lies in no kecamatan: the nearest one, and how far it is."""

    nearest: str
    distance_km: float


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geo.distance_km(a, b) * 1000


class AreaMap:
    """The city's areas as prepared shapes, read only once built. GEOS prepared geometries are
    not safe to use from two threads at once, so every query holds the map's lock (a point
    test takes microseconds)."""

    def __init__(self, shapes: Iterable[Shape]):
        self._lock = threading.Lock()
        self._labels: dict[int, tuple[float, float]] = {}
        self.kecamatan: list[Shape] = []
        self.kelurahan: dict[int, list[Shape]] = {}
        self.by_id: dict[int, Shape] = {}
        for s in sorted(shapes, key=lambda s: s.code):
            shapely.prepare(s.geometry)
            self.by_id[s.area_id] = s
            if s.parent_id is None:
                self.kecamatan.append(s)
            else:
                self.kelurahan.setdefault(s.parent_id, []).append(s)
        self.city = shapely.union_all([s.geometry for s in self.kecamatan]) if self.kecamatan else None
        if self.city is not None:
            shapely.prepare(self.city)

    @property
    def has_geometry(self) -> bool:
        return bool(self.kecamatan)

    def locate(self, lat: float, lon: float) -> Located | Outside:
        """The kecamatan (the first by code on a shared border) and kelurahan of a point. Only
        for a map that has geometry (``has_geometry``)."""
        point = Point(lon, lat)
        with self._lock:
            kecamatan = next((s for s in self.kecamatan if s.geometry.covers(point)), None)
            if kecamatan is None:
                nearest = min(self.kecamatan, key=lambda s: s.geometry.distance(point))
                metres = self._distance_m(nearest, lat, lon)
                if metres > BORDER_TOLERANCE_M:
                    return Outside(nearest.name, metres / 1000)
                kecamatan = nearest
            return Located(kecamatan.area_id, self._kelurahan(kecamatan.area_id, point))

    def kelurahan_of(self, kecamatan_id: int, lat: float, lon: float) -> int | None:
        """The kelurahan of ``kecamatan_id`` the point is in or within the tolerance of."""
        with self._lock:
            return self._kelurahan(kecamatan_id, Point(lon, lat))

    def _kelurahan(self, kecamatan_id: int, point: Point) -> int | None:
        children = self.kelurahan.get(kecamatan_id, [])
        inside = next((s for s in children if s.geometry.covers(point)), None)
        if inside is not None:
            return inside.area_id
        if not children:
            return None
        nearest = min(children, key=lambda s: s.geometry.distance(point))
        close = self._distance_m(nearest, point.y, point.x) <= BORDER_TOLERANCE_M
        return nearest.area_id if close else None

    def distance_m(self, area_id: int, lat: float, lon: float) -> float:
        """Metres from the point to the area (0 inside; inf for an area without geometry)."""
        s = self.by_id.get(area_id)
        if s is None:
            return math.inf
        with self._lock:
            return self._distance_m(s, lat, lon)

    @staticmethod
    def _distance_m(s: Shape, lat: float, lon: float) -> float:
        point = Point(lon, lat)
        if s.geometry.covers(point):
            return 0.0
        edge = nearest_points(s.geometry, point)[0]
        return _metres((lat, lon), (edge.y, edge.x))

    def label_point(self, area_id: int) -> tuple[float, float] | None:
        """A point surely inside the area (lat, lon), for reports that name an area only."""
        s = self.by_id.get(area_id)
        if s is None:
            return None
        with self._lock:
            if area_id not in self._labels:
                p = s.geometry.representative_point()
                self._labels[area_id] = round(p.y, 6), round(p.x, 6)
            return self._labels[area_id]

    def point_within(self, area_id: int, rng) -> tuple[float, float]:
        """A random point inside the area (``rng`` a random.Random), for demo data and benchmarks."""
        g = self.by_id[area_id].geometry
        minx, miny, maxx, maxy = g.bounds
        with self._lock:
            for _ in range(1000):
                x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
                if g.contains(Point(x, y)):
                    return round(y, 6), round(x, 6)
        return self.label_point(area_id)



_lock = threading.Lock()
_maps: dict[str, AreaMap] = {}
_KEEP = 8  # distinct contents (e.g. test databases) held at once


def area_map(session: Session) -> AreaMap:
    """The areas of the session's database, built once per geometry content."""
    key = session.scalar(select(City.geometry_hash).order_by(City.id).limit(1)) or ""
    found = _maps.get(key)
    if found is not None:
        return found
    rows = session.execute(select(Area.id, Area.code, Area.name, Area.parent_id, Area.geometry)
                           .where(Area.geometry.is_not(None))).all()
    built = AreaMap(Shape(r.id, r.code, r.name, r.parent_id, shape(r.geometry)) for r in rows)
    with _lock:
        if len(_maps) >= _KEEP:
            _maps.pop(next(iter(_maps)))
        _maps[key] = built
    return built


def geometry_hash(session: Session) -> str:
    """SHA-256 of everything ``area_map`` builds its shapes from (each area's id, code, name,
    kecamatan and geometry): the key of the shapes in use, so that any change to one of them
    (an import, a seed that renames an area) is seen by every worker at its next request."""
    digest = hashlib.sha256()
    for row in session.execute(select(Area.id, Area.code, Area.name, Area.parent_id, Area.geometry)
                               .order_by(Area.id)):
        digest.update(json.dumps(list(row), sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def refresh_geometry_hash(session: Session) -> None:
    session.flush()
    for city in session.scalars(select(City)):
        city.geometry_hash = geometry_hash(session)


# -- importing official boundaries ---------------------------------------------------------------


class AreaImportError(ValueError):
    """The file cannot be used; nothing was changed. ``message`` is what to tell (translatable)."""

    @property
    def message(self):
        return self.args[0]


@dataclass
class ImportResult:
    level: str
    matched: list[str] = field(default_factory=list)  # area names that got geometry
    unknown: list[str] = field(default_factory=list)  # names in the file that match no area
    missing: list[str] = field(default_factory=list)  # areas of the level the file has no shape for (kept)
    repaired: list[str] = field(default_factory=list)  # shapes that were invalid and were made valid


_PREFIXES = ("kecamatan ", "kelurahan ", "kec ", "kel ", "desa ")


def name_key(name: str) -> str:
    """Names as boundary files spell them match the seed's: "KEL. PA'BAENG BAENG" and
    "Pa'baeng-baeng" are one name."""
    folded = fold(name)
    for prefix in _PREFIXES:
        if folded.startswith(prefix):
            folded = folded[len(prefix):]
            break
    return folded.replace(" ", "")


def _rounded(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def read_features(data: object, name_property: str) -> list[tuple[str, BaseGeometry]]:
    """(name, shape) of every feature of a GeoJSON FeatureCollection, checked; an
    AreaImportError says what is wrong with the file, with the feature's number."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise AreaImportError(msg('not a GeoJSON FeatureCollection (a JSON object with "type": '
                                  '"FeatureCollection" and a list of "features")'))
    if not data["features"]:
        raise AreaImportError(msg("the file has no features"))
    out = []
    for number, feature in enumerate(data["features"], start=1):
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            raise AreaImportError(msg("feature {number}: not a GeoJSON feature with properties", number=number))
        name = feature["properties"].get(name_property)
        if not isinstance(name, str) or not name.strip():
            found = ", ".join(sorted(str(k)[:60] for k in feature["properties"])[:20]) or "-"
            raise AreaImportError(msg("feature {number}: no property {property} with the area's name "
                                      "(it has {found})", number=number, property=repr(name_property), found=found))
        if bad_text(name) or len(name.strip()) > NAME_MAX:
            raise AreaImportError(msg("feature {number}: the area's name is longer than {limit} characters "
                                      "or holds characters that are not allowed", number=number, limit=NAME_MAX))
        name = name.strip()
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise AreaImportError(msg("feature {number} ({name}): the geometry must be a Polygon or MultiPolygon",
                                      number=number, name=name))
        try:
            s = shape({"type": geometry["type"], "coordinates": geometry.get("coordinates")})
        except (TypeError, ValueError, IndexError, AttributeError, RecursionError,
                shapely.errors.ShapelyError) as exc:
            raise AreaImportError(msg("feature {number} ({name}): broken coordinates ({error})",
                                      number=number, name=name, error=str(exc)[:200])) from None
        if s.is_empty or (s.is_valid and s.area < MIN_AREA):
            raise AreaImportError(msg("feature {number} ({name}): the polygon has no area", number=number, name=name))
        minx, miny, maxx, maxy = s.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90) or not all(
                map(math.isfinite, s.bounds)):
            raise AreaImportError(msg("feature {number} ({name}): coordinates must be longitude, latitude "
                                      "in degrees (WGS84)", number=number, name=name))
        out.append((name, s))
    return out


def import_areas(session: Session, features: list[tuple[str, BaseGeometry]], level: str, *,
                 keep_existing: bool = False) -> ImportResult:
    """Give the areas of ``level`` the shapes of ``features`` (matched by name; a kelurahan name
    the city has twice is told apart by the kecamatan its shape lies in). Areas the file has no
    shape for keep theirs; with ``keep_existing`` (the seed), so do areas that have one."""
    if level not in LEVELS:
        raise AreaImportError(f"level must be one of {', '.join(LEVELS)}")
    areas = [a for a in session.scalars(select(Area)) if (a.parent_id is None) == (level == "kecamatan")]
    by_key: dict[str, list[Area]] = {}
    for a in areas:
        by_key.setdefault(name_key(a.name), []).append(a)
    kecamatan_shapes = {a.id: shape(a.geometry) for a in session.scalars(select(Area).where(
        Area.parent_id.is_(None), Area.geometry.is_not(None)))} if level == "kelurahan" else {}
    result = ImportResult(level)
    chosen: dict[int, tuple[Area, BaseGeometry]] = {}
    for name, s in features:
        candidates = by_key.get(name_key(name), [])
        if len(candidates) > 1:
            inside = s.representative_point() if s.is_valid else s.centroid
            candidates = [a for a in candidates if a.parent_id in kecamatan_shapes
                          and kecamatan_shapes[a.parent_id].covers(inside)] or candidates[:0]
        if len(candidates) != 1:
            result.unknown.append(name)
            continue
        if not s.is_valid:
            s = shapely.make_valid(s)
            s = shapely.union_all([g for g in getattr(s, "geoms", [s]) if g.geom_type in ("Polygon", "MultiPolygon")])
            if s.is_empty or s.area < MIN_AREA:
                raise AreaImportError(msg("{name}: the polygon crosses itself and has no area once repaired",
                                          name=name))
            result.repaired.append(name)
        # to a grid of 1e-6 degrees (about 10 cm), kept valid: stored coordinates need no more
        s = shapely.set_precision(s, 1e-6)
        area = candidates[0]
        if area.id in chosen:
            s = shapely.union(chosen[area.id][1], s)  # a kelurahan drawn as several features
        chosen[area.id] = (area, s)
    for area, s in chosen.values():
        if keep_existing and area.geometry is not None:
            continue
        geometry = mapping(s)
        area.geometry = {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])}  # lists, floats
        result.matched.append(area.name)
    result.missing = sorted(a.name for a in areas if a.id not in chosen)
    result.matched.sort()
    refresh_geometry_hash(session)
    return result


def replace_level(session: Session, features: list[tuple[str, BaseGeometry]], level: str,
                  name_property: str) -> ImportResult:
    """An import of official boundaries (``tanggap areas import``, the administration's
    boundary page): the file's shapes replace those of the areas of ``level`` they match; a
    file none of whose names match is refused (an AreaImportError: the caller rolls back)."""
    result = import_areas(session, features, level)
    if not result.matched:
        raise AreaImportError(msg("no feature's {property} matches a {level} of the city",
                                  property=repr(name_property), level=level))
    return result


def misplaced_kelurahan(session: Session) -> list[str]:
    """Kelurahan whose polygon lies mostly outside their kecamatan's (after importing one level
    only, the other may no longer fit): "Name (Kecamatan)"."""
    rows = session.execute(select(Area.id, Area.name, Area.parent_id, Area.geometry)
                           .where(Area.geometry.is_not(None))).all()
    kecamatan = {r.id: (r.name, shape(r.geometry)) for r in rows if r.parent_id is None}
    out = []
    for r in rows:
        if r.parent_id is None or r.parent_id not in kecamatan:
            continue
        own = shape(r.geometry)
        name, parent = kecamatan[r.parent_id]
        if own.area and own.intersection(parent).area / own.area < 0.5:
            out.append(f"{r.name} ({name})")
    return sorted(out)
