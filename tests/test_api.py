"""The JSON API: a case filed through Open311 worked to closure with tokens, every endpoint's
answers to missing, foreign and wrong-role tokens, and malformed bodies."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import select

from escalation.sweeper import Sweeper
from tests import actions
from tests.helpers import jpeg_bytes
from web.labels import ACTIONS, ROLES
from workflow import commands
from workflow.commands import credentials
from workflow.notify import notices
from workflow.store import audit
from workflow.store.models import CaseEvent, QrTeam
from workflow.vocabulary import Action, Role


def _token(world, username: str) -> str:
    with world.services.uow() as uow:
        _row, secret = credentials.issue(uow, "token", f"token {username}", username=username)
        uow.commit()
    return secret


class Api:
    def __init__(self, app, token: str | None):
        self.client, self.token = app.test_client(), token

    def _headers(self, extra=None):
        return {**({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(extra or {})}

    def get(self, url, headers=None, **kw):
        return self.client.get(f"/api/v1{url}", headers=self._headers(headers), **kw)

    def post(self, url, json=None, headers=None, **kw):
        return self.client.post(f"/api/v1{url}", json=json, headers=self._headers(headers), **kw)


@pytest.fixture
def tokens(world, app):
    w = world
    users = {"triage": w.triage, "dlh": w.dlh, "dpu": w.dpu, "qr": w.qr_mariso, "auditor": w.auditor,
             "sup_dlh": w.user("sup.dlh", ("supervisor", "DLH"))}
    apis = {key: Api(app, _token(w, actor.name)) for key, actor in users.items()}
    for api in apis.values():  # in service already: today's first use is in the security log
        assert api.get("/cases?limit=1").status_code == 200
    return apis


def _open_task(api, stage):
    items = api.get(f"/tasks?stage={stage}").get_json()["items"]
    assert len(items) == 1, items
    return items[0]


def test_an_open311_case_worked_to_closure_through_the_api(world, app, tokens):
    w = world
    with w.services.uow() as uow:
        _row, key = credentials.issue(uow, "open311", "Aplikasi warga")
        uow.commit()
    client = app.test_client()
    filed = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "sampah", "lat": "-5.1560", "long": "119.4050",
        "description": "Sampah menumpuk di depan pasar, sudah tiga hari.", "email": "w@example.id"})
    number = filed.get_json()[0]["service_request_id"]
    token = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", filed.get_json()[0]["service_notice"]).group(0)  # for the citizen

    triage = _open_task(tokens["triage"], "triage")
    assert triage["case_number"] == number
    detail = tokens["triage"].get(f"/tasks/{triage['id']}").get_json()
    assert [f["name"] for f in detail["form"]["fields"]] == [
        "decision", "reason", "route_to", "duplicate_of", "corrected_category"]
    assert detail["form"]["fields"][0]["choices"] == ["valid", "reject", "duplicate"]
    assert detail["form"]["fields"][1]["required_with"] == ["route_to"]
    assert "sampah" in detail["form"]["fields"][4]["choices"]  # database choices are listed
    assert tokens["triage"].post(f"/tasks/{triage['id']}/claim").status_code == 200
    done = tokens["triage"].post(f"/tasks/{triage['id']}/complete",
                                 json={"values": {"decision": "valid"}, "version": detail["case_version"] + 1})
    assert done.status_code == 200 and done.get_json()["stage"] == "disposition"

    disposition = _open_task(tokens["dlh"], "disposition")
    stale = tokens["dlh"].post(f"/tasks/{disposition['id']}/complete",
                               json={"values": {"decision": "accept"}, "version": 1})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "conflict"
    tokens["dlh"].post(f"/tasks/{disposition['id']}/complete", json={"values": {"decision": "accept"}})
    dispatch = _open_task(tokens["dlh"], "dispatch")
    team_field = tokens["dlh"].get(f"/tasks/{dispatch['id']}").get_json()["form"]["fields"][0]
    assert team_field["choices"] == ["qr-mariso-1"]
    tokens["dlh"].post(f"/tasks/{dispatch['id']}/complete", json={"values": {"team": "qr-mariso-1"}})

    w.services.clock.advance(timedelta(hours=2))  # the team gets there
    field = _open_task(tokens["qr"], "field_work")
    case_id = field["case_id"]
    photo = tokens["qr"].client.post(f"/api/v1/cases/{case_id}/attachments", headers=tokens["qr"]._headers(),
                                     data={"kind": "after", "file": (io.BytesIO(jpeg_bytes()), "sesudah.jpg")},
                                     content_type="multipart/form-data")
    assert photo.status_code == 201
    arrived = (w.services.clock.now() - timedelta(minutes=10)).isoformat()
    worked = tokens["qr"].post(f"/tasks/{field['id']}/complete", json={"values": {
        "arrived_at": arrived, "action_taken": "Sampah diangkut truk.", "after_photo": photo.get_json()["id"]}})
    assert worked.status_code == 200, worked.get_json()
    verification = _open_task(tokens["dlh"], "verification")
    tokens["dlh"].post(f"/tasks/{verification['id']}/complete", json={"values": {"decision": "approve"}})
    closure = _open_task(tokens["dlh"], "closure")
    closed = tokens["dlh"].post(f"/tasks/{closure['id']}/complete",
                                json={"values": {"closure_note": "Sampah sudah diangkut, lokasi bersih."}})
    assert closed.get_json()["status"] == "resolved"
    w.citizen(actions.confirm, token)

    shown = client.get(f"/open311/v2/requests/{number}.json").get_json()[0]
    assert (shown["status"], shown["status_notes"]) == ("closed", "Selesai: Sampah sudah diangkut, lokasi bersih.")
    case = tokens["dlh"].get(f"/cases/{case_id}").get_json()
    assert case["status"] == "closed" and case["report"]["channel"] == "open311"
    history = tokens["dlh"].get(f"/cases/{case_id}/history?limit=5").get_json()
    trail = [e["action"] for e in history["items"]]
    cursor = history["next_cursor"]
    for _ in range(50):  # bounded: a cursor that never ends fails the test instead of hanging it
        if not cursor:
            break
        page = tokens["dlh"].get(f"/cases/{case_id}/history?limit=5&cursor={cursor}").get_json()
        trail += [e["action"] for e in page["items"]]
        cursor = page["next_cursor"]
    else:
        pytest.fail("the history cursor never ended")
    assert trail[0] == "report_submitted" and trail[-1] == "case_closed"
    assert len(trail) == len(w.events(case_id)) and w.chain_breaks() == []


def test_task_lists_page_by_cursor(world, tokens):
    for n in range(5):
        world.report(description=f"Sampah menumpuk nomor {n}, mohon diangkut.")
    first = tokens["triage"].get("/tasks?limit=2").get_json()
    assert first["total"] == 5 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    for _ in range(10):  # bounded: a cursor that never ends fails the test instead of hanging it
        if not cursor:
            break
        page = tokens["triage"].get(f"/tasks?limit=2&cursor={cursor}").get_json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    else:
        pytest.fail("the task cursor never ended")
    assert len(seen) == len(set(seen)) == 5
    import base64
    huge = base64.urlsafe_b64encode(b'{"o": 99999999999999999999}').decode().rstrip("=")
    for bad in ("/tasks?limit=0", "/tasks?limit=1000", "/tasks?cursor=%%%", "/tasks?sla=late",
                f"/tasks?limit=1&cursor={huge}",
                f"/tasks?limit=3&cursor={first['next_cursor']}"):
        response = tokens["triage"].get(bad)
        assert response.status_code == 400 and response.get_json()["error"]["field"] in (
            "limit", "cursor", "sla"), bad


# every endpoint x missing token / invalid token / another agency's token / wrong role
ENDPOINTS = ["GET /tasks", "GET /tasks/{item}", "POST /tasks/{item}/claim", "POST /tasks/{item}/release",
             "POST /tasks/{item}/complete", "GET /cases", "GET /cases/by-number/{number}", "GET /cases/{case}",
             "GET /cases/{case}/history", "POST /cases/{case}/attachments", "GET /escalations", "POST /reports"]
FOREIGN = {"GET /tasks": 200, "GET /tasks/{item}": 404, "POST /tasks/{item}/claim": 404,
           "POST /tasks/{item}/release": 404, "POST /tasks/{item}/complete": 404, "GET /cases": 200,
           "GET /cases/by-number/{number}": 404, "GET /cases/{case}": 404, "GET /cases/{case}/history": 404,
           "POST /cases/{case}/attachments": 404, "GET /escalations": 403, "POST /reports": 400}
WRONG_ROLE = {"GET /tasks": 200, "GET /tasks/{item}": 403, "POST /tasks/{item}/claim": 403,
              "POST /tasks/{item}/release": 403, "POST /tasks/{item}/complete": 403, "GET /cases": 200,
              "GET /cases/by-number/{number}": 200, "GET /cases/{case}": 200, "GET /cases/{case}/history": 200,
              "POST /cases/{case}/attachments": 403, "GET /escalations": 403, "POST /reports": 403}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # scope rules; PostgreSQL runs the flows
@pytest.mark.parametrize("who", ["missing", "invalid", "revoked", "foreign", "wrong_role"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_tokens_and_scopes(world, app, tokens, who, endpoint):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")  # a DLH disposition
    item = w.item(sub.case_id)
    if who == "revoked":
        token = _token(w, "koor.dlh")
        with w.services.uow() as uow:
            credentials.revoke(uow, token.split("_")[1])
            uow.commit()
        api = Api(app, token)
    else:
        api = {"missing": Api(app, None), "invalid": Api(app, "tgt_00000000_nope"),
               "foreign": tokens["dpu"], "wrong_role": tokens["auditor"]}[who]
    method, path = endpoint.split(" ")
    url = path.format(item=item.id, case=sub.case_id, number=sub.case_number)
    counts = w.table_counts()
    if method == "GET":
        response = api.get(url)
    elif url.endswith("/attachments"):
        response = api.client.post(f"/api/v1{url}", headers=api._headers(), content_type="multipart/form-data",
                                   data={"kind": "evidence", "file": (io.BytesIO(jpeg_bytes()), "x.jpg")})
    elif url.endswith("/complete"):
        response = api.post(url, json={"values": {"decision": "accept"}})
    elif url == "/reports":
        response = api.post(url, json={"category": "sampah", "description": "x", "lat": -5.15, "lon": 119.4})
    else:
        response = api.post(url)
    expected = 401 if who in ("missing", "invalid", "revoked") else (
        FOREIGN if who == "foreign" else WRONG_ROLE)[endpoint]
    assert response.status_code == expected, response.get_json()
    body = response.get_json()
    if expected >= 400:
        assert set(body["error"]) == {"code", "message", "field", "fields"}
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if expected == 200 and (endpoint == "GET /tasks" or (endpoint == "GET /cases" and who == "foreign")):
        assert body["items"] == [] and body["total"] == 0  # nothing of DLH's leaks elsewhere
    if expected == 200 and endpoint == "GET /cases" and who == "wrong_role":
        assert [c["id"] for c in body["items"]] == [sub.case_id]  # an auditor reads every case
    assert w.table_counts() == counts


@pytest.mark.parametrize("body, field", [
    ({"values": {"decision": 3}}, "values.decision"),
    ({"values": {"decision": "accept", "colour": "red"}}, "values.colour"),
    ({"values": {"decision": "transfer"}}, "values.transfer_to"),
    ({"values": {"decision": "transfer", "transfer_to": "DPU", "reason": "x" * 5000}}, "values.reason"),
    ({"values": {"decision": "maybe"}}, "values.decision"),
    ({"values": ["accept"]}, "values"),
    ({"decision": "accept"}, "values"),
    ({"values": {}, "version": "7"}, "version"),
    ({"values": {"decision": "accept"}, "extra": 1}, "extra"),
])
def test_malformed_task_bodies_get_400_with_the_field_and_change_nothing(world, tokens, body, field):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    counts = w.table_counts()
    response = tokens["dlh"].post(f"/tasks/{item.id}/complete", json=body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"], response.get_json()
    assert w.table_counts() == counts


@pytest.mark.parametrize("body, field", [
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": "-5.15", "lon": 119.4}, "lat"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": 95, "lon": 119.4}, "lat"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -6.2, "lon": 106.8}, "lat"),
    ({"category": "sampah", "description": "x" * 5000, "lat": -5.15, "lon": 119.4}, "description"),
    ({"category": 7, "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4}, "category"),
    ({"category": "jalan-tol", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4}, "category"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4,
      "contact_email": "bukan-email"}, "contact_email"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4,
      "anonymous": "yes"}, "anonymous"),
    ({"category": "lampu-rambu", "description": "Lampu jalan mati semua.", "lat": -5.15, "lon": 119.4,
      "attributes": {"jenis": "jembatan"}}, "attribute[jenis]"),
    ({"category": "orang-hilang", "description": "Seorang lansia tersesat di pasar.", "lat": -5.15,
      "lon": 119.4, "attributes": {"terakhir_terlihat": "kemarin sore"}}, "attribute[terakhir_terlihat]"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15}, "lon"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4,
      "contact_email": "w@example.id", "notify_by": "merpati"}, "notify_by"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4,
      "notify_by": "email"}, "contact_email"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4,
      "language": "fr"}, "language"),
    ({"category": "sampah", "description": "Sampah di jalan raya.", "lat": -5.15, "lon": 119.4,
      "submitted_at": "2020-01-01"}, "submitted_at"),
])
def test_malformed_reports_get_400_with_the_field_and_store_nothing(world, tokens, body, field):
    counts = world.table_counts()
    response = tokens["triage"].post("/reports", json=body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"], response.get_json()
    assert world.table_counts() == counts


def test_filing_a_report_through_the_api(world, tokens):
    response = tokens["triage"].post("/reports", json={
        "category": "lampu-rambu", "description": "Lampu jalan mati sepanjang lima tiang.",
        "lat": -5.1560, "lon": 119.4050, "attributes": {"jenis": "lampu", "jumlah_tiang": 5},
        "contact_phone": "+62 811 4000 123"})
    assert response.status_code == 201
    case_id = response.get_json()["case_id"]
    case = tokens["triage"].get(f"/cases/{case_id}").get_json()
    assert case["report"]["channel"] == "api" and case["report"]["attributes"] == {"jenis": "lampu", "jumlah_tiang": 5}
    assert "contact_phone" not in case["report"] and case["report"]["contact_available"] is True
    assert tokens["triage"].get(f"/cases/{case_id}/contact").get_json()["contact_phone"] == "+62 811 4000 123"
    assert tokens["auditor"].get(f"/cases/{case_id}").get_json()["report"]["contact_available"] is False
    assert tokens["auditor"].get(f"/cases/{case_id}/contact").status_code == 403  # triage may call back, not they
    submitted = world.events(case_id)[0]
    assert (submitted.action, submitted.actor_name) == ("report_submitted", "triase")
    not_json = tokens["triage"].client.post("/api/v1/reports", data="category=sampah",
                                            headers=tokens["triage"]._headers())
    assert not_json.status_code == 415


def test_an_api_client_says_how_and_in_which_language_the_reporter_is_told(world, tokens):
    from sqlalchemy import select

    from workflow.store.models import Subscription

    base = {"category": "sampah", "description": "Sampah menumpuk di depan pasar.", "lat": -5.1560,
            "lon": 119.4050, "contact_email": "warga@example.id"}
    told = tokens["triage"].post("/reports", json={**base, "notify_by": "email", "language": "en"})
    untold = tokens["triage"].post("/reports", json={**base, "notify_by": "none"})
    default = tokens["triage"].post("/reports", json=base)
    assert {r.status_code for r in (told, untold, default)} == {201}
    with world.services.reading() as session:
        subs = {s.case_id: (s.channel, s.language) for s in session.scalars(select(Subscription))}
    assert subs == {told.get_json()["case_id"]: ("email", "en"), default.get_json()["case_id"]: ("email", "id")}


def test_ids_beyond_any_column_are_a_400_not_a_driver_error(world, tokens):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    item = w.item(sub.case_id)
    counts = w.table_counts()
    response = tokens["qr"].post(f"/tasks/{item.id}/complete", json={"values": {
        "arrived_at": w.services.clock.now().isoformat(), "action_taken": "Diangkut",
        "after_photo": 10**20}})
    assert response.status_code == 400 and "values.after_photo" in response.get_json()["error"]["fields"]
    assert w.table_counts() == counts


def test_api_errors_are_json_even_for_unknown_urls(tokens):
    assert tokens["dlh"].get("/nothing-here").get_json()["error"]["code"] == "not_found"
    assert tokens["dlh"].get("/tasks/99999999999999").status_code == 404
    assert tokens["dlh"].client.delete("/api/v1/tasks").get_json()["error"]["code"] == "method_not_allowed"


def test_api_writes_are_rate_limited_per_token(app, world, tokens):
    app.config["TANGGAP_API_WRITE_LIMIT"] = "2 per minute"
    sub = world.report()
    item = world.item(sub.case_id)
    api = tokens["triage"]
    assert [api.post(f"/tasks/{item.id}/claim").status_code for _ in range(3)] == [200, 200, 429]
    assert api.post(f"/tasks/{item.id}/claim").get_json()["error"]["code"] == "rate_limited"
    assert api.get(f"/tasks/{item.id}").status_code == 200  # reads are not limited


def test_a_token_in_use_shows_when_it_was_last_used(world, app):
    from click.testing import CliRunner

    from tanggap.cli import main

    tokens = {"dlh": Api(app, _token(world, world.dlh.name))}
    settings = world.services.settings
    env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    before = CliRunner().invoke(main, ["tokens", "list"], env=env).output
    assert "token koor.dlh" in before and "last used never" in before.split("token koor.dlh")[1].splitlines()[0]
    assert tokens["dlh"].get("/tasks").status_code == 200
    after = CliRunner().invoke(main, ["tokens", "list"], env=env).output
    line = after.split("token koor.dlh")[1].splitlines()[0]
    assert f"last used {world.services.clock.now():%Y-%m-%d %H:%M}" in line


def test_a_field_taking_several_photos_takes_a_list_of_ids(world, tokens):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.accept, world.dlh, sub.case_id)
    world.do(actions.dispatch, world.dlh, sub.case_id, team="qr-mariso-1")
    field = _open_task(tokens["qr"], "field_work")
    form = tokens["qr"].get(f"/tasks/{field['id']}").get_json()["form"]
    assert {f["name"]: f.get("max_files") for f in form["fields"]}["after_photo"] == 4
    ids = [world.after_photo(world.qr_mariso, sub.case_id) for _ in range(2)]
    values = {"arrived_at": (world.services.clock.now() - timedelta(minutes=5)).isoformat(),
              "action_taken": "Diangkut.", "after_photo": [ids[0], "dua"]}
    typed = tokens["qr"].post(f"/tasks/{field['id']}/complete", json={"values": values})
    assert typed.status_code == 400
    assert typed.get_json()["error"]["fields"] == {"values.after_photo": "harus daftar id lampiran yang sudah diunggah"}
    twice = tokens["qr"].post(f"/tasks/{field['id']}/complete", json={"values": {**values, "after_photo": [ids[0]] * 2}})
    assert twice.status_code == 400 and twice.get_json()["error"]["fields"] == {"values.after_photo": "foto yang sama disebut dua kali"}
    done = tokens["qr"].post(f"/tasks/{field['id']}/complete", json={"values": {**values, "after_photo": ids}})
    assert done.status_code == 200, done.get_json()
    with world.services.reading() as session:
        event = session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == sub.case_id, CaseEvent.action == Action.TASK_COMPLETED)
            .order_by(CaseEvent.seq.desc())).first()
        data = json.loads(event.data) if isinstance(event.data, str) else event.data
    assert data["values"]["after_photo"] == ids and data["values"]["before_photo"] is None


# -- cases: by number, lists ----------------------------------------------------------------------

def test_a_case_is_found_by_its_number_within_the_tokens_scope(world, tokens):
    w = world
    sub = w.report()
    found = tokens["triage"].get(f"/cases/by-number/{sub.case_number}")
    assert found.status_code == 200 and found.get_json() == tokens["triage"].get(f"/cases/{sub.case_id}").get_json()
    assert found.get_json()["number"] == sub.case_number
    assert tokens["dlh"].get(f"/cases/by-number/{sub.case_number}").status_code == 404  # still at triage
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    assert tokens["dlh"].get(f"/cases/by-number/{sub.case_number}").get_json()["id"] == sub.case_id
    assert tokens["dpu"].get(f"/cases/by-number/{sub.case_number}").status_code == 404
    unknown = tokens["dlh"].get("/cases/by-number/2026-999999")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["message"] == "kasus 2026-999999 tidak ditemukan"
    assert tokens["dlh"].get(f"/cases/by-number/{sub.case_number}?colour=red").get_json()["error"]["field"] == "colour"


def _listed(api, query="") -> list[int]:
    body = api.get(f"/cases?{query}").get_json()
    assert "items" in body, (query, body)
    return [c["id"] for c in body["items"]]


def test_cases_are_listed_newest_first_with_filters_in_the_tokens_scope(world, tokens):
    w = world
    clock = w.services.clock
    dlh = w.report()  # sampah, Mariso / Lette
    w.do(actions.triage, w.triage, dlh.case_id, decision="valid")
    clock.advance(timedelta(hours=1))
    dpu = w.report(category="lampu-rambu", description="Lampu jalan mati di depan sekolah.",
                   attributes={"jenis": "lampu"})
    w.do(actions.triage, w.triage, dpu.case_id, decision="valid")
    clock.advance(timedelta(hours=1))
    tallo = w.report(area="tallo", kelurahan="tallo/buloa")  # still at triage
    clock.advance(timedelta(hours=1))
    dispatched = w.report()
    w.do(actions.triage, w.triage, dispatched.case_id, decision="valid")
    w.do(actions.accept, w.dlh, dispatched.case_id)
    ids = [dispatched.case_id, tallo.case_id, dpu.case_id, dlh.case_id]
    api = tokens["triage"]  # the command center reads every case

    everything = api.get("/cases").get_json()
    assert [c["id"] for c in everything["items"]] == ids and everything["total"] == 4
    row = everything["items"][-1]
    assert {k: row[k] for k in ("number", "status", "stage", "category", "area", "kelurahan", "agency", "team")} == {
        "number": dlh.case_number, "status": "in_progress", "stage": "disposition", "category": "sampah",
        "area": "mariso", "kelurahan": "mariso/lette", "agency": "DLH", "team": None}
    assert row["version"] == w.case(dlh.case_id).version
    assert _listed(api, "stage=disposition") == [dpu.case_id, dlh.case_id]
    assert _listed(api, "stage=dispatch") == [dispatched.case_id]
    assert _listed(api, "status=triage") == [tallo.case_id]
    assert _listed(api, "agency=DLH") == [dispatched.case_id, dlh.case_id]
    assert _listed(api, "agency=DLH&stage=dispatch") == [dispatched.case_id]
    assert _listed(api, "category=lampu-rambu") == [dpu.case_id]
    assert _listed(api, "area=tallo") == [tallo.case_id]
    assert _listed(api, "kelurahan=tallo/buloa") == [tallo.case_id]
    assert _listed(api, "kelurahan=mariso/lette") == [dispatched.case_id, dpu.case_id, dlh.case_id]
    assert _listed(api, "area=mariso&kelurahan=tallo/buloa") == []

    created = {c["id"]: c["created_at"] for c in everything["items"]}
    assert _listed(api, f"created_since={created[dpu.case_id]}") == ids[:3]  # at or after
    assert _listed(api, f"created_until={created[dpu.case_id]}") == [dlh.case_id]  # before
    assert _listed(api, f"created_since={created[dpu.case_id]}&created_until={created[dispatched.case_id]}") == [
        tallo.case_id, dpu.case_id]
    wita = datetime.fromisoformat(created[tallo.case_id]).astimezone(timezone(timedelta(hours=8)))
    assert _listed(api, "created_since=" + quote(wita.isoformat())) == ids[:2]  # any offset: the same moment

    clock.advance(timedelta(hours=1))
    moment = clock.now()
    w.do(commands.claim, w.dpu, dpu.case_id)
    assert _listed(api, "updated_since=" + quote(moment.isoformat())) == [dpu.case_id]
    changed = api.get(f"/cases/{dpu.case_id}").get_json()["updated_at"]
    assert _listed(api, f"updated_since={changed}") == [dpu.case_id]  # the moment shown is included

    assert _listed(tokens["dlh"]) == [dispatched.case_id, dlh.case_id]  # DLH's own cases only
    assert _listed(tokens["dlh"], "agency=DPU") == []
    assert _listed(tokens["qr"]) == []  # no case of the Mariso team yet


def test_case_pages_keep_their_order_when_cases_are_filed_meanwhile(world, tokens):
    for n in range(5):
        world.report(description=f"Sampah menumpuk nomor {n}, mohon diangkut.")
    api = tokens["triage"]
    first = api.get("/cases?limit=2").get_json()
    assert first["total"] == 5 and len(first["items"]) == 2 and first["next_cursor"]
    seen = [c["id"] for c in first["items"]]
    world.report(description="Laporan baru yang masuk selagi halaman dibaca.")  # a newer case: page one's
    cursor = first["next_cursor"]
    for _ in range(10):  # bounded: a cursor that never ends fails the test instead of hanging it
        if not cursor:
            break
        page = api.get(f"/cases?limit=2&cursor={cursor}").get_json()
        assert page["total"] == 6
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    else:
        pytest.fail("the case cursor never ended")
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5  # each once, none skipped


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # input checks, not the database
@pytest.mark.parametrize("query, field, message", [
    ("stage=bogus", "stage", "harus salah satu dari triage, disposition"),
    ("stage=", "stage", "harus salah satu dari"),
    ("status=open", "status", "harus salah satu dari triage, in_progress"),
    ("agency=PLN", "agency", "OPD 'PLN' tidak dikenal"),
    ("category=jalan-tol", "category", "kategori 'jalan-tol' tidak dikenal"),
    ("area=mariso/lette", "area", "kecamatan 'mariso/lette' tidak dikenal"),
    ("kelurahan=mariso", "kelurahan", "kelurahan 'mariso' tidak dikenal"),
    ("created_since=2026-11-23", "created_since", "isi tanggal dan jam ISO 8601 dengan zona waktu"),
    ("created_since=2026-11-23T08:00:00", "created_since", "isi tanggal dan jam ISO 8601 dengan zona waktu"),
    ("created_until=kemarin", "created_until", "isi tanggal dan jam ISO 8601 dengan zona waktu"),
    ("updated_since=", "updated_since", "isi tanggal dan jam ISO 8601 dengan zona waktu"),
    ("updated_since=1900-01-01T00:00:00Z", "updated_since", "isi tanggal antara 2000-01-01"),
    ("created_since=2026-11-23T00:00:00Z&created_until=2026-11-22T00:00:00Z", "created_until",
     "harus lebih lambat dari created_since"),
    ("limit=0", "limit", "harus antara 1 dan 100"),
    ("cursor=%25%25", "cursor", "bukan kursor dari API ini"),
    ("number=2026-000001", "number", "parameter tidak dikenal"),
    ("lang=fr", "lang", "harus salah satu dari id, en"),
])
def test_bad_case_filters_get_400_naming_the_parameter(world, tokens, query, field, message):
    response = tokens["triage"].get(f"/cases?{query}")
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["field"] == field and error["fields"][field].startswith(message), error


# -- labels, languages, times -------------------------------------------------------------------

def test_choice_fields_carry_their_labels_in_the_requests_language(world, tokens):
    w = world
    sub = w.report()
    triage = tokens["triage"]
    item = w.item(sub.case_id)
    fields = {f["name"]: f for f in triage.get(f"/tasks/{item.id}").get_json()["form"]["fields"]}
    decision = fields["decision"]
    assert decision["choices"] == ["valid", "reject", "duplicate"]  # as before: the codes to send
    assert decision["options"] == [{"value": "valid", "label": "Valid"}, {"value": "reject", "label": "Tolak"},
                                   {"value": "duplicate", "label": "Duplikat"}]
    categories = {o["value"]: o["label"] for o in fields["corrected_category"]["options"]}
    assert categories["lampu-rambu"] == "Lampu jalan dan rambu rusak"
    assert [o["value"] for o in fields["corrected_category"]["options"]] == fields["corrected_category"]["choices"]
    assert "options" not in fields["reason"]
    english = {f["name"]: f for f in triage.get(f"/tasks/{item.id}", headers={"Accept-Language": "en"})
               .get_json()["form"]["fields"]}
    assert [o["label"] for o in english["decision"]["options"]] == ["Valid", "Reject", "Duplicate"]
    assert {o["value"]: o["label"] for o in english["corrected_category"]["options"]}["lampu-rambu"] == (
        "Broken street lights and signs")

    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    disposition = tokens["dlh"].get(f"/tasks/{w.item(sub.case_id).id}?lang=en").get_json()["form"]["fields"]
    transfer = {f["name"]: f for f in disposition}["transfer_to"]
    assert {"value": "DPU", "label": "Dinas Pekerjaan Umum"} in transfer["options"]
    assert "DLH" not in transfer["choices"]  # not to the OPD that has it
    w.do(actions.accept, w.dlh, sub.case_id)
    dispatch = tokens["dlh"].get(f"/tasks/{w.item(sub.case_id).id}").get_json()["form"]["fields"]
    team = {f["name"]: f for f in dispatch}["team"]
    with w.services.reading() as session:
        team_name = session.scalar(select(QrTeam.name).where(QrTeam.code == "qr-mariso-1"))
    assert team["choices"] == ["qr-mariso-1"] and team["options"] == [{"value": "qr-mariso-1", "label": team_name}]


def test_a_static_choice_without_a_label_is_offered_by_its_code():
    from workflow.engine.forms import FormField
    from workflow.read.options import field_options

    field = FormField("decision", "choice", {}, choices=("yes", "no", "maybe"),
                      choice_labels={"yes": {"id": "Ya", "en": "Yes"}, "no": {"id": "Tidak"}})
    assert [(o.code, o.name("id"), o.name("en")) for o in field_options(None, None, field)] == [
        ("yes", "Ya", "Yes"), ("no", "Tidak", "Tidak"), ("maybe", "maybe", "maybe")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the language, not the database
def test_errors_are_in_english_when_asked_and_in_indonesian_otherwise(world, tokens):
    api = tokens["triage"]
    asked = {"id": {}, "en-US,en;q=0.8": {"Accept-Language": "en-US,en;q=0.8"}, "fr": {"Accept-Language": "fr"}}
    bodies = {k: api.get("/cases?stage=bogus", headers=h).get_json()["error"] for k, h in asked.items()}
    assert (bodies["en-US,en;q=0.8"]["message"], bodies["en-US,en;q=0.8"]["fields"]["stage"][:14]) == (
        "Some fields are not valid.", "must be one of")
    assert bodies["id"] == bodies["fr"] and bodies["id"]["message"] == "Beberapa isian tidak valid."
    by_query = api.get("/cases?stage=bogus&lang=en", headers={"Accept-Language": "id"})
    assert by_query.get_json()["error"]["message"] == "Some fields are not valid."  # lang wins
    assert "Set-Cookie" not in by_query.headers  # the API keeps no session
    assert api.get("/cases?stage=bogus").get_json()["error"]["message"] == "Beberapa isian tidak valid."
    lost = api.get("/nothing-here", headers={"Accept-Language": "en"}).get_json()["error"]
    assert (lost["code"], lost["message"]) == ("not_found", "Not found.")
    assert api.get("/nothing-here").get_json()["error"]["message"] == "Tidak ditemukan."
    wrong_method = api.client.delete("/api/v1/tasks", headers=api._headers({"Accept-Language": "en"}))
    assert wrong_method.get_json()["error"]["message"] == "This address does not accept that request."
    no_token = Api(api.client.application, None).get("/tasks", headers={"Accept-Language": "en"})
    assert no_token.get_json()["error"]["message"] == "Send a bearer token in the Authorization header."
    unknown = api.get("/cases/by-number/2026-999999?lang=en").get_json()["error"]["message"]
    assert unknown == "case 2026-999999 not found"


ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def _times(value, path=""):
    """Every value of a key ending in _at, anywhere in a JSON answer (the trail's own data aside)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "data":
                continue
            if key.endswith("_at") and inner is not None:
                yield f"{path}.{key}", inner
            yield from _times(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            yield from _times(inner, f"{path}[{n}]")


def test_every_time_the_api_gives_is_utc_in_rfc_3339_and_documented_so(world, tokens):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.advance(timedelta(seconds=1, microseconds=250))  # a moment with a fraction
    w.do(actions.accept, w.dlh, sub.case_id)
    item = w.item(sub.case_id)
    answers = [tokens["dlh"].get(url).get_json() for url in (
        "/tasks", f"/tasks/{item.id}", "/cases", f"/cases/{sub.case_id}", f"/cases/{sub.case_id}/history",
        f"/cases/by-number/{sub.case_number}")]
    answers.append(tokens["sup_dlh"].get("/escalations?state=all").get_json())
    times = [t for answer in answers for t in _times(answer)]
    assert len(times) > 20 and any("." in value for _path, value in times)
    assert [(path, value) for path, value in times if not ISO_UTC.match(value)] == []
    case = tokens["dlh"].get(f"/cases/{sub.case_id}").get_json()
    assert datetime.fromisoformat(case["updated_at"]) == w.case(sub.case_id).updated_at

    from web.openapi import document

    def schemas_at(node, path=""):
        if isinstance(node, dict):
            for key, inner in (node.get("properties") or {}).items():
                if key.endswith("_at"):
                    yield f"{path}.{key}", inner
            for key, inner in node.items():
                yield from schemas_at(inner, f"{path}.{key}")
        elif isinstance(node, list):
            for inner in node:
                yield from schemas_at(inner, path)

    documented = list(schemas_at(document()))
    assert len(documented) > 15 and [p for p, s in documented if s.get("format") != "date-time"] == []
    assert all("UTC" in s["description"] for _p, s in documented)


# -- a stale version says who changed the case, how and when ---------------------------------------

def test_a_stale_version_names_who_changed_the_case_how_and_when(world, tokens):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    seen = tokens["dlh"].get(f"/tasks/{item.id}").get_json()["case_version"]
    andi = w.user("andi.dlh", ("coordinator", "DLH"))
    w.do(commands.claim, andi, sub.case_id)
    w.do(commands.release, andi, sub.case_id)  # at 09:00 WITA
    with w.services.uow() as uow:  # a notice went out since: it is not what moved the case
        notices.record(uow, sub.case_id, audit.ActorRef(None, "system", "system"), Action.NOTIFICATION_SENT, {})
        uow.commit()
    counts = w.table_counts()
    stale = tokens["dlh"].post(f"/tasks/{item.id}/complete", json={"values": {"decision": "accept"}, "version": seen})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["message"] == ("Andi.Dlh (Koordinator OPD) mengubah kasus ini pada 23 Nov 2026 09:00 WITA: "
                                "Tugas dilepas. Muat ulang lalu coba lagi.")
    released = w.events(sub.case_id)[-2]
    assert released.action == Action.TASK_RELEASED
    assert error["last_change"] == {"seq": released.seq, "actor": "andi.dlh", "name": "Andi.Dlh",
                                    "role": "coordinator", "action": "task_released", "task": item.task_name,
                                    "occurred_at": "2026-11-23T01:00:00Z"}
    english = tokens["dlh"].post(f"/tasks/{item.id}/claim?lang=en", json={"version": seen}).get_json()["error"]
    assert english["message"] == ("Andi.Dlh (OPD coordinator) changed this case on 23 Nov 2026 09:00 WITA: "
                                  "Task released. Reload it and try again.")
    assert w.table_counts() == counts


def test_a_stale_version_after_the_reporter_or_the_system_acted_names_them_by_role(world, tokens):
    w = world
    sub = w.report()  # filed by a citizen: the case's only events so far
    item = w.item(sub.case_id)
    stale = tokens["triage"].post(f"/tasks/{item.id}/claim", json={"version": w.case(sub.case_id).version + 1})
    error = stale.get_json()["error"]
    assert stale.status_code == 409 and error["last_change"]["role"] == "citizen"
    assert error["last_change"]["name"] is None
    assert error["message"].startswith("Warga mengubah kasus ini pada 23 Nov 2026 08:00 WITA: Laporan masuk.")

    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    disposition = w.item(sub.case_id)
    seen = tokens["dlh"].get(f"/tasks/{disposition.id}").get_json()["case_version"]
    w.services.clock.set(disposition.due_at)
    assert Sweeper(w.services, worker="test").run_once().fired == 1  # late: the system escalates
    error = tokens["dlh"].post(f"/tasks/{disposition.id}/claim?lang=en", json={"version": seen}).get_json()["error"]
    assert (error["last_change"]["actor"], error["last_change"]["role"], error["last_change"]["name"]) == (
        "system", "system", None)
    assert error["message"].startswith("System changed this case on ")
    assert error["message"].endswith(f": {ACTIONS[error['last_change']['action']]}. Reload it and try again.")
    assert set(ROLES) == {*Role, "system"}  # every role an event is written under has its label


def test_only_the_actions_written_beside_a_case_skip_its_version(world):
    sub = world.report()
    with world.services.uow() as uow, pytest.raises(ValueError, match="ASIDE_ACTIONS"):
        notices.record(uow, sub.case_id, audit.ActorRef(None, "system", "system"), Action.TASK_COMPLETED, {})


def test_the_escalation_list_gives_each_late_task_once_with_its_levels(world, app, tokens):
    from escalation.sweeper import Sweeper

    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.advance(timedelta(hours=20))  # past twice the disposition target
    Sweeper(w.services, worker="test").run_once()
    city = Api(app, _token(w, w.user("sup.kota", ("supervisor", None)).name))
    answer = city.get("/escalations").get_json()
    assert answer["total"] == 1 and answer["counts"] == {"breach": 1, "critical": 1}
    (row,) = answer["items"]
    assert row["case_number"] == sub.case_number and row["level"] == "critical"
    assert [v["level"] for v in row["levels"]] == ["critical", "breach"]
    assert all(v["review_task_id"] for v in row["levels"]) and row["late_task_id"] == w.item(sub.case_id).id
    opd = tokens["sup_dlh"].get("/escalations").get_json()
    assert [[v["level"] for v in r["levels"]] for r in opd["items"]] == [["breach"]]
