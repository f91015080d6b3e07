"""Login throttling that holds under parallel requests, answers the same for every name, does
not lock the real user out, and per-IP limits on credential guessing."""

from __future__ import annotations

import threading

import pytest

from tests.helpers import PASSWORD
from tests.webclient import WebClient, errors
from workflow import commands
from workflow.commands import credentials, users


class _CountingHasher:
    """The login's argon2 hasher, counting the password checks it makes (``guesses``: those
    of a wrong password)."""

    def __init__(self, real):
        self.real, self.calls, self.guesses, self.lock = real, 0, 0, threading.Lock()

    def verify(self, hash_, password):
        with self.lock:
            self.calls += 1
            self.guesses += password != PASSWORD
        return self.real.verify(hash_, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _counting_verify(monkeypatch, services) -> _CountingHasher:
    hasher = _CountingHasher(services.passwords.hasher)
    monkeypatch.setattr(services.passwords, "hasher", hasher)
    return hasher


@pytest.mark.parametrize("last_is_right", [False, True])
def test_forty_parallel_attempts_check_at_most_five_passwords(world, monkeypatch, last_is_right):
    world.dlh
    calls = _counting_verify(monkeypatch, world.services)
    attempts = 40
    barrier = threading.Barrier(attempts)
    results: list = [None] * attempts

    def attempt(i: int) -> None:
        password = PASSWORD if (last_is_right and i == attempts - 1) else f"tebakan-{i}-salah"
        barrier.wait(timeout=60)
        try:
            results[i] = commands.authenticate(world.services, "koor.dlh", password)
        except Exception as exc:  # noqa: BLE001 - the failure being looked for
            results[i] = exc

    threads = [threading.Thread(target=attempt, args=(i,), daemon=True) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert all(isinstance(r, users.LoginResult) for r in results), results
    # a guesser has at most five passwords checked; a success gives its own count back, so a
    # guess still in flight behind it may be the fifth
    assert 1 <= calls.guesses <= users.MAX_ATTEMPTS, f"{calls.guesses} wrong passwords were checked"
    assert calls.calls <= users.MAX_ATTEMPTS + last_is_right
    refused = [r for r in results if r.error is not None and r.error.code == "locked"]
    assert len(refused) >= attempts - users.MAX_ATTEMPTS - last_is_right
    logged_in = [r for r in results if r.user is not None]
    # the right password can only win if it was one of the five checked
    assert len(logged_in) <= (1 if last_is_right else 0)


def test_unknown_and_known_names_are_answered_alike(world, web):
    world.dlh
    seen = {}
    for name in ("koor.dlh", "tidak.ada"):
        other = WebClient(web.app)
        seen[name] = []
        for _ in range(users.MAX_ATTEMPTS + 2):
            response = other.post("/login", {"username": name, "password": "tebakan-yang-salah"})
            seen[name].append((response.status_code, errors(response)))
        web.app.config["TANGGAP_LOGIN_LIMIT"] = "100 per minute"  # the account rule, not the IP rule
    assert seen["koor.dlh"] == seen["tidak.ada"]
    assert [status for status, _ in seen["tidak.ada"]] == [401] * 5 + [429] * 2
    assert "terlalu banyak percobaan gagal" in seen["tidak.ada"][-1][1][0]


def test_a_known_device_still_logs_in_while_strangers_are_locked_out(world, app):
    world.dlh
    app.config["TANGGAP_LOGIN_LIMIT"] = app.config["TANGGAP_LOGIN_RANGE_LIMIT"] = "100 per minute"
    owner = WebClient(app)
    owner.login("koor.dlh")  # this browser is now known to the account
    assert owner.client.get_cookie("tanggap_device", path="/login") is not None
    owner.logout()
    stranger = WebClient(app)
    for _ in range(users.MAX_ATTEMPTS + 1):
        stranger.post("/login", {"username": "koor.dlh", "password": "tebakan-yang-salah"})
    assert stranger.post("/login", {"username": "koor.dlh", "password": PASSWORD}).status_code == 429
    assert owner.login("koor.dlh").status_code == 302  # its own budget, untouched
    owner.logout()
    # the known device's budget is its own, and limited too
    for _ in range(users.MAX_ATTEMPTS):
        assert owner.post("/login", {"username": "koor.dlh", "password": "salah-lagi-nih"}).status_code == 401
    assert owner.post("/login", {"username": "koor.dlh", "password": PASSWORD}).status_code == 429
    # a forged device cookie counts as a stranger
    forged = WebClient(app)
    forged.client.set_cookie("tanggap_device", "eyJ1IjoxLCJkIjoieCJ9.forged", path="/login")
    assert forged.post("/login", {"username": "koor.dlh", "password": PASSWORD}).status_code == 429


def test_the_lockout_ends_after_its_window(world, web):
    from datetime import timedelta

    world.dlh
    web.app.config["TANGGAP_LOGIN_LIMIT"] = "100 per minute"
    for _ in range(users.MAX_ATTEMPTS):
        web.post("/login", {"username": "koor.dlh", "password": "tebakan-yang-salah"})
    assert web.post("/login", {"username": "koor.dlh", "password": PASSWORD}).status_code == 429
    world.services.clock.advance(users.ATTEMPT_WINDOW + timedelta(seconds=1))
    assert web.login("koor.dlh").status_code == 302


def test_failed_logins_are_limited_per_ip_and_per_range(world, app):
    world.dlh
    app.config["TANGGAP_LOGIN_LIMIT"] = "3 per minute"
    app.config["TANGGAP_LOGIN_RANGE_LIMIT"] = "5 per minute"
    client = WebClient(app)

    def attempt(ip: str, name: str):
        token = client.token("/login")
        return client.client.post("/login", data={"username": name, "password": "tebakan-salah-nih",
                                                  "csrf_token": token},
                                  environ_base={"REMOTE_ADDR": ip})

    assert [attempt("10.1.2.3", f"nama{i}").status_code for i in range(4)] == [401, 401, 401, 429]
    refused = attempt("10.1.2.3", "koor.dlh")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    # another address of the same /24 shares the range budget (5): two more, then refused
    assert [attempt("10.1.2.77", f"lain{i}").status_code for i in range(3)] == [401, 401, 429]
    assert attempt("10.9.9.9", "koor.dlh").status_code == 401  # another network is not affected


def test_failed_api_token_checks_are_limited_per_ip(world, app):
    app.config["TANGGAP_LOGIN_LIMIT"] = "4 per minute"
    client = app.test_client()
    statuses = [client.get("/api/v1/tasks", headers={"Authorization": f"Bearer tgt_{i:08x}_nope"}).status_code
                for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert client.get("/api/v1/tasks").get_json()["error"]["code"] == "rate_limited"
    holder = world.dlh
    with world.services.uow() as uow:
        _row, secret = credentials.issue(uow, "token", "dari luar", username=holder.name)
        uow.commit()
    other = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"},
                       environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert other.status_code == 200  # a good token from elsewhere is untouched


def test_logging_in_often_locks_nobody_out(world, web):
    world.dlh
    for _ in range(3 * users.MAX_ATTEMPTS):
        assert web.login("koor.dlh").status_code == 302
        web.logout()


@pytest.mark.parametrize("method, url, body", [
    ("post", "/tasks/1/claim", None), ("post", "/tasks/1/complete", {"values": {}}),
    ("post", "/reports", {"category": "sampah"}), ("get", "/escalations", None),
])
def test_failed_token_checks_are_counted_on_every_api_route(world, app, method, url, body):
    app.config["TANGGAP_LOGIN_LIMIT"] = "3 per minute"
    client = app.test_client()
    statuses = [getattr(client, method)(f"/api/v1{url}", json=body,
                                        headers={"Authorization": f"Bearer tgt_{i:08x}_nope"}).status_code
                for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_failed_open311_keys_count_as_credential_guesses(world, app):
    app.config["TANGGAP_LOGIN_LIMIT"] = "3 per minute"
    client = app.test_client()
    statuses = [client.post("/open311/v2/requests.json", data={"api_key": f"tgk_{i:08x}_guess",
                                                               "service_code": "sampah"}).status_code
                for i in range(5)]
    assert statuses == [403, 403, 403, 429, 429]
    long_key = client.post("/open311/v2/requests.json", data={"api_key": "k" * 5000},
                           environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert long_key.status_code == 403  # a huge key is just a wrong key (not a database error)
