"""Open311 GeoReport v2: the specification's walk-through, in XML and JSON, with its errors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests import actions
from workflow.commands import credentials
from workflow.read.service_requests import PublicState, StatusNotes
from workflow.store import seed
from workflow.store.models import Case, Report
from workflow.store.reference import References
from workflow.vocabulary import CaseStatus, Channel

REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"]


@pytest.fixture
def api_key(world):
    with world.services.uow() as uow:
        _row, secret = credentials.issue(uow, "open311", "Aplikasi Qlue")
        uow.commit()
    return secret


@pytest.fixture
def client(app):
    return app.test_client()


def _xml(response):
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.get_data(as_text=True).startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.get_data())


def _file(client, api_key, fmt="json", **fields):
    data = {"api_key": api_key, "service_code": "sampah", "lat": "-5.1560", "long": "119.4050",
            "description": "Sampah menumpuk di depan pasar, sudah tiga hari.",
            "address_string": "Jl. Rajawali No. 1", "email": "warga@example.id",
            "first_name": "Daeng", "last_name": "Ngai", "phone": "+62 811 4000 123"}
    data.update(fields)
    return client.post(f"/open311/v2/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


def test_services_in_json_and_xml(client):
    services = client.get("/open311/v2/services.json").get_json()
    by_code = {s["service_code"]: s for s in services}
    assert set(services[0]) == {"service_code", "service_name", "description", "metadata", "type",
                                "keywords", "group"}
    assert by_code["sampah"]["service_name"] == "Sampah" and by_code["sampah"]["metadata"] is False
    assert by_code["lampu-rambu"]["metadata"] is True and by_code["sampah"]["type"] == "realtime"
    root = _xml(client.get("/open311/v2/services.xml"))
    assert root.tag == "services" and {e.tag for e in root} == {"service"}
    first = root.find("service")
    assert [c.tag for c in first] == ["service_code", "service_name", "description", "metadata",
                                      "type", "keywords", "group"]
    assert root.find("service[service_code='lampu-rambu']/metadata").text == "true"
    english = client.get("/open311/v2/services.json?lang=en").get_json()
    assert {s["service_code"]: s["service_name"] for s in english}["sampah"] == "Garbage"


def test_service_definition_lists_the_attributes(client):
    definition = client.get("/open311/v2/services/lampu-rambu.json").get_json()
    assert definition["service_code"] == "lampu-rambu"
    jenis = definition["attributes"][0]
    assert (jenis["code"], jenis["datatype"], jenis["required"], jenis["variable"], jenis["order"]) == (
        "jenis", "singlevaluelist", True, True, 1)
    assert jenis["values"] == [{"key": "lampu", "name": "Lampu jalan"}, {"key": "rambu", "name": "Rambu lalu lintas"}]
    root = _xml(client.get("/open311/v2/services/lampu-rambu.xml"))
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert [c.tag for c in attribute] == ["variable", "code", "datatype", "required",
                                          "datatype_description", "order", "description", "values"]
    assert [v.find("key").text for v in attribute.findall("values/value")] == ["lampu", "rambu"]
    missing = client.get("/open311/v2/services/jalan-tol.xml")
    assert missing.status_code == 404
    error = _xml(missing).find("error")
    assert error.find("code").text == "404" and "jalan-tol" in error.find("description").text


def _tracking_code(notice: str) -> str:
    return re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", notice).group(0)


def test_file_a_request_then_find_it_by_id_and_token(world, client, api_key):
    filed = _file(client, api_key, fmt="xml")
    assert filed.status_code == 200  # the id is known at once: 200 with it, and no token
    request = _xml(filed).find("request")
    assert [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    number, token = request.find("service_request_id").text, _tracking_code(request.find("service_notice").text)
    filed_json = _file(client, api_key, description="Sampah di selokan depan sekolah, baunya menyengat.")
    assert filed_json.status_code == 200 and set(filed_json.get_json()[0]) == {
        "service_request_id", "service_notice", "account_id"}
    with world.services.reading() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        report = session.get(Report, case.report_id)
    assert (report.channel, report.reporter_name, report.contact_email) == (
        Channel.OPEN311, "Daeng Ngai", "warga@example.id")
    assert case.stage == "triage" and world.item(case.id).task_name == "triage"  # like the web form

    one = client.get(f"/open311/v2/requests/{number}.json").get_json()
    assert len(one) == 1 and set(one[0]) == set(REQUEST_FIELDS)
    assert (one[0]["status"], one[0]["service_code"], one[0]["lat"], one[0]["long"]) == (
        "open", "sampah", -5.156, 119.405)
    assert one[0]["status_notes"] == "Sedang diperiksa Kominfo"  # the command center has it
    assert one[0]["requested_datetime"].endswith("+08:00") and one[0]["expected_datetime"]
    assert "warga@example.id" not in str(one) and "Daeng" not in str(one)  # no contact details
    xml_one = _xml(client.get(f"/open311/v2/requests/{number}.xml")).find("request")
    assert [c.tag for c in xml_one] == REQUEST_FIELDS
    by_token = client.get(f"/open311/v2/tokens/{token}.json").get_json()
    assert by_token == [{"service_request_id": number, "token": token}]
    assert _xml(client.get(f"/open311/v2/tokens/{token}.xml")).find("request/service_request_id").text == number
    assert client.get("/open311/v2/requests/2026-999999.json").status_code == 404
    assert client.get("/open311/v2/tokens/NOPE-NOPE.json").status_code == 404


def test_attributes_address_only_and_media_url(world, client, api_key):
    filed = _file(client, api_key, service_code="lampu-rambu", lat=None, long=None,
                  address_string="Jl. Cenderawasih, Kelurahan Lette, Mariso",
                  **{"attribute[jenis]": "lampu", "attribute[jumlah_tiang]": "5",
                     "media_url": "https://foto.example.id/pju.jpg"})
    assert filed.status_code == 200, filed.get_data(as_text=True)
    number = filed.get_json()[0]["service_request_id"]
    shown = client.get(f"/open311/v2/requests/{number}.json").get_json()[0]
    assert shown["media_url"] == "https://foto.example.id/pju.jpg"
    assert shown["address"] == "Jl. Cenderawasih, Kelurahan Lette, Mariso"
    with world.services.reading() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        report = session.get(Report, case.report_id)
        assert report.attributes == {"jenis": "lampu", "jumlah_tiang": 5}
        assert case.area.code == "mariso" and report.kelurahan_id is not None


@pytest.mark.parametrize("fields, field", [
    ({"service_code": None}, "service_code"),
    ({"lat": None, "long": None, "address_string": None}, "lat"),
    ({"lat": "-5.15", "long": None}, "lat"),
    ({"lat": "91", "long": "119.4"}, "lat"),
    ({"lat": "-6.2", "long": "106.8"}, "lat"),  # Jakarta: outside the city
    ({"lat": None, "long": None, "address_string": "Jl. Sudirman, Jakarta"}, "address_string"),
    ({"description": "x" * 4001}, "description"),
    ({"email": "not-an-email"}, "email"),
    ({"service_code": "lampu-rambu"}, "attribute[jenis]"),  # a required attribute
    ({"service_code": "lampu-rambu", "attribute[jenis]": "jembatan"}, "attribute[jenis]"),
    ({"attribute[warna]": "merah"}, "attribute[warna]"),
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    # the catalogue's other attribute types: a required one left out, and a bad value
    ({"service_code": "reklame-liar"}, "attribute[dipasang_di]"),  # multivaluelist
    ({"service_code": "reklame-liar", "attribute[dipasang_di][]": ["pohon", "kapal"]}, "attribute[dipasang_di]"),
    ({"service_code": "reklame-liar", "attribute[dipasang_di][]": ["pohon"], "attribute[tulisan]": "x" * 201},
     "attribute[tulisan]"),  # string: at most 200 characters
    ({"service_code": "reklame-liar", "attribute[dipasang_di][]": ["pohon"], "attribute[tulisan][]": ["a", "b"]},
     "attribute[tulisan]"),  # a string is one value
    ({"service_code": "fasilitas-anak"}, "attribute[nama_fasilitas]"),  # string
    ({"service_code": "fasilitas-anak", "attribute[nama_fasilitas]": "   "}, "attribute[nama_fasilitas]"),
    ({"service_code": "pelanggaran-bangunan"}, "attribute[pelanggaran]"),  # text
    ({"service_code": "pelanggaran-bangunan", "attribute[pelanggaran]": "x" * 2001}, "attribute[pelanggaran]"),
])
def test_bad_requests_get_400_naming_the_field_and_store_nothing(world, client, api_key, fields, field):
    counts = world.table_counts()
    for fmt in ("json", "xml"):
        response = _file(client, api_key, fmt=fmt, **fields)
        assert response.status_code == 400
        if fmt == "json":
            descriptions = [e["description"] for e in response.get_json()]
            assert all(e["code"] == 400 for e in response.get_json())
        else:
            descriptions = [e.find("description").text for e in _xml(response).findall("error")]
        assert any(d.startswith(f"{field}:") for d in descriptions), descriptions
    assert world.table_counts() == counts


def test_an_unknown_service_code_is_not_found_as_the_spec_says(world, client, api_key):
    counts = world.table_counts()
    for fmt in ("json", "xml"):
        response = _file(client, api_key, fmt=fmt, service_code="jalan-tol")
        assert response.status_code == 404
        if fmt == "json":
            assert response.get_json() == [{"code": 404, "description": "service_code jalan-tol tidak ditemukan"}]
        else:
            assert _xml(response).find("error/code").text == "404"
    assert world.table_counts() == counts


@pytest.mark.parametrize("address,kecamatan", [
    ("Perumahan Griya Baru Blok C2, Tamalate", "tamalate"),
    ("Kompleks Ruko Biringkanaya Baru, Biringkanaya", "biringkanaya"),
    ("Jl. Cenderawasih No. 3, Mariso, Makassar", "mariso"),
])
def test_an_address_only_request_lands_in_the_kecamatan_it_names(world, client, api_key, address, kecamatan):
    response = _file(client, api_key, lat=None, long=None, address_string=address)
    assert response.status_code == 200, response.get_data(as_text=True)
    number = response.get_json()[0]["service_request_id"]
    with world.services.reading() as session:
        assert session.scalar(select(Case).where(Case.number == number)).area.code == kecamatan


def test_an_ambiguous_address_is_a_400_listing_the_candidates(world, client, api_key):
    counts = world.table_counts()
    response = _file(client, api_key, lat=None, long=None, address_string="Jl. Perintis, Tamalanrea dekat Biringkanaya")
    assert response.status_code == 400
    (error,) = response.get_json()
    assert error["description"].startswith("address_string:")
    assert "Kecamatan Biringkanaya" in error["description"] and "Kecamatan Tamalanrea" in error["description"]
    assert world.table_counts() == counts


def test_an_api_key_is_required_and_revocable(world, client, api_key):
    assert _file(client, None).status_code == 403
    assert _file(client, "tgk_deadbeef_forged").status_code == 403
    assert _file(client, api_key.replace(api_key[-4:], "AAAA")).status_code == 403
    error = _xml(_file(client, None, fmt="xml")).find("error")
    assert error.find("code").text == "403"
    with world.services.uow() as uow:
        credentials.revoke(uow, api_key.split("_")[1])
        uow.commit()
    assert _file(client, api_key).status_code == 403


def test_writes_are_rate_limited_per_key(app, world, client, api_key):
    app.config["TANGGAP_API_WRITE_LIMIT"] = "2 per minute"
    assert [_file(client, api_key).status_code for _ in range(3)] == [200, 200, 429]
    limited = _file(client, api_key, fmt="xml")
    assert limited.status_code == 429 and _xml(limited).find("error/code").text == "429"
    with world.services.uow() as uow:
        _row, other = credentials.issue(uow, "open311", "Call center")
        uow.commit()
    assert _file(client, other).status_code == 200  # another key has its own budget


def test_list_requests_with_the_specs_filters(world, client, api_key):
    w = world
    numbers = {}
    for code, days_ago in (("sampah", 100), ("sampah", 10), ("gepeng", 5), ("sampah", 1)):
        w.services.clock.set(w.services.clock.now() + timedelta(seconds=1))
        filed = _file(client, api_key, service_code=code,
                      description=f"Laporan {code} dari {days_ago} hari lalu, mohon dicek.")
        numbers[(code, days_ago)] = filed.get_json()[0]["service_request_id"]
    # move the submissions back in time (the clock of a test cannot go backwards per report)
    with w.services.engine.begin() as conn:
        for (code, days_ago), number in numbers.items():
            case_report = conn.execute(select(Case.report_id).where(Case.number == number)).scalar()
            conn.execute(update(Report).where(Report.id == case_report).values(
                submitted_at=w.services.clock.now() - timedelta(days=days_ago)))
    confidential = w.report(confidential=True)
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="reject", reason="Laporan ganda tanpa lokasi.")

    def ids(query=""):
        return [r["service_request_id"] for r in client.get(f"/open311/v2/requests.json{query}").get_json()]

    default = ids()  # the last 90 days, newest first
    assert default[0] == sub.case_number and confidential.case_number not in default
    assert numbers[("sampah", 100)] not in default and numbers[("sampah", 10)] in default
    assert set(ids("?service_code=gepeng")) == {numbers[("gepeng", 5)]}
    assert set(ids("?service_code=gepeng,sampah")) >= {numbers[("gepeng", 5)], numbers[("sampah", 1)]}
    assert ids("?status=closed") == [sub.case_number]
    assert sub.case_number not in ids("?status=open")
    def ago(days):
        return (w.services.clock.now() - timedelta(days=days)).isoformat().replace("+", "%2B")

    assert ids(f"?start_date={ago(120)}&end_date={ago(50)}") == [numbers[("sampah", 100)]]
    too_long = client.get(f"/open311/v2/requests.json?start_date={ago(200)}&end_date={ago(50)}")
    assert too_long.status_code == 400
    assert too_long.get_json()[0]["description"].startswith("end_date: paling lama 90 hari")
    assert ids(f"?start_date={ago(120)}") == [numbers[("sampah", 100)]]  # the 90 days from start_date
    assert ids(f"?service_request_id={numbers[('sampah', 100)]},{sub.case_number}&status=open") == [
        sub.case_number, numbers[("sampah", 100)]]  # ids given: the other filters are ignored
    assert ids(f"?service_request_id={sub.case_number}&status=pending&start_date=yesterday") == [
        sub.case_number]  # ... also when they would be wrong
    rejected = client.get(f"/open311/v2/requests/{sub.case_number}.json").get_json()[0]
    assert (rejected["status"], rejected["status_notes"]) == ("closed", "Ditolak: Laporan ganda tanpa lokasi.")
    xml = _xml(client.get("/open311/v2/requests.xml?status=closed"))
    assert xml.tag == "service_requests" and [r.find("service_request_id").text for r in xml] == [sub.case_number]
    for bad in ("?start_date=yesterday", "?status=pending", "?start_date=2026-11-01T00:00:00"):
        response = client.get(f"/open311/v2/requests.json{bad}")
        assert response.status_code == 400 and response.get_json()[0]["code"] == 400
    assert client.get("/open311/v2/requests.csv").status_code == 404
    assert client.get("/open311/v2/requests.json?jurisdiction_id=jakarta").status_code == 404
    assert client.get("/open311/v2/requests.json?jurisdiction_id=makassar").status_code == 200


def test_json_says_its_charset_and_public_reading_is_open_to_other_sites(world, client, api_key):
    services = client.get("/open311/v2/services.json")
    assert services.headers["Content-Type"] == "application/json; charset=utf-8"
    assert services.headers["Access-Control-Allow-Origin"] == "*"
    filed = _file(client, api_key)
    assert filed.status_code == 200 and "Access-Control-Allow-Origin" not in filed.headers  # a server's job
    assert filed.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_method_the_url_does_not_take_answers_in_its_format_and_says_what_it_takes(client, fmt):
    response = client.delete(f"/open311/v2/requests.{fmt}")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    if fmt == "xml":
        assert _xml(response).find("error/code").text == "405"
    else:
        assert response.get_json()[0]["code"] == 405


# -- status notes for the public ----------------------------------------------------------------

def _shown(client, number, fmt, lang="id"):
    """(status, status_notes) of one request, read in ``fmt`` (the language stays in the session)."""
    response = client.get(f"/open311/v2/requests/{number}.{fmt}?lang={lang}")
    assert response.status_code == 200
    if fmt == "json":
        (one,) = response.get_json()
        return one["status"], one["status_notes"]
    request = _xml(response).find("request")
    return request.find("status").text, request.find("status_notes").text


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_resolved_request_is_closed_with_its_closing_note_and_a_dispute_opens_it(world, client, fmt):
    w = world
    sub = w.report()
    assert _shown(client, sub.case_number, fmt) == ("open", "Sedang diperiksa Kominfo")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    assert _shown(client, sub.case_number, fmt) == ("open", "Sedang ditangani DLH")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran tersumbat, bukan sampah.")
    assert _shown(client, sub.case_number, fmt) == ("open", "Sedang ditangani Dinas PU")
    w.do(actions.transfer, w.dpu, sub.case_id, to_agency="DLH", reason="Ternyata tumpukan sampah.")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    w.field_work(w.qr_mariso, sub.case_id)
    w.do(actions.verify, w.dlh, sub.case_id, approve=True)
    w.do(actions.close, w.dlh, sub.case_id, closure_note="Sampah sudah diangkut, lokasi bersih.")
    assert w.case(sub.case_id).status == "resolved"  # waiting for the reporter's confirmation
    assert _shown(client, sub.case_number, fmt) == ("closed", "Selesai: Sampah sudah diangkut, lokasi bersih.")
    assert _shown(client, sub.case_number, fmt, lang="en") == ("closed", "Closed: Sampah sudah diangkut, lokasi bersih.")

    def listed(status):
        if fmt == "json":
            return [r["service_request_id"] for r in client.get(f"/open311/v2/requests.json?status={status}").get_json()]
        return [r.find("service_request_id").text
                for r in _xml(client.get(f"/open311/v2/requests.xml?status={status}"))]

    assert sub.case_number in listed("closed") and sub.case_number not in listed("open")

    w.citizen(actions.dispute, sub.tracking_code, reason="Masih ada sampah di belakang pasar, pak RT lihat.")
    status, notes = _shown(client, sub.case_number, fmt)
    assert (status, notes) == ("open", "Disanggah pelapor; ditangani kembali oleh DLH")
    assert "pak RT" not in notes  # the reporter's own words stay theirs
    assert sub.case_number in listed("open") and sub.case_number not in listed("closed")
    _work_to_resolved(w, sub.case_id, "Sisa sampah di belakang pasar juga diangkut.")
    w.citizen(actions.confirm, sub.tracking_code)
    assert w.case(sub.case_id).status == "closed"
    assert _shown(client, sub.case_number, fmt) == ("closed", "Selesai: Sisa sampah di belakang pasar juga diangkut.")


def _work_to_resolved(w, case_id, note):
    """Work the case's open main tasks, whatever the process asks next, until the OPD closes it."""
    for _ in range(10):
        item = w.item(case_id)
        if item.form_key == "disposition":
            w.do(actions.accept, w.dlh, case_id)
        elif item.form_key == "dispatch":
            w.do(actions.dispatch, w.dlh, case_id, team="qr-mariso-1")
        elif item.form_key == "field_work":
            w.field_work(w.qr_mariso, case_id)
        elif item.form_key == "verification":
            w.do(actions.verify, w.dlh, case_id, approve=True)
        elif item.form_key == "closure":
            w.do(actions.close, w.dlh, case_id, closure_note=note)
            return
    raise AssertionError("the case did not reach its closure")


def test_no_status_note_is_addressed_to_the_reporter(world, client):
    w = world
    sub = w.approved()
    w.do(actions.close, w.dlh, sub.case_id, closure_note="Sampah sudah diangkut.")
    rejected = w.report()
    w.do(actions.triage, w.triage, rejected.case_id, decision="reject", reason="Di luar wilayah kota.")
    fresh = w.report()
    for lang, you in (("id", ("Anda", "Menunggu konfirmasi")), ("en", ("your", "you"))):
        notes = [r["status_notes"] for r in client.get(f"/open311/v2/requests.json?lang={lang}").get_json()]
        assert len(notes) == 3 and all(n for n in notes)
        assert not [n for n in notes if any(word in n for word in you)], notes
    assert _shown(client, rejected.case_number, "xml", lang="en") == ("closed", "Rejected: Di luar wilayah kota.")
    assert _shown(client, fresh.case_number, "json", lang="en") == ("open", "Being checked by Kominfo")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_merged_request_says_which_request_it_joined_and_why(world, client, fmt):
    w = world
    original = w.report()
    duplicate = w.report(description="Sampah di depan pasar belum diangkut juga sampai sore.")
    w.do(actions.merge_duplicate, w.triage, duplicate.case_id, into_case_number=original.case_number,
         reason="Tumpukan sampah yang sama di depan pasar.")
    assert _shown(client, duplicate.case_number, fmt) == (
        "closed", f"Digabungkan dengan laporan {original.case_number}: Tumpukan sampah yang sama di depan pasar.")
    assert _shown(client, duplicate.case_number, fmt, lang="en") == (
        "closed", f"Merged with report {original.case_number}: Tumpukan sampah yang sama di depan pasar.")
    assert _shown(client, original.case_number, fmt) == ("open", "Sedang diperiksa Kominfo")  # unchanged


# -- service discovery, jurisdiction ------------------------------------------------------------

def test_service_discovery_in_json_and_xml(world, client):
    document = client.get("/open311/v2/discovery.json")
    assert document.status_code == 200 and document.headers["Access-Control-Allow-Origin"] == "*"
    found = document.get_json()
    assert set(found) == {"changeset", "contact", "key_service", "endpoints"}
    assert found["contact"] == ("Dinas Komunikasi dan Informatika Kota Makassar (Kominfo), "
                                "pengelola layanan pengaduan Tanggap")  # the seed's city.contact
    assert "api_key" in found["key_service"]
    (endpoint,) = found["endpoints"]
    assert endpoint == {"specification": "http://wiki.open311.org/GeoReport_v2",
                        "url": world.services.settings.public_url.rstrip("/") + "/open311/v2",
                        "changeset": found["changeset"], "type": "production",
                        "formats": ["text/xml", "application/json"]}
    assert datetime.fromisoformat(found["changeset"]).utcoffset() == timedelta(hours=8)
    root = _xml(client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    assert root.find("contact").text == found["contact"] and root.find("changeset").text == found["changeset"]
    xml_endpoint = root.find("endpoints/endpoint")
    assert [c.tag for c in xml_endpoint] == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in xml_endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    assert xml_endpoint.find("url").text == endpoint["url"]
    english = client.get("/open311/v2/discovery.json?lang=en").get_json()
    assert english["key_service"] == "Reading needs no key. To file requests, ask the contact above for an api_key."


def test_the_contact_is_the_seeds(world, client):
    with world.services.uow() as uow:
        References(uow.session).city.contact = "Kominfo Makassar, telepon 112"
        uow.commit()
    assert client.get("/open311/v2/discovery.json").get_json()["contact"] == "Kominfo Makassar, telepon 112"
    assert _xml(client.get("/open311/v2/discovery.xml")).find("contact").text == "Kominfo Makassar, telepon 112"


@pytest.mark.parametrize("city, message", [
    ({"domain": "Makassar Kota"}, "domain must be a domain name"),
    ({"domain": None}, "domain must be a domain name"),
    ({"contact": "  "}, "contact must be a text"),
    ({"contact": "x" * 501}, "contact must be a text"),
])
def test_the_seed_refuses_a_city_without_a_domain_or_contact(city, message):
    facts = {"code": "makassar", "domain": "makassarkota.go.id", "contact": "Kominfo", **city}
    with pytest.raises(ValueError, match=message):
        seed.open311_facts(facts)
    assert seed.open311_facts({"code": "x", "domain": " MakassarKota.go.id ", "contact": "Kominfo\n Makassar"}) == {
        "domain": "makassarkota.go.id", "contact": "Kominfo Makassar"}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_jurisdiction_id_is_the_citys_domain_or_its_code_everywhere(world, client, api_key, fmt):
    sub = world.report()
    reads = ["discovery", "services", "services/lampu-rambu", "requests", f"requests/{sub.case_number}",
             f"tokens/{sub.tracking_code}", "servicerequestupdates"]
    for path in reads:
        for jurisdiction, status in (("makassarkota.go.id", 200), ("MakassarKota.go.id", 200), ("makassar", 200),
                                     ("jakarta.go.id", 404), ("kota.go.id", 404)):
            response = client.get(f"/open311/v2/{path}.{fmt}?jurisdiction_id={jurisdiction}")
            assert response.status_code == status, (path, jurisdiction)
            if status == 404:
                code = (response.get_json()[0]["code"] if fmt == "json"
                        else int(_xml(response).find("error/code").text))
                assert code == 404
    counts = world.table_counts()
    assert _file(client, api_key, fmt=fmt, jurisdiction_id="surabaya.go.id").status_code == 404
    assert world.table_counts() == counts
    assert _file(client, api_key, fmt=fmt, jurisdiction_id="makassarkota.go.id").status_code == 200
    assert _file(client, api_key, fmt=fmt, jurisdiction_id="makassar").status_code == 200


# -- mySociety's servicerequestupdates ----------------------------------------------------------

UPDATE_FIELDS = ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]


def _updates(client, fmt, query=""):
    """The feed as (service_request_id, status, description) rows, and the raw rows."""
    response = client.get(f"/open311/v2/servicerequestupdates.{fmt}?lang=id{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    if fmt == "json":
        rows = response.get_json()
        assert all(set(r) == set(UPDATE_FIELDS) for r in rows)
    else:
        root = _xml(response)
        assert root.tag == "service_requests_updates" and {e.tag for e in root} <= {"request_update"}
        assert all([c.tag for c in r] == UPDATE_FIELDS for r in root)
        rows = [{c.tag: c.text or "" for c in r} for r in root]
        for r in rows:
            r["update_id"] = int(r["update_id"])
    return [(r["service_request_id"], r["status"], r["description"]) for r in rows], rows


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_request_updates_tell_each_public_change_once(world, client, fmt):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran tersumbat, bukan sampah.")
    w.do(actions.transfer, w.dpu, sub.case_id, to_agency="DLH", reason="Ternyata tumpukan sampah.")
    middle = w.services.clock.now()
    w.later()
    _work_to_resolved(w, sub.case_id, "Sampah sudah diangkut.")
    rejected = w.report(description="Ada sampah sedikit di ujung jalan, mohon dicek.")
    w.do(actions.triage, w.triage, rejected.case_id, decision="reject", reason="Di luar wilayah kota.")
    duplicate = w.report(description="Sampah di depan pasar belum diangkut sampai sore.")
    w.do(actions.merge_duplicate, w.triage, duplicate.case_id, into_case_number=sub.case_number,
         reason="Tumpukan yang sama.")
    secret = w.report(confidential=True, description="Sampah dibuang tetangga ke kebun saya tiap malam.")
    w.do(actions.triage, w.triage, secret.case_id, decision="valid")
    w.citizen(actions.dispute, sub.tracking_code, reason="Masih ada sisa sampah, kata Daeng Ngai.")

    shown, rows = _updates(client, fmt)
    assert shown == [
        (sub.case_number, "open", "Sedang ditangani DLH"),
        (sub.case_number, "open", "Sedang ditangani Dinas PU"),
        (sub.case_number, "open", "Sedang ditangani DLH"),
        (sub.case_number, "closed", "Selesai: Sampah sudah diangkut."),
        (rejected.case_number, "closed", "Ditolak: Di luar wilayah kota."),
        (duplicate.case_number, "closed", f"Digabungkan dengan laporan {sub.case_number}: Tumpukan yang sama."),
        (sub.case_number, "open", "Disanggah pelapor; ditangani kembali oleh DLH")]
    assert len({r["update_id"] for r in rows}) == len(rows) and all(r["media_url"] == "" for r in rows)
    assert [r["updated_datetime"] for r in rows] == sorted(r["updated_datetime"] for r in rows)
    assert all(r["updated_datetime"].endswith("+08:00") for r in rows)
    body = str(rows)
    assert secret.case_number not in body  # confidential: never in a feed
    assert "Daeng" not in body and "daeng@example.id" not in body and "Masih ada sisa" not in body
    for number in (sub.case_number, rejected.case_number, duplicate.case_number):  # the last one is the request now
        assert [(s, d) for n, s, d in shown if n == number][-1] == _shown(client, number, fmt)

    since = middle.isoformat().replace("+", "%2B")
    assert _updates(client, fmt, f"&start_date={since}")[0] == shown[3:]
    until = (middle - timedelta(minutes=31)).isoformat().replace("+", "%2B")  # before the second transfer
    assert _updates(client, fmt, f"&end_date={until}")[0] == shown[:2]

    _work_to_resolved(w, sub.case_id, "Sisa sampah juga diangkut.")
    w.citizen(actions.confirm, sub.tracking_code)  # closed, as it read already: no update of its own
    assert _updates(client, fmt)[0] == [*shown, (sub.case_number, "closed", "Selesai: Sisa sampah juga diangkut.")]
    w.services.clock.advance(timedelta(days=91))
    assert _updates(client, fmt)[0] == []  # the last 90 days by default
    assert len(_updates(client, fmt, f"&start_date={since}")[0]) == 5


@pytest.mark.parametrize("query, field", [
    ("?start_date=kemarin", "start_date"),
    ("?end_date=2026-11-01T00:00:00", "end_date"),
    ("?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "end_date"),  # over 90 days
    ("?start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "end_date"),
])
def test_request_updates_refuse_bad_dates_naming_them(client, query, field):
    response = client.get(f"/open311/v2/servicerequestupdates.json{query}")
    assert response.status_code == 400
    assert response.get_json()[0]["description"].startswith(f"{field}:")
    xml = client.get(f"/open311/v2/servicerequestupdates.xml{query}")
    assert xml.status_code == 400 and _xml(xml).find("error/description").text.startswith(f"{field}:")


def test_request_updates_are_read_only(client, api_key):
    refused = client.post("/open311/v2/servicerequestupdates.json", data={"api_key": api_key})
    assert refused.status_code == 405 and "GET" in refused.headers["Allow"]


# -- category attributes of every type ----------------------------------------------------------

def test_the_catalogue_asks_for_lists_strings_and_text(client):
    reklame = client.get("/open311/v2/services/reklame-liar.json").get_json()["attributes"]
    assert [(a["code"], a["datatype"], a["required"]) for a in reklame] == [
        ("dipasang_di", "multivaluelist", True), ("tulisan", "string", False)]
    assert [v["key"] for v in reklame[0]["values"]] == ["pohon", "tiang", "jembatan", "trotoar"]
    root = _xml(client.get("/open311/v2/services/pelanggaran-bangunan.xml"))
    assert [(a.find("code").text, a.find("datatype").text, a.find("required").text)
            for a in root.findall("attributes/attribute")] == [("pelanggaran", "text", "true")]
    facility = client.get("/open311/v2/services/fasilitas-anak.json").get_json()["attributes"]
    assert [(a["code"], a["datatype"], a["required"]) for a in facility] == [("nama_fasilitas", "string", True)]
    by_code = {s["service_code"]: s["metadata"] for s in client.get("/open311/v2/services.json").get_json()}
    assert by_code["reklame-liar"] and by_code["pelanggaran-bangunan"] and by_code["fasilitas-anak"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("fields, stored", [
    ({"service_code": "reklame-liar", "attribute[dipasang_di][]": ["tiang", "pohon", "tiang"],
      "attribute[tulisan]": " Sedot WC 24 jam "}, {"dipasang_di": ["pohon", "tiang"], "tulisan": "Sedot WC 24 jam"}),
    ({"service_code": "reklame-liar", "attribute[dipasang_di]": "jembatan"}, {"dipasang_di": ["jembatan"]}),
    ({"service_code": "fasilitas-anak", "attribute[nama_fasilitas]": "Taman Macan"}, {"nama_fasilitas": "Taman Macan"}),
    ({"service_code": "pelanggaran-bangunan", "attribute[pelanggaran]": "Menutup saluran air.\nTanpa papan izin."},
     {"pelanggaran": "Menutup saluran air.\nTanpa papan izin."}),
])
def test_list_string_and_text_answers_are_stored(world, client, api_key, fmt, fields, stored):
    filed = _file(client, api_key, fmt=fmt, **fields)
    assert filed.status_code == 200, filed.get_data(as_text=True)
    number = (filed.get_json()[0]["service_request_id"] if fmt == "json"
              else _xml(filed).find("request/service_request_id").text)
    with world.services.reading() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert session.get(Report, case.report_id).attributes == stored


def test_the_web_report_form_asks_for_the_same_types(client):
    """The same catalogue on /lapor: checkboxes for a multivaluelist, a text area for text, a
    line for a string."""
    reklame = client.get("/lapor/isian?category=reklame-liar").get_data(as_text=True)
    assert reklame.count('type="checkbox" name="attr-reklame-liar-dipasang_di"') == 4
    assert 'id="attr-reklame-liar-tulisan"' in reklame and 'maxlength="200"' in reklame
    building = client.get("/lapor/isian?category=pelanggaran-bangunan").get_data(as_text=True)
    assert '<textarea id="attr-pelanggaran-bangunan-pelanggaran"' in building
    facility = client.get("/lapor/isian?category=fasilitas-anak").get_data(as_text=True)
    assert 'id="attr-fasilitas-anak-nama_fasilitas"' in facility and 'type="text" maxlength="200"' in facility


def test_status_notes_without_their_details_still_say_what_happened(world):
    """A trail without a closing note, a reason or an OPD (none of the current forms allows it,
    an older process version might) still gives a note, never an empty one or a crash."""
    original = world.report()
    duplicate = world.report(description="Sampah di depan pasar belum diangkut juga sampai sore.")
    world.do(actions.merge_duplicate, world.triage, duplicate.case_id, into_case_number=original.case_number,
             reason="Sama.")
    with world.services.reading() as session:
        merged = session.get(Case, duplicate.case_id)
        notes = StatusNotes(session, [merged])
        assert notes.of(merged, PublicState(status=CaseStatus.MERGED)) == f"Merged with report {original.case_number}"
        fresh = Case(merged_into_id=None)
        assert notes.of(fresh, PublicState(status=CaseStatus.IN_PROGRESS)) == "Being handled"
        assert notes.of(fresh, PublicState(status=CaseStatus.IN_PROGRESS, agency="DINSOS")) == "Being handled by Dinsos"
        assert notes.of(fresh, PublicState(status=CaseStatus.RESOLVED)) == "Closed"
        assert notes.of(fresh, PublicState(status=CaseStatus.REJECTED)) == "Rejected"
