"""Browser tests: Playwright driving the system Chromium against a live server.

The page declares the pinned htmx from the CDN; the browser is given the same file from the npm
package ``htmx.org`` (``tests/browser``), so Chromium's own SRI check proves the declared hash.
Without Chromium or that package these tests skip with a message (under CI they fail).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import FAST_PASSWORDS, PASSWORD, jpeg_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # the test extra is not installed: the browser fixture skips
    expect = None
from tests import actions
from tests.conftest import START
from workflow import commands
from workflow.clock import ManualClock
from workflow.config import REPO_ROOT, Settings
from workflow.services import build_services

CHROMIUM = os.environ.get("TANGGAP_CHROMIUM", "/usr/bin/chromium")
HTMX_FILE = REPO_ROOT / "tests" / "browser" / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
ARTIFACTS = REPO_ROOT / "test-artifacts"
WITA = ZoneInfo("Asia/Makassar")


def _require(condition: bool, message: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    _require(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    _require(HTMX_FILE.exists(), "htmx.org npm package missing (npm ci --prefix tests/browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def server(sqlite_url, tmp_path, definition):
    """The app on a free local port, on its own SQLite copy, with a clock the test moves."""
    from werkzeug.serving import make_server

    from web import create_app

    settings = Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": sqlite_url})
    services = build_services(settings, definition=definition, clock=ManualClock(START),
                              passwords=FAST_PASSWORDS)
    with services.uow() as uow:
        for username, role, scope in [("triase", "triage", "KOMINFO"), ("koor.dlh", "coordinator", "DLH"),
                                      ("koor.dpu", "coordinator", "DPU"),
                                      ("qr.mariso", "qr_officer", "qr-mariso-1")]:
            commands.create_user(uow, username=username, full_name=username.title(), password=PASSWORD,
                                 roles=[(role, scope)])
        uow.commit()
    app = create_app({"SECRET_KEY": "browser-test"}, services=services)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", services
    httpd.shutdown()
    services.dispose()


def _context(browser, base):
    context = browser.new_context(base_url=base, locale="id-ID", timezone_id="Asia/Makassar")
    context.route(re.compile(r"https://unpkg\.com/htmx\.org@.*/dist/htmx\.min\.js"),
                  lambda route: route.fulfill(body=HTMX_FILE.read_bytes(),
                                              content_type="application/javascript",
                                              headers={"Access-Control-Allow-Origin": "*"}))
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    return context, errors


def _login(context, username, lands="**/inbox"):
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lands)
    return page


def _open_task(page, case_number):
    page.goto("/inbox")
    page.click(f"text={case_number}")
    page.wait_for_selector("#task-form")


def _fill_report(page, description):
    page.goto("/lapor")
    page.select_option("#category", "sampah")
    page.fill("#description", description)
    page.select_option("#area", "mariso")
    page.fill("#lat", "-5.1560")
    page.fill("#lon", "119.4050")


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_declared_sri_matches_the_npm_build():
    _require(HTMX_FILE.exists(), "htmx.org npm package missing (npm ci --prefix tests/browser)")
    from web import vendor

    digest = base64.b64encode(hashlib.sha384(HTMX_FILE.read_bytes()).digest()).decode()
    assert vendor.HTMX_SRI == f"sha384-{digest}"
    package = (REPO_ROOT / "tests" / "browser" / "package.json").read_text()
    assert f'"htmx.org": "{vendor.HTMX_VERSION}"' in package


def test_report_to_closure_in_the_browser(browser, server, tmp_path):
    base, services = server
    photo = tmp_path / "sebelum.jpg"
    photo.write_bytes(jpeg_bytes(size=(320, 240)))

    citizen, citizen_errors = _context(browser, base)
    page = citizen.new_page()
    _fill_report(page, "Sampah menumpuk di depan Pasar Lette, sudah tiga hari.")
    # htmx narrows the list to Mariso's 9 kelurahan (plus "choose")
    expect(page.locator("#kelurahan option")).to_have_count(10)
    page.select_option("#kelurahan", "mariso/lette")
    page.set_input_files("#photo", str(photo))
    page.click("button[type=submit]")
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    status_url = f"/lacak/{code}"
    with services.reading() as session:
        from workflow.store.models import Case, Report
        number = session.query(Case).join(Report).filter(Report.tracking_hash == services.tracking.lookup(code)).one().number

    staff, staff_errors = _context(browser, base)
    triage = _login(staff, "triase")
    _open_task(triage, number)
    triage.check("input[name=decision][value=valid]")
    triage.click("#task-form button[type=submit]")
    triage.wait_for_url("**/inbox")
    triage.close()
    staff.clear_cookies()

    dlh = _login(staff, "koor.dlh")
    dlh.evaluate("window.__sameDocument = true")
    dlh.select_option("#f-area", "tallo")
    dlh.wait_for_url(re.compile(r"area=tallo"))
    dlh.wait_for_selector(f"text={number}", state="detached")
    dlh.select_option("#f-area", "mariso")
    dlh.wait_for_selector(f"#inbox >> text={number}")
    assert dlh.evaluate("window.__sameDocument") is True  # filtered without a page load
    assert "area=mariso" in dlh.url
    dlh.click(f"tr[data-case='{number}'] button:has-text('Ambil')")
    dlh.wait_for_selector(f"tr[data-case='{number}'] button:has-text('Lepas')")
    assert dlh.evaluate("window.__sameDocument") is True
    _shot(dlh, "inbox")
    _open_task(dlh, number)
    dlh.check("input[name=decision][value=transfer]")
    dlh.select_option("#transfer_to", "DPU")
    dlh.fill("#reason", "Saluran air tersumbat: kewenangan Dinas PU")
    _shot(dlh, "task-form")
    dlh.click("#task-form button[type=submit]")
    dlh.wait_for_url("**/inbox")
    dlh.close()
    staff.clear_cookies()

    dpu = _login(staff, "koor.dpu")
    _open_task(dpu, number)
    dpu.check("input[name=decision][value=accept]")
    dpu.click("#task-form button[type=submit]")
    _open_task(dpu, number)
    dpu.select_option("#team", "qr-mariso-1")
    dpu.click("#task-form button[type=submit]")
    dpu.wait_for_url("**/inbox")
    dpu.close()
    staff.clear_cookies()

    qr = _login(staff, "qr.mariso")
    _open_task(qr, number)
    services.clock.advance(timedelta(hours=2))
    arrived = (services.clock.now() - timedelta(minutes=10)).astimezone(WITA)
    qr.fill("#arrived_at", arrived.strftime("%Y-%m-%dT%H:%M"))
    qr.fill("#action_taken", "Sampah diangkut dengan truk, saluran dibersihkan.")
    after = tmp_path / "sesudah.jpg"
    after.write_bytes(jpeg_bytes(size=(320, 240), color=(30, 160, 60)))
    qr.set_input_files("#after_photo", str(after))
    qr.click("#task-form button[type=submit]")
    qr.wait_for_url("**/inbox")
    qr.close()
    staff.clear_cookies()

    dpu = _login(staff, "koor.dpu")
    _open_task(dpu, number)
    dpu.check("input[name=decision][value=approve]")
    dpu.click("#task-form button[type=submit]")
    _open_task(dpu, number)
    dpu.fill("#closure_note", "Sampah sudah diangkut dan saluran dibersihkan. Terima kasih.")
    dpu.click("#task-form button[type=submit]")
    dpu.wait_for_url("**/inbox")

    page.goto(status_url)
    assert page.locator("#status").inner_text() == "Sudah ditangani: mohon konfirmasi"
    assert page.locator(".photos img").count() == 2
    page.check("input[name=decision][value=confirm]")
    page.click("button:has-text('Kirim')")
    page.wait_for_selector("#status:has-text('Selesai')")
    assert "Sampah sudah diangkut" in page.locator("#closure-note").inner_text()
    _shot(page, "status-page")
    assert citizen_errors == [] and staff_errors == []
    citizen.close()
    staff.close()


def test_script_injection_renders_as_text(browser, server):
    base, services = server
    context, errors = _context(browser, base)
    page = context.new_page()
    _fill_report(page, "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'> sampah")
    page.click("button[type=submit]")
    page.wait_for_selector("#tracking-code")
    assert page.evaluate("window.__pwned") is None
    assert "<script>window.__pwned = 1</script>" in page.inner_text("main")
    code = page.locator("#tracking-code").inner_text().strip()

    staff = _login(context, "triase")
    with services.reading() as session:
        from workflow.store.models import Case, Report
        case_id = session.query(Case).join(Report).filter(Report.tracking_hash == services.tracking.lookup(code)).one().id
    staff.goto(f"/cases/{case_id}")
    staff.fill("#body", "<script>window.__pwned = 3</script> catatan")
    staff.click("button:has-text('Simpan catatan')")
    staff.wait_for_selector(".note-body")
    assert staff.evaluate("window.__pwned") is None
    assert "<script>window.__pwned = 3</script> catatan" in staff.inner_text(".note-body")
    assert errors == []
    context.close()



def test_case_history_with_the_taken_path(browser, server):
    base, services = server
    with services.uow() as uow:
        commands.create_user(uow, username="inspektorat", full_name="Inspektorat", password=PASSWORD,
                             roles=[("auditor", None)])
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di saluran depan pasar.", lat=-5.156,
            lon=119.405, area="mariso"))
        uow.commit()
    with services.reading() as session:
        from sqlalchemy import select

        from workflow.access import actor_for_user
        from workflow.store.models import User, WorkItem
        users = {u.username: actor_for_user(session, u.id) for u in session.scalars(select(User))}

    def step(command, username, **kwargs):
        with services.reading() as session:
            item = session.scalar(select(WorkItem).where(WorkItem.case_id == submitted.case_id,
                                                         WorkItem.completed_at.is_(None)))
        with services.uow() as uow:
            command(uow, users[username], item.id, **kwargs)
            uow.commit()
        services.clock.advance(timedelta(hours=1))

    step(actions.triage, "triase", decision="valid")
    step(actions.transfer, "koor.dlh", to_agency="DPU", reason="Saluran tersumbat: kewenangan DPU")
    step(actions.accept, "koor.dpu")

    context, errors = _context(browser, base)
    page = _login(context, "inspektorat", lands="**/audit")
    page.fill("input[name=tracking_code]", submitted.tracking_code)
    page.click("#history-search button[type=submit]")
    page.click(f"text={submitted.case_number}")
    page.wait_for_selector("#timeline")
    assert page.locator("#chain-badge").inner_text() == "Rantai audit terverifikasi"
    assert page.locator("#timeline li.transfer").count() == 1
    for element in ("triage", "disposition", "record_transfer"):
        assert page.locator(f'#diagram [data-element="{element}"].taken').count() == 1, element
    assert page.locator('#diagram [data-element="dispatch"].current').count() == 1
    assert page.locator('#diagram [data-element="closure"].taken').count() == 0
    box = page.locator("#diagram svg").bounding_box()
    assert box and box["width"] > 600 and box["height"] > 300  # drawn, not an empty box
    _shot(page, "case-history")
    assert errors == []
    context.close()


def test_dashboard_in_the_browser(browser, server):
    base, services = server
    with services.uow() as uow:
        commands.create_user(uow, username="walikota", full_name="Pimpinan Kota", password=PASSWORD,
                             roles=[("supervisor", None)])
        for area, lat, lon in (("mariso", -5.156, 119.405), ("tallo", -5.105, 119.44), ("mariso", -5.157, 119.406)):
            commands.submit_report(uow, commands.ReportInput(
                category="sampah", description="Sampah menumpuk di pinggir jalan.", lat=lat, lon=lon, area=area))
        uow.commit()
    context, errors = _context(browser, base)
    page = _login(context, "walikota", lands="**/escalations")
    page.click("nav >> text=Dasbor")
    page.wait_for_selector("svg.city-map")
    assert page.locator('svg.city-map [data-area="mariso"] text').text_content() == "2"
    assert page.locator('table[data-table="open_by_area"] tbody tr').count() == 2
    box = page.locator("svg.city-map").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150
    _shot(page, "dashboard")
    assert errors == []
    context.close()
