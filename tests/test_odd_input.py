"""Odd input on every channel: control characters, NUL, lone surrogates, deep JSON, huge pages
and dates, unsafe redirect targets, stored text in XML and CSV, a database that is down. Each is
a 4xx naming the field (or a 503), never a 500, and nothing is stored."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import update

from tests.webclient import errors
from web.helpers import csv_cell, safe_next
from workflow.commands import credentials
from workflow.store.models import Report

# (A form body cannot carry a lone surrogate: the server decodes broken UTF-8 as U+FFFD. JSON
# escapes can, so the API tests below send them.)
BAD = ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85"]
REPORT = {"category": "sampah", "description": "Sampah menumpuk di depan pasar sejak Senin.",
          "area": "mariso", "kelurahan": "mariso/lette", "lat": "-5.1560", "lon": "119.4050"}


def _token(world, actor) -> str:
    with world.services.uow() as uow:
        _row, secret = credentials.issue(uow, "token", "odd", username=actor.name)
        uow.commit()
    return secret


@pytest.mark.parametrize("bad", BAD)
def test_the_report_form_refuses_control_characters_and_keeps_the_text(world, web, bad):
    before = world.table_counts()
    typed = "Lampu jalan mati " + bad + " sejak kemarin malam."
    response = web.post("/lapor", {**REPORT, "description": typed}, page="/lapor")
    assert response.status_code == 400
    assert any("karakter yang tidak diizinkan" in e for e in errors(response))
    html = response.get_data(as_text=True)
    assert "sejak kemarin malam." in html  # the rest of what was typed is still in the form
    assert world.table_counts() == before


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\ud800"])
def test_the_json_api_names_the_field_for_bad_text(world, app, bad):
    token = _token(world, world.triage)
    before = world.table_counts()
    body = {"category": "sampah", "description": "Sampah menumpuk " + bad + " di pasar.",
            "lat": -5.156, "lon": 119.405, "attributes": {}}
    response = app.test_client().post("/api/v1/reports", json=body,
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "description"
    assert world.table_counts() == before


def test_a_lone_surrogate_escape_in_raw_json_is_a_400(world, app):
    token = _token(world, world.triage)
    raw = ('{"category": "sampah", "description": "Sampah \\ud83d di pasar lama.", '
           '"lat": -5.156, "lon": 119.405}')
    response = app.test_client().post("/api/v1/reports", data=raw, content_type="application/json",
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "description"


def test_json_nested_thousands_deep_is_a_400_not_a_crash(world, app):
    token = _token(world, world.triage)
    client = app.test_client()
    for depth in (40, 5000):
        raw = '{"values": ' + "[" * depth + "]" * depth + "}"
        response = client.post("/api/v1/tasks/1/complete", data=raw, content_type="application/json",
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400, (depth, response.get_data(as_text=True)[:300])
        assert response.get_json()["error"]["field"] in ("values", "body")


def test_open311_refuses_bad_text_in_its_own_error_format(world, app):
    with world.services.uow() as uow:
        _row, key = credentials.issue(uow, "open311", "Aplikasi")
        uow.commit()
    before = world.table_counts()
    response = app.test_client().post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "sampah", "lat": "-5.1560", "long": "119.4050",
        "description": "Sampah menumpuk\x00 di depan pasar."})
    assert response.status_code == 400
    assert response.get_json()[0]["code"] == 400
    assert response.get_json()[0]["description"].startswith("description:")
    assert world.table_counts() == before
    # a NUL in the key itself: refused as a bad key, not a database error
    refused = app.test_client().post("/open311/v2/requests.xml", data={
        "api_key": "tgk_\x00_x", "service_code": "sampah"})
    assert refused.status_code == 400 and b"<errors>" in refused.data


@pytest.mark.parametrize("url", [
    "/inbox?category=%00", "/inbox?stage=a%00b", "/lacak/%00ABC", "/lacak?code=%00",
    "/open311/v2/requests/%00.json", "/open311/v2/tokens/AB%00.xml", "/audit?tracking_code=%00",
    "/audit/actors/x%00y", "/dashboard?start=%00", "/escalations?agency=%00", "/lapor/kelurahan?area=%00",
])
def test_nul_in_urls_is_a_400_on_every_database(world, web, url):
    world.user("semua", ("triage", "KOMINFO"), ("auditor", None), ("supervisor", None))
    web.login("semua")
    response = web.get(url)
    assert response.status_code == 400, (url, response.status_code)


def test_nul_in_the_login_form_is_a_message_not_a_database_error(world, web):
    world.dlh
    response = web.post("/login", {"username": "koor.dlh\x00", "password": "x\x00y"})
    assert response.status_code == 400
    assert errors(response)


def test_stored_control_characters_cannot_break_the_xml_feed(world, app):
    sub = world.report()
    with world.services.uow() as uow:  # text from before the input rule, or written by hand
        uow.session.execute(update(Report).values(description="Rusak\x01\x08 lagi\ufffe",
                                                  address="Jl. \x0b Baru"))
        uow.commit()
    client = app.test_client()
    for url in ("/open311/v2/requests.xml", f"/open311/v2/requests/{sub.case_number}.xml"):
        response = client.get(url)
        assert response.status_code == 200
        root = ET.fromstring(response.data)  # a strict parser: any raw control char would fail
        assert root.find("request/description").text == "Rusak\ufffd\ufffd lagi\ufffd"


@pytest.mark.parametrize("target, expected", [
    ("/inbox?tab=mine", "/inbox?tab=mine"), ("/\t/evil.example", "/home"),
    ("/%09/evil.example", "/%09/evil.example"),  # percent-encoded stays a local path
    ("//evil.example", "/home"), ("/\\evil.example", "/home"), ("https://evil.example/", "/home"),
    ("/a\nSet-Cookie: x=1", "/home"), ("/a\rb", "/home"), ("javascript:alert(1)", "/home"),
    ("", "/home"), (None, "/home"), ("/ok\x7f", "/home"), ("/\u2028x", "/\u2028x"),
])
def test_safe_next_keeps_only_local_paths(target, expected):
    assert safe_next(target, "/home") == expected


def test_login_next_never_leaves_the_site(world, web):
    world.dlh
    for target in ("/\t/evil.example", "/\\evil.example", "/a\r\nLocation: //evil.example", "//evil.example"):
        token = web.token("/login")
        response = web.client.post("/login", query_string={"next": target}, data={
            "username": "koor.dlh", "password": "correct horse battery", "csrf_token": token})
        assert response.status_code in (302, 400), (target, response.status_code)
        if response.status_code == 302:
            assert response.headers["Location"] == "/inbox"  # the user's own home, nowhere else
            web.logout()


@pytest.mark.parametrize("url", [
    "/inbox?page=1000000000000000000000000", "/escalations?page=1000000000000000000000000",
    "/audit?page=1000000000000000000000000", "/audit/actors/semua?page=1000000000000000000000000",
    "/admin/incidents?page=1000000000000000000000000", "/inbox?per_page=1000000000000000000000",
    "/dashboard?start=0001-01-01", "/dashboard?end=9999-12-31", "/dashboard?start=9999-12-01&end=9999-12-31",
    "/audit?date_to=9999-12-31", "/audit?date_from=0001-01-01",
    "/dashboard/sla.csv?end=9999-12-31", "/audit?page=" + "9" * 5000, "/admin/incidents?page=" + "1" * 30,
])
def test_huge_pages_and_extreme_dates_on_staff_pages_are_a_400(world, web, url):
    world.user("semua", ("triage", "KOMINFO"), ("auditor", None), ("supervisor", None), ("admin", None))
    web.login("semua")
    response = web.get(url)
    assert response.status_code == 400, (url, response.status_code, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("url", ["/inbox?page=%C2%B2", "/escalations?page=%D9%A1", "/audit?page=-3",
                                 "/inbox?per_page=%EF%BC%95"])
def test_page_numbers_that_are_not_plain_digits_mean_the_first_page(world, web, url):
    world.user("semua", ("triage", "KOMINFO"), ("auditor", None), ("supervisor", None))
    web.login("semua")
    assert web.get(url).status_code == 200  # "²" and "١" are digits to Python, not numbers here


@pytest.mark.parametrize("name, value", [
    ("start_date", "0001-01-01T00:00:00+14:00"), ("end_date", "0001-01-01T00:00:00Z"),
    ("start_date", "9999-12-31T23:59:59-12:00"), ("end_date", "9999-12-31T23:59:59Z"),
])
def test_open311_dates_near_year_1_or_9999_are_a_400_naming_the_field(app, world, name, value):
    for fmt in ("json", "xml"):
        response = app.test_client().get(f"/open311/v2/requests.{fmt}", query_string={name: value})
        assert response.status_code == 400, (name, value, response.status_code)
        assert name in response.get_data(as_text=True)


@pytest.mark.parametrize("limit", ["10" * 20, "²", "9" * 5000])
def test_huge_or_odd_page_sizes_in_the_api_are_a_400(world, app, limit):
    token = _token(world, world.triage)
    response = app.test_client().get("/api/v1/tasks", query_string={"limit": limit},
                                     headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "limit"


@pytest.mark.parametrize("body", [
    {"category": "sampah", "description": "Sampah menumpuk di depan pasar.", "lat": 10**400, "lon": 119.4},
    {"category": "sampah", "description": "Sampah menumpuk di depan pasar.", "lat": -5.15, "lon": 119.4,
     "attributes": {"jumlah": 10**400}},
])
def test_numbers_beyond_any_float_are_a_400(world, app, body):
    import json as jsonlib

    token = _token(world, world.triage)
    response = app.test_client().post("/api/v1/reports", data=jsonlib.dumps(body), content_type="application/json",
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("text, cell", [
    ("=1+1", "'=1+1"), ("+62 811", "'+62 811"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=x", "'\t=x"), ("a;=HYPERLINK(\"x\")", "a;'=HYPERLINK(\"x\")"), ("a; +1;-2", "a; '+1;'-2"),
    ("biasa saja", "biasa saja"), ("a,=b", "a,=b"), (None, ""), ({"k": "=x"}, '{"k": "=x"}'),
])
def test_csv_cells_are_never_formulas_whatever_the_list_separator(text, cell):
    assert csv_cell(text) == cell


@pytest.fixture
def down_app(tmp_path, clock, definition):
    from web import create_app
    from workflow.config import Settings
    from workflow.services import build_services

    # nothing listens on port 1: every connection is refused
    settings = Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path / "instance"),
                                  "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    services = build_services(settings, clock=clock, definition=definition)
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, services=services)
    yield app
    services.dispose()


@pytest.mark.parametrize("url, kind", [
    ("/lapor", "html"), ("/lacak/ABCD-EFGH", "html"), ("/open311/v2/services.json", "open311"),
    ("/open311/v2/requests.xml", "open311"), ("/api/v1/tasks", "api"),
])
def test_a_database_outage_is_a_503_with_retry_after(down_app, url, kind):
    headers = {"Authorization": "Bearer tgt_abcd1234_x"} if kind == "api" else {}
    response = down_app.test_client().get(url, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    if kind == "api":
        assert response.get_json()["error"]["code"] == "unavailable"
    elif kind == "open311" and url.endswith(".xml"):
        assert ET.fromstring(response.data).find("error/code").text == "503"
    elif kind == "open311":
        assert response.get_json()[0]["code"] == 503
    else:
        assert "sebentar" in response.get_data(as_text=True)
