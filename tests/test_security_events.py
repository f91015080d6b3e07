"""Each security-log action through the path that causes it: logins (their failures and
lockouts), logouts, password changes and resets, credentials (created, first use of each day
of the city, revoked) and the opening of a reporter's contact. Each entry carries the client's
address; the chain verifies after all of them."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tanggap.cli import main
from tests import actions
from tests.helpers import PASSWORD
from tests.webclient import WebClient, errors
from workflow import commands
from workflow.commands import credentials, users
from workflow.store import security_log
from workflow.store.models import ApiCredential, SecurityEvent, User
from workflow.vocabulary import SecurityAction

IP = "203.0.113.7"
AT = {"environ_base": {"REMOTE_ADDR": IP}}
NEW_PASSWORD = "layang-layang merah di atas losari"


def entries(world, action: SecurityAction | None = None) -> list[SecurityEvent]:
    with world.services.reading() as session:
        query = select(SecurityEvent).order_by(SecurityEvent.seq)
        if action is not None:
            query = query.where(SecurityEvent.action == str(action))
        return list(session.scalars(query))


def details(event: SecurityEvent) -> dict:
    return json.loads(event.details)


def intact(world) -> bool:
    with world.services.reading() as session:
        return security_log.verify(session) == []


def cli(world, *args):
    settings = world.services.settings
    env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    return CliRunner().invoke(main, list(args), env=env)


# -- logins --------------------------------------------------------------------------------------

def test_a_wrong_password_is_logged_with_the_name_as_typed_never_the_password(world, web):
    dlh = world.dlh
    assert web.post("/login", {"username": " Koor.DLH", "password": "salah sekali"}, **AT).status_code == 401
    assert web.post("/login", {"username": "tamu.asing", "password": "salah juga"}, **AT).status_code == 401
    wrong, unknown = entries(world, SecurityAction.LOGIN_FAILED)
    assert (wrong.actor_name, wrong.actor_user_id, wrong.subject_user_id, wrong.client_ip) == (
        " Koor.DLH", None, dlh.user_id, IP)
    assert details(wrong) == {"reason": "wrong_password"}
    assert (unknown.actor_name, unknown.subject_user_id, details(unknown)) == ("tamu.asing", None,
                                                                                {"reason": "unknown_user"})
    row_texts = [" ".join(str(v) for v in vars(e).values()) for e in entries(world)]
    assert not any("salah" in text for text in row_texts)  # no password, in any column
    assert intact(world)


def test_an_unreadable_name_is_logged_escaped(world):
    world.dlh
    result = commands.authenticate(world.services, "koor\x00dlh\ud800", "apa saja", client_ip=IP)
    assert result.user is None
    (event,) = entries(world, SecurityAction.LOGIN_FAILED)
    assert event.actor_name == "koor\\u0000dlh\\ud800" and details(event) == {"reason": "unreadable"}


def test_a_deactivated_account_fails_like_a_wrong_password_and_the_log_says_why(world, web):
    dlh = world.dlh
    with world.services.uow() as uow:
        uow.session.get(User, dlh.user_id).active = False
        uow.commit()
    assert web.post("/login", {"username": "koor.dlh", "password": PASSWORD}).status_code == 401
    (event,) = entries(world, SecurityAction.LOGIN_FAILED)
    assert (event.subject_user_id, details(event)) == (dlh.user_id, {"reason": "inactive_user"})


def test_logins_and_logouts_are_logged_with_the_browser_known_or_not(world, web):
    dlh = world.dlh
    web.post("/login", {"username": "koor.dlh", "password": PASSWORD}, **AT)
    web.post("/logout", {}, page="/inbox", **AT)
    web.login("koor.dlh")  # the browser now carries its device cookie
    logins = entries(world, SecurityAction.LOGIN_SUCCEEDED)
    assert [(e.actor_user_id, e.actor_name, e.subject_user_id) for e in logins] == [
        (dlh.user_id, "koor.dlh", dlh.user_id)] * 2
    assert [details(e)["known_device"] for e in logins] == [False, True]
    assert logins[0].client_ip == IP
    (out,) = entries(world, SecurityAction.LOGGED_OUT)
    assert (out.actor_user_id, out.subject_user_id, out.client_ip) == (dlh.user_id, dlh.user_id, IP)
    assert entries(world)[1].action == "logged_out" and intact(world)


def test_the_account_lockout_is_logged_once_when_it_starts(world, web):
    dlh = world.dlh
    web.app.config["TANGGAP_LOGIN_LIMIT"] = "100 per minute"
    for _ in range(users.MAX_ATTEMPTS):
        assert web.post("/login", {"username": "koor.dlh", "password": "tebakan-salah"}, **AT).status_code == 401
    for _ in range(3):
        assert web.post("/login", {"username": "koor.dlh", "password": PASSWORD}, **AT).status_code == 429
    assert len(entries(world, SecurityAction.LOGIN_FAILED)) == users.MAX_ATTEMPTS
    (locked,) = entries(world, SecurityAction.LOGIN_LOCKED)
    assert (locked.actor_name, locked.subject_user_id, locked.client_ip) == ("koor.dlh", dlh.user_id, IP)
    until = datetime.fromisoformat(details(locked)["until"])
    assert details(locked)["limit"] == "account"
    assert until == world.services.clock.now() + users.ATTEMPT_WINDOW
    world.services.clock.advance(users.ATTEMPT_WINDOW + timedelta(seconds=1))  # a new window, a new lockout
    for _ in range(users.MAX_ATTEMPTS + 2):
        web.post("/login", {"username": "koor.dlh", "password": "tebakan-salah"})
    assert len(entries(world, SecurityAction.LOGIN_LOCKED)) == 2
    assert not entries(world, SecurityAction.LOGIN_SUCCEEDED)


def test_a_client_out_of_guesses_is_logged_once(world, app):
    world.dlh
    app.config["TANGGAP_LOGIN_LIMIT"] = "3 per minute"
    client = WebClient(app)
    statuses = [client.post("/login", {"username": f"tebak{i}", "password": "salah-salah"}, **AT).status_code
                for i in range(3)]
    statuses += [client.post("/login", {"username": "koor.dlh", "password": "salah-salah"}, **AT).status_code
                 for _ in range(3)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    (locked,) = entries(world, SecurityAction.LOGIN_LOCKED)
    assert (locked.actor_name, locked.subject_user_id, locked.client_ip) == ("koor.dlh", world.dlh.user_id, IP)
    assert details(locked)["limit"] == "client"
    assert len(entries(world, SecurityAction.LOGIN_FAILED)) == 3  # the refused ones were never checked
    other = WebClient(app)  # another client, refused too: its own lockout
    other.client.post("/login", data={"username": "x", "password": "y", "csrf_token": other.token("/login")},
                      environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert len(entries(world, SecurityAction.LOGIN_LOCKED)) == 1  # 198.51.100.20 still had guesses


# -- passwords -----------------------------------------------------------------------------------

def _change(client, current, new, repeat=None):
    return client.post("/akun/sandi", {"current_password": current, "new_password": new,
                                       "repeat_password": new if repeat is None else repeat},
                       page="/akun/sandi", **AT)


def test_a_user_changes_their_password_and_their_other_sessions_end(world, app):
    dlh = world.dlh
    here, elsewhere = WebClient(app), WebClient(app)
    here.login("koor.dlh")
    elsewhere.login("koor.dlh")
    assert here.get("/akun/sandi").status_code == 200
    response = _change(here, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert here.get("/inbox").status_code == 200  # this session carries on
    assert elsewhere.get("/inbox").status_code == 302  # the other one is logged out
    (event,) = entries(world, SecurityAction.PASSWORD_CHANGED)
    assert (event.actor_user_id, event.subject_user_id, event.client_ip) == (dlh.user_id, dlh.user_id, IP)
    fresh = WebClient(app)
    assert fresh.post("/login", {"username": "koor.dlh", "password": PASSWORD}).status_code == 401
    assert fresh.login("koor.dlh", NEW_PASSWORD).status_code == 302
    assert intact(world)


@pytest.mark.parametrize("current, new, repeat, field, message", [
    ("bukan-sandinya", NEW_PASSWORD, None, "current_password", "ini bukan kata sandi Anda saat ini"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "repeat_password", "kedua kata sandi baru tidak sama"),
    (PASSWORD, "password123", None, "new_password", "terlalu mudah ditebak"),
    (PASSWORD, "pendek", None, "new_password", "paling sedikit 10 karakter"),
    (PASSWORD, PASSWORD, None, "new_password", "pilih kata sandi yang berbeda"),
    (PASSWORD, "sandi\x00yang panjang sekali", None, "new_password", "karakter yang tidak diizinkan"),
    ("", NEW_PASSWORD, None, "current_password", "Wajib diisi"),
])
def test_a_refused_password_change_names_the_field_and_changes_nothing(world, web, current, new, repeat, field,
                                                                       message):
    world.dlh
    web.login("koor.dlh")
    with world.services.reading() as session:
        before = session.get(User, world.dlh.user_id)
        stored, token = before.password_hash, before.session_token
    response = _change(web, current, new, repeat)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'aria-invalid="true"[^>]*id="{field}"', html), html[-2000:]
    assert any(message in e for e in errors(response)), errors(response)
    with world.services.reading() as session:
        after = session.get(User, world.dlh.user_id)
        assert (after.password_hash, after.session_token) == (stored, token)
    assert not entries(world, SecurityAction.PASSWORD_CHANGED)
    assert web.get("/inbox").status_code == 200


def test_guessing_the_current_password_is_throttled(world, web):
    world.dlh
    web.login("koor.dlh")
    for _ in range(users.MAX_ATTEMPTS):
        assert _change(web, "tebakan-salah", NEW_PASSWORD).status_code == 400
    locked = _change(web, PASSWORD, NEW_PASSWORD)  # even the right one, now
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    assert "terlalu banyak percobaan gagal" in errors(locked)[0]
    world.services.clock.advance(users.ATTEMPT_WINDOW + timedelta(seconds=1))
    assert _change(web, PASSWORD, NEW_PASSWORD).status_code == 302


def test_the_password_page_needs_a_login(web):
    assert web.get("/akun/sandi").headers["Location"].startswith("/login")


def test_the_command_line_resets_a_password_as_the_system(world, app):
    dlh = world.dlh
    session = WebClient(app)
    session.login("koor.dlh")
    result = cli(world, "users", "password", "koor.dlh", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "password of koor.dlh changed" in result.output
    (event,) = entries(world, SecurityAction.PASSWORD_RESET)
    assert (event.actor_user_id, event.actor_name, event.subject_user_id) == (None, "system", dlh.user_id)
    assert session.get("/inbox").status_code == 302  # its sessions ended
    assert WebClient(app).login("koor.dlh", NEW_PASSWORD).status_code == 302
    weak = cli(world, "users", "password", "koor.dlh", "--password", "password123")
    unknown = cli(world, "users", "password", "tidak.ada", "--password", NEW_PASSWORD)
    assert weak.exit_code == 1 and "too easy to guess" in weak.output
    assert unknown.exit_code == 1 and "no user tidak.ada" in unknown.output
    assert len(entries(world, SecurityAction.PASSWORD_RESET)) == 1


# -- credentials ---------------------------------------------------------------------------------

def _wita(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of November 2026 in Makassar's time (UTC+8)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=timezone(timedelta(hours=8)))


def test_a_token_is_logged_at_its_first_use_of_each_day_of_the_city(world, app):
    dlh, clock = world.dlh, world.services.clock
    with world.services.uow() as uow:
        row, secret = credentials.issue(uow, "token", "Sistem DLH", username="koor.dlh")
        uow.commit()
    client = app.test_client()

    def use(when: datetime):
        clock.set(when)
        response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"}, **AT)
        assert response.status_code == 200

    def first_uses():
        return [e.occurred_at for e in entries(world, SecurityAction.CREDENTIAL_FIRST_USE)]

    use(_wita(24, 9))
    (first,) = entries(world, SecurityAction.CREDENTIAL_FIRST_USE)
    assert (first.actor_user_id, first.actor_name, first.subject_user_id, first.subject, first.client_ip) == (
        dlh.user_id, "koor.dlh", dlh.user_id, f"credential:{row.prefix}", IP)
    assert details(first) == {"kind": "token", "name": "Sistem DLH", "prefix": row.prefix}
    use(_wita(24, 9, 30))  # later the same day: no entry, but the last use moves on
    use(_wita(24, 23, 59, 30))
    assert first_uses() == [_wita(24, 9)]
    with world.services.reading() as session:
        assert session.get(ApiCredential, row.id).last_used_at == _wita(24, 23, 59, 30)
    # 40 seconds later, past midnight in Makassar (still 24 November in UTC): within the minute
    # the last use is kept to, but another day
    use(_wita(25, 0, 0, 10))
    use(_wita(25, 0, 30))
    assert first_uses() == [_wita(24, 9), _wita(25, 0, 0, 10)]
    assert intact(world)


def test_two_requests_at_once_record_the_days_first_use_once(world):
    world.dlh
    with world.services.uow() as uow:
        row, _secret = credentials.issue(uow, "token", "Sistem DLH", username="koor.dlh")
        uow.commit()
    now, barrier, failures = world.services.clock.now(), threading.Barrier(4), []

    def use():
        try:
            barrier.wait(timeout=30)
            with world.services.uow() as uow:
                credentials.record_use(uow, row.id, now, client_ip=IP)
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - what the test looks for
            failures.append(exc)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == [] and len(entries(world, SecurityAction.CREDENTIAL_FIRST_USE)) == 1
    assert intact(world)


def test_an_open311_key_is_logged_at_its_first_use_of_the_day(world, app):
    with world.services.uow() as uow:
        row, key = credentials.issue(uow, "open311", "Aplikasi Qlue")
        uow.commit()
    client = app.test_client()
    for n in range(2):
        filed = client.post("/open311/v2/requests.json", data={
            "api_key": key, "service_code": "sampah", "lat": "-5.1560", "long": "119.4050",
            "description": f"Sampah menumpuk di depan pasar, laporan {n + 1}."}, **AT)
        assert filed.status_code == 200, filed.get_data(as_text=True)
    (first,) = entries(world, SecurityAction.CREDENTIAL_FIRST_USE)
    assert (first.actor_user_id, first.actor_name, first.subject_user_id, first.client_ip) == (
        None, "Aplikasi Qlue", None, IP)
    assert first.subject == f"credential:{row.prefix}"


def test_the_command_line_creates_and_revokes_credentials_as_the_system(world):
    world.dlh
    created = cli(world, "tokens", "create", "--user", "koor.dlh", "Sistem DLH")
    assert created.exit_code == 0, created.output
    prefix = re.search(r"tgt_([0-9a-f]{8})_", created.output).group(1)
    revoked = cli(world, "tokens", "revoke", prefix)
    assert revoked.exit_code == 0, revoked.output
    made, gone = entries(world)
    assert [(e.action, e.actor_user_id, e.actor_name, e.subject, e.subject_user_id) for e in (made, gone)] == [
        ("credential_created", None, "system", f"credential:{prefix}", world.dlh.user_id),
        ("credential_revoked", None, "system", f"credential:{prefix}", world.dlh.user_id)]
    assert details(made) == {"kind": "token", "name": "Sistem DLH", "prefix": prefix, "user": "koor.dlh"}
    assert secret_free(made, created.output)


def secret_free(event: SecurityEvent, output: str) -> bool:
    secret = re.search(r"tg[kt]_\S+", output).group(0)
    return secret not in event.details and secret.split("_", 2)[2] not in event.details


# -- contacts ------------------------------------------------------------------------------------

def test_the_case_page_hides_the_contact_until_asked_and_each_asking_is_logged(world, web):
    sub = world.report()
    world.triage
    web.login("triase")
    page = web.get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert "daeng@example.id" not in page and "4000 123" not in page
    assert "Tampilkan kontak pelapor" in page and "Daeng Ngai" in page  # the name is every viewer's
    shown = web.post(f"/cases/{sub.case_id}/contact", {"next": f"/cases/{sub.case_id}"},
                     page=f"/cases/{sub.case_id}", **AT)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    html = shown.get_data(as_text=True)
    assert "daeng@example.id" in html and "+62 811 4000 123" in html and f'href="/cases/{sub.case_id}"' in html
    (event,) = entries(world, SecurityAction.CONTACT_VIEWED)
    assert (event.actor_user_id, event.actor_name, event.subject, event.client_ip) == (
        world.triage.user_id, "triase", f"case:{sub.case_id}", IP)
    assert details(event) == {"case_number": sub.case_number, "shown": ["email", "phone"]}
    fragment = web.post(f"/cases/{sub.case_id}/contact", {}, page=f"/cases/{sub.case_id}",
                        headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "daeng@example.id" in body and 'href="tel:+628114000123"' in body
    assert len(entries(world, SecurityAction.CONTACT_VIEWED)) == 2  # every opening, not the first one
    assert intact(world)


def test_the_task_page_hides_the_contact_too_and_the_contact_page_leads_back_to_it(world, web):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    item = world.item(sub.case_id)
    world.dlh
    web.login("koor.dlh")
    task = web.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert "daeng@example.id" not in task and "4000 123" not in task
    assert f'name="next" value="/tasks/{item.id}"' in task
    shown = web.post(f"/cases/{sub.case_id}/contact", {"next": f"/tasks/{item.id}"}, page=f"/tasks/{item.id}")
    assert f'href="/tasks/{item.id}"' in shown.get_data(as_text=True)
    assert [e.actor_name for e in entries(world, SecurityAction.CONTACT_VIEWED)] == ["koor.dlh"]
    elsewhere = web.post(f"/cases/{sub.case_id}/contact", {"next": "//evil.example/x"}, page=f"/tasks/{item.id}")
    assert "evil.example" not in elsewhere.get_data(as_text=True)  # only a path of this site


def test_a_contact_not_yours_to_see_is_refused_and_nothing_is_logged(world, app):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")  # now DLH's, no longer triage's
    for username, roles, status in (("triase", ("triage", "KOMINFO"), 403), ("inspektorat", ("auditor", None), 403),
                                    ("sup.dlh", ("supervisor", "DLH"), 403), ("koor.dpu", ("coordinator", "DPU"), 404)):
        if username != "triase":
            world.user(username, roles)
        client = WebClient(app)
        client.login(username)
        assert client.get(f"/cases/{sub.case_id}").status_code in (200, 404)
        assert "Tampilkan kontak pelapor" not in client.get(f"/cases/{sub.case_id}").get_data(as_text=True)
        assert client.post(f"/cases/{sub.case_id}/contact", {}).status_code == status, username
    assert not entries(world, SecurityAction.CONTACT_VIEWED)


def test_an_anonymous_report_has_no_contact_to_open(world, web):
    sub = world.report(anonymous=True)
    world.triage
    web.login("triase")
    assert "Tampilkan kontak pelapor" not in web.get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert web.post(f"/cases/{sub.case_id}/contact", {}).status_code == 403
    assert not entries(world, SecurityAction.CONTACT_VIEWED)


def test_the_api_gives_a_contact_only_when_asked_and_logs_it(world, app):
    sub = world.report()
    triage = world.triage
    with world.services.uow() as uow:
        _row, secret = credentials.issue(uow, "token", "Meja triase", username=triage.name)
        uow.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    case = client.get(f"/api/v1/cases/{sub.case_id}", headers=headers).get_json()
    assert case["report"]["contact_available"] is True and "daeng@example.id" not in json.dumps(case)
    assert not entries(world, SecurityAction.CONTACT_VIEWED)
    contact = client.get(f"/api/v1/cases/{sub.case_id}/contact", headers=headers, **AT).get_json()
    assert contact == {"case_id": sub.case_id, "case_number": sub.case_number, "reporter_name": "Daeng Ngai",
                       "contact_email": "daeng@example.id", "contact_phone": "+62 811 4000 123"}
    (event,) = entries(world, SecurityAction.CONTACT_VIEWED)
    assert (event.actor_name, event.subject, event.client_ip) == ("triase", f"case:{sub.case_id}", IP)
