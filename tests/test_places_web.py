"""The place features on the web: the point lookup of the map picker, nearby reports to follow
instead of filing a copy, triage's duplicate candidates merged in one click, the public map and
its GeoJSON."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import actions
from tests.helpers import jpeg_bytes, mail_settings
from tests.webclient import WebClient
from workflow import commands
from workflow.notify.delivery import Deliverer, configured_channels
from workflow.store.models import Case, OutboxMessage, Report, Subscription
from workflow.vocabulary import Action, AttachmentKind, CaseStatus, Following

PUBLIC_URL = "https://lapor.example.id"
LETTE = (-5.1560, 119.4050)  # Mariso's centre


@pytest.fixture
def settings(db_url, tmp_path, smtp):
    return mail_settings(db_url, tmp_path, smtp, PUBLIC_URL)


def _near(metres_north: float) -> tuple[float, float]:
    return LETTE[0] + metres_north / 110_574, LETTE[1]


# -- the map picker's lookup ---------------------------------------------------------------------


def test_the_point_lookup_names_the_area_or_says_why_not(web):
    found = web.get("/lapor/titik?lat=-5,1560&lon=119,4050").get_json()
    assert found["area"] == "mariso" and found["area_name"] == "Mariso"
    assert found["kelurahan"].startswith("mariso/") and (found["lat"], found["lon"]) == LETTE
    pasted = web.get("/lapor/titik?lat=https://www.google.com/maps/@-5.1560,119.4050,17z&lon=").get_json()
    assert pasted["area"] == "mariso"
    outside = web.get("/lapor/titik?lat=-5.19&lon=119.60").get_json()
    assert "di luar Kota Makassar" in outside["error"] and "Manggala" in outside["error"]
    bad = web.get("/lapor/titik?lat=utara&lon=")
    assert bad.status_code == 400 and "lintang" in bad.get_json()["error"].lower()


def test_the_report_form_carries_the_map_and_keeps_its_fields(web, app):
    page = web.get("/lapor")
    html = page.get_data(as_text=True)
    for name in ("category", "area", "kelurahan", "address", "lat", "lon"):  # the path without a map
        assert f'name="{name}"' in html
    assert 'id="map-picker"' in html and " hidden " in html.split('id="map-picker"')[1][:40]
    leaflet = app.config["LEAFLET"]["leaflet.js"]
    assert f'src="{leaflet[0]}" integrity="{leaflet[1]}"' in html
    config = re.search(r"data-config='([^']+)'", html).group(1)
    assert '"tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in config.replace("&#34;", '"')
    assert "Losari, Ujung Pandang" in html  # the address search knows the city's own names
    csp = page.headers["Content-Security-Policy"]
    assert leaflet[0] in csp and "img-src 'self' data: blob: https://tile.openstreetmap.org" in csp


def test_a_city_tile_server_is_used_and_allowed(services, monkeypatch):
    from web import create_app
    monkeypatch.setenv("TANGGAP_TILE_URL", "https://peta.makassarkota.go.id/tiles/{z}/{x}/{y}.png")
    monkeypatch.setenv("TANGGAP_LEAFLET_BASE", "/static/vendor/leaflet")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, services=services)
    page = app.test_client().get("/lapor")
    html = page.get_data(as_text=True)
    assert "https://peta.makassarkota.go.id/tiles/{z}/{x}/{y}.png" in html
    assert 'src="/static/vendor/leaflet/leaflet.js"' in html  # a self-hosted copy, same hash
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://peta.makassarkota.go.id;" in csp and "unpkg.com/leaflet" not in csp


# -- nearby reports, and following one -----------------------------------------------------------


def _nearby(web, category: str, point) -> str:
    return web.get(f"/lapor/sekitar?category={category}&lat={point[0]}&lon={point[1]}").get_data(as_text=True)


def test_nearby_lists_open_reports_of_the_category_within_its_radius_only(world, web):
    shown = world.report(lat=_near(120)[0], lon=LETTE[1], kelurahan=None)  # garbage: 300 m radius
    world.photo(world.triage, shown.case_id, jpeg_bytes(), AttachmentKind.BEFORE)
    far = world.report(lat=_near(600)[0], lon=LETTE[1], kelurahan=None)
    secret = world.report(lat=_near(60)[0], lon=LETTE[1], kelurahan=None, confidential=True)
    other = world.report(category="gepeng", description="Anak mengemis di lampu merah.",
                         lat=_near(30)[0], lon=LETTE[1], kelurahan=None)
    closed = world.report(lat=_near(90)[0], lon=LETTE[1], kelurahan=None)
    closed_photo = world.photo(world.triage, closed.case_id, jpeg_bytes(), AttachmentKind.BEFORE)
    world.do(actions.triage, world.triage, closed.case_id, decision="reject", reason="Sudah diangkut kemarin.")
    assert web.get(f"/peta/foto/{closed_photo}").status_code == 404  # listed nowhere public: not shown
    html = _nearby(web, "sampah", LETTE)
    assert f'data-case="{shown.case_number}"' in html and re.search(r"1[12]\d m dari sini", html)
    for hidden in (far, secret, other, closed):
        assert hidden.case_number not in html
    assert f'href="/lapor/ikuti/{shown.case_number}"' in html and "Ikuti laporan ini" in html
    photo = re.search(r'<img src="(/peta/foto/\d+)"', html).group(1)
    response = web.get(photo)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    response.close()
    # a street light has a 100 m radius: the same distance is too far
    assert shown.case_number not in _nearby(web, "lampu-rambu", LETTE)
    assert "Tidak ada laporan terbuka" in _nearby(web, "kemacetan", LETTE)
    assert _nearby(web, "", LETTE).strip() == ""  # nothing until a category is chosen


def test_a_confidential_reports_photo_is_never_public(world, web):
    secret = world.report(confidential=True)
    photo_id = world.photo(world.triage, secret.case_id, jpeg_bytes(), AttachmentKind.BEFORE)
    assert web.get(f"/peta/foto/{photo_id}").status_code == 404
    assert web.get(f"/lapor/ikuti/{secret.case_number}").status_code == 404


def _deliver(services):
    worker = Deliverer(services, configured_channels(services), worker="t")
    try:
        return worker.run_until_idle(max_rounds=50)
    finally:
        worker.close()


def test_a_follower_is_told_what_the_reporter_is_told_and_counts_as_a_supporter(world, web, smtp):
    sub = world.report(contact_email=None, contact_phone=None)
    page = web.get(f"/lapor/ikuti/{sub.case_number}")
    assert page.status_code == 200 and "Pendukung" in page.get_data(as_text=True)
    refused = web.post(f"/lapor/ikuti/{sub.case_number}", {"notify_by": "email", "contact_email": "bukan"},
                       page=f"/lapor/ikuti/{sub.case_number}")
    assert refused.status_code == 400 and 'value="bukan"' in refused.get_data(as_text=True)  # kept as typed
    followed = web.post(f"/lapor/ikuti/{sub.case_number}", {"notify_by": "email", "contact_email": "tetangga@example.id"},
                        page=f"/lapor/ikuti/{sub.case_number}")
    assert followed.status_code == 200 and "t***@example.id" in followed.get_data(as_text=True)
    again = web.post(f"/lapor/ikuti/{sub.case_number}", {"notify_by": "email", "contact_email": "tetangga@example.id"},
                     page=f"/lapor/ikuti/{sub.case_number}")
    assert again.status_code == 200
    with world.services.reading() as session:
        followers = session.scalars(select(Subscription).where(Subscription.case_id == sub.case_id)).all()
    assert [(s.following, s.address) for s in followers] == [(Following.FOLLOWER, "tetangga@example.id")]
    assert world.actions(sub.case_id).count(Action.CASE_FOLLOWED) == 1
    assert world.case(sub.case_id).version == 1  # staff editing the case need not reload
    assert world.chain_breaks() == []
    assert "1 pendukung" in _nearby(web, "sampah", LETTE)
    world.triage  # the user exists
    staff = WebClient(web.client.application)
    staff.login("triase")
    assert "1 warga dengan masalah yang sama" in staff.get(f"/cases/{sub.case_id}").get_data(as_text=True)

    world.do(actions.triage, world.triage, sub.case_id, decision="reject", reason="Sudah diangkut pagi ini.")
    _deliver(world.services)
    to_follower = [m for m in smtp.box.messages if m["To"] == "tetangga@example.id"]
    assert len(to_follower) == 1 and sub.case_number in to_follower[0]["Subject"]
    body = to_follower[0].get_body(("plain",)).get_content()
    assert "Laporan yang Anda ikuti" in body and "Laporan Anda" not in body


def test_only_an_open_public_case_can_be_followed(world, web):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="reject", reason="Bukan wewenang kota.")
    assert web.get("/lapor/ikuti/2026-999999").status_code == 404
    assert web.post(f"/lapor/ikuti/{sub.case_number}", {"notify_by": "email", "contact_email": "a@example.id"},
                    page=f"/lapor/ikuti/{sub.case_number}").status_code == 404
    open_case = world.report()
    no_token = web.post(f"/lapor/ikuti/{open_case.case_number}",
                        {"notify_by": "email", "contact_email": "a@example.id"}, csrf=False)
    assert no_token.status_code == 400
    with world.services.reading() as session:
        assert session.scalars(select(Subscription).where(Subscription.following == Following.FOLLOWER)).all() == []


def test_a_closed_reports_page_shows_where_it_stands_without_a_form(world, web):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="reject", reason="Bukan wewenang kota.")
    page = web.get(f"/lapor/ikuti/{sub.case_number}?lihat=1")
    assert page.status_code == 200 and "Ditolak" in page.get_data(as_text=True)
    assert "<form" not in page.get_data(as_text=True).split("<main>")[1]


def test_followers_move_with_a_merge_and_are_not_asked_the_reporters_questions(world, web):
    original = world.report()
    world.do(actions.triage, world.triage, original.case_id, decision="valid")
    copy = world.report(lat=_near(40)[0], lon=LETTE[1], kelurahan=None, contact_email=None, contact_phone=None)
    for address in ("tetangga@example.id", "Tetangga@Example.id"):  # the same address, typed twice
        assert web.post(f"/lapor/ikuti/{copy.case_number}", {"notify_by": "email", "contact_email": address},
                        page=f"/lapor/ikuti/{copy.case_number}").status_code == 200
    world.do(commands.request_information, world.triage, copy.case_id, question="Di sebelah mana tepatnya?")
    with world.services.reading() as session:
        asked = session.scalars(select(OutboxMessage).where(
            OutboxMessage.case_id == copy.case_id, OutboxMessage.topic == Action.INFORMATION_REQUESTED)).all()
        assert [m.recipient for m in asked] == []  # the reporter (no contact here) alone is asked
    world.do(actions.triage, world.triage, copy.case_id, decision="duplicate", reason="Sama.",
             duplicate_of=original.case_number)
    with world.services.reading() as session:
        moved = session.scalars(select(Subscription).where(Subscription.case_id == original.case_id)).all()
    assert [(m.following, m.address) for m in moved if m.following != Following.REPORTER] == [
        (Following.FOLLOWER, "tetangga@example.id")]
    assert f'data-case="{original.case_number}"' in _nearby(web, "sampah", LETTE)
    assert "2 pendukung" in _nearby(web, "sampah", LETTE)  # the merged report, and its follower


def test_following_again_after_stopping_is_still_one_supporter(world, web):
    sub = world.report()
    path = f"/lapor/ikuti/{sub.case_number}"
    web.post(path, {"notify_by": "email", "contact_email": "tetangga@example.id"}, page=path)
    with world.services.reading() as session:
        follower = session.scalars(select(Subscription).where(Subscription.following == Following.FOLLOWER)).one()
    with world.services.uow() as uow:
        commands.stop_notices(uow, world.services.tracking.stop_token(follower.id))
        uow.commit()
    web.post(path, {"notify_by": "email", "contact_email": "TETANGGA@example.id"}, page=path)
    assert "1 pendukung" in _nearby(web, "sampah", LETTE)


def test_a_report_without_a_point_is_near_nothing_and_off_the_public_map(world, web):
    named = world.report(lat=None, lon=None, area="mariso", kelurahan="mariso/lette")
    assert world.case(named.case_id).lat is None  # the point stored is for the staff's map link only
    assert named.case_number not in _nearby(web, "sampah", LETTE)
    assert web.get("/peta.geojson").get_json()["total"] == 0


# -- duplicate candidates in triage -------------------------------------------------------------


def test_triage_merges_a_candidate_in_one_click_and_its_reporter_follows(world, app):
    original = world.report(description="Sampah menumpuk di depan Pasar Lette sejak Senin.")
    world.do(actions.triage, world.triage, original.case_id, decision="valid")
    unrelated = world.report(category="gepeng", description="Anak mengemis di lampu merah.",
                             lat=_near(50)[0], lon=LETTE[1], kelurahan=None)
    copy = world.report(description="Tumpukan sampah depan pasar Lette belum diangkut.",
                        lat=_near(40)[0], lon=LETTE[1], kelurahan=None, contact_email="kedua@example.id")
    item = world.item(copy.case_id)
    web = WebClient(app)
    web.login("triase")
    html = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    section = html.split('id="candidates-title"')[1].split("</section>")[0]
    assert f'data-candidate="{original.case_number}"' in section and unrelated.case_number not in section
    assert "40 m" in section
    form = re.search(r'<tr data-candidate="' + original.case_number + r'">.*?(<form.*?</form>)', section, re.S).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert fields["duplicate_of"] == original.case_number and fields["decision"] == "duplicate"
    assert original.case_number in fields["reason"]
    response = web.client.post(f"/tasks/{item.id}", data=fields)  # the one click
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    assert world.case(copy.case_id).status == CaseStatus.MERGED
    assert world.case(copy.case_id).merged_into_id == original.case_id
    with world.services.reading() as session:
        joined = session.scalars(select(Subscription).where(Subscription.case_id == original.case_id,
                                                            Subscription.following == Following.DUPLICATE)).all()
        assert [s.address for s in joined] == ["kedua@example.id"]
    world.do(actions.transfer, world.dlh, original.case_id, to_agency="DPU", reason="Sampah di saluran.")
    with world.services.reading() as session:
        told = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == original.case_id,
                                                           OutboxMessage.subscription_id == joined[0].id)).all()
    assert told, "the merged reporter hears of the case it joined"


def test_a_case_far_away_or_long_ago_is_no_candidate(world, app, clock):
    from datetime import timedelta
    world.triage  # the user exists
    old = world.report()
    clock.advance(timedelta(days=40))
    far = world.report(lat=_near(700)[0], lon=LETTE[1], kelurahan=None)
    new = world.report(description="Sampah lagi di tempat yang sama.")
    web = WebClient(app)
    web.login("triase")
    html = web.get(f"/tasks/{world.item(new.case_id).id}").get_data(as_text=True)
    section = html.split('id="candidates-title"')[1].split("</section>")[0]
    assert old.case_number not in section and far.case_number not in section
    assert "Tidak ada laporan" in section


# -- the public map -----------------------------------------------------------------------------


def test_the_public_map_and_its_geojson_leave_out_confidential_reports(world, web):
    shown = world.report()
    secret = world.report(confidential=True, lat=_near(150)[0], lon=LETTE[1], kelurahan=None)
    world.report(category="gepeng", description="Anak mengemis di lampu merah.", lat=-5.1150, lon=119.4400,
                 area=None, kelurahan=None)
    page = web.get("/peta")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and shown.case_number in html and secret.case_number not in html
    assert 'id="public-map"' in html and "leaflet.markercluster.js" in html
    feed = web.get("/peta.geojson")
    assert feed.mimetype == "application/geo+json" and feed.headers["Access-Control-Allow-Origin"] == "*"
    data = feed.get_json()
    assert data["type"] == "FeatureCollection" and data["total"] == 2 and "CC BY 4.0" in data["license"]
    numbers = {f["properties"]["number"] for f in data["features"]}
    assert shown.case_number in numbers and secret.case_number not in numbers
    with world.services.reading() as session:
        secret_report = session.get(Report, session.get(Case, secret.case_id).report_id)
        secret_point = [round(secret_report.lon, 5), round(secret_report.lat, 5)]
    assert all(f["geometry"]["coordinates"] != secret_point for f in data["features"])
    assert f'data-lat="{secret_point[1]:.5f}"' not in _nearby(web, "sampah", LETTE)
    feature = next(f for f in data["features"] if f["properties"]["number"] == shown.case_number)
    assert feature["properties"]["category_name"] == "Sampah" and feature["properties"]["kecamatan"] == "Mariso"
    assert feature["geometry"] == {"type": "Point", "coordinates": [119.405, -5.156]}


def test_the_public_map_filters_and_pages(world, web):
    for _ in range(3):
        world.report()
    world.report(category="gepeng", description="Anak mengemis di lampu merah.", lat=-5.1150, lon=119.4400,
                 area=None, kelurahan=None)
    only = web.get("/peta.geojson?category=gepeng").get_json()
    assert only["total"] == 1 and only["features"][0]["properties"]["kecamatan"] == "Tallo"
    assert web.get("/peta.geojson?area=tallo").get_json()["total"] == 1
    first = web.get("/peta.geojson?per_page=2").get_json()
    assert first["pages"] == 2 and len(first["features"]) == 2 and "page=2" in first["next"]
    second = web.get(first["next"].replace("http://localhost", "")).get_json()
    assert len(second["features"]) == 2 and second["next"] is None
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}
    assert web.get("/peta.geojson?status=closed").get_json()["total"] == 0
    assert "page 1 of" not in web.get("/peta").get_data(as_text=True)


@pytest.mark.parametrize(("query", "field"), [
    ("category=jalan-tol", "category"), ("status=semua", "status"), ("area=gowa", "area"),
    ("start=kemarin", "start"), ("start=2026-12-01&end=2026-11-01", "end"), ("end=99999-01-01", "end"),
    ("per_page=0", "per_page"), ("per_page=100000", "per_page"),
])
def test_bad_map_filters_get_400_naming_the_field(web, query, field):
    response = web.get(f"/peta.geojson?{query}")
    assert response.status_code == 400 and field in response.get_json()["error"]["fields"]
    if field != "per_page":
        page = web.get(f"/peta?{query}")
        assert page.status_code == 400 and 'role="alert"' in page.get_data(as_text=True)


def test_the_map_endpoints_are_limited_per_ip(app, web):
    app.config["TANGGAP_MAP_LIMIT"] = "3 per minute"
    for path in ("/peta.geojson", "/lapor/titik?lat=-5.156&lon=119.405", "/lapor/sekitar?category=sampah"):
        answers = [web.get(path).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429], (path, answers)


@pytest.mark.parametrize("path", [
    "/lapor/ikuti/%00", "/lapor/ikuti/" + "9" * 5000, "/lapor/ikuti/%ED%A0%80", "/lapor/titik?lat=%00&lon=1",
    "/lapor/titik?lat=1e309&lon=1", "/lapor/sekitar?category=%00&lat=-5.15&lon=119.4", "/peta?category=%00",
    "/peta?start=%00", "/peta.geojson?page=99999999999999999999999", "/peta.geojson?area=%ED%A0%80",
    "/peta/foto/99999999999999999999",
])
def test_odd_input_to_the_place_pages_is_a_4xx_or_an_empty_answer(web, path):
    response = web.get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    if path.startswith("/lapor/ikuti/") or path.startswith("/peta/foto/"):
        assert response.status_code in (400, 404)
