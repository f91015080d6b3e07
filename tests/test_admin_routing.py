"""The routing table edited and deployed from the browser (without JavaScript here: the XML
field is the editor; tests/test_browser_process.py drives dmn-js), a version's diagram and its
files, and the content security policy that lets only these pages load bpmn-js and dmn-js."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from tests import actions
from tests.webclient import WebClient
from web import vendor
from web.security import content_security_policy
from workflow.config import REPO_ROOT
from workflow.engine.checks import MAX_FILE
from workflow.engine.definition import read_source
from workflow.store.models import Agency, Case, ProcessSpec, SecurityEvent

FILES = read_source(REPO_ROOT / "bpmn")
DMN = FILES["routing.dmn"]
SAMPAH_TO_DLH = '<outputEntry id="rule_2_agency">\n          <text>"DLH"</text>'
EDITOR = "/admin/processes/routing"


def sampah_to(agency: str) -> str:
    """The routing table with garbage (every kecamatan) sent to ``agency`` instead of DLH."""
    assert SAMPAH_TO_DLH in DMN, "the fixture no longer routes sampah to DLH in rule_2"
    return DMN.replace(SAMPAH_TO_DLH, SAMPAH_TO_DLH.replace('"DLH"', f'"{agency}"'))


def without_rules_for(category: str) -> str:
    rules = re.findall(r'<rule id="[^"]+">.*?</rule>', DMN, flags=re.S)
    dropped = [r for r in rules if f'"{category}"' in r]
    assert dropped
    text = DMN
    for rule in dropped:
        text = text.replace(rule, "")
    return text


@pytest.fixture
def admin(world, web):
    world.user("admin.kota", ("admin", None))
    web.login("admin.kota")
    return web


def agency_of(world, case_id: int) -> str:
    with world.services.reading() as session:
        return session.scalar(select(Agency.code).join(Case, Case.agency_id == Agency.id).where(Case.id == case_id))


def versions(world) -> list[tuple[int, str]]:
    with world.services.reading() as session:
        return [(r.version, r.source["routing.dmn"]) for r in
                session.scalars(select(ProcessSpec).order_by(ProcessSpec.version))]


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def textarea(response, name: str = "xml") -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', response.get_data(as_text=True), re.S)
    assert found, f"no {name} field"
    return html.unescape(found.group(1)).removeprefix("\r\n")  # WTForms writes a line end after the tag


def _directive(csp: str, name: str) -> list[str]:
    return next((p for p in csp.split("; ") if p.startswith(name + " ")), name).split()[1:]


# -- the editor ---------------------------------------------------------------------------------


def test_the_editor_shows_the_current_table_with_its_version_and_what_a_change_applies_to(world, admin):
    world.report()  # the first case deploys the release's files as version 1
    page = admin.get(EDITOR)
    text = page_text(page)
    assert page.status_code == 200
    assert textarea(page) == DMN
    assert "proses versi 1" in text
    assert "Perubahan routing dan target SLA hanya berlaku untuk kasus baru." in text
    assert "tetap memakai versi prosesnya" in text
    assert 'href="/admin/processes/1/diagram"' in page.get_data(as_text=True)
    # the codes the table is written with, and what each names
    codes = text[text.index('id="routing-codes"'):]
    assert '"sampah"' in codes and "Sampah" in codes and '"DPU"' in codes and '"mariso"' in codes
    assert '"high"' in codes and "Tinggi" in codes
    # dmn-js from the pinned CDN files, each with its hash
    for path, (url, sri) in vendor.DMN_JS_FILES.items():
        tag = "script" if path.endswith(".js") else "link"
        assert re.search(rf'<{tag} [^>]*(src|href)="{re.escape(url)}" integrity="{re.escape(sri)}" '
                         r'crossorigin="anonymous"', page.get_data(as_text=True)), path


def test_before_any_version_the_editor_says_the_release_files_are_used(admin):
    page = admin.get(EDITOR)
    assert page.status_code == 200 and textarea(page) == DMN
    assert "Belum ada versi proses yang diterapkan" in page_text(page)


def test_only_the_editor_and_the_diagram_may_load_their_library(world, admin):
    world.report()
    editor = admin.get(EDITOR).headers["Content-Security-Policy"]
    diagram = admin.get("/admin/processes/1/diagram").headers["Content-Security-Policy"]
    elsewhere = admin.get("/admin/").headers["Content-Security-Policy"]
    dmn_js = {url for path, (url, _sri) in vendor.DMN_JS_FILES.items() if path.endswith(".js")}
    dmn_css = {url for path, (url, _sri) in vendor.DMN_JS_FILES.items() if path.endswith(".css")}
    bpmn_js = {url for path, (url, _sri) in vendor.BPMN_JS_FILES.items() if path.endswith(".js")}
    assert dmn_js <= set(_directive(editor, "script-src")) and dmn_css <= set(_directive(editor, "style-src"))
    # the icon font inside dmn-js's CSS, and the one file of it the CSS names for old browsers
    assert _directive(editor, "font-src") == ["'self'", "data:", f"{vendor._DMN_JS}/{vendor.DMN_JS_FONT_FILE}"]
    # the styles its cell editor and logo write into the page, here only; never an inline script
    assert _directive(editor, "style-src")[:2] == ["'self'", "'unsafe-inline'"]
    assert "'unsafe-inline'" not in _directive(editor, "script-src") + _directive(diagram, "style-src")
    assert not bpmn_js & set(_directive(editor, "script-src"))
    assert bpmn_js <= set(_directive(diagram, "script-src")) and not dmn_js & set(_directive(diagram, "script-src"))
    assert _directive(diagram, "font-src") == []
    assert not (dmn_js | bpmn_js) & set(_directive(elsewhere, "script-src"))
    for csp in (editor, diagram):  # the exact files, never the CDN's whole origin
        assert not [s for s in _directive(csp, "script-src") if s.rstrip("/").endswith("unpkg.com")]
        assert "'unsafe-inline'" not in _directive(csp, "script-src") and "'unsafe-eval'" not in csp


def test_a_changed_rule_routes_new_reports_and_a_running_case_keeps_its_version(world, admin):
    before = world.report()  # version 1: garbage goes to DLH
    world.triage  # cached users first (see tests/helpers.World)
    response = admin.post(EDITOR, {"xml": sampah_to("DPU").replace("\n", "\r\n"),
                                   "note": "Sampah sementara ke Dinas PU"}, page=EDITOR)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/processes/"
    assert "Versi 2 diterapkan" in page_text(admin.get("/admin/processes/"))
    # stored as the file it is (line ends as sent by a browser's text field become the file's)
    assert versions(world) == [(1, DMN), (2, sampah_to("DPU"))]
    after = world.report()
    for sub in (before, after):
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    assert agency_of(world, after.case_id) == "DPU"
    assert agency_of(world, before.case_id) == "DLH"
    with world.services.reading() as session:
        row = session.scalar(select(ProcessSpec).where(ProcessSpec.version == 2))
        assert row.note == "Sampah sementara ke Dinas PU" and row.deployed_by.username == "admin.kota"
        log = session.scalar(select(SecurityEvent).where(SecurityEvent.subject == "process:v2"))
        assert log.actor_name == "admin.kota" and '"files":{"new":["routing.dmn"],"old":null}' in log.details
        assert log.client_ip == "127.0.0.1"
    assert "proses versi 2" in page_text(admin.get(EDITOR))
    assert textarea(admin.get(EDITOR)) == sampah_to("DPU")


def test_broken_xml_is_refused_with_the_problem_named_and_what_was_typed_kept(world, admin):
    world.report()
    broken = DMN.replace("</decisionTable>", "</decisionTabel>")
    counts = world.table_counts()
    response = admin.post(EDITOR, {"xml": broken, "note": "Coba"}, page=EDITOR)
    assert response.status_code == 400
    text = page_text(response)
    problems = _problems(response)
    assert problems and all(p.startswith("routing.dmn: baris ") for p in problems)
    assert "XML tidak tersusun dengan benar" in problems[0]
    assert "Tabel tidak diterapkan: 1 masalah" in text
    assert textarea(response) == broken and textarea(response, "note") == "Coba"
    assert 'aria-invalid="true"' in re.search(r"<textarea[^>]*>", response.get_data(as_text=True)).group(0)
    assert world.table_counts() == counts and versions(world) == [(1, DMN)]


def _problems(response) -> list[str]:
    listed = re.search(r'<ol class="problem-list".*?</ol>', page_text(response), re.S).group(0)
    return re.findall(r"<li>(.*?)</li>", listed)


def test_a_table_that_forgets_a_category_is_refused_naming_it_in_every_kecamatan(world, admin):
    world.report()
    with world.services.reading() as session:
        from workflow.store.models import Area
        kecamatan = session.scalars(select(Area.code).where(Area.parent_id.is_(None))).all()
    response = admin.post(EDITOR, {"xml": without_rules_for("sampah")}, page=EDITOR)
    assert response.status_code == 400
    problems = _problems(response)
    assert sorted(problems) == sorted(f"rute: kategori 'sampah', kecamatan '{k}': tidak ada aturan "
                                      "tabel rute yang memberinya OPD" for k in kecamatan)
    assert textarea(response) == without_rules_for("sampah")
    assert versions(world) == [(1, DMN)]


def test_an_opd_that_does_not_exist_is_refused(world, admin):
    world.report()
    response = admin.post(EDITOR, {"xml": sampah_to("DINAS-X")}, page=EDITOR)
    assert response.status_code == 400
    assert "OPD 'DINAS-X' tidak ada atau tidak menerima laporan" in page_text(response)
    assert versions(world) == [(1, DMN)]


@pytest.mark.parametrize("xml, expected", [
    ("", "Wajib diisi."),
    # (a form body cannot carry a lone surrogate: see tests/test_odd_input.py)
    (sampah_to("DPU").replace("Routing laporan", "Routing\x00laporan"), "karakter yang tidak diizinkan"),
    (sampah_to("DPU").replace("Routing laporan", "Routing\x1b[31mlaporan"), "karakter yang tidak diizinkan"),
    (sampah_to("DPU").replace("Routing laporan", "Routing\x85laporan"), "karakter yang tidak diizinkan"),
    (sampah_to("DPU") + "<!--" + "x" * MAX_FILE + "-->", "paling besar 2 MB"),
])
def test_odd_input_is_refused_on_the_field_and_kept(world, admin, xml, expected):
    world.report()
    response = admin.post(EDITOR, {"xml": xml, "note": "catatan"}, page=EDITOR)
    assert response.status_code == 400
    field = re.search(r'<div class="field has-error">\s*<label for="xml".*?</div>', response.get_data(as_text=True), re.S)
    assert field and expected in html.unescape(field.group(0))
    assert textarea(response, "note") == "catatan"
    assert versions(world) == [(1, DMN)]


def test_a_note_too_long_or_with_control_characters_is_refused_on_the_note(world, admin):
    world.report()
    for note in ("x" * 501, "baris\x07satu"):
        response = admin.post(EDITOR, {"xml": sampah_to("DPU"), "note": note}, page=EDITOR)
        assert response.status_code == 400
        field = re.search(r'<div class="field has-error">\s*<label for="note".*?</div>', response.get_data(as_text=True), re.S)
        assert field, note
        assert textarea(response) == sampah_to("DPU")
    assert versions(world) == [(1, DMN)]


def test_the_same_table_again_deploys_nothing(world, admin):
    world.report()
    response = admin.post(EDITOR, {"xml": DMN}, page=EDITOR)
    assert response.status_code == 400
    assert re.search(r'<div class="field has-error">\s*<label for="xml"', response.get_data(as_text=True))
    assert versions(world) == [(1, DMN)]


def test_the_form_needs_its_csrf_token(world, admin):
    world.report()
    response = admin.post(EDITOR, {"xml": sampah_to("DPU")}, csrf=False)
    assert response.status_code == 400
    assert versions(world) == [(1, DMN)]


# -- a version's diagram and files --------------------------------------------------------------


def test_the_diagram_of_a_version_with_the_servers_drawing_and_its_files(world, admin):
    world.report()
    page = admin.get("/admin/processes/1/diagram")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<svg class="bpmn-diagram"' in body and 'data-element="disposition"' in body  # drawn without a script
    assert 'data-source="/admin/processes/1/files/case.bpmn"' in body
    assert "Triase → " in page_text(page)  # the steps in words: the drawing's text alternative
    for path, (url, sri) in vendor.BPMN_JS_FILES.items():
        assert f'"{url}" integrity="{sri}"' in body, path
    listed = re.findall(r'<tr data-file="([^"]+)">', body)
    assert listed == sorted(FILES)
    for name in FILES:
        assert f'href="/admin/processes/1/files/{name}" download' in body


def test_an_unknown_version_or_file_is_not_found(world, admin):
    world.report()
    for url in ("/admin/processes/999/diagram", "/admin/processes/99999999999999999999/diagram",
                "/admin/processes/1/diagram?file=routing.dmn", "/admin/processes/1/diagram?file=nope.bpmn",
                "/admin/processes/999/files/case.bpmn", "/admin/processes/1/files/nope.dmn",
                "/admin/processes/1/files/..%2Fsecret_key"):
        assert admin.get(url).status_code == 404, url


@pytest.mark.parametrize("name, kind", [("case.bpmn", "text/xml; charset=utf-8"),
                                        ("routing.dmn", "text/xml; charset=utf-8"),
                                        ("tasks.yaml", "text/yaml; charset=utf-8")])
def test_each_file_downloads_as_an_attachment_never_as_a_page(world, admin, name, kind):
    world.report()
    response = admin.get(f"/admin/processes/1/files/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == kind
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.get_data(as_text=True) == FILES[name]


def test_a_deployed_version_has_its_own_files(world, admin):
    world.report()
    admin.post(EDITOR, {"xml": sampah_to("DPU")}, page=EDITOR)
    assert admin.get("/admin/processes/2/files/routing.dmn").get_data(as_text=True) == sampah_to("DPU")
    assert admin.get("/admin/processes/1/files/routing.dmn").get_data(as_text=True) == DMN
    page = page_text(admin.get("/admin/processes/2/diagram"))
    assert "Kasus baru memakai versi ini." in page and "admin.kota" in page.lower()
    assert "Kasus baru memakai versi ini." not in page_text(admin.get("/admin/processes/1/diagram"))


# -- where the libraries come from --------------------------------------------------------------


def test_a_self_hosted_copy_keeps_the_package_paths_and_hashes():
    for files, make, setting in ((vendor.BPMN_JS_FILES, vendor.bpmn_js_files, "TANGGAP_BPMN_JS_BASE"),
                                 (vendor.DMN_JS_FILES, vendor.dmn_js_files, "TANGGAP_DMN_JS_BASE")):
        assert make(None) == make("") == files
        copy = make("/static/vendor/lib/")
        assert copy == {path: (f"/static/vendor/lib/{path}", sri) for path, (_url, sri) in files.items()}
        assert all(url.startswith("https://unpkg.com/") and "@" in url for url, _sri in files.values())
        csp = content_security_policy("/static/htmx.min.js", more=(copy,), fonts=("data:", "/static/vendor/lib/f.eot"))
        assert _directive(csp, "script-src") == ["'self'"] and _directive(csp, "style-src") == ["'self'"]
        assert _directive(csp, "font-src") == ["'self'", "data:"]
        with pytest.raises(ValueError, match=setting):
            make("https://intranet.example.id/lib; script-src *")


def test_a_wrong_library_setting_stops_the_app_with_its_name(services, monkeypatch):
    from web import create_app

    monkeypatch.setenv("TANGGAP_DMN_JS_BASE", "javascript:alert(1)")
    with pytest.raises(ValueError, match="TANGGAP_DMN_JS_BASE"):
        create_app({"TESTING": True, "SECRET_KEY": "x"}, services=services)


def test_pages_load_the_self_hosted_copy(world, services, monkeypatch):
    from web import create_app

    monkeypatch.setenv("TANGGAP_DMN_JS_BASE", "https://intranet.test/dmn-js/17")
    world.report()
    world.user("admin.kota", ("admin", None))
    web = WebClient(create_app({"TESTING": True, "SECRET_KEY": "x"}, services=services))
    web.login("admin.kota")
    page = web.get(EDITOR)
    body = page.get_data(as_text=True)
    sri = vendor.DMN_JS_FILES["dist/dmn-modeler.production.min.js"][1]
    assert f'src="https://intranet.test/dmn-js/17/dist/dmn-modeler.production.min.js" integrity="{sri}"' in body
    assert "unpkg.com/dmn-js" not in body
    csp = page.headers["Content-Security-Policy"]
    assert "https://intranet.test/dmn-js/17/dist/dmn-modeler.production.min.js" in _directive(csp, "script-src")
    assert _directive(csp, "font-src") == ["'self'", "data:", "https://intranet.test/dmn-js/17/dist/assets/dmn-font/font/dmn.eot"]


def test_a_table_opened_before_another_deployment_is_a_conflict_not_an_undo(world, admin):
    world.report()
    world.triage
    stale = re.search(r'name="based_on" type="hidden" value="(\d+)"', admin.get(EDITOR).get_data(as_text=True))
    assert stale and stale.group(1) == "1"
    assert admin.post(EDITOR, {"xml": sampah_to("DPU"), "note": "", "based_on": "1"}, page=EDITOR).status_code == 302
    refused = admin.post(EDITOR, {"xml": DMN, "note": "Kembali", "based_on": "1"}, page=EDITOR)
    assert refused.status_code == 409
    text = page_text(refused)
    assert "Versi 2 diterapkan oleh" in text and textarea(refused) == DMN
    assert [v for v, _xml in versions(world)] == [1, 2]
    again = re.search(r'name="based_on" type="hidden" value="(\d+)"', refused.get_data(as_text=True)).group(1)
    assert again == "2"  # sent again on purpose, it goes through
    assert admin.post(EDITOR, {"xml": DMN, "note": "Kembali", "based_on": again}, page=EDITOR).status_code == 302
