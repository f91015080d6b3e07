"""Areas as polygons: the point decides the kecamatan (and, when none is chosen, the kelurahan),
points outside the city are refused naming the nearest kecamatan, and ``tanggap areas import``
replaces the polygons or changes nothing."""

from __future__ import annotations

import json

import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, shape
from sqlalchemy import select

from tanggap.cli import main
from workflow import areas, commands
from workflow.errors import ValidationError
from workflow.store.models import Area, Case, City, Report, SecurityEvent


@pytest.fixture
def shapes(world):
    with world.services.reading() as session:
        return areas.area_map(session)


def _ids(world) -> dict[str, int]:
    with world.services.reading() as session:
        return {a.code: a.id for a in session.scalars(select(Area))}


def _file(world, *, lat, lon, **fields):
    values = dict(category="sampah", description="Sampah menumpuk di pinggir jalan.", lat=lat, lon=lon)
    values.update(fields)
    with world.services.uow() as uow:
        submitted = commands.submit_report(uow, commands.ReportInput(**values))
        uow.commit()
    with world.services.reading() as session:
        case = session.get(Case, submitted.case_id)
        report = session.get(Report, case.report_id)
        codes = {a.id: a.code for a in session.scalars(select(Area))}
        return codes[case.area_id], codes.get(report.kelurahan_id), (report.lat, report.lon)


def _refused(world, **fields) -> dict:
    with pytest.raises(ValidationError) as refused:
        _file(world, **fields)
    return refused.value.errors


def _border(shapes, a: str, b: str) -> tuple[float, float, float, float]:
    """A point on the border of kecamatan ``a`` and ``b`` (lon, lat), and the unit vector from
    it into ``a``."""
    ga = next(s.geometry for s in shapes.kecamatan if s.code == a)
    gb = next(s.geometry for s in shapes.kecamatan if s.code == b)
    shared = ga.boundary.intersection(gb.boundary)
    assert shared.length > 0, f"{a} and {b} are not neighbours"
    mid = shared.interpolate(0.5, normalized=True)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (0.7, 0.7), (-0.7, 0.7), (0.7, -0.7), (-0.7, -0.7)):
        probe = Point(mid.x + dx * 1e-4, mid.y + dy * 1e-4)
        if ga.contains(probe) and not gb.contains(probe):
            return mid.x, mid.y, dx, dy
    raise AssertionError("no side of the border is inside " + a)


def test_every_kecamatan_centre_lies_in_its_own_polygon(world, shapes):
    with world.services.reading() as session:
        kecamatan = session.scalars(select(Area).where(Area.parent_id.is_(None))).all()
        for area in kecamatan:
            found = shapes.locate(area.lat, area.lon)
            assert isinstance(found, areas.Located) and found.kecamatan_id == area.id, area.name
    assert len(shapes.kecamatan) == 15 and sum(len(k) for k in shapes.kelurahan.values()) == 153


def test_the_point_decides_the_kecamatan_on_each_side_of_a_border(world, shapes):
    ids = _ids(world)
    lon, lat, dx, dy = _border(shapes, "mariso", "mamajang")
    step = 0.00002  # about 2 m
    inside = shapes.locate(lat + dy * step, lon + dx * step)
    outside = shapes.locate(lat - dy * step, lon - dx * step)
    assert inside.kecamatan_id == ids["mariso"] and outside.kecamatan_id == ids["mamajang"]
    on_it = shapes.locate(lat, lon)  # on the border itself: one of the two, the same every time
    assert on_it.kecamatan_id in (ids["mariso"], ids["mamajang"]) and shapes.locate(lat, lon) == on_it
    assert _file(world, lat=lat, lon=lon, area="mariso")[0] == "mariso"  # and either choice stands
    assert _file(world, lat=lat, lon=lon, area="mamajang")[0] == "mamajang"
    # filed without a kecamatan, each report lands on its side of the border
    assert _file(world, lat=lat + dy * step, lon=lon + dx * step)[0] == "mariso"
    assert _file(world, lat=lat - dy * step, lon=lon - dx * step)[0] == "mamajang"


def test_a_point_that_contradicts_the_chosen_kecamatan_is_refused(world, shapes):
    lon, lat, dx, dy = _border(shapes, "mariso", "mamajang")
    far = 0.002  # about 220 m into Mariso
    errors = _refused(world, lat=lat + dy * far, lon=lon + dx * far, area="mamajang")
    assert "area" in errors and "Mariso" in str(errors["area"]) and "Mamajang" in str(errors["area"])
    # within the tolerance (GPS and boundary files are not more exact) the choice stands
    near = 0.0002  # about 22 m
    area, kelurahan, _point = _file(world, lat=lat + dy * near, lon=lon + dx * near, area="mamajang")
    assert area == "mamajang" and kelurahan.startswith("mamajang/")  # its kelurahan nearest the point


@pytest.mark.parametrize(("lat", "lon", "nearest"), [
    (-5.10, 119.00, "Kepulauan Sangkarrang"),  # out at sea, past the islands
    (-5.19, 119.60, "Manggala"),  # inland, in Gowa
    (-6.2088, 106.8456, "Kepulauan Sangkarrang"),  # Jakarta
])
def test_a_point_outside_the_city_is_refused_naming_the_nearest_kecamatan(world, lat, lon, nearest):
    errors = _refused(world, lat=lat, lon=lon)
    assert set(errors) == {"lat"}
    assert "outside Kota Makassar" in str(errors["lat"]) and f"nearest kecamatan is {nearest}" in str(errors["lat"])
    assert " km away" in str(errors["lat"])


def test_the_kelurahan_comes_from_the_point_unless_one_is_chosen(world, shapes):
    ids = _ids(world)
    lette = next(s for s in shapes.kelurahan[ids["mariso"]] if s.code == "mariso/lette")
    p = lette.geometry.representative_point()
    assert _file(world, lat=p.y, lon=p.x)[:2] == ("mariso", "mariso/lette")
    # a kelurahan the reporter chose is kept (kelurahan borders are rarely known to the metre)
    assert _file(world, lat=p.y, lon=p.x, kelurahan="mariso/mario")[:2] == ("mariso", "mariso/mario")


def test_without_a_point_the_report_gets_one_inside_the_area_it_names(world, shapes):
    ids = _ids(world)
    area, kelurahan, (lat, lon) = _file(world, lat=None, lon=None, area="tallo", kelurahan="tallo/buloa")
    assert (area, kelurahan) == ("tallo", "tallo/buloa")
    assert shapes.by_id[ids["tallo/buloa"]].geometry.contains(Point(lon, lat))
    area, kelurahan, (lat, lon) = _file(world, lat="", lon="", address="Jl. Perintis, Kecamatan Tamalanrea")
    assert (area, kelurahan) == ("tamalanrea", None)
    assert shapes.by_id[ids["tamalanrea"]].geometry.contains(Point(lon, lat))
    errors = _refused(world, lat=None, lon=None)
    assert "area" in errors


# -- the importer ------------------------------------------------------------------------------


def _square(lon: float, lat: float, half: float = 0.01) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - half, lat - half], [lon + half, lat - half],
                                                [lon + half, lat + half], [lon - half, lat + half],
                                                [lon - half, lat - half]]]}


def _same(a: dict, b: dict) -> bool:
    """The same polygon, whichever vertex its rings start at, to the stored precision."""
    return shape(a).normalize().equals_exact(shape(b).normalize(), 1e-6)


def _collection(*features) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geometry} for props, geometry in features]}


@pytest.fixture
def restored(world):
    """The reference data as seeded, back after the test (PostgreSQL keeps it between tests)."""
    with world.services.reading() as session:
        saved = {a.id: a.geometry for a in session.scalars(select(Area))}
        digest = session.scalar(select(City.geometry_hash))
    yield
    with world.services.uow() as uow:
        for area in uow.session.scalars(select(Area)):
            area.geometry = saved[area.id]
        uow.session.scalars(select(City)).one().geometry_hash = digest
        uow.commit()


def _state(world) -> tuple:
    with world.services.reading() as session:
        return (session.scalar(select(City.geometry_hash)),
                {a.code: a.geometry for a in session.scalars(select(Area))})


def test_import_replaces_matched_polygons_and_reports_the_rest(world, restored):
    before_hash, before = _state(world)
    data = _collection(
        ({"NAMOBJ": "KECAMATAN MARISO"}, _square(119.62, -5.10)),  # BPS style: upper case, with a prefix
        ({"NAMOBJ": "Ujungpandang"}, _square(119.41, -5.13, 0.005)),  # spaced differently: the same name
        ({"NAMOBJ": "Somba Opu"}, _square(119.45, -5.20)),  # Gowa, a neighbour in the export
    )
    with world.services.uow() as uow:
        result = areas.import_areas(uow.session, areas.read_features(data, "NAMOBJ"), "kecamatan")
        uow.commit()
    assert result.matched == ["Mariso", "Ujung Pandang"] and result.unknown == ["Somba Opu"]
    assert len(result.missing) == 13 and "Tallo" in result.missing
    after_hash, after = _state(world)
    assert after_hash != before_hash
    assert _same(after["mariso"], _square(119.62, -5.10))
    assert after["tallo"] == before["tallo"] and after["mariso/lette"] == before["mariso/lette"]
    with world.services.reading() as session:  # the shapes in use are the new ones at once
        found = areas.area_map(session).locate(-5.10, 119.62)  # east of the city before
        assert isinstance(found, areas.Located) and found.kecamatan_id == _ids(world)["mariso"]


def test_a_kelurahan_import_matches_names_as_boundary_files_spell_them(world, restored):
    ids = _ids(world)
    with world.services.reading() as session:
        lette = shape(session.get(Area, ids["mariso/lette"]).geometry)
    inner = lette.buffer(-0.0005)
    data = _collection(({"name": "Kel. LETTE"}, shapely.geometry.mapping(inner)),
                       ({"name": "Pa'baeng Baeng"}, shapely.geometry.mapping(lette)))
    with world.services.uow() as uow:
        result = areas.import_areas(uow.session, areas.read_features(data, "name"), "kelurahan")
        uow.commit()
    assert result.matched == ["Lette", "Pa'baeng-baeng"]
    _hash, after = _state(world)
    assert _same(after["mariso/lette"], shapely.geometry.mapping(inner))


@pytest.mark.parametrize(("data", "words"), [
    ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "no features"),
    (_collection(({"nama": "Mariso"}, _square(119.40, -5.16))), "no property 'NAMOBJ'"),
    (_collection(({"NAMOBJ": "Mariso"}, {"type": "LineString", "coordinates": [[119.4, -5.1], [119.5, -5.2]]})),
     "must be a Polygon or MultiPolygon"),
    (_collection(({"NAMOBJ": "Mariso"}, {"type": "Polygon", "coordinates": "lots"})), "broken coordinates"),
    (_collection(({"NAMOBJ": "Mariso"}, _square(-5.16, 119.40))), "longitude, latitude"),  # swapped
    (_collection(({"NAMOBJ": "Mariso"}, _square(119.40, -5.16)), ({"NAMOBJ": "Tallo"}, None)),
     "feature 2 (Tallo)"),
])
def test_a_broken_file_is_refused_and_changes_nothing(world, restored, data, words):
    before = _state(world)
    with pytest.raises(areas.AreaImportError) as refused:
        with world.services.uow() as uow:
            areas.import_areas(uow.session, areas.read_features(data, "NAMOBJ"), "kecamatan")
            uow.commit()
    assert words in str(refused.value)
    assert _state(world) == before


def test_a_self_crossing_polygon_is_made_valid_and_said(world, restored):
    bowtie = {"type": "Polygon", "coordinates": [[[119.39, -5.17], [119.41, -5.15], [119.41, -5.17],
                                                   [119.39, -5.15], [119.39, -5.17]]]}
    with world.services.uow() as uow:
        result = areas.import_areas(uow.session, areas.read_features(
            _collection(({"name": "Mariso"}, bowtie)), "name"), "kecamatan")
        uow.commit()
    assert result.repaired == ["Mariso"]
    _hash, after = _state(world)
    assert shape(after["mariso"]).is_valid and shape(after["mariso"]).area > 0


def test_the_command_imports_a_file_and_refuses_a_broken_one(tmp_path):
    env = {"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": ""}

    def run(*args):
        return CliRunner().invoke(main, list(args), env=env)

    assert run("db", "upgrade").exit_code == 0 and run("seed").exit_code == 0
    good = tmp_path / "kecamatan.geojson"
    good.write_text(json.dumps(_collection(({"NAMOBJ": "Mariso"}, _square(119.40, -5.16)),
                                           ({"NAMOBJ": "Bajeng"}, _square(119.45, -5.25)))))
    result = run("areas", "import", str(good), "--level", "kecamatan", "--name-property", "NAMOBJ")
    assert result.exit_code == 0, result.output
    assert "kecamatan: 1 polygons replaced" in result.output
    assert "names in the file that match no kecamatan: Bajeng" in result.output
    assert "Tallo" in result.output  # kept its polygon, and said so
    assert "kelurahan mostly outside their kecamatan (import the other level too): " in result.output
    assert "Lette (Mariso)" in result.output and "Buloa (Tallo)" not in result.output
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    result = run("areas", "import", str(broken), "--level", "kecamatan", "--name-property", "NAMOBJ")
    assert result.exit_code == 1 and "is not JSON" in result.output
    nothing = tmp_path / "elsewhere.geojson"
    nothing.write_text(json.dumps(_collection(({"NAMOBJ": "Bajeng"}, _square(119.45, -5.25)))))
    result = run("areas", "import", str(nothing), "--level", "kecamatan", "--name-property", "NAMOBJ")
    assert result.exit_code == 1 and "matches a kecamatan of the city; nothing was changed" in result.output
    # the seed run again keeps the imported polygon
    assert run("seed").exit_code == 0
    from sqlalchemy import create_engine
    engine = create_engine(f"sqlite:///{tmp_path / 'instance' / 'tanggap.sqlite3'}")
    with engine.connect() as conn:
        geometry = conn.execute(select(Area.geometry).where(Area.code == "mariso")).scalar_one()
        logged = conn.execute(select(SecurityEvent.actor_name, SecurityEvent.subject)).all()
    engine.dispose()
    assert logged == [("system", "area_boundaries:kecamatan")]  # the import, in the security log
    assert _same(geometry, _square(119.40, -5.16))


def _off_the_edge(shapes, metres: float) -> tuple[float, float]:
    """A point ``metres`` east of the city's eastern edge (lat, lon), on the latitude of Manggala."""
    lat = -5.17
    crossing = shapes.city.boundary.intersection(shapely.geometry.LineString([(119.45, lat), (119.70, lat)]))
    east = max(p.x for p in getattr(crossing, "geoms", [crossing]))
    return lat, east + metres / 110_900


def test_a_point_just_outside_the_edge_counts_as_in_the_city(world, shapes):
    lat, lon = _off_the_edge(shapes, 20)  # the coast, the city's edge: GPS is not that exact
    assert _file(world, lat=lat, lon=lon)[0] == "manggala"
    lat, lon = _off_the_edge(shapes, 300)
    errors = _refused(world, lat=lat, lon=lon)
    assert "nearest kecamatan is Manggala, 0.3 km away" in str(errors["lat"])


def test_a_city_without_polygons_asks_for_the_kecamatan(world, web, restored):
    with world.services.uow() as uow:
        for area in uow.session.scalars(select(Area)):
            area.geometry = None
        areas.refresh_geometry_hash(uow.session)
        uow.commit()
    answer = web.get("/lapor/titik?lat=-5.156&lon=119.405")
    assert answer.status_code == 200 and answer.get_json()["area"] is None
    assert _file(world, lat=-5.156, lon=119.405)[0] == "mariso"  # the nearest centre, as before polygons


def test_a_polygon_without_area_is_refused_even_once_repaired(world, restored):
    before = _state(world)
    flat = {"type": "Polygon", "coordinates": [[[119.39, -5.17], [119.40, -5.16], [119.41, -5.15],
                                                 [119.39, -5.17]]]}  # its corners on one line
    with pytest.raises(areas.AreaImportError, match="no area"):
        with world.services.uow() as uow:
            areas.import_areas(uow.session, areas.read_features(_collection(({"name": "Mariso"}, flat)), "name"),
                               "kecamatan")
    spike = {"type": "Polygon", "coordinates": [[[119.39, -5.17], [119.41, -5.15], [119.40, -5.16],
                                                  [119.39, -5.17]]]}  # folds back on itself
    with pytest.raises(areas.AreaImportError, match="no area"):
        with world.services.uow() as uow:
            areas.import_areas(uow.session, areas.read_features(_collection(({"name": "Mariso"}, spike)), "name"),
                               "kecamatan")
    assert _state(world) == before
