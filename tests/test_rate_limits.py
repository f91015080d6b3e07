"""Public endpoints are rate limited per IP, and the counts are shared by every worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.webclient import WebClient

REPORT = {"category": "sampah", "description": "Sampah menumpuk di depan pasar sejak Senin.",
          "area": "mariso", "kelurahan": "mariso/lette", "lat": "-5.1560", "lon": "119.4050"}


def test_guessing_tracking_codes_is_limited_per_ip(world, app):
    app.config["TANGGAP_LOOKUP_LIMIT"] = "5 per minute"
    sub = world.report()
    client = app.test_client()
    guesses = [client.get(f"/lacak/ZZZZ-ZZ{i:02d}").status_code for i in range(8)]
    assert guesses[:5] == [404] * 5 and set(guesses[5:]) == {429}
    # the holder of a real code (from another address) still gets in, and a found page costs nothing
    for _ in range(8):
        assert client.get(f"/lacak/{sub.tracking_code}", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 200
    tokens = [client.get(f"/open311/v2/tokens/ZZZZ-ZY{i:02d}.xml", environ_base={"REMOTE_ADDR": "192.0.2.2"})
              for i in range(7)]
    assert [t.status_code for t in tokens] == [404] * 5 + [429] * 2
    assert b"<errors>" in tokens[-1].data and b"<code>429</code>" in tokens[-1].data


def test_anonymous_reports_are_limited_per_ip(world, app):
    app.config["TANGGAP_REPORT_LIMIT"] = "3 per minute"
    web = WebClient(app)
    statuses = [web.post("/lapor", REPORT, page="/lapor").status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    # a form with mistakes does not use up the allowance of someone elsewhere
    other = web.client.post("/lapor", data={**REPORT, "csrf_token": web.token("/lapor")},
                            environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 302


def _status(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as response:  # a new connection each time
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gunicorn_workers_share_the_counts(world, settings):
    world.report()  # the database is migrated and seeded; a case exists
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "TANGGAP_INSTANCE": str(settings.instance_path), "TANGGAP_API_WRITE_LIMIT": "10 per minute"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "web:create_app()"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _status(f"{base}/healthz") == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)  # waiting for another process to listen, not for time to pass
        # Four clients at once keep both workers busy. The limit is counted before the view
        # runs (the key is refused afterwards, 403), atomically in the shared store.
        body = urllib.parse.urlencode({"api_key": "tgk_00000000_guess", "service_code": "sampah"}).encode()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: _status(f"{base}/open311/v2/requests.json", body), range(40)))
        assert statuses.count(403) == 10, statuses  # counted per worker, up to 20 would get through
        assert statuses.count(429) == 30
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "Booting worker" in output and output.count("Booting worker") >= 2, output


def test_guessing_from_many_addresses_of_one_network_is_limited_too(world, app):
    app.config["TANGGAP_LOOKUP_LIMIT"] = "100 per minute"
    app.config["TANGGAP_LOOKUP_RANGE_LIMIT"] = "4 per minute"
    client = app.test_client()
    statuses = [client.get(f"/lacak/ZZZZ-ZZ{i:02d}", environ_base={"REMOTE_ADDR": f"2001:db8::{i + 1}"}).status_code
                for i in range(6)]
    assert statuses == [404] * 4 + [429] * 2  # one /64, many addresses
    assert client.get("/lacak/ZZZZ-ZZZZ", environ_base={"REMOTE_ADDR": "2001:db8:1::1"}).status_code == 404
