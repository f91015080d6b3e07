"""The JSON API: a case filed through Open311 worked to closure with tokens, every endpoint's
answers to missing, foreign and wrong-role tokens, and malformed bodies."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import actions
from tests.helpers import jpeg_bytes
from workflow.commands import credentials
from workflow.store.models import CaseEvent
from workflow.vocabulary import Action


def _token(world, username: str) -> str:
    with world.services.uow() as uow:
        _row, secret = credentials.issue(uow, "token", f"token {username}", username=username)
        uow.commit()
    return secret


class Api:
    def __init__(self, app, token: str | None):
        self.client, self.token = app.test_client(), token

    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, url, **kw):
        return self.client.get(f"/api/v1{url}", headers=self._headers(), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(f"/api/v1{url}", json=json, headers=self._headers(), **kw)


@pytest.fixture
def tokens(world, app):
    w = world
    users = {"triage": w.triage, "dlh": w.dlh, "dpu": w.dpu, "qr": w.qr_mariso, "auditor": w.auditor,
             "sup_dlh": w.user("sup.dlh", ("supervisor", "DLH"))}
    return {key: Api(app, _token(w, actor.name)) for key, actor in users.items()}


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
             "POST /tasks/{item}/complete", "GET /cases/{case}", "GET /cases/{case}/history",
             "POST /cases/{case}/attachments", "GET /escalations", "POST /reports"]
FOREIGN = {"GET /tasks": 200, "GET /tasks/{item}": 404, "POST /tasks/{item}/claim": 404,
           "POST /tasks/{item}/release": 404, "POST /tasks/{item}/complete": 404,
           "GET /cases/{case}": 404, "GET /cases/{case}/history": 404,
           "POST /cases/{case}/attachments": 404, "GET /escalations": 403, "POST /reports": 400}
WRONG_ROLE = {"GET /tasks": 200, "GET /tasks/{item}": 403, "POST /tasks/{item}/claim": 403,
              "POST /tasks/{item}/release": 403, "POST /tasks/{item}/complete": 403,
              "GET /cases/{case}": 200, "GET /cases/{case}/history": 200,
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
    url = path.format(item=item.id, case=sub.case_id)
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
    if expected == 200 and endpoint == "GET /tasks":
        assert body["items"] == []  # nothing of DLH's leaks into another inbox
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
    assert case["report"]["contact_phone"] == "+62 811 4000 123"  # triage may call back
    assert tokens["auditor"].get(f"/cases/{case_id}").get_json()["report"]["contact_phone"] is None
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


def test_a_token_in_use_shows_when_it_was_last_used(world, app, tokens):
    from click.testing import CliRunner

    from tanggap.cli import main

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
