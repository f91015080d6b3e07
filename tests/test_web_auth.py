"""Login, logout, throttling, CSRF and the security headers."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.webclient import WebClient, errors
from web import vendor
from workflow.config import REPO_ROOT


def test_login_lands_where_the_role_works(world, web):
    world.dlh, world.auditor
    assert web.login("koor.dlh").headers["Location"] == "/inbox"
    web.logout()
    assert web.login("inspektorat").headers["Location"] == "/audit"
    web.logout()
    world.user("admin.kota", ("admin", None))
    assert web.login("admin.kota").headers["Location"] == "/admin/"


def test_wrong_password_is_refused_in_indonesian(world, web):
    world.dlh
    response = web.post("/login", {"username": "koor.dlh", "password": "salah sekali"})
    assert response.status_code == 401
    assert errors(response) == ["nama pengguna atau kata sandi salah"]
    unknown = web.post("/login", {"username": "tidak.ada", "password": "salah sekali"})
    assert errors(unknown) == ["nama pengguna atau kata sandi salah"]


def test_five_failures_lock_the_account_for_a_while(world, web):
    world.dlh
    for _ in range(5):
        web.post("/login", {"username": "koor.dlh", "password": "tebak-tebak"})
    locked = web.post("/login", {"username": "koor.dlh", "password": "correct horse battery"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    assert "terlalu banyak percobaan gagal" in errors(locked)[0]
    world.services.clock.advance(timedelta(minutes=16))
    assert web.login("koor.dlh").status_code == 302


def test_logout_ends_the_session_even_for_a_copied_cookie(world, app):
    world.dlh
    first = WebClient(app)
    first.login("koor.dlh")
    cookie = first.client.get_cookie("session")
    thief = WebClient(app)
    thief.client.set_cookie("session", cookie.value)
    assert thief.get("/inbox").status_code == 200
    first.logout()
    assert thief.get("/inbox").status_code == 302  # back to the login page


def test_session_cookie_flags(world, web):
    world.dlh
    response = web.login("koor.dlh")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers_and_pinned_htmx(web):
    response = web.get("/")
    csp = response.headers["Content-Security-Policy"]
    script_src = next(p for p in csp.split("; ") if p.startswith("script-src"))
    leaflet = [url for name, (url, _sri) in vendor.LEAFLET_FILES.items() if name.endswith(".js")]
    assert script_src == f"script-src 'self' {vendor.HTMX_URL} " + " ".join(leaflet)  # the files, not all of unpkg.com
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    script = re.search(r'<script src="([^"]+)" integrity="([^"]+)" crossorigin="anonymous"', html)
    assert script.group(1) == f"https://unpkg.com/htmx.org@{vendor.HTMX_VERSION}/dist/htmx.min.js"
    assert re.fullmatch(r"2\.\d+\.\d+", vendor.HTMX_VERSION)
    # the served integrity is the hash of the very file of that version (its npm package)
    package = REPO_ROOT / "tests" / "browser" / "node_modules" / "htmx.org"
    if not (package / "package.json").exists():
        message = "htmx's npm package is not installed (make test installs it with npm)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    assert json.loads((package / "package.json").read_text())["version"] == vendor.HTMX_VERSION
    digest = hashlib.sha384((package / "dist" / "htmx.min.js").read_bytes()).digest()
    assert script.group(2) == "sha384-" + base64.b64encode(digest).decode()


def test_the_pinned_leaflet_files_are_the_npm_builds_of_their_versions():
    modules = REPO_ROOT / "tests" / "browser" / "node_modules"
    if not (modules / "leaflet" / "package.json").exists():
        message = "Leaflet's npm package is not installed (make test installs it with npm)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    packages = {"leaflet": vendor.LEAFLET_VERSION, "leaflet.markercluster": vendor.MARKERCLUSTER_VERSION}
    for package, version in packages.items():
        assert json.loads((modules / package / "package.json").read_text())["version"] == version
    for name, (url, sri) in vendor.LEAFLET_FILES.items():
        package = "leaflet" if name.startswith("leaflet.") and "markercluster" not in name else "leaflet.markercluster"
        assert url.startswith(f"https://unpkg.com/{package}@{packages[package]}/dist/") and url.endswith("/" + name)
        digest = hashlib.sha384((modules / package / "dist" / name).read_bytes()).digest()
        assert sri == "sha384-" + base64.b64encode(digest).decode(), name


@pytest.mark.parametrize("url, data", [
    ("/login", {"username": "koor.dlh", "password": "correct horse battery"}),
    ("/lapor", {"category": "sampah", "description": "Sampah menumpuk di pasar."}),
    ("/logout", {}),
])
def test_posts_without_csrf_token_are_refused(world, web, url, data):
    world.dlh
    response = web.post(url, data, csrf=False)
    assert response.status_code == 400
    assert "Formulir kedaluwarsa" in response.get_data(as_text=True)


def test_htmx_posts_need_the_csrf_header(world, web):
    from tests import actions

    world.dlh
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    web.login("koor.dlh")
    item = world.item(sub.case_id)
    refused = web.client.post(f"/inbox/items/{item.id}/claim", headers={"HX-Request": "true"})
    assert refused.status_code == 400
    token = web.token("/inbox")
    accepted = web.client.post(f"/inbox/items/{item.id}/claim",
                               headers={"HX-Request": "true", "HX-Target": "inbox", "X-CSRFToken": token})
    assert accepted.status_code == 200
    assert "Lepas" in accepted.get_data(as_text=True)  # the row now offers release
    assert world.item(sub.case_id).assignee_id is not None


def test_the_signed_in_user_is_read_in_the_session_that_checks_the_process_version(world, app):
    """Not in a transaction of its own: one session fewer on every staff request."""
    world.dlh
    web = WebClient(app)
    web.login("koor.dlh")
    engine = world.services.engine
    sessions: list[list[str]] = []  # the statements of each connection checked out, in order

    def checked_out(*_args):
        sessions.append([])

    def sent(_conn, _cursor, statement, *_args):
        if sessions:
            sessions[-1].append(statement)

    event.listen(engine.pool, "checkout", checked_out)
    event.listen(engine, "before_cursor_execute", sent)
    try:
        assert web.get("/inbox").status_code == 200
    finally:
        event.remove(engine.pool, "checkout", checked_out)
        event.remove(engine, "before_cursor_execute", sent)
    first = " ".join(sessions[0])
    assert "FROM process_specs" in first and "FROM users" in first, sessions[0]
    assert not any("FROM users WHERE users.id" in s for later in sessions[1:] for s in later)
