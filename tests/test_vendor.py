"""Where htmx and Leaflet come from (TANGGAP_HTMX_URL, TANGGAP_LEAFLET_BASE), the content security
policy that names exactly those files, and filter forms that work without htmx."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import START
from tests.helpers import FAST_PASSWORDS, PASSWORD
from web import vendor
from web.security import content_security_policy
from workflow import commands
from workflow.clock import ManualClock
from workflow.config import REPO_ROOT
from workflow.services import build_services

TEMPLATES = REPO_ROOT / "web" / "templates"
INTRANET = "https://intranet.makassarkota.go.id/vendor/htmx.min.js"


def _directive(csp: str, name: str) -> list[str]:
    return next(p for p in csp.split("; ") if p.startswith(name + " ")).split()[1:]


def test_the_policy_names_the_htmx_file_not_its_host():
    scripts = _directive(content_security_policy(INTRANET), "script-src")
    assert scripts == ["'self'", INTRANET]
    assert "https://intranet.makassarkota.go.id" not in scripts  # the host serves other files too
    default = _directive(content_security_policy(vendor.HTMX_URL, vendor.LEAFLET_FILES), "script-src")
    assert default == ["'self'", vendor.HTMX_URL, vendor.LEAFLET_FILES["leaflet.js"][0],
                       vendor.LEAFLET_FILES["leaflet.markercluster.js"][0]]
    assert not [s for s in default if s.rstrip("/").endswith("unpkg.com")]


def test_a_copy_on_this_site_needs_no_other_source():
    csp = content_security_policy("/static/vendor/htmx.min.js", vendor.leaflet_files("/static/vendor/leaflet"))
    assert _directive(csp, "script-src") == ["'self'"]
    assert _directive(csp, "style-src") == ["'self'"]


def test_the_query_of_a_copy_is_no_part_of_its_source():
    """A CSP source matches a path; a query in it would be no source at all."""
    scripts = _directive(content_security_policy(INTRANET + "?v=2.0.11"), "script-src")
    assert scripts == ["'self'", INTRANET]


@pytest.mark.parametrize("value", [
    "javascript:alert(1)",
    "htmx.min.js",  # relative to each page: a different file on every page
    "//cdn.example.id/htmx.min.js",  # no scheme: the policy could not name it
    "ftp://intranet.example.id/htmx.min.js",
    "https://intranet.example.id/htmx.min.js; script-src *",  # would add a directive
    "https://intranet.example.id/htmx.min.js https://evil.example",  # would add a source
    "https://intranet.example.id/a,b.js",
    "https://intranet.example.id/htmx.min.js'",
    "https://intranet.example.id/htmx.min.js#top",
    "https:///htmx.min.js",
])
def test_a_url_the_policy_cannot_name_is_refused_at_start(value):
    with pytest.raises(ValueError, match="TANGGAP_HTMX_URL"):
        vendor.htmx_url(value)
    with pytest.raises(ValueError, match="TANGGAP_LEAFLET_BASE"):
        vendor.leaflet_files(value)


def test_without_the_setting_the_pinned_cdn_file():
    assert vendor.htmx_url(None) == vendor.htmx_url("") == vendor.HTMX_URL
    for value in (INTRANET, "http://10.1.2.3:8080/js/htmx.min.js", "/static/vendor/htmx.min.js"):
        assert vendor.htmx_url(value) == value


@pytest.fixture
def lone_services(settings_sqlite, definition):
    svc = build_services(settings_sqlite, clock=ManualClock(START), definition=definition, passwords=FAST_PASSWORDS)
    with svc.uow() as uow:
        commands.create_user(uow, username="koor.dlh", full_name="Koor Dlh", password=PASSWORD,
                             roles=[("coordinator", "DLH")])
        commands.create_user(uow, username="sup.dlh", full_name="Sup Dlh", password=PASSWORD,
                             roles=[("supervisor", "DLH")])
        uow.commit()
    yield svc
    svc.dispose()


def _app(services):
    from web import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, services=services)


def test_pages_load_the_configured_copy_with_the_pinned_hash(lone_services, monkeypatch):
    monkeypatch.setenv("TANGGAP_HTMX_URL", INTRANET)
    page = _app(lone_services).test_client().get("/login")
    html = page.get_data(as_text=True)
    assert f'<script src="{INTRANET}" integrity="{vendor.HTMX_SRI}" crossorigin="anonymous" defer>' in html
    assert "unpkg.com/htmx" not in html
    scripts = _directive(page.headers["Content-Security-Policy"], "script-src")
    assert INTRANET in scripts and vendor.HTMX_URL not in scripts
    # the page marks itself as enhanced only from a file of its own, after htmx (CSP: no inline script)
    assert html.index(INTRANET) < html.index('src="/static/htmx-ready.js"')
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_a_wrong_setting_stops_the_app_with_its_name(lone_services, monkeypatch):
    monkeypatch.setenv("TANGGAP_HTMX_URL", "https://intranet.example.id/htmx.min.js; script-src *")
    with pytest.raises(ValueError, match="TANGGAP_HTMX_URL"):
        _app(lone_services)


def test_the_filter_button_shows_until_htmx_has_run():
    css = (REPO_ROOT / "web" / "static" / "tanggap.css").read_text()
    assert re.search(r"^\.js-htmx \.filter-submit \{ display:none; \}", css, re.M)
    assert ".filter-submit" not in css.replace(".js-htmx .filter-submit", "")  # visible otherwise
    ready = (REPO_ROOT / "web" / "static" / "htmx-ready.js").read_text()
    assert 'if (window.htmx) document.documentElement.classList.add("js-htmx")' in ready


def _forms(path: Path) -> list[str]:
    return re.findall(r"<form\b.*?</form>", path.read_text(), re.S)


def test_every_form_htmx_sends_on_change_has_a_visible_submit_button():
    """Each GET form htmx submits on change is a plain form too: its own button, not inside
    <noscript> (a page whose htmx did not load still runs JavaScript)."""
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for form in _forms(path):
            tag = form[:form.index(">") + 1]  # the form itself sent on change (not a field of it)
            if "hx-get" in tag and re.search(r'hx-trigger="[^"]*\bchange\b', tag):
                found.append(path.relative_to(TEMPLATES).as_posix())
                assert 'method="get"' in form and 'action="' in form, path
                assert re.search(r'<button type="submit" class="filter-submit">', form), path
                assert "<noscript>" not in form, path
    assert sorted(found) == ["escalations/index.html", "inbox/index.html"]


@pytest.mark.parametrize("username, url, target", [
    ("koor.dlh", "/inbox?area=tallo&sort=due", "inbox"),
    ("sup.dlh", "/escalations?state=all&level=critical", "escalations"),
])
def test_the_filters_without_htmx_are_a_whole_page_with_the_filter_kept(lone_services, username, url, target):
    from tests.webclient import WebClient

    web = WebClient(_app(lone_services))
    web.login(username)
    page = web.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and f'id="{target}"' in html
    assert '<button type="submit" class="filter-submit">' in html
    for name, value in (p.split("=") for p in url.split("?")[1].split("&")):
        assert re.search(rf'<option value="{value}"\s+selected>', html), (name, value)
