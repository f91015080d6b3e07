"""Administration of agencies (/admin/agencies) and QR teams (/admin/teams): create and edit,
each change in the security log with its old and new values; what depends on an agency or a
team (open cases and tasks, the routing table in use) is said before it is turned off."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import select

from tests import actions
from tests.test_admin_people import log, version_on
from tests.webclient import WebClient, errors
from workflow.access import Actor
from workflow.commands import accounts, organisation
from workflow.engine.routing import agency_variables, output_values, routed_agencies
from workflow.errors import DomainError, ValidationError
from workflow.store.models import Agency, QrTeam
from workflow.vocabulary import SecurityAction


@pytest.fixture
def admin(world, web, reference_restored):
    actor = world.user("admin", ("admin", None))
    web.login("admin")
    return actor


def agency_row(world, code: str) -> Agency | None:
    with world.services.reading() as session:
        return session.scalar(select(Agency).where(Agency.code == code))


def team_row(world, code: str) -> QrTeam | None:
    with world.services.reading() as session:
        team = session.scalar(select(QrTeam).where(QrTeam.code == code))
        if team is not None:
            team.area  # loaded while the session is open
        return team


def agency_form(world, web, code: str, **changes) -> dict:
    row = agency_row(world, code)
    return {"name": row.name, "short_name": row.short_name, "handles_reports": "y" if row.handles_reports else "",
            "active": "y" if row.active else "", "version": version_on(web, f"/admin/agencies/{code}"), **changes}


def sent(data: dict) -> dict:
    """A form as a browser sends it: an unticked checkbox is not sent at all."""
    return {k: v for k, v in data.items() if v != ""}


# -- the routing table ---------------------------------------------------------------------------

DMN = """<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" namespace="x">
  <decision id="routing"><decisionTable id="t">
    <input id="i"><inputExpression id="ie"><text>category</text></inputExpression></input>
    <output id="o1" name="priority"/><output id="o2" name="agency"/>
    <rule id="r1"><inputEntry id="a"><text>"sampah"</text></inputEntry>
      <outputEntry id="b"><text>"DLH"</text></outputEntry><outputEntry id="c"><text>"DINSOS"</text></outputEntry></rule>
    <rule id="r2"><inputEntry id="d"><text>"lampu"</text></inputEntry>
      <outputEntry id="e"><text>"high"</text></outputEntry><outputEntry id="f"><text> "DPU" </text></outputEntry></rule>
    <rule id="r3"><inputEntry id="g"><text>-</text></inputEntry>
      <outputEntry id="h"><text>"normal"</text></outputEntry><outputEntry id="k"><text>fallback_agency</text></outputEntry></rule>
    <rule id="r4"><inputEntry id="l"><text>"banjir"</text></inputEntry>
      <outputEntry id="m"><text>"normal"</text></outputEntry><outputEntry id="n"><text>"DPU"</text></outputEntry></rule>
  </decisionTable></decision>
</definitions>"""


def test_the_routing_table_is_read_from_its_output_entries():
    # the priority column's "DLH" is not an agency; an expression names none this can know
    assert output_values(DMN, frozenset({"agency"})) == Counter({"DPU": 2, "DINSOS": 1})
    assert output_values(DMN, frozenset({"priority"})) == Counter({"DLH": 1, "high": 1, "normal": 2})
    assert output_values(DMN, frozenset()) == Counter()


def test_the_agency_variable_comes_from_the_process_lanes(definition):
    assert agency_variables(definition) == {"agency"}
    routed = routed_agencies(definition)
    text = definition.source["routing.dmn"]
    for code in ("DISHUB", "DLH", "DINSOS"):
        assert routed[code] == len(re.findall(rf'_agency">\s*<text>"{code}"</text>', text))
    assert routed["KOMINFO"] == 0
    renamed = replace(definition, lanes={k: replace(v, agency="opd") if v.agency == "agency" else v
                                         for k, v in definition.lanes.items()})
    assert routed_agencies(renamed) == Counter()


# -- agencies ------------------------------------------------------------------------------------


def test_an_administrator_creates_an_agency_logged_with_its_values(world, web, admin):
    response = web.post("/admin/agencies/new", {"code": " dpmptsp ", "name": "Dinas Penanaman Modal",
                                                "short_name": "DPMPTSP", "handles_reports": "y", "active": "y"},
                        page="/admin/agencies/new")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/agencies/DPMPTSP"
    row = agency_row(world, "DPMPTSP")
    assert (row.name, row.short_name, row.handles_reports, row.active, row.is_command_center) == (
        "Dinas Penanaman Modal", "DPMPTSP", True, True, False)
    [event] = log(world, SecurityAction.ADMIN_CHANGED)
    assert (event["actor_name"], event["subject"]) == ("admin", "agency:DPMPTSP")
    assert event["details"] == {"entity": "agency", "key": "DPMPTSP", "change": "created", "fields": {
        "name": {"old": None, "new": "Dinas Penanaman Modal"}, "short_name": {"old": None, "new": "DPMPTSP"},
        "handles_reports": {"old": None, "new": True}, "active": {"old": None, "new": True}}}
    listed = web.get("/admin/agencies").get_data(as_text=True)
    assert 'data-agency="DPMPTSP"' in listed


@pytest.mark.parametrize("data, field, message", [
    ({"code": "DLH"}, "code", "OPD DLH sudah ada"),
    ({"code": "9X"}, "code", "diawali huruf"),
    ({"code": "D"}, "code", "2-32 karakter"),
    ({"code": "DL H"}, "code", "2-32 karakter"),
    ({"name": " "}, "name", "wajib diisi"),
    ({"name": "N" * 201}, "name", "200"),
    ({"short_name": "S" * 61}, "short_name", "60"),
    ({"short_name": "Dinas\x00"}, "short_name", "karakter yang tidak diizinkan"),
    ({"name": "Dinas\x1b[31m"}, "name", "karakter yang tidak diizinkan"),
])
def test_creating_an_agency_refuses_bad_input_and_keeps_it(world, web, admin, data, field, message):
    before = world.table_counts()
    form = {"code": "DPMPTSP", "name": "Dinas Penanaman Modal", "short_name": "DPMPTSP", "active": "y", **data}
    response = web.post("/admin/agencies/new", form, page="/admin/agencies/new")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error-1" class="error" role="alert">[^<]*{re.escape(message)}', html), errors(response)
    if field != "name":
        assert 'value="Dinas Penanaman Modal"' in html
    assert world.table_counts() == before


def test_editing_an_agency_logs_what_moved(world, web, admin):
    response = web.post("/admin/agencies/DPU", agency_form(world, web, "DPU", name="Dinas Pekerjaan Umum dan Penataan Ruang",
                                                           short_name="Dinas PUPR"), page="/admin/")
    assert response.status_code == 302
    row = agency_row(world, "DPU")
    assert (row.name, row.short_name, row.active) == ("Dinas Pekerjaan Umum dan Penataan Ruang", "Dinas PUPR", True)
    [event] = log(world, SecurityAction.ADMIN_CHANGED)
    assert event["details"] == {"entity": "agency", "key": "DPU", "change": "changed", "fields": {
        "name": {"old": "Dinas Pekerjaan Umum", "new": "Dinas Pekerjaan Umum dan Penataan Ruang"},
        "short_name": {"old": "Dinas PU", "new": "Dinas PUPR"}}}


def test_an_agency_holding_open_cases_cannot_be_deactivated(world, web, admin):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")  # DLH's disposition
    before = world.table_counts()
    page = web.get("/admin/agencies/DLH").get_data(as_text=True)
    assert "/cases?agency=DLH&amp;state=open" in page and "1 kasus terbuka" in page
    response = web.post("/admin/agencies/DLH", sent(agency_form(world, web, "DLH", active="")), page="/admin/")
    assert response.status_code == 400
    [message] = errors(response)
    assert "DLH masih memegang 1 kasus terbuka" in message
    assert "/cases?agency=DLH&amp;state=open" in response.get_data(as_text=True)
    assert agency_row(world, "DLH").active and world.table_counts() == before


def test_the_command_center_cannot_be_deactivated(world, web, admin):
    response = web.post("/admin/agencies/KOMINFO", sent(agency_form(world, web, "KOMINFO", active="")), page="/admin/")
    assert response.status_code == 400
    assert any("Command center menerima setiap laporan" in e for e in errors(response))
    assert agency_row(world, "KOMINFO").active


def test_turning_off_an_agency_the_routing_table_sends_to_needs_confirming(world, web, admin, definition):
    rules = routed_agencies(definition)["DISHUB"]
    assert rules > 1
    before = world.table_counts()
    form = sent(agency_form(world, web, "DISHUB", handles_reports=""))
    response = web.post("/admin/agencies/DISHUB", form, page="/admin/")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"masih mengirim kasus ke Dishub ({rules} aturan)" in html
    assert 'name="confirm"' in html and world.table_counts() == before
    assert agency_row(world, "DISHUB").handles_reports
    confirmed = web.post("/admin/agencies/DISHUB", {**form, "confirm": "y"}, page="/admin/")
    assert confirmed.status_code == 302
    assert f"({rules} aturan)" in web.get(confirmed.headers["Location"]).get_data(as_text=True)  # said again
    assert not agency_row(world, "DISHUB").handles_reports
    [event] = log(world, SecurityAction.ADMIN_CHANGED)
    assert event["details"]["fields"] == {"handles_reports": {"old": True, "new": False}}


def test_deactivating_an_agency_nothing_depends_on_needs_no_confirming(world, web, admin):
    with world.services.uow() as uow:
        organisation.create_agency(uow, Actor.system(), code="BAPPEDA", name="Bappeda", short_name="Bappeda")
        uow.commit()
    response = web.post("/admin/agencies/BAPPEDA", sent(agency_form(world, web, "BAPPEDA", active="")), page="/admin/")
    assert response.status_code == 302
    assert not agency_row(world, "BAPPEDA").active
    # an inactive agency is no longer offered as a scope for a new account
    assert 'value="coordinator:BAPPEDA"' not in web.get("/admin/users/new").get_data(as_text=True)


def test_taking_an_agency_off_report_handling_while_it_holds_cases_warns_with_the_count(world, reference_restored):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    with world.services.uow() as uow, pytest.raises(organisation.NeedsConfirmation) as asked:
        organisation.update_agency(uow, Actor.system(), "DLH", name="Dinas Lingkungan Hidup", short_name="DLH",
                                   handles_reports=False, active=True)
    templates = [w.template for w in asked.value.warnings]
    assert any(t.startswith("{agency} holds {count} open cases") for t in templates)
    assert {w.params["count"] for w in asked.value.warnings if "holds" in w.template} == {1}


def test_two_administrators_editing_an_agency(world, app, web, admin):
    world.user("admin2", ("admin", None))
    other = WebClient(app)
    other.login("admin2")
    mine = agency_form(world, web, "DPU", name="Nama Saya")
    assert other.post("/admin/agencies/DPU", agency_form(world, other, "DPU", name="Nama Admin2"),
                      page="/admin/").status_code == 302
    before = world.table_counts()
    response = web.post("/admin/agencies/DPU", mine, page="/admin/")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "admin2 mengubah data ini" in html and 'value="Nama Saya"' in html
    assert agency_row(world, "DPU").name == "Nama Admin2" and world.table_counts() == before


def test_an_unknown_agency_is_not_found(world, web, admin):
    assert web.get("/admin/agencies/NOPE").status_code == 404
    assert web.post("/admin/agencies/NOPE", {"name": "x", "short_name": "x"}, page="/admin/").status_code == 404


# -- QR teams ------------------------------------------------------------------------------------


def team_form(world, web, code: str, **changes) -> dict:
    row = team_row(world, code)
    return {"name": row.name, "kecamatan": row.area.code, "active": "y" if row.active else "",
            "version": version_on(web, f"/admin/teams/{code}"), **changes}


def test_an_administrator_creates_a_team_in_a_kecamatan(world, web, admin):
    response = web.post("/admin/teams/new", {"code": "QR-Mariso-2", "name": "Tim QR Mariso 2", "kecamatan": "mariso",
                                             "active": "y"}, page="/admin/teams/new")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/teams/qr-mariso-2"
    team = team_row(world, "qr-mariso-2")
    assert (team.name, team.area.code, team.active) == ("Tim QR Mariso 2", "mariso", True)
    [event] = log(world, SecurityAction.ADMIN_CHANGED)
    assert event["subject"] == "qr_team:qr-mariso-2"
    assert event["details"]["fields"] == {"name": {"old": None, "new": "Tim QR Mariso 2"},
                                          "kecamatan": {"old": None, "new": "mariso"},
                                          "active": {"old": None, "new": True}}
    # the new team is offered to QR officers' accounts
    assert 'value="qr_officer:qr-mariso-2"' in web.get("/admin/users/new").get_data(as_text=True)


@pytest.mark.parametrize("data, field, message", [
    ({"code": "qr-mariso-1"}, "code", "tim QR qr-mariso-1 sudah ada"),
    ({"code": "qr mariso"}, "code", "2-64 karakter"),
    ({"kecamatan": ""}, "kecamatan", ""),
    ({"kecamatan": "mariso/lette"}, "kecamatan", ""),  # a kelurahan is no kecamatan
    ({"name": ""}, "name", "wajib diisi"),
    ({"name": "T" * 121}, "name", "120"),
    ({"name": "Tim\x7f"}, "name", "karakter yang tidak diizinkan"),
])
def test_creating_a_team_refuses_bad_input(world, web, admin, data, field, message):
    before = world.table_counts()
    form = {"code": "qr-mariso-2", "name": "Tim QR Mariso 2", "kecamatan": "mariso", "active": "y", **data}
    response = web.post("/admin/teams/new", form, page="/admin/teams/new")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error-1" class="error" role="alert">[^<]*{re.escape(message)}', html), errors(response)
    assert world.table_counts() == before


def test_a_team_needs_a_kecamatan_also_in_the_command(world):
    with world.services.uow() as uow, pytest.raises(ValidationError) as refused:
        organisation.create_team(uow, Actor.system(), code="qr-lette-1", name="Tim Lette", kecamatan="mariso/lette")
    assert refused.value.errors == {"kecamatan": "choose a kecamatan"}


def test_the_team_list_counts_officers_and_open_tasks(world, web, admin):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    w.qr_mariso
    w.user("qr.mariso2", ("qr_officer", "qr-mariso-1"))
    row = re.search(r'<tr data-team="qr-mariso-1">.*?</tr>', web.get("/admin/teams").get_data(as_text=True), re.S).group(0)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells == ["Mariso", "2", "1", "Aktif"]


def test_deactivating_a_team_with_open_field_tasks_warns_with_the_count(world, web, admin):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    form = sent(team_form(w, web, "qr-mariso-1", active=""))
    response = web.post("/admin/teams/qr-mariso-1", form, page="/admin/")
    assert response.status_code == 400
    assert "Tim QR Mariso memiliki 1 tugas lapangan terbuka" in response.get_data(as_text=True)
    assert team_row(w, "qr-mariso-1").active
    assert web.post("/admin/teams/qr-mariso-1", {**form, "confirm": "y"}, page="/admin/").status_code == 302
    assert not team_row(w, "qr-mariso-1").active
    [event] = log(w, SecurityAction.ADMIN_CHANGED)
    assert event["details"]["fields"] == {"active": {"old": True, "new": False}}
    assert w.item(sub.case_id).team_id == team_row(w, "qr-mariso-1").id  # the task stays with the team


def test_moving_a_team_to_another_kecamatan_is_logged(world, web, admin):
    response = web.post("/admin/teams/qr-tallo-1", team_form(world, web, "qr-tallo-1", kecamatan="wajo"), page="/admin/")
    assert response.status_code == 302
    assert team_row(world, "qr-tallo-1").area.code == "wajo"
    [event] = log(world, SecurityAction.ADMIN_CHANGED)
    assert event["details"]["fields"] == {"kecamatan": {"old": "tallo", "new": "wajo"}}


def test_two_administrators_editing_a_team(world, app, web, admin):
    world.user("admin2", ("admin", None))
    other = WebClient(app)
    other.login("admin2")
    mine = team_form(world, web, "qr-tallo-1", name="Nama Saya")
    assert other.post("/admin/teams/qr-tallo-1", team_form(world, other, "qr-tallo-1", name="Tim Admin2"),
                      page="/admin/").status_code == 302
    response = web.post("/admin/teams/qr-tallo-1", mine, page="/admin/")
    assert response.status_code == 409
    assert "admin2 mengubah data ini" in response.get_data(as_text=True)
    assert team_row(world, "qr-tallo-1").name == "Tim Admin2"


def test_the_team_list_pages_and_says_when_a_page_is_past_the_last(world, web, admin):
    with world.services.reading() as session:
        teams = len(session.scalars(select(QrTeam.id)).all())
    with world.services.uow() as uow:
        for n in range(26 - teams):
            organisation.create_team(uow, Actor.system(), code=f"qr-wajo-{n + 2}", name=f"Tim QR Wajo {n + 2}",
                                     kecamatan="wajo")
        uow.commit()
    first = web.get("/admin/teams").get_data(as_text=True)
    second = web.get("/admin/teams?page=2").get_data(as_text=True)
    assert len(re.findall(r"<tr data-team=", first)) == 25 and len(re.findall(r"<tr data-team=", second)) == 1
    assert "Halaman 2 dari 2" in second
    past = web.get("/admin/teams?page=3").get_data(as_text=True)
    assert "melewati halaman terakhir" in past and "<tr data-team=" not in past
    assert web.get("/admin/teams?page=0").status_code == 400


def test_the_lists_say_when_there_is_nothing_yet(world, web, admin):
    with world.services.uow() as uow:
        uow.session.execute(QrTeam.__table__.delete())
        uow.commit()
    page = web.get("/admin/teams").get_data(as_text=True)
    assert "Belum ada tim QR" in page and "<table" not in page



def test_only_administrators_change_the_organisation(world):
    world.dlh
    with world.services.uow() as uow, pytest.raises(DomainError) as refused:
        organisation.create_agency(uow, world.dlh, code="BAPPEDA", name="Bappeda", short_name="Bappeda")
    assert refused.value.code == "forbidden"
    with world.services.uow() as uow, pytest.raises(DomainError) as refused:
        organisation.update_team(uow, world.dlh, "qr-mariso-1", name="Tim", kecamatan="mariso", active=True)
    assert refused.value.code == "forbidden"


def test_an_inactive_team_is_no_scope_for_a_new_officer(world, reference_restored):
    with world.services.uow() as uow:
        organisation.update_team(uow, Actor.system(), "qr-wajo-1", name="Tim QR Wajo", kecamatan="wajo", active=False)
        uow.commit()
    with world.services.uow() as uow, pytest.raises(ValidationError) as refused:
        accounts.create_account(uow, Actor.system(), username="qr.wajo", full_name="Petugas Wajo", email=None,
                                roles=[("qr_officer", "qr-wajo-1")])
    assert refused.value.errors["roles"].template == "the QR team {scope} is inactive"
