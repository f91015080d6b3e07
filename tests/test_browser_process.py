"""Browser tests of the process pages: an administrator changes a rule of the routing table in
dmn-js's editor and deploys it, and the next report goes to the new OPD; without the CDN the
same page is a plain form on the table's XML; a version's diagram in bpmn-js, and the server's
drawing without it.

They use the live server and Chromium of ``tests/test_browser.py`` (skipped there without them,
failed under CI); dmn-js and bpmn-js come from their npm packages in ``tests/browser``, so
Chromium's own SRI check proves the hashes declared in ``web/vendor.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from sqlalchemy import select

from tests import test_browser
from tests.helpers import PASSWORD
from tests.test_browser import (
    INFERNO,
    NODE_MODULES,
    _as_user,
    _context,
    _fill_report,
    _login,
    _require,
    _shot,
)
from web import vendor
from workflow import commands
from workflow.config import REPO_ROOT
from workflow.store.models import Agency, Case, ProcessSpec, Report

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips
    expect = None

browser, server = test_browser.browser, test_browser.server  # the fixtures, shared
EDITOR = "/admin/processes/routing"
PACKAGES = {"bpmn-js": (vendor.BPMN_JS_VERSION, vendor.BPMN_JS_FILES),
            "dmn-js": (vendor.DMN_JS_VERSION, vendor.DMN_JS_FILES)}


def _unreachable(text: str) -> bool:
    return "net::ERR_FAILED" in text


def _ours(errors: list[str]) -> list[str]:
    return [e for e in errors if not e.startswith(INFERNO)]


def _edit_cell(page, element_id: str, text: str) -> None:
    """Click a cell of the decision table, select what it holds and type ``text`` over it."""
    page.locator(f'td[data-element-id="{element_id}"]').click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


@pytest.mark.parametrize("package", list(PACKAGES))
def test_declared_files_are_the_npm_packages_of_the_same_version(package):
    version, files = PACKAGES[package]
    folder = NODE_MODULES / package
    _require(folder.exists(), f"{package} npm package missing (npm install --prefix tests/browser)")
    assert json.loads((folder / "package.json").read_text())["version"] == version
    declared = json.loads((REPO_ROOT / "tests" / "browser" / "package.json").read_text())["dependencies"]
    assert declared[package] == version
    for path, (url, sri) in files.items():
        assert url == f"https://unpkg.com/{package}@{version}/{path}"
        digest = base64.b64encode(hashlib.sha384((folder / path).read_bytes()).digest()).decode()
        assert sri == f"sha384-{digest}", path


def _setup(services):
    """An administrator, and a garbage report filed before the change (on version 1)."""
    with services.uow() as uow:
        commands.create_user(uow, username="admin", full_name="Admin Kota", password=PASSWORD,
                             roles=[("admin", None)])
        before = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan pasar, sebelum perubahan.",
            lat=-5.1560, lon=119.4050, area="mariso"))
        uow.commit()
    return before


def _agency(services, case_id: int) -> str:
    with services.reading() as session:
        return session.scalar(select(Agency.code).join(Case, Case.agency_id == Agency.id).where(Case.id == case_id))


def _versions(services) -> list[int]:
    with services.reading() as session:
        return list(session.scalars(select(ProcessSpec.version).order_by(ProcessSpec.version)))


def _citizen_report(browser, base, services, description: str):
    """A report of garbage in Mariso through the public form; its case."""
    context, errors = _context(browser, base)
    page = context.new_page()
    _fill_report(page, description)
    page.click("main form button[type=submit]")
    code = page.locator("#tracking-code").inner_text().strip()
    context.close()
    assert errors == []
    with services.reading() as session:
        return session.scalar(select(Case).join(Report).where(Report.tracking_hash == services.tracking.lookup(code)))


def test_an_administrator_sends_garbage_to_another_opd_in_the_table_and_the_next_report_goes_there(browser, server):
    base, services = server
    before = _setup(services)
    context, errors = _context(browser, base)
    page = _login(context, "admin", lands="**/admin/")
    page.click("main nav >> text=Tabel routing")
    page.wait_for_url(f"**{EDITOR}")
    expect(page.locator("#routing-modeler")).to_be_visible()  # dmn-js loaded (its SRI held) and drew the table
    expect(page.locator("#xml")).to_be_hidden()
    assert "hanya berlaku untuk kasus baru" in page.inner_text("#routing-hints")
    cell = page.locator('td[data-element-id="rule_2_agency"]')
    expect(cell).to_have_text('"DLH"')
    _edit_cell(page, "rule_2_agency", '"DPU"')
    page.fill("#note", "Sampah ditangani Dinas PU selama masa tanggap darurat.")
    _shot(page, "routing-editor")
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector(".flash")
    assert "Versi 2 diterapkan" in page.inner_text(".flash")
    assert _versions(services) == [1, 2]
    with services.reading() as session:
        deployed = session.scalar(select(ProcessSpec).where(ProcessSpec.version == 2))
        assert deployed.note == "Sampah ditangani Dinas PU selama masa tanggap darurat."
        assert re.search(r'<outputEntry id="rule_2_agency">\s*<text>"DPU"</text>', deployed.source["routing.dmn"])
    assert _ours(errors) == []
    context.close()

    after = _citizen_report(browser, base, services, "Sampah menumpuk di depan pasar, sesudah perubahan.")
    assert after.spec_id == deployed.id != before.case_id
    for case_id in (after.id, before.case_id):
        _as_user(services, case_id, "triase", {"decision": "valid"})
    assert _agency(services, after.id) == "DPU"
    assert _agency(services, before.case_id) == "DLH"  # a running case keeps its version's routing

    staff, staff_errors = _context(browser, base)
    dpu = _login(staff, "koor.dpu")
    expect(dpu.locator(f"#inbox tr[data-case='{after.number}']")).to_be_visible()
    expect(dpu.locator(f"#inbox tr[data-case='{before.case_number}']")).to_have_count(0)
    assert staff_errors == []
    staff.close()


def test_without_the_cdn_the_table_is_edited_as_xml_and_a_refusal_keeps_it(browser, server):
    base, services = server
    _setup(services)
    context, errors = _context(browser, base)
    context.route(re.compile(r"https://unpkg\.com/"), lambda route: route.abort())  # overrides the npm copies
    page = _login(context, "admin", lands="**/admin/")
    page.goto(EDITOR)
    assert page.evaluate("window.DmnJS") is None
    source = page.locator("#xml")
    expect(source).to_be_visible()
    expect(page.locator("#routing-modeler")).to_be_hidden()
    xml = source.input_value()
    forgot = re.sub(r'<rule id="rule_2">.*?</rule>', "", xml, flags=re.S)  # garbage goes nowhere
    source.fill(forgot)
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector("#problems")
    assert "kategori 'sampah', kecamatan 'mariso': tidak ada aturan" in page.inner_text("#problems")
    expect(source).to_be_focused()  # the field to fix, with what was typed
    assert source.input_value() == forgot
    assert _versions(services) == [1]
    source.fill(xml.replace('<text>"DLH"</text>', '<text>"DPU"</text>', 1))
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector(".flash")
    assert "Versi 2 diterapkan" in page.inner_text(".flash")
    assert _versions(services) == [1, 2]
    assert [e for e in errors if not _unreachable(e)] == []
    assert errors, "the CDN was not asked for dmn-js"
    context.close()


def test_a_refused_table_comes_back_in_the_editor_with_its_problems(browser, server):
    base, services = server
    _setup(services)
    context, errors = _context(browser, base)
    page = _login(context, "admin", lands="**/admin/")
    page.goto(EDITOR)
    _edit_cell(page, "rule_2_agency", '"DINAS-X"')
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector("#problems")
    assert "OPD 'DINAS-X' tidak ada atau tidak menerima laporan" in page.inner_text("#problems")
    # the table is drawn again as it was sent, and holds the focus with the field's error
    expect(page.locator('td[data-element-id="rule_2_agency"]')).to_have_text('"DINAS-X"')
    canvas = page.locator("#routing-canvas")
    expect(canvas).to_be_focused()
    assert canvas.get_attribute("aria-invalid") == "true"
    assert "Tabel tidak diterapkan" in page.inner_text(".field.has-error .error")
    # and the XML view holds the same table
    page.click("#routing-mode")
    expect(page.locator("#xml")).to_be_visible()
    assert '<text>"DINAS-X"</text>' in page.locator("#xml").input_value()
    expect(page.locator("#xml")).to_be_focused()
    page.click("#routing-mode")
    expect(page.locator("#routing-modeler")).to_be_visible()
    assert _versions(services) == [1]
    assert _ours(errors) == [], "\n".join(_ours(errors))
    context.close()


def test_a_versions_diagram_zooms_in_bpmn_js_and_is_the_servers_drawing_without_it(browser, server):
    base, services = server
    _setup(services)
    context, errors = _context(browser, base)
    page = _login(context, "admin", lands="**/admin/")
    page.goto("/admin/processes/1/diagram")
    page.wait_for_selector("#process-diagram[data-drawn='bpmn-js']")
    expect(page.locator("#bpmn-canvas [data-element-id='disposition']")).to_have_count(1)
    expect(page.locator("#diagram-fallback")).to_be_hidden()
    transform = page.locator("#bpmn-canvas .viewport").get_attribute("transform")
    page.click("button[data-zoom=in]")
    page.wait_for_function("t => document.querySelector('#bpmn-canvas .viewport').getAttribute('transform') !== t",
                           arg=transform)
    _shot(page, "process-diagram")
    with page.expect_download() as download:
        page.click("tr[data-file='routing.dmn'] a")
    assert download.value.suggested_filename == "routing.dmn"
    assert errors == []
    context.close()

    offline, offline_errors = _context(browser, base)
    offline.route(re.compile(r"https://unpkg\.com/"), lambda route: route.abort())
    page = _login(offline, "admin", lands="**/admin/")
    page.goto("/admin/processes/1/diagram")
    expect(page.locator("#diagram-fallback svg.bpmn-diagram [data-element='disposition']")).to_have_count(1)
    expect(page.locator("#diagram-fallback")).to_be_visible()
    expect(page.locator("#bpmn-canvas")).to_be_hidden()
    assert [e for e in offline_errors if not _unreachable(e)] == []
    offline.close()
