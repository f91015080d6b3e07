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
from dataclasses import dataclass
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
from workflow.commands import credentials
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
    yield from _serve(sqlite_url, tmp_path, definition, {})


def _whole_bodies(app):
    """Each response read to the end and closed before it is sent. Werkzeug's development server
    leaves a static file open when the browser drops the connection mid-file (it navigated on):
    a ResourceWarning, an error under this suite's warning filter, on a loaded machine."""
    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()
    return wsgi


def _serve(sqlite_url, tmp_path, definition, env: dict):
    from werkzeug.serving import make_server

    from web import create_app

    settings = Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": sqlite_url, **env})
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
    httpd = make_server("127.0.0.1", 0, _whole_bodies(app), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", services
    httpd.shutdown()
    services.dispose()


NODE_MODULES = REPO_ROOT / "tests" / "browser" / "node_modules"
TILE_URL = "https://tiles.test/{z}/{x}/{y}.png"  # the tests' own tile server: a local folder


def _npm_file(route):
    """unpkg.com/<package>@<version>/dist/<file>, from the npm package of that version."""
    found = re.match(r"https://unpkg\.com/([^@]+)@([^/]+)/(.+)", route.request.url)
    path = NODE_MODULES / found.group(1) / found.group(3)
    kind = "application/javascript" if path.suffix == ".js" else "text/css"
    route.fulfill(body=path.read_bytes(), content_type=kind, headers={"Access-Control-Allow-Origin": "*"})


def _tiles(folder: Path):
    """Map tiles from a local folder (one drawn tile, served for every z/x/y)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    tile = folder / "tile.png"
    Image.new("RGB", (256, 256), (226, 232, 240)).save(tile)
    return lambda route: route.fulfill(body=tile.read_bytes(), content_type="image/png")


def _context(browser, base, **options):
    tiles = options.pop("tiles", ARTIFACTS / "tiles")
    # the field view's service worker only where a test is about it: requests it passes on would
    # go around the routes below (htmx, Leaflet, tiles)
    options.setdefault("service_workers", "block")
    context = browser.new_context(base_url=base, locale="id-ID", timezone_id="Asia/Makassar", **options)
    context.route(re.compile(r"https://unpkg\.com/htmx\.org@.*/dist/htmx\.min\.js"),
                  lambda route: route.fulfill(body=HTMX_FILE.read_bytes(),
                                              content_type="application/javascript",
                                              headers={"Access-Control-Allow-Origin": "*"}))
    context.route(re.compile(r"https://unpkg\.com/(leaflet(\.markercluster)?|bpmn-js|dmn-js)@"), _npm_file)
    context.route(re.compile(r"https://(tiles\.test|tile\.openstreetmap\.org)/"), _tiles(tiles))
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    # a file the page may not load (CSP, SRI, an unreachable host) is a console error, not a page
    # error; a 400 is a form or a lookup answering bad input, which the tests send on purpose
    context.on("console", lambda m: errors.append(m.text) if m.type == "error"
               and "responded with a status of 400" not in m.text else None)
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
    expect(dlh.locator("form.filters .filter-submit")).to_be_hidden()  # htmx filters on change
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

    qr = _login(staff, "qr.mariso", lands="**/lapangan")
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


def _two_dlh_reports(services) -> tuple[str, str]:
    """Reports in Mariso and in Tallo, triaged: both wait for DLH's disposition (their numbers)."""
    numbers = []
    for area, lat, lon in (("mariso", -5.1560, 119.4050), ("tallo", -5.105, 119.44)):
        with services.uow() as uow:
            submitted = commands.submit_report(uow, commands.ReportInput(
                category="sampah", description="Sampah menumpuk di pinggir jalan, sudah tiga hari.",
                lat=lat, lon=lon, area=area))
            uow.commit()
        _as_user(services, submitted.case_id, "triase", {"decision": "valid"})
        numbers.append(submitted.case_number)
    return numbers[0], numbers[1]


# dmn-js's bundle (the routing table's editor) carries Inferno's check for its development build,
# which logs this as an error from the production bundle too: the one message dmn-js itself logs
INFERNO = "It looks like you're using a minified copy of the development build of Inferno."


def _unreachable(text: str) -> bool:
    """A console error of a file the test made unreachable on purpose."""
    return "net::ERR_FAILED" in text


def test_inbox_filters_are_a_plain_form_when_the_cdn_is_unreachable(browser, server):
    """A city intranet that cannot reach the CDN: htmx never loads, the filters keep their submit
    button and filter by loading the page."""
    base, services = server
    mariso, tallo = _two_dlh_reports(services)
    context, errors = _context(browser, base)
    context.route(re.compile(r"https://unpkg\.com/"), lambda route: route.abort())  # overrides the npm copies
    page = _login(context, "koor.dlh")
    expect(page.locator(f"#inbox tr[data-case='{tallo}']")).to_be_visible()
    assert page.evaluate("window.htmx") is None
    assert "js-htmx" not in (page.get_attribute("html", "class") or "")
    button = page.locator("form.filters .filter-submit")
    expect(button).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    page.select_option("#f-area", "mariso")
    assert "area=" not in page.url  # without htmx a change does nothing by itself
    with page.expect_navigation():
        button.click()
    assert "area=mariso" in page.url
    assert page.evaluate("window.__sameDocument") is None  # a page load, not htmx
    expect(page.locator(f"#inbox tr[data-case='{mariso}']")).to_be_visible()
    expect(page.locator(f"#inbox tr[data-case='{tallo}']")).to_have_count(0)
    expect(page.locator("#f-area")).to_have_value("mariso")  # the form shows the filter it applied
    _shot(page, "inbox-without-htmx")
    page.select_option("#f-area", "tallo")
    page.select_option("#f-sort", "due")
    with page.expect_navigation():
        button.click()
    assert "area=tallo" in page.url and "sort=due" in page.url
    expect(page.locator(f"#inbox tr[data-case='{tallo}']")).to_be_visible()
    expect(page.locator(f"#inbox tr[data-case='{mariso}']")).to_have_count(0)
    assert [e for e in errors if not _unreachable(e)] == []
    assert errors, "the CDN was not asked for htmx"  # the page did try the CDN, and only failed
    context.close()


@pytest.fixture
def self_hosted(sqlite_url, tmp_path, definition, monkeypatch):
    """The app with ``TANGGAP_HTMX_URL`` at a copy of htmx on the city's intranet."""
    monkeypatch.setenv("TANGGAP_HTMX_URL", SELF_HOSTED_HTMX)
    yield from _serve(sqlite_url, tmp_path, definition, {})


SELF_HOSTED_HTMX = "https://intranet.test/vendor/htmx.org/2.0.11/htmx.min.js"


def test_a_self_hosted_htmx_filters_in_place_and_only_that_file_may_run(browser, self_hosted):
    base, services = self_hosted
    mariso, tallo = _two_dlh_reports(services)
    context, errors = _context(browser, base)
    context.route(re.compile(r"https://unpkg\.com/"), lambda route: route.abort())
    asked = []

    def intranet(route):
        asked.append(route.request.url)
        if route.request.url != SELF_HOSTED_HTMX:
            return route.fulfill(body="window.__other = 1", content_type="application/javascript",
                                 headers={"Access-Control-Allow-Origin": "*"})
        return route.fulfill(body=HTMX_FILE.read_bytes(), content_type="application/javascript",
                             headers={"Access-Control-Allow-Origin": "*"})

    context.route(re.compile(r"https://intranet\.test/"), intranet)
    page = _login(context, "koor.dlh")
    expect(page.locator("html.js-htmx")).to_have_count(1)
    expect(page.locator("form.filters .filter-submit")).to_be_hidden()  # htmx filters on change
    page.evaluate("window.__sameDocument = true")
    page.select_option("#f-area", "tallo")
    page.wait_for_url(re.compile(r"area=tallo"))
    expect(page.locator(f"#inbox tr[data-case='{mariso}']")).to_have_count(0)
    expect(page.locator(f"#inbox tr[data-case='{tallo}']")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # filtered without a page load
    assert asked == [SELF_HOSTED_HTMX] * len(asked) and asked
    assert not [e for e in errors if "unpkg.com/htmx" in e]  # the CDN's htmx is not even asked for
    # the policy names the file, not the intranet's whole origin: another script there is refused
    errors.clear()
    with pytest.raises(Exception):
        page.add_script_tag(url="https://intranet.test/vendor/other.js")
    assert page.evaluate("window.__other") is None
    assert any("Content Security Policy" in e for e in errors), errors
    context.close()


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
    assert page.locator('svg.city-map [data-area="mariso"]').get_attribute("data-count") == "2"
    assert page.locator('table[data-table="open_by_area"] tbody tr').count() == 2
    box = page.locator("svg.city-map").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150
    _shot(page, "dashboard")
    assert errors == []
    context.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture
def mapped(sqlite_url, tmp_path, definition, smtp, monkeypatch):
    """The app with its tiles from the tests' tile server and e-mail notices on."""
    _require((NODE_MODULES / "leaflet" / "dist" / "leaflet.js").exists(),
             "leaflet npm package missing (npm ci --prefix tests/browser)")
    monkeypatch.setenv("TANGGAP_TILE_URL", TILE_URL)
    yield from _serve(sqlite_url, tmp_path, definition, {
        "TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": str(smtp.port), "TANGGAP_SMTP_SECURITY": "none",
        "TANGGAP_MAIL_FROM": "Tanggap <lapor@example.id>", "TANGGAP_PUBLIC_URL": "https://lapor.example.id"})


def test_a_citizen_pins_a_point_on_a_phone_follows_a_nearby_report_and_files_another(browser, mapped, tmp_path):
    base, services = mapped
    with services.uow() as uow:  # an open garbage report 60 m north of where the citizen stands
        existing = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di samping masjid.", lat=-5.15546, lon=119.4050))
        uow.commit()
    here = {"latitude": -5.1560, "longitude": 119.4050, "accuracy": 10}
    context, errors = _context(browser, base, tiles=tmp_path / "tiles", geolocation=here,
                               permissions=["geolocation"], **PHONE)
    page = context.new_page()
    page.goto("/lapor")
    page.select_option("#category", "sampah")
    expect(page.locator("#map-picker")).to_be_visible()
    expect(page.locator("#map-picker .leaflet-tile-loaded").first).to_be_visible()
    # the map's credits are links in text: told apart by more than colour (axe: link-in-text-block)
    assert page.eval_on_selector("#map-picker .leaflet-control-attribution a",
                                 "a => getComputedStyle(a).textDecorationLine") == "underline"
    page.tap("#use-my-location")
    expect(page.locator("#map-status")).to_contain_text("Kecamatan Mariso")
    assert page.input_value("#lat") == "-5.156000" and page.input_value("#area") == "mariso"
    expect(page.locator("#kelurahan")).not_to_have_value("")  # the pin chose the kelurahan too
    # tap the map a little east of the pin: the point moves, the fields follow
    box = page.locator("#map-picker .map").bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2)
    expect(page.locator("#lon")).not_to_have_value("119.405000")
    assert float(page.input_value("#lon")) > 119.4050
    nearby = page.locator(f'#nearby [data-case="{existing.case_number}"]')
    expect(nearby).to_be_visible()
    _shot(page, "report-map-phone")
    nearby.get_by_role("link", name=re.compile("Ikuti laporan ini")).tap()
    page.wait_for_url(f"**/lapor/ikuti/{existing.case_number}")
    page.fill("#contact_email", "tetangga@example.id")
    page.get_by_role("button", name="Ikuti").tap()
    expect(page.locator(".flash")).to_contain_text(f"Anda mengikuti laporan {existing.case_number}")
    with services.reading() as session:
        from workflow.store.models import Subscription
        follower = session.query(Subscription).filter_by(case_id=existing.case_id).one()
        assert follower.address == "tetangga@example.id" and follower.following == "follower"

    # another problem, somewhere else: found by the name of its kelurahan, then pinned
    page.get_by_role("link", name="Laporkan masalah lain").tap()
    page.select_option("#category", "pkl-liar")
    page.fill("#description", "Pedagang berjualan di trotoar depan pantai, pejalan kaki turun ke jalan.")
    page.fill("#contact_email", "tetangga@example.id")
    page.fill("#area-search", "Losari, Ujung Pandang")
    page.dispatch_event("#area-search", "change")
    page.tap("#pin-centre")
    expect(page.locator("#map-status")).to_contain_text("Kecamatan Ujung Pandang")
    assert page.input_value("#area") == "ujung-pandang"
    page.tap("button[type=submit]")
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", code)
    assert errors == []
    context.close()


def test_the_report_form_without_javascript_keeps_the_kecamatan_path(browser, mapped, tmp_path):
    base, services = mapped
    context, errors = _context(browser, base, tiles=tmp_path / "tiles", java_script_enabled=False, **PHONE)
    page = context.new_page()
    page.goto("/lapor")
    expect(page.locator("#map-picker")).to_be_hidden()
    page.select_option("#category", "sampah")
    page.fill("#description", "Sampah menumpuk di depan Pasar Lette, sudah tiga hari.")
    page.select_option("#area", "mariso")
    page.select_option("#kelurahan", "mariso/lette")  # every kelurahan, grouped by kecamatan
    page.check("input[name=notify_by][value=none]")
    page.click("button[type=submit]")
    code = page.locator("#tracking-code").inner_text().strip()
    with services.reading() as session:
        from workflow.store.models import Area, Case, Report
        case = session.query(Case).join(Report).filter(Report.tracking_hash == services.tracking.lookup(code)).one()
        assert session.get(Area, case.area_id).code == "mariso"
        assert case.lat is None and case.report.lat is not None  # a point for the map link, not a place
    # typed coordinates with a decimal comma, and a point that contradicts the kecamatan
    page.goto("/lapor")
    page.select_option("#category", "sampah")
    page.fill("#description", "Sampah menumpuk di depan Pasar Lette, sudah tiga hari.")
    page.select_option("#area", "tallo")
    page.fill("#lat", "-5,1560")
    page.fill("#lon", "119,4050")
    page.check("input[name=notify_by][value=none]")
    page.click("button[type=submit]")
    expect(page.locator(".error").first).to_contain_text("Kecamatan Mariso, bukan Tallo")
    assert page.input_value("#lat") == "-5,1560"  # kept as typed
    assert errors == []
    context.close()


def _as_user(services, case_id: int, username: str, values: dict) -> None:
    """Complete the case's open task as ``username`` (one of the server's users)."""
    from sqlalchemy import select

    from workflow.access import actor_for_user
    from workflow.store.models import User, WorkItem

    with services.uow() as uow:
        user = uow.session.scalar(select(User).where(User.username == username))
        item = uow.session.scalar(select(WorkItem).where(WorkItem.case_id == case_id,
                                                         WorkItem.completed_at.is_(None)))
        commands.complete_work_item(uow, actor_for_user(uow.session, user.id), item.id, values)
        uow.commit()


def _to_field_work(services, case_id: int, *, instructions: str) -> None:
    """Triage, accept and dispatch to Mariso's QR team, by the server's users."""
    for username, values in (("triase", {"decision": "valid"}), ("koor.dlh", {"decision": "accept"}),
                             ("koor.dlh", {"team": "qr-mariso-1", "instructions": instructions})):
        _as_user(services, case_id, username, values)


def _no_wider_than_the_screen(page) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 5)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, wide
    assert wide == [], wide


def test_an_officer_works_a_task_from_the_field_view_on_a_phone(browser, server, tmp_path):
    base, services = server
    with services.uow() as uow:
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan Pasar Lette, sudah tiga hari.",
            lat=-5.1560, lon=119.4050, area="mariso", address="Jl. Rajawali No. 1"))
        uow.commit()
    _to_field_work(services, submitted.case_id, instructions="Bawa gerobak; tumpukan di belakang pasar.")
    photos = [tmp_path / "sesudah-1.jpg", tmp_path / "sesudah-2.jpg"]
    for photo, color in zip(photos, ((20, 160, 40), (30, 40, 160))):
        photo.write_bytes(jpeg_bytes(size=(640, 480), color=color))
    context, errors = _context(browser, base, **PHONE)
    page = _login(context, "qr.mariso", lands="**/lapangan")
    card = page.locator(f'.task-card[data-case="{submitted.case_number}"]')
    expect(card).to_contain_text("Bawa gerobak; tumpukan di belakang pasar.")
    assert card.locator('a[href^="geo:"]').count() == 1
    _no_wider_than_the_screen(page)
    _shot(page, "field-cards-phone")
    card.get_by_role("link", name="Buka tugas").tap()
    page.wait_for_selector("#task-form")
    _no_wider_than_the_screen(page)
    form_top = page.locator("#task-form").bounding_box()["y"]
    assert form_top < page.locator(".card h2", has_text="Kasus").first.bounding_box()["y"]  # the form first
    assert page.input_value("#arrived_at")  # filled with now
    page.fill("#action_taken", "Sampah diangkut dua gerobak, lokasi disapu.")
    with page.expect_file_chooser() as chooser:
        page.tap("#after_photo")
    assert chooser.value.is_multiple()  # several photos: the camera, twice
    chooser.value.set_files([str(p) for p in photos])
    page.tap("#task-form button[type=submit]")
    page.wait_for_url("**/lapangan**")
    expect(page.locator(".flash")).to_contain_text(submitted.case_number)
    expect(page.locator(f'.task-card[data-case="{submitted.case_number}"]')).to_have_count(0)
    _shot(page, "field-done-phone")
    with services.reading() as session:
        from sqlalchemy import func, select

        from workflow.store.models import Attachment
        assert session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.case_id == submitted.case_id, Attachment.kind == "after")) == 2
    assert errors == []
    context.close()


def test_a_coordinator_takes_a_case_through_both_pairs_of_steps_in_six_page_loads(browser, server):
    """From the inbox: accept, then dispatch; later verify, then close. Each completion whose next
    step is the same coordinator's goes straight to it (before: back to the inbox each time, 8
    loads)."""
    base, services = server
    with services.uow() as uow:
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan Pasar Lette, sudah tiga hari.",
            lat=-5.1560, lon=119.4050, area="mariso"))
        uow.commit()
    def as_user(username, values):
        _as_user(services, submitted.case_id, username, values)

    as_user("triase", {"decision": "valid"})
    context, errors = _context(browser, base)
    page = _login(context, "koor.dlh")
    loads = []
    page.on("load", lambda: loads.append(page.url))
    page.click(f"text={submitted.case_number}")
    page.check("input[name=decision][value=accept]")
    page.click("#task-form button[type=submit]")
    page.wait_for_selector("#team")  # straight on to the dispatch
    page.select_option("#team", "qr-mariso-1")
    page.click("#task-form button[type=submit]")
    page.wait_for_url("**/inbox")
    first_pair = len(loads)  # the task, the dispatch it went on to, the inbox
    services.clock.advance(timedelta(hours=1))
    as_user("qr.mariso", {"arrived_at": services.clock.now() - timedelta(minutes=5),
                          "action_taken": "Sampah diangkut.", "after_photo": _officer_photo(services, submitted.case_id)})
    page.reload()
    loads.clear()  # the reload is the coordinator coming back to the inbox later, not a step
    page.click(f"text={submitted.case_number}")
    page.check("input[name=decision][value=approve]")
    page.click("#task-form button[type=submit]")
    page.wait_for_selector("#closure_note")  # straight on to the closure
    page.fill("#closure_note", "Sampah sudah diangkut. Terima kasih.")
    page.click("#task-form button[type=submit]")
    page.wait_for_url("**/inbox")
    assert (first_pair, len(loads)) == (3, 3), loads
    with services.reading() as session:
        from workflow.store.models import Case
        assert session.get(Case, submitted.case_id).status == "resolved"
    assert errors == []
    context.close()


def _officer_photo(services, case_id: int) -> int:
    from sqlalchemy import select

    from workflow.access import actor_for_user
    from workflow.commands.case_extras import store_attachment
    from workflow.store.models import Case, User
    from workflow.vocabulary import AttachmentKind

    with services.uow() as uow:
        officer = uow.session.scalar(select(User).where(User.username == "qr.mariso"))
        image = services.storage.prepare(jpeg_bytes(), field="after_photo")
        attachment = store_attachment(uow, uow.session.get(Case, case_id), image, kind=AttachmentKind.AFTER,
                                      actor=actor_for_user(uow.session, officer.id))
        uow.commit()
        return attachment.id


def _kept(page) -> dict:
    return page.evaluate("""async () => {
        const out = {};
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            out[name] = (await cache.keys()).map(r => new URL(r.url).pathname);
        }
        return out;
    }""")


def _field_task(services):
    """A report of Mariso dispatched to its QR team: (the report, its field task, qr.mariso)."""
    from sqlalchemy import select

    from workflow.store.models import User, WorkItem
    with services.uow() as uow:
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan Pasar Lette, sudah tiga hari.",
            lat=-5.1560, lon=119.4050, area="mariso"))
        uow.commit()
    _to_field_work(services, submitted.case_id, instructions="Bawa gerobak.")
    with services.reading() as session:
        item = session.scalar(select(WorkItem).where(WorkItem.case_id == submitted.case_id,
                                                     WorkItem.completed_at.is_(None)))
        officer = session.scalar(select(User).where(User.username == "qr.mariso"))
    return submitted, item, officer


def test_the_field_view_and_its_tasks_are_kept_for_no_signal_and_dropped_at_logout(browser, server):
    base, services = server
    submitted, item, officer = _field_task(services)
    photo = _officer_photo(services, submitted.case_id)
    context, _errors = _context(browser, base, service_workers="allow", **PHONE)
    page = _login(context, "qr.mariso", lands="**/lapangan")
    wanted = {"/lapangan", f"/tasks/{item.id}", f"/cases/attachments/{photo}", "/static/responses.js",
              "/static/tanggap.css"}
    for _ in range(50):  # the worker installs, then keeps the pages: a moment
        kept = _kept(page)
        if wanted <= set(kept.get(f"tanggap-field-{officer.id}", [])):
            break
        page.wait_for_timeout(200)
    assert wanted <= set(kept.get(f"tanggap-field-{officer.id}", [])), kept
    context.set_offline(True)
    page.goto(f"/tasks/{item.id}")
    expect(page.locator("h1")).to_contain_text(submitted.case_number)
    expect(page.locator("#offline-copy")).to_be_visible()
    expect(page.locator("#handoff")).to_contain_text("Bawa gerobak.")
    # kept when the page was fetched (the server's clock); opened from the phone: arrival is now
    from datetime import datetime
    assert page.input_value("#arrived_at").startswith(datetime.now(ZoneInfo("Asia/Makassar")).strftime("%Y-%m-%dT"))
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"  # styled
    page.goto("/lapangan")
    expect(page.locator(f'.task-card[data-case="{submitted.case_number}"]')).to_be_visible()
    context.set_offline(False)
    page.get_by_role("button", name="Keluar").tap()
    page.wait_for_url("**/")
    assert not [name for name in _kept(page) if name.startswith("tanggap-field-")]
    context.close()


def _queued(page) -> list:
    """The forms waiting in the phone (field-queue.js's IndexedDB store), as the page reads them."""
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const request = indexedDB.open("tanggap-field", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("waiting", {keyPath: "id", autoIncrement: true});
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
            const all = request.result.transaction("waiting").objectStore("waiting").getAll();
            all.onsuccess = () => { request.result.close(); resolve(all.result.map(e => ({state: e.state, user: e.user,
                url: e.url, fields: e.fields.map(f => [f[0], typeof f[1] === "string" ? f[1] : "file"])}))); };
        };
    })""")


def _offline_field_work(browser, server, tmp_path, *, lost=None):
    """An officer opens a dispatched task with signal, loses it (or ``lost(context, item)`` makes
    sending fail otherwise), fills in the form with three photos (one before, two after) and sends
    it: (page, context, errors, services, submitted report, work item)."""
    base, services = server
    submitted, item, officer = _field_task(services)
    photos = []
    for name, color in (("sebelum", (90, 60, 30)), ("sesudah-1", (20, 160, 40)), ("sesudah-2", (30, 40, 160))):
        photos.append(tmp_path / f"{name}.jpg")
        photos[-1].write_bytes(jpeg_bytes(size=(640, 480), color=color))
    context, errors = _context(browser, base, service_workers="allow", **PHONE)
    page = _login(context, "qr.mariso", lands="**/lapangan")
    wanted = {f"/tasks/{item.id}", "/static/field-queue.js", "/static/field.js"}
    for _ in range(50):  # the worker installs, then keeps the pages: a moment
        if wanted <= set(_kept(page).get(f"tanggap-field-{officer.id}", [])):
            break
        page.wait_for_timeout(200)
    page.goto(f"/tasks/{item.id}")
    if lost is None:
        context.set_offline(True)
    else:
        lost(context, item)
    page.fill("#action_taken", "Sampah diangkut dua gerobak, tanpa sinyal.")
    page.set_input_files("#before_photo", str(photos[0]))
    with page.expect_file_chooser() as chooser:
        page.tap("#after_photo")
    chooser.value.set_files([str(p) for p in photos[1:]])
    page.tap("#task-form button[type=submit]")
    page.wait_for_url("**/lapangan?antre=1")
    return page, context, errors, services, submitted, item


def _field_work_done(services, case_id: int) -> int:
    from sqlalchemy import func, select

    from workflow.store.models import CaseEvent
    from workflow.vocabulary import Action
    with services.reading() as session:
        return session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == Action.TASK_COMPLETED,
            CaseEvent.task_name == "field_work"))


def test_a_form_filled_in_without_signal_is_sent_once_when_the_signal_is_back(browser, server, tmp_path):
    page, context, errors, services, submitted, item = _offline_field_work(browser, server, tmp_path)
    queued = page.locator("#queued")
    expect(queued).to_be_visible()
    expect(page.locator("#queued-status")).to_contain_text("disimpan di ponsel")
    expect(queued).to_contain_text(submitted.case_number)
    expect(queued).to_contain_text("Sampah diangkut dua gerobak, tanpa sinyal.")
    expect(queued).to_contain_text("Menunggu sinyal")
    expect(queued.locator("img")).to_have_count(3)
    waiting = _queued(page)
    assert [e["state"] for e in waiting] == ["waiting"] and waiting[0]["url"] == f"/tasks/{item.id}"
    assert ("version", str(_case_version(services, submitted.case_id))) in [tuple(f) for f in waiting[0]["fields"]]
    _no_wider_than_the_screen(page)
    _shot(page, "field-queued-phone")
    assert _field_work_done(services, submitted.case_id) == 0  # nothing reached the server
    context.set_offline(False)  # the phone's "online" event sends it
    expect(page.locator("#queued-status")).to_contain_text("Terkirim: 1")
    expect(queued).to_be_hidden()
    assert _queued(page) == []
    page.reload()
    page.wait_for_timeout(500)
    assert _field_work_done(services, submitted.case_id) == 1  # once
    with services.reading() as session:
        from sqlalchemy import select

        from workflow.store.models import Attachment, WorkItem
        assert session.get(WorkItem, item.id).completed_at is not None
        kinds = sorted(a.kind for a in session.scalars(select(Attachment).where(Attachment.case_id == submitted.case_id)))
    assert kinds == ["after", "after", "before"]  # the officer's three photos
    assert errors == []
    context.close()


def _case_version(services, case_id: int) -> int:
    from workflow.store.models import Case
    with services.reading() as session:
        return session.get(Case, case_id).version


def test_a_form_sent_after_a_supervisor_gave_the_task_away_shows_the_conflict_and_keeps_the_entry(
        browser, server, tmp_path):
    page, context, errors, services, submitted, item = _offline_field_work(browser, server, tmp_path)
    from workflow.access import actor_for_user
    with services.uow() as uow:  # meanwhile, in the office
        commands.create_user(uow, username="qr.mariso2", full_name="Qr Mariso Dua", password=PASSWORD,
                             roles=[("qr_officer", "qr-mariso-1")])
        supervisor = commands.create_user(uow, username="sup.dlh", full_name="Sup Dlh", password=PASSWORD,
                                          roles=[("supervisor", "DLH")])
        uow.session.flush()
        commands.reassign(uow, actor_for_user(uow.session, supervisor.id), item.id, to_user="qr.mariso2",
                          reason="Qr.mariso tidak bisa dihubungi.")
        uow.commit()
    context.set_offline(False)
    entry = page.locator("#queued .queued-entry")
    expect(entry).to_have_attribute("data-state", "conflict")
    expect(entry).to_contain_text("orang lain sudah bertindak")
    expect(entry).to_contain_text("qr.mariso2")  # who holds it now, as the server said
    expect(entry).to_contain_text("Sampah diangkut dua gerobak, tanpa sinyal.")  # what was entered stays
    expect(entry.locator("img")).to_have_count(3)
    expect(page.locator("#queued-status")).to_be_empty()  # "no signal" is over
    expect(page.locator("#offline-copy")).to_be_hidden()
    assert [e["state"] for e in _queued(page)] == ["conflict"]
    assert _field_work_done(services, submitted.case_id) == 0
    _shot(page, "field-conflict-phone")
    page.once("dialog", lambda dialog: dialog.accept())  # "forms not sent yet: log out anyway?"
    page.get_by_role("button", name="Keluar").tap()
    page.wait_for_url("**/")
    assert not [name for name in _kept(page) if name.startswith("tanggap-field-")]
    assert _queued(page) == []  # nothing of the officer stays in the phone
    assert [e for e in errors if "status of 409" not in e] == []  # the conflict is the server's answer
    context.close()


def _server_down(context, item):
    """The server answers the task's form with 503 (its database is down); pages load as usual."""
    context.route(re.compile(rf".*/tasks/{item.id}$"), lambda route: route.fulfill(
        status=503, body="<main><div class='alert' role='alert'><p>Sedang gangguan.</p></div></main>",
        content_type="text/html") if route.request.method == "POST" else route.continue_())


def test_a_form_the_server_cannot_take_now_waits_in_the_phone_too(browser, server, tmp_path):
    """A 503 (the database is down) keeps the form like no signal does; it goes once the server is back."""
    page, context, errors, services, submitted, item = _offline_field_work(browser, server, tmp_path, lost=_server_down)
    expect(page.locator("#queued .queued-entry")).to_have_attribute("data-state", "waiting")
    assert _field_work_done(services, submitted.case_id) == 0
    context.unroute(re.compile(rf".*/tasks/{item.id}$"))
    page.reload()  # the field view sends what waits when it opens
    expect(page.locator("#queued-status")).to_contain_text("Terkirim: 1")
    assert _field_work_done(services, submitted.case_id) == 1
    assert [e for e in errors if "status of 503" not in e] == []
    context.close()


def test_a_coordinator_whose_task_was_done_meanwhile_keeps_what_they_typed(browser, server):
    """Two coordinators of one OPD: the second one reads the task the first holds without a form to
    fill in; the first one's answer, sent after a colleague acted, comes back as typed (409)."""
    base, services = server
    with services.uow() as uow:
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan Pasar Lette, sudah tiga hari.",
            lat=-5.1560, lon=119.4050, area="mariso"))
        commands.create_user(uow, username="koor.dlh2", full_name="Koor Dlh Dua", password=PASSWORD,
                             roles=[("coordinator", "DLH")])
        uow.commit()
    _as_user(services, submitted.case_id, "triase", {"decision": "valid"})
    context, errors = _context(browser, base)
    page = _login(context, "koor.dlh")
    _open_task(page, submitted.case_number)
    page.check("input[name=decision][value=transfer]")
    page.select_option("#transfer_to", "DPU")
    page.fill("#reason", "Saluran tersumbat: urusan Dinas PU.")
    _as_user(services, submitted.case_id, "koor.dlh2", {"decision": "accept"})  # meanwhile
    page.click("#task-form button[type=submit]")
    expect(page.locator("#task-form .error")).to_contain_text("koor.dlh2")
    assert page.input_value("#reason") == "Saluran tersumbat: urusan Dinas PU."
    assert page.is_checked("input[name=decision][value=transfer]")
    assert page.input_value("#transfer_to") == "DPU"

    other = _login(context.browser.new_context(base_url=base, locale="id-ID"), "koor.dlh2")
    with services.reading() as session:  # the dispatch, held by koor.dlh2 once they claim it
        from sqlalchemy import select

        from workflow.store.models import WorkItem
        dispatch = session.scalar(select(WorkItem).where(WorkItem.case_id == submitted.case_id,
                                                         WorkItem.completed_at.is_(None)))
    other.goto("/inbox")
    other.goto(f"/tasks/{dispatch.id}")
    other.wait_for_selector("#task-form")
    with services.uow() as uow:
        from workflow.access import actor_for_user
        from workflow.store.models import User
        holder = uow.session.scalar(select(User).where(User.username == "koor.dlh"))
        commands.claim(uow, actor_for_user(uow.session, holder.id), dispatch.id)
        uow.commit()
    other.reload()
    expect(other.locator("#held-by")).to_contain_text("Koor.Dlh")
    assert other.locator("#task-form fieldset[disabled]").count() == 1
    assert other.locator("#team").is_disabled()
    assert [e for e in errors if "status of 409" not in e] == []
    other.context.close()
    context.close()


def test_a_form_whose_case_changed_meanwhile_is_sent_again_on_the_officers_word(browser, server, tmp_path):
    """A note on the case while the phone had no signal: the task is still the officer's, so the form
    waits marked "the case changed" and goes, once, when they send it again."""
    page, context, errors, services, submitted, item = _offline_field_work(browser, server, tmp_path)
    from sqlalchemy import select

    from workflow.access import actor_for_user
    from workflow.store.models import User
    with services.uow() as uow:
        coordinator = uow.session.scalar(select(User).where(User.username == "koor.dlh"))
        commands.add_note(uow, actor_for_user(uow.session, coordinator.id), submitted.case_id,
                          "Warga menelepon: tumpukan bertambah.")
        uow.commit()
    context.set_offline(False)
    entry = page.locator("#queued .queued-entry")
    expect(entry).to_have_attribute("data-state", "changed")
    expect(entry).to_contain_text("kasus berubah")
    assert _field_work_done(services, submitted.case_id) == 0
    entry.get_by_role("button", name="Kirim lagi").tap()
    expect(page.locator("#queued-status")).to_contain_text("Terkirim: 1")
    expect(page.locator("#queued")).to_be_hidden()
    assert _field_work_done(services, submitted.case_id) == 1
    assert [e for e in errors if "status of 409" not in e] == []
    context.close()


def test_on_a_shared_phone_waiting_forms_are_only_their_officers(browser, server, tmp_path):
    """Logging out from a page that did not ask keeps the forms waiting; the next officer on the
    phone neither sees nor sends them; their officer's next login sends them."""
    page, context, errors, services, submitted, item = _offline_field_work(browser, server, tmp_path, lost=_server_down)
    expect(page.locator("#queued .queued-entry")).to_have_attribute("data-state", "waiting")
    page.goto("/inbox")  # a page without the list: logging out here does not ask, and keeps the form
    page.get_by_role("button", name="Keluar").tap()
    page.wait_for_url("**/")
    assert [e["state"] for e in _queued(page)] == ["waiting"]
    with services.uow() as uow:
        commands.create_user(uow, username="qr.mariso2", full_name="Qr Mariso Dua", password=PASSWORD,
                             roles=[("qr_officer", "qr-mariso-1")])
        uow.commit()
    context.unroute(re.compile(rf".*/tasks/{item.id}$"))
    other = _login(context, "qr.mariso2", lands="**/lapangan")
    expect(other.locator("#queued")).to_be_hidden()  # not theirs: not shown, not sent
    other.wait_for_timeout(500)
    assert _field_work_done(services, submitted.case_id) == 0
    other.get_by_role("button", name="Keluar").tap()  # nothing of theirs waits: no question
    other.wait_for_url("**/")
    assert [e["state"] for e in _queued(other)] == ["waiting"]  # the first officer's form is still there
    back = _login(context, "qr.mariso", lands="**/lapangan")
    expect(back.locator("#queued-status")).to_contain_text("Terkirim: 1")
    assert _field_work_done(services, submitted.case_id) == 1
    assert [e for e in errors if "status of 503" not in e] == []
    context.close()


# -- the reporter's status page ------------------------------------------------------------------

NARROW_PHONE = {**PHONE, "viewport": {"width": 360, "height": 740}}


def _handled_by_dlh(services) -> commands.Submitted:
    """A report DLH's team has handled and DLH has closed: it waits for the reporter."""
    with services.uow() as uow:
        submitted = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah menumpuk di depan Pasar Lette.", lat=-5.1560,
            lon=119.4050, area="mariso"))
        uow.commit()
    services.clock.advance(timedelta(hours=1))
    _to_field_work(services, submitted.case_id, instructions="Angkut semuanya.")
    photo = _officer_photo(services, submitted.case_id)
    _as_user(services, submitted.case_id, "qr.mariso", {
        "arrived_at": services.clock.now() - timedelta(minutes=5), "action_taken": "Sampah diangkut.",
        "after_photo": [photo]})
    _as_user(services, submitted.case_id, "koor.dlh", {"decision": "approve"})
    _as_user(services, submitted.case_id, "koor.dlh", {"closure_note": "Sampah sudah diangkut."})
    return submitted


def test_the_status_page_on_a_narrow_phone_shows_the_timeline_and_takes_a_rating(browser, server):
    base, services = server
    submitted = _handled_by_dlh(services)
    context, errors = _context(browser, base, **NARROW_PHONE)
    page = context.new_page()
    page.goto(f"/lacak/{submitted.tracking_code.replace('-', '').lower()}")  # however it is typed
    entries = page.locator("#timeline li")
    expect(entries).to_have_count(4)
    expect(entries.nth(0)).to_contain_text("Laporan diterima")
    expect(entries.nth(0).locator("time")).to_have_text("23 Nov 2026 08:00 WITA")
    expect(entries.nth(1)).to_contain_text("Diverifikasi dan diteruskan ke Dinas Lingkungan Hidup")
    expect(entries.nth(2)).to_contain_text("DLH menugaskan tim lapangan")
    expect(entries.nth(3)).to_contain_text("DLH menyatakan masalah sudah ditangani")
    _no_wider_than_the_screen(page)
    _shot(page, "status-feedback-phone")
    page.get_by_role("group", name="Apakah masalah sudah selesai?").get_by_label("Ya, sudah selesai").tap()
    rating = page.get_by_role("group", name="Seberapa puas Anda dengan penanganannya?")
    expect(rating.get_by_label("Tanpa penilaian")).to_be_checked()
    rating.get_by_label("4 – puas").tap()
    page.get_by_label("Komentar tentang penanganan").fill("Cepat, terima kasih.")
    page.get_by_role("button", name="Kirim", exact=True).tap()
    expect(page.locator("#status")).to_have_text("Selesai")
    confirmed = page.locator("#timeline li").last
    expect(confirmed).to_contain_text("Anda menyatakan masalah sudah selesai; laporan ditutup")
    expect(confirmed).to_contain_text("Penilaian Anda: 4 dari 5")
    expect(confirmed).to_contain_text("Cepat, terima kasih.")
    _no_wider_than_the_screen(page)
    _shot(page, "status-page-phone")
    with services.reading() as session:
        from workflow.store.models import Case
        case = session.get(Case, submitted.case_id)
        assert (case.rating, case.rating_comment) == (4, "Cepat, terima kasih.")
    assert errors == []
    context.close()


# -- accessibility: axe-core on every page of every role -----------------------------------------

AXE_FILE = NODE_MODULES / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa"]
AXE_ALSO = ["empty-table-header"]  # asked for by name; axe files it under best practice (impact minor)
FAILING = ("serious", "critical")


@dataclass(frozen=True)
class Visit:
    """One page: ``path`` (filled in with the site's ids, see ``a11y_site``), the status it answers,
    and optionally a button to click first (``submit``): its form, sent empty, comes back with its
    errors."""

    path: str
    status: int = 200
    submit: str | None = None


TASK_FORM = "#task-form button[type=submit]"
# Every page each role reaches; add a page here when you add one to the application.
PAGES: dict[str, tuple[Visit, ...]] = {
    "citizen": (
        Visit("/"), Visit("/lapor"), Visit("/lapor", 400, submit="main form button[type=submit]"),
        Visit("/lacak"), Visit("/lacak?code=ZZZZ-ZZZZ", 404),
        Visit("/lacak/{feedback_code}"), Visit("/lacak/{feedback_code}", 400, submit="#feedback button[type=submit]"),
        Visit("/lacak/{asked_code}"), Visit("/lacak/{asked_code}", 400, submit="#question button[type=submit]"),
        Visit("/lapor/ikuti/{disposition_number}"),
        Visit("/lapor/ikuti/{disposition_number}", 400, submit="main form button[type=submit]"),
        Visit("/berhenti/{stop_token}"), Visit("/peta"), Visit("/peta?start=kemarin", 400),
        Visit("/login"), Visit("/login", 400, submit="main form button[type=submit]"),
        Visit("/tidak-ada", 404),
        Visit("/transparansi"), Visit("/transparansi?page=9"), Visit("/transparansi?page=0", 400),
    ),
    "triage": (
        Visit("/inbox"), Visit("/inbox?tab=unassigned"), Visit("/tasks/{triage_task}"),
        Visit("/tasks/{triage_task}", 400, submit=TASK_FORM), Visit("/cases/{triage_case}"),
        Visit("/escalations", 403), Visit("/cases?q=0811"), Visit("/cases?q=sampah&state=open"),
        Visit("/cases?q=" + "x" * 201, 400),
        Visit("/akun/sandi"), Visit("/akun/sandi", 400, submit="#password-form button[type=submit]"),
    ),
    "coordinator": (
        Visit("/inbox"), Visit("/inbox?tab=mine&sort=due"),
        Visit("/tasks/{disposition_task}"), Visit("/tasks/{disposition_task}", 400, submit=TASK_FORM),
        Visit("/tasks/{dispatch_task}"), Visit("/tasks/{field_task}"), Visit("/tasks/{verification_task}"),
        Visit("/tasks/{closure_task}"), Visit("/tasks/{closure_task}", 400, submit=TASK_FORM),
        Visit("/cases/{field_case}"), Visit("/cases/{closure_case}"), Visit("/dashboard", 403),
        Visit("/cases?mine=1"),
    ),
    "qr_officer": (
        Visit("/lapangan"), Visit("/inbox"), Visit("/tasks/{field_task}"),
        Visit("/tasks/{field_task}", 400, submit=TASK_FORM), Visit("/cases/{field_case}"),
        Visit("/cases?q=0811 4000 123", 400),
    ),
    "supervisor": (
        Visit("/escalations"), Visit("/escalations?state=all&level=breach"), Visit("/escalations/workload"),
        Visit("/escalations", 400, submit="#bulk-form button[type=submit]"),
        Visit("/tasks/{review_task}"), Visit("/tasks/{review_task}", 400, submit=TASK_FORM),
        Visit("/tasks/{disposition_task}"), Visit("/tasks/{field_task}"),
        Visit("/tasks/{disposition_task}", 400, submit="#take-over-form button[type=submit]"),
        Visit("/escalations/items/{disposition_task}/extend"),
        Visit("/escalations/items/{disposition_task}/extend", 400, submit="#extend-form button[type=submit]"),
        Visit("/escalations/items/{disposition_task}/reassign"),
        Visit("/escalations/items/{disposition_task}/transfer"),
        Visit("/escalations/items/{field_task}/reassign"),
        Visit("/escalations/items/{disposition_task}/instruct"),
        Visit("/dashboard"), Visit("/audit"), Visit("/audit/cases/{closure_case}"),
        Visit("/audit/actors/koor.dlh"), Visit("/cases/{disposition_case}"),
    ),
    "city_supervisor": (
        Visit("/escalations"), Visit("/tasks/{critical_review_task}"),
        Visit("/escalations/items/{disposition_task}/transfer"),
        Visit("/escalations/items/{disposition_task}/transfer", 400, submit="#transfer-form button[type=submit]"),
        Visit("/dashboard"), Visit("/audit?agency=DLH"), Visit("/audit/cases/{disposition_case}"),
        Visit("/escalations/workload"), Visit("/cases?agency=DLH"),
    ),
    "auditor": (
        Visit("/audit"), Visit("/audit?agency=DLH&status=in_progress"), Visit("/audit?date_from=kemarin", 400),
        Visit("/audit/cases/{feedback_case}"), Visit("/audit/actors/koor.dlh"),
        Visit("/dashboard"), Visit("/dashboard?start=kemarin", 400), Visit("/cases/{feedback_case}"),
        Visit("/inbox", 403),
        Visit("/audit/security"), Visit("/audit/security?action=login_succeeded&user=koor.dlh"),
        Visit("/audit/security?date_from=kemarin", 400),
    ),
    "admin": (
        Visit("/admin/"), Visit("/admin/incidents"), Visit("/admin/incidents?state=all"), Visit("/dashboard"),
        Visit("/admin/processes/"), Visit("/admin/processes/1/migrate"), Visit("/admin/processes/1/migrate?to=9", 400),
        Visit("/admin/calendar"), Visit("/admin/calendar?year=2027"),
        Visit("/admin/calendar", 400, submit="#add-form button[type=submit]"),
        Visit("/admin/notices"), Visit("/admin/notices/templates/id/report_submitted"),
        Visit("/admin/notices/templates/id/staff/escalation_raised_digest"),
        Visit("/admin/notices/templates/en/case_resolved"),
        Visit("/audit"),
        Visit("/admin/users"), Visit("/admin/users?q=koor&role=coordinator&state=active"),
        Visit("/admin/users?q=tidak-ada-orang"), Visit("/admin/users?role=nope", 400), Visit("/admin/users/new"),
        Visit("/admin/users/new", 400, submit="#user-form button[type=submit]"), Visit("/admin/users/{coordinator_user}"),
        Visit("/admin/agencies"), Visit("/admin/agencies/new"),
        Visit("/admin/agencies/new", 400, submit="#agency-form button[type=submit]"), Visit("/admin/agencies/DLH"),
        Visit("/admin/teams"), Visit("/admin/teams/new"),
        Visit("/admin/teams/new", 400, submit="#team-form button[type=submit]"), Visit("/admin/teams/qr-mariso-1"),
        Visit("/cases/{verification_case}"), Visit("/cases/999999", 404),
        # the table as it is misses the category added below: refused, with its problems
        Visit("/admin/processes/routing"),
        Visit("/admin/processes/routing", 400, submit="#routing-form button[type=submit]"),
        Visit("/admin/processes/1/diagram"), Visit("/admin/processes/999/diagram", 404),
        Visit("/audit/security"), Visit("/admin/keys"), Visit("/admin/keys/new"),
        Visit("/admin/keys/new", 400, submit="#key-form button[type=submit]"),
        Visit("/admin/keys/{key_prefix}/revoke"),
        Visit("/admin/categories"), Visit("/admin/categories?state=inactive"), Visit("/admin/categories/new"),
        Visit("/admin/categories/new", 400, submit="#category-form button[type=submit]"),
        Visit("/admin/categories/{attributes_category}"), Visit("/admin/templates"),
        Visit("/admin/templates?place=closure:closure_note"), Visit("/admin/templates/new"),
        Visit("/admin/templates/new", 400, submit="#template-form button[type=submit]"),
        Visit("/admin/templates/{closure_template}"), Visit("/admin/areas"), Visit("/admin/areas/{mariso}"),
        Visit("/admin/areas/{mariso}/new"), Visit("/admin/areas/{mariso}/new", 400, submit="#area-form button[type=submit]"),
        Visit("/admin/areas/boundaries"),
        Visit("/admin/areas/boundaries", 400, submit="#boundary-form button[type=submit]"), Visit("/admin/city"),
    ),
}
A11Y_USERS = {"triage": "triase", "coordinator": "koor.dlh", "qr_officer": "qr.mariso", "supervisor": "sup.dlh",
              "city_supervisor": "sup.kota", "auditor": "inspektorat", "admin": "admin"}


@pytest.fixture(scope="module")
def a11y_site(tmp_path_factory, sqlite_template, definition):
    """One server for every role's pages: a Mariso case at each of DLH's steps, one asking its
    reporter, one waiting for the reporter's confirmation, all of them late (escalated to DLH's
    and the city's supervisors), and a failed step for the administrator."""
    import shutil

    from escalation.sweeper import Sweeper
    from tanggap.scenario import Scenario
    from tests.conftest import MAIL_OFFERED
    from workflow.access import actor_for_user
    from workflow.errors import ProcessError
    from workflow.store.models import Category, Subscription, User
    from workflow.vocabulary import AttachmentKind

    _require(AXE_FILE.exists(), "axe-core npm package missing (npm install --prefix tests/browser)")
    folder = tmp_path_factory.mktemp("a11y")
    shutil.copy(sqlite_template, folder / "tanggap.sqlite3")
    serving = _serve(f"sqlite:///{folder / 'tanggap.sqlite3'}", folder, definition, MAIL_OFFERED)
    base, services = next(serving)
    with services.uow() as uow:
        for username, role, scope in (("sup.dlh", "supervisor", "DLH"), ("sup.kota", "supervisor", None),
                                      ("inspektorat", "auditor", None), ("admin", "admin", None)):
            commands.create_user(uow, username=username, full_name=username.title(), password=PASSWORD,
                                 roles=[(role, scope)])
        uow.commit()
    with services.reading() as session:
        from sqlalchemy import select
        actors = {u.username: actor_for_user(session, u.id) for u in session.scalars(select(User))}
    run = Scenario(services)
    steps = {
        "triage": [],
        "disposition": [(actions.triage, "triase", {"decision": "valid"})],
        "dispatch": [(actions.accept, "koor.dlh", {})],
        "field": [(actions.dispatch, "koor.dlh", {"team": "qr-mariso-1", "instructions": "Bawa gerobak."})],
        "verification": [(actions.record_field_work, "qr.mariso", {"action_taken": "Sampah diangkut."})],
        "closure": [(actions.verify, "koor.dlh", {"approve": True})],
        "feedback": [(actions.close, "koor.dlh", {"closure_note": "Sampah sudah diangkut. Terima kasih."})],
    }
    ids: dict[str, object] = {"coordinator_user": actors["koor.dlh"].user_id}
    done: list = []
    for n, (stage, more) in enumerate(steps.items()):
        done += more
        with services.uow() as uow:
            sub = commands.submit_report(uow, commands.ReportInput(
                category="sampah", description=f"Sampah menumpuk di depan pasar, laporan {n + 1}.",
                lat=-5.1560 + n * 0.0004, lon=119.4050, area="mariso", reporter_name="Daeng Ngai",
                contact_email=f"warga{n}@example.id"))
            uow.commit()
        for command, username, values in done:
            if command is actions.record_field_work:
                values = dict(values, arrived_at=services.clock.now() - timedelta(minutes=5),
                              after_photo=run.photo(actors[username], sub.case_id, jpeg_bytes(), AttachmentKind.AFTER))
            run.do(command, actors[username], sub.case_id, **values)
        ids[f"{stage}_case"], ids[f"{stage}_number"], ids[f"{stage}_code"] = sub.case_id, sub.case_number, sub.tracking_code
        if stage != "feedback":
            ids[f"{stage}_task"] = run.item(sub.case_id).id
    with services.uow() as uow:  # a reporter asked a question (their answer form on the status page)
        sub = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah di ujung gang, dekat masjid.", lat=-5.1545, lon=119.4060,
            area="mariso", contact_email="penanya@example.id"))
        uow.commit()
    run.do(actions.triage, actors["triase"], sub.case_id, decision="valid")
    run.do(commands.request_information, actors["koor.dlh"], sub.case_id, question="Di sebelah mana masjidnya?")
    ids["asked_code"] = sub.tracking_code
    services.clock.advance(timedelta(hours=20))  # twice the targets: DLH's and the city's supervisors
    Sweeper(services, worker="a11y").run_once()
    with services.reading() as session:
        from workflow.store.models import WorkItem
        reviews = {i.task_name: i.id for i in session.scalars(select(WorkItem).where(
            WorkItem.case_id == ids["disposition_case"], WorkItem.completed_at.is_(None)))}
        ids["stop_token"] = services.tracking.stop_token(session.scalar(
            select(Subscription.id).where(Subscription.case_id == ids["disposition_case"])))
    ids["review_task"], ids["critical_review_task"] = reviews["sla_escalation"], reviews["critical_escalation"]
    with services.uow() as uow:  # an API token (the administrator's keys pages)
        ids["key_prefix"] = credentials.issue(uow, "token", "Sistem DLH", username="koor.dlh")[0].prefix
        uow.commit()
    with services.uow() as uow:  # a category the routing table forgot: submitting it is an incident
        uow.session.add(Category(code="banjir", name_id="Banjir", name_en="Flood"))
        uow.commit()
    with pytest.raises(ProcessError), services.uow() as uow:
        commands.submit_report(uow, commands.ReportInput(category="banjir", description="Air setinggi lutut.",
                                                         lat=-5.156, lon=119.405, area="mariso"))
    from workflow.store import merkle_log
    merkle_log.LogKeeper(services).run_once(publish=True)  # /transparansi: a signed tree head and its history
    with services.reading() as session:  # the catalogue's administration pages
        from workflow.store.models import Area, ResponseTemplate
        ids["attributes_category"] = session.scalar(select(Category.id).where(Category.code == "lampu-rambu"))
        ids["closure_template"] = session.scalar(select(ResponseTemplate.id).where(ResponseTemplate.code == "tutup-umum"))
        ids["mariso"] = session.scalar(select(Area.id).where(Area.code == "mariso"))
    yield base, ids
    next(serving, None)


# what axe does not check: each invalid field names its error messages (aria-describedby), each
# field's message is named by its field, and the page opens on the first invalid field
FORM_ERRORS = """() => {
    const invalid = [...document.querySelectorAll('[aria-invalid="true"]')];
    const name = el => el.name || el.id || el.tagName;
    const problems = [];
    const named = new Set();
    for (const el of invalid) {
        const ids = (el.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
        ids.forEach(id => named.add(id));
        const described = ids.map(id => document.getElementById(id));
        if (described.some(d => !d)) problems.push(`${name(el)}: aria-describedby names a missing element`);
        if (!described.some(d => d && (d.matches(".error") || d.querySelector(".error")) && d.textContent.trim()))
            problems.push(`${name(el)}: marked invalid without its error message in aria-describedby`);
    }
    for (const error of document.querySelectorAll(".field .error, .filters ~ .error")) {
        const holder = [...named].map(id => document.getElementById(id)).find(d => d && d.contains(error));
        if (!holder) problems.push(`error "${error.textContent.trim()}" is not named by the field it is about`);
    }
    if (invalid.length && document.activeElement !== invalid[0])
        problems.push(`the page opens with the focus on ${document.activeElement ? name(document.activeElement) : "nothing"}, not on the first invalid field ${name(invalid[0])}`);
    return {invalid: invalid.length, problems};
}"""


# What an Indonesian page must not say: the process's and the domain's codes (statuses, stage and
# task ids, escalation levels, roles, priorities), except the few that are Indonesian words too,
# and English that slips through (WTForms' own messages, abbreviations)
INDONESIAN_TOO = {"supervisor", "admin", "auditor", "normal"}
ENGLISH = ("Not a valid", "This field is required", "Invalid ", "Field must", "Please ", " hr ", " hr.",
           "None", "True", "False", "null", "Submit", "Choose ", " ago")
# (what is marked translate="no", such as an audit event's recorded data, is left out)
TEXT_SHOWN = """() => [(() => {
        const kept = Array.from(document.querySelectorAll('[translate="no"]'));
        kept.forEach(e => e.hidden = true);
        const text = document.body.innerText;
        kept.forEach(e => e.hidden = false);
        return text; })(), document.title,
    ...Array.from(document.querySelectorAll("[aria-label], [placeholder], [title], img[alt]"),
                  e => [e.getAttribute("aria-label"), e.getAttribute("placeholder"), e.getAttribute("title"),
                        e.getAttribute("alt")].filter(Boolean).join(" "))].join(" | ")"""


def _internal_codes(definition) -> set[str]:
    from workflow.vocabulary import CaseStatus, Role

    codes = {str(s) for s in CaseStatus} | {str(r) for r in Role} | set(definition.levels)
    codes |= set(definition.priorities) | set(definition.tasks) | {t.form_key for t in definition.tasks.values()}
    return codes - INDONESIAN_TOO


def _not_indonesian(page, codes: set[str]) -> list[str]:
    text = page.evaluate(TEXT_SHOWN)
    found = [f"code {code!r}" for code in sorted(codes) if re.search(rf"(?<![\w/.-]){re.escape(code)}(?![\w/-])", text)]
    found += [f"English {phrase.strip()!r}" for phrase in ENGLISH if phrase in text]
    return found


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE_FILE))
    return page.evaluate("""async ([tags, also]) => {
        const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
            rules: Object.fromEntries(also.map(id => [id, {enabled: true}])), resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.map(n => n.target.join(" "))}));
    }""", [AXE_TAGS, AXE_ALSO])


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_of_every_role_passes_axe(browser, a11y_site, role, definition):
    """axe-core (WCAG 2.0 A and AA, 2.1 AA): no serious or critical violation on any page; and
    every page says everything in Indonesian (no internal code, no English)."""
    base, ids = a11y_site
    # axe is put into each page as a script of its own, which the policy would refuse
    context, script_errors = _context(browser, base, bypass_csp=True)
    context.set_default_timeout(15_000)
    if role != "citizen":
        _login(context, A11Y_USERS[role], lands=re.compile(r"^(?!.*/login$)")).close()
    page = context.new_page()
    found = []
    codes = _internal_codes(definition)
    for visit in PAGES[role]:
        path = visit.path.format(**ids)
        response = page.goto(path)
        if visit.submit:
            with page.expect_navigation() as navigation:
                page.click(visit.submit)
            response = navigation.value
        where = f"{path}{' (sent: ' + visit.submit + ')' if visit.submit else ''}"
        assert response.status == visit.status, f"{role} {where}: {response.status}"
        for v in _axe(page):
            if v["impact"] in FAILING or v["id"] in AXE_ALSO:
                found.append(f"{role} {where}: {v['id']} ({v['impact']}) {v['help']}: {', '.join(v['targets'][:5])}")
        errors = page.evaluate(FORM_ERRORS)
        found += [f"{role} {where}: {problem}" for problem in errors["problems"]]
        found += [f"{role} {where}: not Indonesian: {word}" for word in _not_indonesian(page, codes)]
        if visit.submit and not errors["invalid"]:
            found.append(f"{role} {where}: sent with errors, but no field is marked invalid")
    context.close()
    assert not found, "\n".join(found)
    assert [e for e in script_errors if not re.search(r"status of (403|404)", e)  # the error pages
            and not e.startswith(INFERNO)] == []
