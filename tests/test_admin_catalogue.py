"""The administration of the city's catalogue: categories (and their extra fields), response
templates, areas (names, centres, new kelurahan, boundary files) and the city's settings. Each
page creates, changes, refuses bad input with a message keeping what was typed, writes its
change with old and new values to the security log, and tells a second administrator whose
form is out of date who changed the object. Public pages and Open311 show the changes."""

from __future__ import annotations

import html
import json
import re

import pytest
from shapely.geometry import shape
from sqlalchemy import select

from tests.webclient import WebClient
from tests.webclient import errors as shown_errors
from workflow import areas, responses
from workflow.commands import catalogue as cmd
from workflow.errors import PermissionDenied, ValidationError
from workflow.read import catalogue as read
from workflow.store import seed
from workflow.store.models import Area, Case, Category, City, ResponseTemplate, SecurityEvent

pytestmark = pytest.mark.usefixtures("reference_restored")


@pytest.fixture
def admin(world, app):
    world.user("admin", ("admin", None))
    web = WebClient(app)
    web.login("admin")
    return web


def errors(response) -> list[str]:
    return [html.unescape(e) for e in shown_errors(response)]


def _changes(world, subject: str) -> list[dict]:
    with world.services.reading() as session:
        rows = session.scalars(select(SecurityEvent).where(SecurityEvent.subject == subject)
                               .order_by(SecurityEvent.seq)).all()
        return [{"actor": r.actor_name, **json.loads(r.details)} for r in rows]


def _hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html).group(1)


def _category(world, code: str) -> Category:
    with world.services.reading() as session:
        return session.scalar(select(Category).where(Category.code == code))


def _form_of(world, code: str) -> dict:
    """What the edit form of a category sends as it stands (no blank rows)."""
    c = _category(world, code)
    data = {"code": c.code, "name_id": c.name_id, "name_en": c.name_en, "description_id": c.description_id,
            "description_en": c.description_en, "group": c.group, "keywords": c.keywords,
            "nearby_m": str(c.nearby_m)}
    if c.active:
        data["active"] = "y"
    for i, a in enumerate(c.attributes):
        data.update({f"attributes-{i}-{k}": a[k] for k in ("code", "datatype", "description_id", "description_en")})
        data[f"attributes-{i}-order"] = str(a["order"])
        if a["required"]:
            data[f"attributes-{i}-required"] = "y"
        for j, v in enumerate(a["values"]):
            data.update({f"attributes-{i}-values-{j}-{k}": v[k] for k in ("key", "name_id", "name_en")})
    return data


NEW_CATEGORY = {"code": "banjir", "name_id": "Banjir", "name_en": "Flood", "description_id": "Genangan air.",
                "description_en": "Standing water.", "group": "Infrastruktur", "keywords": "banjir, genangan",
                "nearby_m": "400", "active": "y",
                "attributes-0-code": "kedalaman", "attributes-0-datatype": "singlevaluelist",
                "attributes-0-required": "y", "attributes-0-description_id": "Seberapa dalam?",
                "attributes-0-description_en": "How deep?", "attributes-0-order": "2",
                "attributes-0-values-0-key": "mata-kaki", "attributes-0-values-0-name_id": "Semata kaki",
                "attributes-0-values-0-name_en": "Ankle deep",
                "attributes-0-values-1-key": "lutut", "attributes-0-values-1-name_id": "Selutut",
                "attributes-0-values-1-name_en": "Knee deep",
                "attributes-0-values-2-key": "", "attributes-0-values-2-name_id": "",
                "attributes-0-values-2-name_en": "",  # the blank row every field ends with
                "attributes-1-code": "sejak", "attributes-1-datatype": "datetime",
                "attributes-1-description_id": "Sejak kapan?", "attributes-1-description_en": "Since when?",
                "attributes-1-order": "1"}


# -- categories ----------------------------------------------------------------------------------


def test_a_new_category_is_listed_by_open311_and_offered_on_the_report_form(world, app, admin):
    response = admin.post("/admin/categories/new", NEW_CATEGORY, page="/admin/categories/new")
    assert response.status_code == 302, errors(response)
    c = _category(world, "banjir")
    assert (c.name_id, c.nearby_m, c.group, c.active) == ("Banjir", 400, "Infrastruktur", True)
    # the extra fields in the seed's shape, in their order (the one typed 2 comes second)
    assert c.attributes == seed.parse_attributes([
        {"code": "sejak", "datatype": "datetime", "description_id": "Sejak kapan?", "description_en": "Since when?"},
        {"code": "kedalaman", "datatype": "singlevaluelist", "required": True, "description_id": "Seberapa dalam?",
         "description_en": "How deep?", "values": [{"key": "mata-kaki", "name_id": "Semata kaki", "name_en": "Ankle deep"},
                                                   {"key": "lutut", "name_id": "Selutut", "name_en": "Knee deep"}]}])
    client = app.test_client()
    services = client.get("/open311/v2/services.json").get_json()
    assert {"service_code": "banjir", "service_name": "Banjir", "group": "Infrastruktur"}.items() <= next(
        s for s in services if s["service_code"] == "banjir").items()
    definition = client.get("/open311/v2/services/banjir.json?lang=en").get_json()
    assert [(a["code"], a["order"], a["required"]) for a in definition["attributes"]] == [
        ("sejak", 1, False), ("kedalaman", 2, True)]
    assert definition["attributes"][1]["values"] == [{"key": "mata-kaki", "name": "Ankle deep"},
                                                     {"key": "lutut", "name": "Knee deep"}]
    assert 'value="banjir"' in client.get("/lapor").get_data(as_text=True)
    [logged] = _changes(world, "category:banjir")
    assert logged["actor"] == "admin" and logged["change"] == "created"
    assert logged["fields"]["nearby_m"] == {"old": None, "new": 400}
    assert logged["fields"]["attributes"]["new"] == c.attributes
    page = admin.get(f"/admin/categories/{c.id}").get_data(as_text=True)  # the routing table does not know it
    assert "Tabel rute tidak memiliki aturan untuk kategori ini." in page
    assert "tidak dapat dikirim" in page


def test_changing_a_category_logs_what_moved_and_an_inactive_one_leaves_the_report_form(world, app, admin):
    sampah = _category(world, "sampah")
    url = f"/admin/categories/{sampah.id}"
    form = _form_of(world, "sampah")
    form.pop("active")
    response = admin.post(url, {**form, "nearby_m": "250", "name_en": "Rubbish",
                                "fingerprint": _hidden(admin.get(url).get_data(as_text=True), "fingerprint")}, page=url)
    assert response.status_code == 302, errors(response)
    assert (_category(world, "sampah").nearby_m, _category(world, "sampah").active) == (250, False)
    [logged] = _changes(world, "category:sampah")
    assert logged["change"] == "changed"
    assert logged["fields"] == {"active": {"old": True, "new": False}, "nearby_m": {"old": 300, "new": 250},
                                "name_en": {"old": "Garbage", "new": "Rubbish"}}
    client = app.test_client()
    assert 'value="sampah"' not in client.get("/lapor").get_data(as_text=True)
    assert "sampah" not in {s["service_code"] for s in client.get("/open311/v2/services.json").get_json()}
    assert 'value="lampu-rambu"' in client.get("/lapor").get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("name_id", "Sampah\x00liar", "karakter yang tidak diizinkan"),
    ("keywords", "sampah\x1b[31m", "karakter yang tidak diizinkan"),
    ("description_en", "Garbage \x85 piles", "karakter yang tidak diizinkan"),
    ("name_id", "x" * 121, "tulis paling banyak 120 karakter"),
    ("description_id", "x" * 1001, "tulis paling banyak 1000 karakter"),
    ("name_en", "", "wajib diisi"),
    ("nearby_m", "9" * 40, "harus antara 10 dan 5000"),
    ("nearby_m", "5", "harus antara 10 dan 5000"),
    ("nearby_m", "-50", "tulis bilangan bulat"),
    ("nearby_m", "١٢٠", "tulis bilangan bulat"),
    ("nearby_m", "1e3", "tulis bilangan bulat"),
    ("code", "Sampah Liar!", "1-64 karakter"),
    ("code", "lampu-rambu", "lampu-rambu sudah menjadi kode kategori lain"),
])
def test_bad_category_input_is_refused_on_its_field_and_kept(world, admin, field, value, message):
    before = world.table_counts()
    response = admin.post("/admin/categories/new", {**NEW_CATEGORY, field: value}, page="/admin/categories/new")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert any(message in e for e in errors(response)), errors(response)
    assert f'aria-describedby="{field}-error-1"' in html or f'aria-describedby="{field}-hint {field}-error-1"' in html
    assert "Seberapa dalam?" in html and 'value="lutut"' in html  # the rest of what was typed is still there
    assert world.table_counts() == before


@pytest.mark.parametrize("changes, field, message", [
    ({"attributes-0-values-0-key": "", "attributes-0-values-0-name_id": "", "attributes-0-values-0-name_en": "",
      "attributes-0-values-1-key": "", "attributes-0-values-1-name_id": "", "attributes-0-values-1-name_en": ""},
     "attributes-0-values-0-key", "daftar pilihan memerlukan paling sedikit satu pilihan"),
    ({"attributes-1-values-0-key": "a", "attributes-1-values-0-name_id": "A", "attributes-1-values-0-name_en": "A"},
     "attributes-1-values-0-key", "hanya daftar pilihan yang memiliki pilihan"),
    ({"attributes-1-code": "kedalaman"}, "attributes-1-code", "kedalaman dipakai isian lain kategori ini"),
    ({"attributes-0-values-1-key": "mata-kaki"}, "attributes-0-values-1-key", "mata-kaki juga kunci pilihan lain"),
    ({"attributes-0-code": "Dalam[]"}, "attributes-0-code", "1-40 karakter"),
    ({"attributes-0-datatype": "photo"}, "attributes-0-datatype", "harus salah satu dari"),
    ({"attributes-1-description_en": ""}, "attributes-1-description_en", "wajib diisi"),
    ({"attributes-1-order": "99999999999999999999999"}, "attributes-1-order", "harus antara 1 dan 999"),
    ({"attributes-0-values-1-name_en": "x" * 121}, "attributes-0-values-1-name_en", "paling banyak 120"),
    ({"attributes-0-description_id": "Dalam\x00nya"}, "attributes-0-description_id", "karakter yang tidak diizinkan"),
])
def test_the_extra_fields_editor_refuses_what_the_rest_of_the_system_could_not_use(world, admin, changes, field,
                                                                                   message):
    before = world.table_counts()
    response = admin.post("/admin/categories/new", {**NEW_CATEGORY, **changes}, page="/admin/categories/new")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p id="{re.escape(field)}-error-1" class="error" role="alert">([^<]+)<', html)
    assert error and message in error.group(1), errors(response)
    assert world.table_counts() == before


def test_fields_are_added_and_removed_without_saving_until_save(world, admin):
    url = f"/admin/categories/{_category(world, 'lampu-rambu').id}"
    page = admin.get(url).get_data(as_text=True)
    form = {**_form_of(world, "lampu-rambu"), "fingerprint": _hidden(page, "fingerprint")}
    added = admin.post(url, {**form, "add_attribute": "1"}, page=url)
    assert added.status_code == 200 and 'name="attributes-2-code"' in added.get_data(as_text=True)
    blank = {f"attributes-0-values-2-{k}": "" for k in ("key", "name_id", "name_en")}  # as the page sends it
    more = admin.post(url, {**form, **blank, "more_values": "0"}, page=url).get_data(as_text=True)
    assert 'name="attributes-0-values-3-key"' in more  # two choices, the blank row, and one more
    assert 'name="attributes-1-values-1-key"' not in more  # the other field keeps its one blank row
    assert _changes(world, "category:lampu-rambu") == []  # nothing saved by adding a row
    form.update({"attributes-2-code": "tiang_rusak", "attributes-2-datatype": "number",
                 "attributes-2-description_id": "Berapa tiang?", "attributes-2-description_en": "How many poles?",
                 "attributes-0-remove": "y"})
    assert admin.post(url, form, page=url).status_code == 302
    codes = [(a["code"], a["order"]) for a in _category(world, "lampu-rambu").attributes]
    assert codes == [("jumlah_tiang", 1), ("tiang_rusak", 2)]  # the first removed, the order renumbered


def test_a_code_reports_use_stays(world, admin):
    world.report()  # of garbage
    sampah = _category(world, "sampah")
    url = f"/admin/categories/{sampah.id}"
    page = admin.get(url).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="code"[^>]*readonly', page)
    response = admin.post(url, {**_form_of(world, "sampah"), "code": "sampah-liar",
                                "fingerprint": _hidden(page, "fingerprint")}, page=url)
    assert response.status_code == 400
    assert any("kodenya tetap sampah" in e for e in errors(response))
    assert _category(world, "sampah").code == "sampah"
    fresh = _category(world, "kesehatan")  # no report yet: its code may still change
    url = f"/admin/categories/{fresh.id}"
    page = admin.get(url).get_data(as_text=True)
    response = admin.post(url, {**_form_of(world, "kesehatan"), "code": "kesehatan-umum",
                                "fingerprint": _hidden(page, "fingerprint")}, page=url)
    assert response.status_code == 302 and _category(world, "kesehatan-umum") is not None


def test_two_administrators_editing_one_category_the_second_is_told_who_changed_it(world, app, admin):
    world.user("admin.dua", ("admin", None))
    other = WebClient(app)
    other.login("admin.dua")
    url = f"/admin/categories/{_category(world, 'kemacetan').id}"
    first_page, second_page = admin.get(url).get_data(as_text=True), other.get(url).get_data(as_text=True)
    form = _form_of(world, "kemacetan")
    assert admin.post(url, {**form, "nearby_m": "600", "fingerprint": _hidden(first_page, "fingerprint")},
                      page=url).status_code == 302
    late = other.post(url, {**form, "nearby_m": "700", "name_id": "Macet total",
                            "fingerprint": _hidden(second_page, "fingerprint")}, page=url)
    assert late.status_code == 409
    html = late.get_data(as_text=True)
    assert re.search(r'class="alert" data-status="409" role="alert">admin mengubah ini pada [^<]*WITA', html)
    assert 'value="Macet total"' in html and 'value="700"' in html  # what was typed is kept
    assert _category(world, "kemacetan").nearby_m == 600  # the first change stands
    again = other.post(url, {**form, "nearby_m": "700", "fingerprint": _hidden(html, "fingerprint")}, page=url)
    assert again.status_code == 302 and _category(world, "kemacetan").nearby_m == 700  # chosen knowingly
    assert [c["actor"] for c in _changes(world, "category:kemacetan")] == ["admin", "admin.dua"]


def test_the_routing_box_reads_the_routing_table(world, definition):
    with world.services.reading() as session:
        kecamatan = read.kecamatan_of(session)
    routed = read.routing_of(world.services.process, definition, kecamatan, "kemacetan")
    assert routed.everywhere and routed.named and routed.routes == (("DISHUB", tuple(k.name for k in kecamatan)),)
    unknown = read.routing_of(world.services.process, definition, kecamatan, "banjir")
    assert unknown.nowhere and not unknown.named and len(unknown.unrouted) == 15
    assert read.named_by_tables(definition.source, "lampu-rambu")
    assert not read.named_by_tables(definition.source, "lampu")  # a part of a code is not the code

    class OnlyMariso:  # a table that routes the category in one kecamatan only
        def route_preview(self, category, area):
            return world.services.process.route_preview("sampah", area) if area == "mariso" else None

    partly = read.routing_of(OnlyMariso(), definition, kecamatan, "sampah")
    assert partly.routes == (("DLH", ("Mariso",)),) and "Tamalate" in partly.unrouted and not partly.everywhere


def test_category_commands_are_for_administrators_and_check_text_themselves(world):
    coordinator = world.dlh
    with world.services.uow() as uow, pytest.raises(PermissionDenied):
        cmd.create_category(uow, coordinator, cmd.CategoryInput("banjir", "Banjir", "Flood", nearby_m=300))
    admin = world.user("admin", ("admin", None))
    with world.services.uow() as uow, pytest.raises(ValidationError) as refused:
        cmd.create_category(uow, admin, cmd.CategoryInput("banjir", "Banjir \ud800", "Flood", nearby_m=300,
                                                          attributes=(cmd.AttributeInput(code="x\x00"),)))
    assert set(refused.value.errors) >= {"name_id", "attributes-0-code"}


# -- response templates --------------------------------------------------------------------------


TEMPLATE = {"code": "tutup-sampah-pasar", "place": "closure:closure_note", "category": "sampah",
            "title_id": "Pasar dibersihkan", "title_en": "Market cleaned", "active": "y",
            "text_id": "Sampah pasar di {kelurahan} sudah diangkut oleh {team}.",
            "text_en": "The market garbage in {kelurahan} was collected by {team}."}


def test_a_new_template_is_offered_on_its_field_filled_in(world, app, admin):
    sub = world.approved()
    response = admin.post("/admin/templates/new", TEMPLATE, page="/admin/templates/new")
    assert response.status_code == 302, errors(response)
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    html = coordinator.get(f"/tasks/{world.item(sub.case_id).id}").get_data(as_text=True)
    box = re.search(r'<details class="responses" data-for="closure_note".*?</details>', html, re.S).group(0)
    assert "Pasar dibersihkan" in box and "Sampah pasar di Lette sudah diangkut oleh Tim QR Mariso." in box
    [logged] = _changes(world, "response_template:tutup-sampah-pasar")
    assert logged["change"] == "created" and logged["fields"]["place"] == {"old": None, "new": "closure:closure_note"}
    assert logged["fields"]["category"]["new"] == "sampah"
    with world.services.reading() as session:
        assert responses.misplaced(session, world.services.definition) == []


@pytest.mark.parametrize("field, value, message", [
    ("text_id", "Halo {nama}, terima kasih.", "tempat isian {nama} tidak dikenal"),
    ("text_en", "Dear {city:>40}", "tulis tempat isian {city} tanpa format"),
    ("text_en", "Hello {city!r}", "tulis tempat isian {city} tanpa format"),
    ("text_id", "Kurung {kelurahan tanpa tutup", "kurung kurawal tanpa pasangannya"),
    ("text_id", "x" * 2001, "tulis paling banyak 2000 karakter"),
    ("text_id", "Teks\x00rusak", "karakter yang tidak diizinkan"),
    ("title_en", "x" * 121, "tulis paling banyak 120 karakter"),
    ("place", "citizen_feedback:comment", "pilih isian dari daftar"),
    ("place", "closure:outcome", "pilih isian dari daftar"),
    ("category", "tidak-ada", "kategori 'tidak-ada' tidak dikenal"),
    ("code", "Tutup Sampah", "1-64 karakter"),
    ("code", "tutup-sampah", "tutup-sampah sudah menjadi kode templat lain"),
])
def test_bad_template_input_is_refused_and_kept(world, admin, field, value, message):
    before = world.table_counts()
    response = admin.post("/admin/templates/new", {**TEMPLATE, field: value}, page="/admin/templates/new")
    assert response.status_code == 400
    assert any(message in e for e in errors(response)), errors(response)
    assert "Pasar dibersihkan" in response.get_data(as_text=True)
    assert world.table_counts() == before


def test_the_fields_offered_are_the_ones_templates_can_fill(world, admin):
    page = admin.get("/admin/templates/new").get_data(as_text=True)
    offered = set(re.findall(r'<option value="([a-z_]+:[a-z_]+)"', page))
    expected = {f"{form}:{name}" for form, names in responses.fillable(world.services.definition).items()
                for name in names}
    assert offered == expected and "note:body" in offered and "closure:closure_note" in offered
    assert not any(place.startswith(("citizen_feedback:", "citizen_info:")) for place in offered)  # the reporter's
    assert "Penutupan: Catatan penutupan (publik)" in page  # labels, not codes


def test_a_preview_fills_what_was_typed_with_a_cases_facts_and_saves_nothing(world, admin):
    world.report()  # no team sent yet: nothing to fill {team} with
    early = admin.post("/admin/templates/new", {**TEMPLATE, "preview": "1"}, page="/admin/templates/new")
    assert early.status_code == 200 and "Belum ada kasus baru yang memiliki semua fakta" in early.get_data(as_text=True)
    sub = world.approved()
    before = world.table_counts()
    response = admin.post("/admin/templates/new", {**TEMPLATE, "preview": "1"}, page="/admin/templates/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"diisi dengan fakta kasus {sub.case_number}" in html
    assert "Sampah pasar di Lette sudah diangkut oleh Tim QR Mariso." in html
    assert "The market garbage in Lette was collected by Tim QR Mariso." in html
    assert world.table_counts() == before
    wrong = admin.post("/admin/templates/new", {**TEMPLATE, "text_id": "{nama}", "preview": "1"},
                       page="/admin/templates/new")
    assert wrong.status_code == 400 and any("{nama}" in e for e in errors(wrong))


def test_a_template_is_changed_and_deactivated_from_the_list(world, admin):
    with world.services.reading() as session:
        t = session.scalar(select(ResponseTemplate).where(ResponseTemplate.code == "tolak-kurang-jelas"))
    url = f"/admin/templates/{t.id}"
    page = admin.get(url).get_data(as_text=True)
    data = {"place": "triage:reason", "category": "", "title_id": "Kurang jelas", "title_en": t.title_en,
            "text_id": t.text_id, "text_en": t.text_en, "active": "y", "fingerprint": _hidden(page, "fingerprint")}
    assert admin.post(url, data, page=url).status_code == 302
    listed = admin.get("/admin/templates?place=triage:reason").get_data(as_text=True)
    row = re.search(r'<tr data-template="tolak-kurang-jelas">.*?</tr>', listed, re.S).group(0)
    toggle = {"fingerprint": re.search(r'name="fingerprint" value="([^"]+)"', row).group(1), "active": "0",
              "next": "/admin/templates?place=triage:reason"}
    response = admin.post(f"/admin/templates/{t.id}/active", toggle, page="/admin/templates")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/templates?place=triage:reason"
    sub = world.report()
    with world.services.reading() as session:
        offered = responses.offered(session, session.get(Case, sub.case_id), "triage", "id")
    assert "tolak-kurang-jelas" not in [o.code for o in offered.get("reason", [])]
    renamed, deactivated = _changes(world, "response_template:tolak-kurang-jelas")
    assert renamed["fields"] == {"title_id": {"old": "Laporan kurang jelas", "new": "Kurang jelas"}}
    assert deactivated["fields"] == {"active": {"old": True, "new": False}}
    stale = admin.post(f"/admin/templates/{t.id}/active", toggle, page="/admin/templates")  # the same, once more
    assert stale.status_code == 302
    assert "admin mengubah ini pada" in admin.get("/admin/templates").get_data(as_text=True)  # told, not done twice
    assert len(_changes(world, "response_template:tolak-kurang-jelas")) == 2


# -- areas ---------------------------------------------------------------------------------------


def _area(world, code: str) -> Area:
    with world.services.reading() as session:
        return session.scalar(select(Area).where(Area.code == code))


def _geometry_hash(world) -> str:
    with world.services.reading() as session:
        return session.scalar(select(City.geometry_hash))


def test_renaming_a_kelurahan_shows_on_the_report_form_and_moves_the_shapes_key(world, app, admin):
    lette = _area(world, "mariso/lette")
    with world.services.reading() as session:
        lat, lon = areas.area_map(session).label_point(lette.id)  # a point inside its boundary
    url = f"/admin/areas/{lette.id}"
    page = admin.get(url).get_data(as_text=True)
    hash_before = _geometry_hash(world)
    response = admin.post(url, {"name": "Lette Baru", "lat": str(lat).replace(".", ","), "lon": str(lon),
                                "fingerprint": _hidden(page, "fingerprint")}, page=url)
    assert response.status_code == 302, errors(response)
    assert (_area(world, "mariso/lette").name, _area(world, "mariso/lette").lat) == ("Lette Baru", lat)
    assert _geometry_hash(world) != hash_before  # every worker rebuilds its shapes
    assert ">Lette Baru</option>" in app.test_client().get("/lapor").get_data(as_text=True)
    [logged] = _changes(world, "area:mariso/lette")
    assert logged["fields"] == {"name": {"old": "Lette", "new": "Lette Baru"}, "lat": {"old": None, "new": lat},
                                "lon": {"old": None, "new": lon}}


@pytest.mark.parametrize("data, field, message", [
    ({"lat": "-95", "lon": "119.4"}, "lat", "harus antara -90 dan 90"),
    ({"lat": "-5.15", "lon": "1e400"}, "lon", "tulis angka dalam derajat"),
    ({"lat": "-5.15", "lon": "9" * 50}, "lon", "harus antara -180 dan 180"),
    ({"lat": "-5.15", "lon": ""}, "lon", "isi kedua koordinat titik tengah, atau kosongkan keduanya"),
    ({"lat": "-5.05", "lon": "119.60"}, "lat", "di luar batas wilayahnya"),
    ({"name": "Mattoanging"}, "name", "Mattoanging sudah menjadi nama wilayah lain di sini"),
    ({"name": "KEL. MATTO-ANGING"}, "name", "sudah menjadi nama wilayah lain di sini"),
    ({"name": "Lette\x07"}, "name", "karakter yang tidak diizinkan"),
    ({"name": "x" * 121}, "name", "tulis paling banyak 120 karakter"),
    ({"name": "  "}, "name", "wajib diisi"),
])
def test_bad_area_input_is_refused_on_its_field(world, admin, data, field, message):
    lette = _area(world, "mariso/lette")
    url = f"/admin/areas/{lette.id}"
    page = admin.get(url).get_data(as_text=True)
    before = world.table_counts()
    response = admin.post(url, {"name": "Lette", "lat": "", "lon": "", **data,
                                "fingerprint": _hidden(page, "fingerprint")}, page=url)
    assert response.status_code == 400
    error = re.search(rf'<p id="{field}-error-1" class="error" role="alert">([^<]+)<', response.get_data(as_text=True))
    assert error and message in error.group(1), errors(response)
    assert world.table_counts() == before and _area(world, "mariso/lette").name == "Lette"


def test_a_centre_an_import_left_outside_does_not_block_a_rename(world, admin):
    mariso = _area(world, "mariso")
    with world.services.uow() as uow:  # as after importing official boundaries the seed's centre misses
        uow.session.get(Area, mariso.id).lat = -5.05
        uow.commit()
    url = f"/admin/areas/{mariso.id}"
    page = admin.get(url).get_data(as_text=True)
    fingerprint = _hidden(page, "fingerprint")
    kept = admin.post(url, {"name": "Mariso Raya", "lat": "-5,05", "lon": "119,405", "fingerprint": fingerprint}, page=url)
    assert kept.status_code == 302, errors(kept)
    page = admin.get(url).get_data(as_text=True)
    moved = admin.post(url, {"name": "Mariso Raya", "lat": "-5,06", "lon": "119,405",
                             "fingerprint": _hidden(page, "fingerprint")}, page=url)
    assert moved.status_code == 400 and any("di luar batas wilayahnya" in e for e in errors(moved))


def test_a_new_kelurahan_takes_reports_and_the_seed_still_loads(world, app, admin):
    mariso = _area(world, "mariso")
    response = admin.post(f"/admin/areas/{mariso.id}/new", {"name": "Lette Utara"}, page=f"/admin/areas/{mariso.id}/new")
    assert response.status_code == 302, errors(response)
    added = _area(world, "mariso/lette-utara")
    assert (added.name, added.parent_id, added.geometry) == ("Lette Utara", mariso.id, None)
    assert 'value="mariso/lette-utara"' in app.test_client().get("/lapor").get_data(as_text=True)
    sub = world.report(area="mariso", kelurahan="mariso/lette-utara")  # no boundary: placed in its kecamatan
    with world.services.reading() as session:
        from workflow.store.models import Report
        case = session.get(Case, sub.case_id)
        assert session.get(Report, case.report_id).kelurahan_id == added.id
        seed.load_reference_data(session)  # the seed names only its own areas' boundaries as missing
        session.rollback()
    [logged] = _changes(world, "area:mariso/lette-utara")
    assert logged["change"] == "created" and logged["fields"]["name"] == {"old": None, "new": "Lette Utara"}
    twice = admin.post(f"/admin/areas/{mariso.id}/new", {"name": "lette-utara"}, page=f"/admin/areas/{mariso.id}/new")
    assert twice.status_code == 400 and any("sudah menjadi nama wilayah lain" in e for e in errors(twice))


def _square(lon: float, lat: float, size: float = 0.004) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                [lon, lat + size], [lon, lat]]]}


def _collection(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geometry} for props, geometry in features]}).encode()


def _upload(admin, content: bytes, level="kecamatan", name_property="NAMOBJ", filename="batas.geojson"):
    import io
    return admin.post("/admin/areas/boundaries", {"file": (io.BytesIO(content), filename), "level": level,
                                                  "name_property": name_property},
                      page="/admin/areas/boundaries", content_type="multipart/form-data")


def test_a_boundary_file_is_previewed_then_imported_as_the_importer_does(world, admin):
    mariso_shape = _area(world, "mariso").geometry
    hash_before = _geometry_hash(world)
    content = _collection(({"NAMOBJ": "KECAMATAN MARISO"}, _square(119.400, -5.160)),
                          ({"NAMOBJ": "Atlantis"}, _square(119.50, -5.10)))
    before = world.table_counts()
    preview = _upload(admin, content)
    assert preview.status_code == 200, errors(preview)
    html = preview.get_data(as_text=True)
    changed = re.search(r"Batas yang diganti: 1</h3><ul class=\"names\"><li>Mariso</li>", html)
    assert changed and "<li>Atlantis</li>" in html and "<li>Tamalate</li>" in html  # unknown, and kept
    assert world.table_counts() == before and _geometry_hash(world) == hash_before  # a preview changes nothing
    assert _area(world, "mariso").geometry == mariso_shape
    confirm = {name: _hidden(html, name) for name in ("token", "level", "name_property", "fingerprint")}
    done = admin.post("/admin/areas/boundaries/import", confirm, page="/admin/areas/boundaries")
    assert done.status_code == 302, errors(done)
    assert shape(_area(world, "mariso").geometry).bounds == (119.4, -5.16, 119.404, -5.156)
    assert _geometry_hash(world) != hash_before
    with world.services.reading() as session:
        assert areas.area_map(session).locate(-5.158, 119.402).kecamatan_id == _area(world, "mariso").id
    [logged] = _changes(world, "area_boundaries:kecamatan")
    assert set(logged["fields"]["geometry"]["old"]) == {"mariso"}
    assert logged["fields"]["geometry"]["old"]["mariso"] != logged["fields"]["geometry"]["new"]["mariso"]
    assert logged["fields"]["file_sha256"]["new"] == __import__("hashlib").sha256(content).hexdigest()
    again = admin.post("/admin/areas/boundaries/import", confirm, page="/admin/areas/boundaries")
    assert again.status_code == 400 and "tidak ada lagi" in again.get_data(as_text=True)  # used once


def test_an_import_after_another_change_is_a_conflict(world, admin):
    content = _collection(({"NAMOBJ": "Mariso"}, _square(119.400, -5.160)))
    html = _upload(admin, content).get_data(as_text=True)
    confirm = {name: _hidden(html, name) for name in ("token", "level", "name_property", "fingerprint")}
    lette = _area(world, "mariso/lette")
    page = admin.get(f"/admin/areas/{lette.id}").get_data(as_text=True)
    admin.post(f"/admin/areas/{lette.id}", {"name": "Lette Raya", "fingerprint": _hidden(page, "fingerprint")},
               page=f"/admin/areas/{lette.id}")
    shape = _area(world, "mariso").geometry
    late = admin.post("/admin/areas/boundaries/import", confirm, page="/admin/areas/boundaries")
    assert late.status_code == 409 and "Pratinjau berkas itu lagi" in late.get_data(as_text=True)
    assert _area(world, "mariso").geometry == shape


DEEP = b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize("content, name_property, message", [
    (b"not json at all", "NAMOBJ", "berkas itu bukan JSON"),
    (b"\xff\xfe{}", "NAMOBJ", "berkas itu bukan JSON"),
    (DEEP, "NAMOBJ", "berkas itu bukan JSON"),
    (b'{"type": "Feature"}', "NAMOBJ", "bukan GeoJSON FeatureCollection"),
    (_collection(({"nama": "Mariso"}, _square(119.40, -5.16))), "NAMOBJ", "fitur 1: tidak ada properti 'NAMOBJ'"),
    (_collection(({"NAMOBJ": "Mariso"}, {"type": "Polygon", "coordinates": [[[1e400, 0], [1, 1], [0, 1], [1e400, 0]]]})),
     "NAMOBJ", "fitur 1 (Mariso): koordinat"),
    (_collection(({"NAMOBJ": "Mariso"}, {"type": "Point", "coordinates": [119.4, -5.1]})), "NAMOBJ", "Polygon"),
    (_collection(({"NAMOBJ": "Mari\x00so"}, _square(119.40, -5.16))), "NAMOBJ", "fitur 1: nama wilayahnya"),
    (json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"NAMOBJ": "\ud800"},
                 "geometry": _square(119.4, -5.16)}]}).encode(), "NAMOBJ", "fitur 1: nama wilayahnya"),
    (_collection(({"NAMOBJ": "Atlantis"}, _square(119.40, -5.16))), "NAMOBJ", "tidak ada 'NAMOBJ' fitur"),
    (b" " * (cmd.MAX_BOUNDARY_BYTES + 1), "NAMOBJ", "berkas lebih besar dari 20 MB"),
    (b"", "NAMOBJ", "pilih berkas GeoJSON"),
    (_collection(({"NAMOBJ": "Mariso"}, _square(119.40, -5.16))), "", "wajib diisi"),
    (_collection(({"NAMOBJ": "Mariso"}, _square(119.40, -5.16))), "NAM\x00OBJ", "karakter yang tidak diizinkan"),
])
def test_a_broken_or_huge_boundary_file_is_refused_with_a_message(world, admin, content, name_property, message):
    before, shape = world.table_counts(), _area(world, "mariso").geometry
    response = _upload(admin, content, name_property=name_property)
    assert response.status_code == 400
    assert any(message in e for e in errors(response)), errors(response)
    assert world.table_counts() == before and _area(world, "mariso").geometry == shape


# -- the city ------------------------------------------------------------------------------------


CITY = {"name": "Kota Makassar", "duplicate_days": "14", "domain": " Layanan.MakassarKota.go.id ",
        "contact": "Kominfo Makassar,\n telepon 112", "phone_country": "+62"}


def test_the_citys_settings_reach_open311_and_the_log(world, app, admin):
    page = admin.get("/admin/city").get_data(as_text=True)
    assert "Asia/Makassar" in page and "memindahkan tenggat setiap kasus" in page  # shown, not editable
    response = admin.post("/admin/city", {**CITY, "timezone": "Asia/Jakarta", "fingerprint": _hidden(page, "fingerprint")},
                          page="/admin/city")
    assert response.status_code == 302, errors(response)
    with world.services.reading() as session:
        city = session.scalar(select(City))
        assert (city.duplicate_days, city.domain, city.contact, city.phone_country, city.timezone) == (
            14, "layanan.makassarkota.go.id", "Kominfo Makassar, telepon 112", "62", "Asia/Makassar")
    client = app.test_client()
    assert client.get("/open311/v2/discovery.json").get_json()["contact"] == "Kominfo Makassar, telepon 112"
    assert client.get("/open311/v2/services.json?jurisdiction_id=layanan.makassarkota.go.id").status_code == 200
    assert client.get("/open311/v2/services.json?jurisdiction_id=makassarkota.go.id").status_code == 404
    [logged] = _changes(world, "city:makassar")
    assert logged["fields"] == {"duplicate_days": {"old": 30, "new": 14},
                                "domain": {"old": "makassarkota.go.id", "new": "layanan.makassarkota.go.id"},
                                "contact": {"old": "Dinas Komunikasi dan Informatika Kota Makassar (Kominfo), "
                                                   "pengelola layanan pengaduan Tanggap",
                                            "new": "Kominfo Makassar, telepon 112"}}


@pytest.mark.parametrize("field, value, message", [
    ("domain", "makassar kota", "nama domain seperti makassarkota.go.id"),
    ("domain", "https://makassarkota.go.id/", "nama domain seperti makassarkota.go.id"),
    ("duplicate_days", "0", "harus antara 1 dan 365"),
    ("duplicate_days", "9" * 30, "harus antara 1 dan 365"),
    ("duplicate_days", "tiga", "tulis bilangan bulat"),
    ("phone_country", "6a", "kode panggil negara"),
    ("phone_country", "6262", "kode panggil negara"),
    ("contact", " \n ", "wajib diisi"),
    ("contact", "x" * 501, "tulis paling banyak 500 karakter"),
    ("name", "Kota\x00Makassar", "karakter yang tidak diizinkan"),
])
def test_bad_city_settings_are_refused_and_kept(world, admin, field, value, message):
    page = admin.get("/admin/city").get_data(as_text=True)
    before = world.table_counts()
    with world.services.reading() as session:
        stored = json.dumps(cmd.city_values(session.scalar(select(City))))
    response = admin.post("/admin/city", {**CITY, field: value, "fingerprint": _hidden(page, "fingerprint")},
                          page="/admin/city")
    assert response.status_code == 400
    assert any(message in e for e in errors(response)), errors(response)
    kept = ("phone_country", "+62") if field == "duplicate_days" else ("duplicate_days", "14")
    assert f'name="{kept[0]}" type="text" value="{kept[1]}"' in response.get_data(as_text=True)
    assert world.table_counts() == before
    with world.services.reading() as session:
        assert json.dumps(cmd.city_values(session.scalar(select(City)))) == stored


def test_every_placeholder_and_kind_of_field_has_a_label():
    from web.admin_catalogue import ATTRIBUTE_TYPE_LABELS, PLACEHOLDER_LABELS

    assert set(PLACEHOLDER_LABELS) == set(responses.PLACEHOLDERS)
    assert set(ATTRIBUTE_TYPE_LABELS) == set(seed.ATTRIBUTE_TYPES)


def test_the_catalogue_pages_need_an_administrator(world, app):
    world.dlh
    web = WebClient(app)
    web.login("koor.dlh")
    for url in ("/admin/categories", "/admin/templates", "/admin/areas", "/admin/areas/boundaries", "/admin/city"):
        assert web.get(url).status_code == 403, url


# -- racing administrators -----------------------------------------------------------------------


@pytest.mark.parametrize("racers", [2, 4])
def test_racing_administrators_one_change_wins_the_others_conflict(world, racers):
    """Each racer opened the form on the same values; under the row lock exactly one saves, the
    others see the values moved and get a conflict: no change is silently undone."""
    import threading

    from workflow.errors import Conflict

    admins = [world.user(f"admin{i}", ("admin", None)) for i in range(racers)]
    kemacetan = _category(world, "kemacetan")
    opened = cmd.fingerprint(cmd.category_values(kemacetan))
    barrier, outcomes = threading.Barrier(racers), [None] * racers

    def race(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            with world.services.uow() as uow:
                data = cmd.CategoryInput("kemacetan", kemacetan.name_id, kemacetan.name_en, nearby_m=600 + i,
                                         group=kemacetan.group)
                cmd.update_category(uow, admins[i], kemacetan.id, data, expected=opened)
                uow.commit()
            outcomes[i] = "done"
        except Conflict as exc:
            outcomes[i] = exc
        except Exception as exc:  # noqa: BLE001 - anything else is the failure being tested
            outcomes[i] = f"unexpected {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=race, args=(i,), daemon=True) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("done") == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if o != "done"), outcomes
    winner = outcomes.index("done")
    assert _category(world, "kemacetan").nearby_m == 600 + winner
    [logged] = _changes(world, "category:kemacetan")
    assert logged["actor"] == f"admin{winner}" and logged["fields"]["nearby_m"]["new"] == 600 + winner


def test_stale_forms_of_areas_templates_and_the_city_are_conflicts_naming_who(world, app, admin):
    world.user("admin.dua", ("admin", None))
    other = WebClient(app)
    other.login("admin.dua")
    lette = _area(world, "mariso/lette")
    with world.services.reading() as session:
        template = session.scalar(select(ResponseTemplate).where(ResponseTemplate.code == "tolak-bukan-wewenang"))
    template_form = {"place": "triage:reason", "category": "", "title_en": template.title_en,
                     "text_id": template.text_id, "text_en": template.text_en, "active": "y"}
    cases = [
        (f"/admin/areas/{lette.id}", {"name": "Lette Satu"}, {"name": "Lette Dua"}, lambda: _area(world, "mariso/lette").name,
         "Lette Satu"),
        (f"/admin/templates/{template.id}", {**template_form, "title_id": "Satu"}, {**template_form, "title_id": "Dua"},
         lambda: _template_title(world, template.id), "Satu"),
        ("/admin/city", {**CITY, "name": "Kota Satu"}, {**CITY, "name": "Kota Dua"}, lambda: _city_name(world),
         "Kota Satu"),
    ]
    for url, first, second, stored, expected in cases:
        pages = admin.get(url).get_data(as_text=True), other.get(url).get_data(as_text=True)
        assert admin.post(url, {**first, "fingerprint": _hidden(pages[0], "fingerprint")}, page=url).status_code == 302
        late = other.post(url, {**second, "fingerprint": _hidden(pages[1], "fingerprint")}, page=url)
        assert late.status_code == 409, url
        html = late.get_data(as_text=True)
        assert "admin mengubah ini pada" in html and second.get("name", second.get("title_id")) in html, url
        assert stored() == expected, url


def _template_title(world, template_id: int) -> str:
    with world.services.reading() as session:
        return session.get(ResponseTemplate, template_id).title_id


def _city_name(world) -> str:
    with world.services.reading() as session:
        return session.scalar(select(City.name))


def test_odd_filters_on_the_lists_are_ignored_not_an_error(world, admin):
    for url in ("/admin/templates?category=" + "x" * 500, "/admin/templates?category=Sampah%20Liar&place=x:y",
                "/admin/templates?page=" + "9" * 40, "/admin/categories?state=semua&page=-1",
                "/admin/templates/new?place=closure:nope&category=" + "y" * 300):
        assert admin.get(url).status_code == 200, url
    assert admin.get("/admin/templates?category=%00").status_code == 400  # the site's guard on odd text
    narrowed = admin.get("/admin/templates?place=closure:closure_note&category=sampah").get_data(as_text=True)
    assert re.findall(r'<tr data-template="([^"]+)"', narrowed) == ["tutup-sampah"]
    general = admin.get("/admin/templates?place=closure:closure_note&category=*").get_data(as_text=True)
    assert re.findall(r'<tr data-template="([^"]+)"', general) == ["tutup-umum"]
