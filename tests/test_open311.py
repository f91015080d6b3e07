"""Open311 GeoReport v2: the specification's walk-through, in XML and JSON, with its errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests import actions
from workflow.commands import credentials
from workflow.store.models import Case, Report
from workflow.vocabulary import Channel

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


def test_file_a_request_then_find_it_by_id_and_token(world, client, api_key):
    filed = _file(client, api_key, fmt="xml")
    assert filed.status_code == 201
    request = _xml(filed).find("request")
    number, token = request.find("service_request_id").text, request.find("token").text
    assert token in request.find("service_notice").text
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
    assert filed.status_code == 201, filed.get_data(as_text=True)
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
    assert response.status_code == 201, response.get_data(as_text=True)
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
    assert [_file(client, api_key).status_code for _ in range(3)] == [201, 201, 429]
    limited = _file(client, api_key, fmt="xml")
    assert limited.status_code == 429 and _xml(limited).find("error/code").text == "429"
    with world.services.uow() as uow:
        _row, other = credentials.issue(uow, "open311", "Call center")
        uow.commit()
    assert _file(client, other).status_code == 201  # another key has its own budget


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
    assert (rejected["status"], rejected["status_notes"]) == ("closed", "Laporan ganda tanpa lokasi.")
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
    assert filed.status_code == 201 and "Access-Control-Allow-Origin" not in filed.headers  # a server's job
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
