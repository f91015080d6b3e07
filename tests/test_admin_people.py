"""Administration of user accounts (/admin/users): create with roles and scopes, edit, reset a
password, deactivate (claimed work goes back to its queue) and reactivate; each change in the
security log with its old and new values, never a password."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests import actions
from tests.helpers import PASSWORD
from tests.webclient import WebClient, errors
from workflow import commands
from workflow.access import Actor
from workflow.commands import accounts, credentials
from workflow.errors import Conflict, DomainError, ValidationError
from workflow.read.people import UserFilters, user_list
from workflow.store import security_log
from workflow.store.models import Agency, ApiCredential, SecurityEvent, User
from workflow.vocabulary import Action, SecurityAction

VERSION = re.compile(r'name="version" type="hidden" value="([^"]*)"')


def log(world, action: SecurityAction | None = None) -> list[dict]:
    """The security log's events (of ``action``), oldest first, as hashed."""
    with world.services.reading() as session:
        rows = session.scalars(select(SecurityEvent).order_by(SecurityEvent.seq))
        return [security_log.payload(r) for r in rows if action is None or r.action == action]


def user_row(world, username: str) -> User:
    with world.services.reading() as session:
        return session.scalar(select(User).where(User.username == username))


def roles_of(world, username: str) -> set[tuple]:
    with world.services.reading() as session:
        user = session.scalar(select(User).where(User.username == username))
        return {(str(m.role), m.agency_id, m.team_id) for m in user.memberships}


@pytest.fixture
def admin(world, web):
    """Logged in as the administrator ``admin``."""
    actor = world.user("admin", ("admin", None))
    web.login("admin")
    return actor


def version_on(web, url: str) -> str:
    match = VERSION.search(web.get(url).get_data(as_text=True))
    assert match, f"no version on {url}"
    return match.group(1)


def logs_in(app, username: str, password: str) -> bool:
    client = WebClient(app)
    return client.post("/login", {"username": username, "password": password}).status_code == 302


# -- creating ------------------------------------------------------------------------------------


def test_an_administrator_creates_an_account_and_its_password_is_shown_once(world, web, app, admin):
    response = web.post("/admin/users/new", {"username": "Budi.DLH", "full_name": " Budi Santoso ",
                                             "email": "budi@example.id",
                                             "roles": ["coordinator:DLH", "supervisor"]}, page="/admin/users/new")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    user = user_row(world, "budi.dlh")
    assert (user.full_name, user.email, user.active) == ("Budi Santoso", "budi@example.id", True)
    with world.services.reading() as session:
        dlh = session.scalar(select(Agency.id).where(Agency.code == "DLH"))
    assert roles_of(world, "budi.dlh") == {("coordinator", dlh, None), ("supervisor", None, None)}
    assert logs_in(app, "budi.dlh", password)
    [created] = log(world, SecurityAction.USER_CREATED)
    assert created["actor_name"] == "admin" and created["subject"] == "budi.dlh"
    assert created["subject_user_id"] == user.id
    assert created["details"] == {"full_name": "Budi Santoso", "email": "budi@example.id",
                                  "roles": ["coordinator:DLH", "supervisor"]}
    assert all(password not in json.dumps(e) for e in log(world))
    assert password not in web.get(f"/admin/users/{user.id}").get_data(as_text=True)


def test_the_generated_password_passes_the_password_rule_and_differs_each_time():
    from workflow.commands.users import password_problem

    made = {accounts.new_password(username="budi", full_name="Budi") for _ in range(20)}
    assert len(made) == 20
    assert all(password_problem(p, username="budi", full_name="Budi") is None for p in made)
    assert all(re.fullmatch(r"([a-z2-9]{5}-){3}[a-z2-9]{5}", p) for p in made)


@pytest.mark.parametrize("data, field, message", [
    ({"username": "koor.dlh"}, "username", "sudah dipakai"),
    ({"username": "ab"}, "username", "3-80"),
    ({"email": "bukan-email"}, "email", "alamat e-mail"),
    ({"roles": []}, "roles", "setidaknya satu peran"),
    ({"roles": ["coordinator:NOPE"]}, "roles", ""),
    ({"full_name": "   "}, "full_name", "wajib diisi"),
    ({"full_name": "B" * 201}, "full_name", "200"),
])
def test_creating_refuses_bad_input_keeps_what_was_typed_and_saves_nothing(world, web, admin, data, field, message):
    world.dlh
    before = world.table_counts()
    sent = {"username": "sari.dlh", "full_name": "Sari Wulandari", "email": "sari@example.id",
            "roles": ["coordinator:DLH"], **data}
    response = web.post("/admin/users/new", sent, page="/admin/users/new")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error-1" class="error" role="alert">[^<]*{re.escape(message)}', html), errors(response)
    for name in ("username", "full_name", "email"):
        if name != field and sent[name]:
            assert f'value="{sent[name]}"' in html
    if sent["roles"] == ["coordinator:DLH"]:
        assert re.search(r'<input[^>]*\bchecked\b[^>]*value="coordinator:DLH"', html)
    assert world.table_counts() == before


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x1b[31m", "\x7f", "\x85"])
def test_control_characters_in_a_name_are_refused_on_the_field(world, web, admin, bad):
    before = world.table_counts()
    response = web.post("/admin/users/new", {"username": "sari.dlh", "full_name": f"Sari{bad}Wulan",
                                             "roles": ["auditor"]}, page="/admin/users/new")
    assert response.status_code == 400
    assert any("karakter yang tidak diizinkan" in e for e in errors(response))
    assert 'value="sari.dlh"' in response.get_data(as_text=True)
    assert world.table_counts() == before


@pytest.mark.parametrize("field", ["full_name", "email", "username"])
def test_a_lone_surrogate_is_refused_by_the_command(world, field):
    values = {"username": "sari.dlh", "full_name": "Sari", "email": "sari@example.id"}
    values[field] = values[field][:2] + "\ud800" + values[field][2:]
    with world.services.uow() as uow, pytest.raises(ValidationError) as refused:
        accounts.create_account(uow, Actor.system(), roles=[("auditor", None)], **values)
    assert set(refused.value.errors) == {field}


def test_a_role_on_an_inactive_agency_is_refused_but_an_existing_one_is_kept(world, reference_restored):
    with world.services.uow() as uow:
        uow.session.scalar(select(Agency).where(Agency.code == "DINKES")).active = False
        uow.commit()
    with world.services.uow() as uow, pytest.raises(ValidationError) as refused:
        accounts.create_account(uow, Actor.system(), username="sari.dinkes", full_name="Sari", email=None,
                                roles=[("coordinator", "DINKES")])
    assert refused.value.errors["roles"].template == "the agency {scope} is inactive"


def test_a_membership_named_twice_is_one(world):
    with world.services.uow() as uow:
        accounts.create_account(uow, Actor.system(), username="sari.dlh", full_name="Sari", email=None,
                                roles=[("auditor", None), ("auditor", ""), ("coordinator", "DLH"), ("coordinator", "DLH")])
        uow.commit()
    assert len(roles_of(world, "sari.dlh")) == 2
    with world.services.reading() as session:
        assert len(session.scalar(select(User).where(User.username == "sari.dlh")).memberships) == 2


def test_the_cli_creates_accounts_through_the_security_log_as_the_system(world, settings):
    from tanggap.cli import main

    env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    result = CliRunner().invoke(main, ["users", "create", "budi.dlh", "--name", "Budi", "--role", "coordinator:DLH",
                                       "--password", "rahasia-sekali-panjang"], env=env)
    assert result.exit_code == 0, result.output
    [created] = log(world, SecurityAction.USER_CREATED)
    assert (created["actor_name"], created["actor_user_id"], created["subject"]) == ("system", None, "budi.dlh")
    assert "rahasia" not in json.dumps(created)


# -- the list ------------------------------------------------------------------------------------


def test_the_list_searches_filters_by_role_and_state_and_pages(world, web, admin):
    world.dlh
    world.auditor
    for n in range(26):
        world.user(f"qr.petugas{n:02d}", ("qr_officer", "qr-mariso-1"))
    with world.services.uow() as uow:
        accounts.deactivate_user(uow, Actor.system(), user_row(world, "inspektorat").id)
        uow.commit()

    def names(response) -> list[str]:
        return re.findall(r'<tr data-user="([^"]+)"', response.get_data(as_text=True))

    assert names(web.get("/admin/users?q=KOOR")) == ["koor.dlh"]
    assert names(web.get("/admin/users?q=Inspek")) == ["inspektorat"]  # the full name too
    assert names(web.get("/admin/users?q=%25")) == []  # a wildcard is a character to find
    assert names(web.get("/admin/users?role=coordinator")) == ["koor.dlh"]
    assert names(web.get("/admin/users?state=inactive")) == ["inspektorat"]
    assert "inspektorat" not in names(web.get("/admin/users?state=active"))
    first, second = web.get("/admin/users?role=qr_officer"), web.get("/admin/users?role=qr_officer&page=2")
    assert len(names(first)) == 25 and names(second) == ["qr.petugas25"]
    assert "role=qr_officer" in re.search(r'<nav class="pager".*?</nav>', first.get_data(as_text=True), re.S).group(0)
    empty = web.get("/admin/users?q=tidak-ada-orang")
    assert empty.status_code == 200 and "Tidak ada akun yang cocok" in empty.get_data(as_text=True)
    row = re.search(r'<tr data-user="koor.dlh">.*?</tr>', web.get("/admin/users?q=koor").get_data(as_text=True), re.S)
    assert "Koordinator OPD · DLH" in row.group(0)


@pytest.mark.parametrize("query, message", [
    ("role=citizen", "pilih salah satu dari daftar"), ("state=gone", "pilih salah satu dari daftar"),
    ("q=a%00b", "karakter yang tidak diizinkan"), ("q=" + "x" * 101, "paling banyak 100 karakter"),
    ("page=99999999999999999999", "harus antara 1 dan")])
def test_the_list_refuses_filters_it_cannot_read(world, web, admin, query, message):
    response = web.get(f"/admin/users?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert "<table" not in response.get_data(as_text=True)


def test_the_account_list_refuses_bad_text_also_below_the_web(world):
    with world.services.reading() as session, pytest.raises(ValidationError) as refused:
        user_list(session, Actor.system(), UserFilters(q="koor\x00"))
    assert set(refused.value.errors) == {"q"}


# -- editing -------------------------------------------------------------------------------------


def test_editing_logs_the_old_and_new_name_email_and_roles(world, web, admin):
    user_id = world.dlh.user_id
    version = version_on(web, f"/admin/users/{user_id}")
    response = web.post(f"/admin/users/{user_id}", {"full_name": "Koordinator DLH", "email": "koor@dlh.example.id",
                                                     "roles": ["coordinator:DLH", "supervisor:DLH"], "version": version},
                        page=f"/admin/users/{user_id}")
    assert response.status_code == 302
    user = user_row(world, "koor.dlh")
    assert (user.full_name, user.email) == ("Koordinator DLH", "koor@dlh.example.id")
    [roles] = log(world, SecurityAction.ROLES_CHANGED)
    assert roles["subject_user_id"] == user_id and roles["actor_name"] == "admin"
    assert roles["details"] == {"old": ["coordinator:DLH"], "new": ["coordinator:DLH", "supervisor:DLH"],
                                "tasks_released": 0}
    [change] = log(world, SecurityAction.ADMIN_CHANGED)
    assert change["subject"] == "user:koor.dlh"
    assert change["details"]["fields"] == {"full_name": {"old": "Koor.Dlh", "new": "Koordinator DLH"},
                                           "email": {"old": None, "new": "koor@dlh.example.id"}}


def test_saving_an_unchanged_account_writes_nothing(world, web, admin):
    user_id = world.dlh.user_id
    version = version_on(web, f"/admin/users/{user_id}")
    response = web.post(f"/admin/users/{user_id}", {"full_name": "Koor.Dlh", "email": "", "roles": ["coordinator:DLH"],
                                                     "version": version}, page=f"/admin/users/{user_id}")
    assert response.status_code == 302
    assert log(world, SecurityAction.ROLES_CHANGED) == log(world, SecurityAction.ADMIN_CHANGED) == []


def test_two_administrators_editing_one_account_the_second_is_told_and_keeps_what_was_typed(world, app, web, admin):
    user_id = world.dlh.user_id
    world.user("admin2", ("admin", None))
    other = WebClient(app)
    other.login("admin2")
    mine = version_on(web, f"/admin/users/{user_id}")
    theirs = version_on(other, f"/admin/users/{user_id}")
    assert other.post(f"/admin/users/{user_id}", {"full_name": "Nama Dari Admin2", "roles": ["coordinator:DLH"],
                                                   "version": theirs}, page="/admin/").status_code == 302
    before = world.table_counts()
    response = web.post(f"/admin/users/{user_id}", {"full_name": "Nama Saya", "roles": ["coordinator:DLH"],
                                                     "version": mine}, page="/admin/")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "admin2 mengubah akun ini" in html and 'value="Nama Saya"' in html
    assert user_row(world, "koor.dlh").full_name == "Nama Dari Admin2"
    assert world.table_counts() == before


def test_a_role_change_gives_back_the_tasks_the_account_can_no_longer_work(world, web, admin):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(commands.claim, w.dlh, sub.case_id)
    version = w.case(sub.case_id).version
    response = web.post(f"/admin/users/{w.dlh.user_id}", {"full_name": "Koor.Dlh", "roles": ["coordinator:DPU"],
                                                           "version": version_on(web, f"/admin/users/{w.dlh.user_id}")},
                        page="/admin/")
    assert response.status_code == 302
    assert w.item(sub.case_id).assignee_id is None
    assert w.case(sub.case_id).version == version + 1
    released = w.events(sub.case_id)[-1]
    assert (released.action, released.actor_name, released.actor_role) == (Action.TASK_RELEASED, "admin", "admin")
    assert w.event_data(released) == {"work_item": w.item(sub.case_id).id, "assignee": "koor.dlh",
                                      "cause": "roles_changed"}
    [roles] = log(w, SecurityAction.ROLES_CHANGED)
    assert roles["details"]["tasks_released"] == 1
    assert w.chain_breaks() == []


def test_a_role_change_keeps_the_tasks_the_account_can_still_work(world, web, admin):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(commands.claim, w.dlh, sub.case_id)
    response = web.post(f"/admin/users/{w.dlh.user_id}", {"full_name": "Koor.Dlh", "roles": ["coordinator:DLH", "auditor"],
                                                           "version": version_on(web, f"/admin/users/{w.dlh.user_id}")},
                        page="/admin/")
    assert response.status_code == 302
    assert w.item(sub.case_id).assignee_id == w.dlh.user_id
    assert w.actions(sub.case_id)[-1] == Action.TASK_CLAIMED


def test_an_administrator_cannot_take_the_admin_role_from_themself(world, web, admin):
    before = world.table_counts()
    response = web.post(f"/admin/users/{admin.user_id}", {"full_name": "Admin", "roles": ["auditor"],
                                                           "version": version_on(web, f"/admin/users/{admin.user_id}")},
                        page="/admin/")
    assert response.status_code == 400
    assert any("akun Anda sendiri" in e for e in errors(response))
    assert roles_of(world, "admin") == {("admin", None, None)}
    assert world.table_counts() == before


def test_the_last_active_administrator_keeps_the_role(world):
    lone = world.user("admin", ("admin", None))
    with world.services.uow() as uow, pytest.raises(ValidationError) as refused:
        accounts.update_account(uow, Actor.system(), lone.user_id, full_name="Admin", email=None, roles=["auditor"])
    assert refused.value.errors["roles"].template.startswith("{username} is the last active administrator")
    with world.services.uow() as uow, pytest.raises(DomainError) as refused:
        accounts.deactivate_user(uow, Actor.system(), lone.user_id)
    assert refused.value.code == "last_admin"
    world.user("admin2", ("admin", None))
    with world.services.uow() as uow:  # with another one, it may go
        accounts.deactivate_user(uow, Actor.system(), lone.user_id)
        uow.commit()
    assert not user_row(world, "admin").active


# -- password, deactivation ----------------------------------------------------------------------


def test_a_password_reset_shows_a_new_password_once_and_ends_the_sessions(world, app, web, admin):
    world.dlh
    theirs = WebClient(app)
    theirs.login("koor.dlh")
    assert theirs.get("/inbox").status_code == 200
    response = web.post(f"/admin/users/{world.dlh.user_id}/password", {}, page=f"/admin/users/{world.dlh.user_id}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert theirs.get("/inbox").status_code == 302  # logged out everywhere
    assert not logs_in(app, "koor.dlh", PASSWORD) and logs_in(app, "koor.dlh", password)
    [reset] = log(world, SecurityAction.PASSWORD_RESET)
    assert (reset["actor_name"], reset["subject_user_id"]) == ("admin", world.dlh.user_id)
    assert password not in json.dumps(log(world))


def test_deactivating_gives_claimed_work_back_ends_sessions_and_revokes_tokens(world, app, web, admin):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(commands.claim, w.dlh, sub.case_id)
    with w.services.uow() as uow:
        _row, token = credentials.issue(uow, "token", "Integrasi", username="koor.dlh")
        uow.commit()
    theirs = WebClient(app)
    theirs.login("koor.dlh")
    version = w.case(sub.case_id).version
    response = web.post(f"/admin/users/{w.dlh.user_id}/deactivate", {}, page=f"/admin/users/{w.dlh.user_id}")
    assert response.status_code == 302
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 tugas kembali ke antreannya" in page
    item = w.item(sub.case_id)
    assert (item.assignee_id, item.claimed_at) == (None, None)
    assert w.case(sub.case_id).version == version + 1
    released = w.events(sub.case_id)[-1]
    assert (released.action, released.actor_name) == (Action.TASK_RELEASED, "admin")
    assert w.event_data(released)["cause"] == "user_deactivated"
    assert not user_row(w, "koor.dlh").active
    assert theirs.get("/inbox").status_code == 302
    assert not logs_in(app, "koor.dlh", PASSWORD)
    with w.services.reading() as session:
        assert session.scalar(select(ApiCredential.revoked_at).where(ApiCredential.user_id == w.dlh.user_id))
    api = app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    [event] = log(w, SecurityAction.USER_DEACTIVATED)
    assert event["details"] == {"tasks_released": 1, "work_items": [item.id],
                                "tokens_revoked": [token.split("_")[1]]}
    assert w.chain_breaks() == []


def test_deactivating_oneself_is_refused_on_the_page(world, web, admin):
    before = world.table_counts()
    response = web.post(f"/admin/users/{admin.user_id}/deactivate", {}, page=f"/admin/users/{admin.user_id}")
    assert response.status_code == 400
    assert "tidak dapat menonaktifkan akun Anda sendiri" in response.get_data(as_text=True)
    assert user_row(world, "admin").active and world.table_counts() == before


def test_deactivating_twice_is_a_conflict(world):
    world.dlh
    with world.services.uow() as uow:
        accounts.deactivate_user(uow, Actor.system(), world.dlh.user_id)
        uow.commit()
    with world.services.uow() as uow, pytest.raises(Conflict):
        accounts.deactivate_user(uow, Actor.system(), world.dlh.user_id)


def test_reactivating_lets_the_account_log_in_again(world, app, web, admin):
    world.dlh
    before = WebClient(app)
    before.login("koor.dlh")
    with world.services.uow() as uow:
        accounts.deactivate_user(uow, Actor.system(), world.dlh.user_id)
        uow.commit()
    response = web.post(f"/admin/users/{world.dlh.user_id}/reactivate", {}, page=f"/admin/users/{world.dlh.user_id}")
    assert response.status_code == 302
    assert user_row(world, "koor.dlh").active and logs_in(app, "koor.dlh", PASSWORD)
    assert before.get("/inbox").status_code == 302  # a session from before does not come back
    [event] = log(world, SecurityAction.USER_REACTIVATED)
    assert (event["actor_name"], event["subject_user_id"]) == ("admin", world.dlh.user_id)


def test_only_administrators_run_the_account_commands(world):
    world.dlh, world.triage
    with world.services.uow() as uow, pytest.raises(DomainError) as refused:
        accounts.reset_password(uow, world.dlh, world.triage.user_id)
    assert refused.value.code == "forbidden"


def test_a_deactivation_whose_log_row_fails_saves_nothing(world, monkeypatch):
    """The released tasks, the account, its tokens and its log row are one unit of work."""
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(commands.claim, w.dlh, sub.case_id)
    before, version = w.table_counts(), w.case(sub.case_id).version

    def broken(*args, **kwargs):
        raise RuntimeError("log unavailable")

    monkeypatch.setattr(security_log, "record", broken)
    with pytest.raises(RuntimeError), w.services.uow() as uow:
        accounts.deactivate_user(uow, Actor.system(), w.dlh.user_id)
        uow.commit()
    assert w.table_counts() == before and w.case(sub.case_id).version == version
    assert w.item(sub.case_id).assignee_id == w.dlh.user_id and user_row(w, "koor.dlh").active


def test_a_role_in_an_agency_deactivated_since_is_shown_and_kept(world, web, admin, reference_restored):
    from workflow.commands import organisation

    with world.services.uow() as uow:
        organisation.create_agency(uow, Actor.system(), code="BAPPEDA", name="Bappeda", short_name="Bappeda")
        uow.commit()
    sari = world.user("sari.bappeda", ("coordinator", "BAPPEDA"))
    with world.services.uow() as uow:
        organisation.update_agency(uow, Actor.system(), "BAPPEDA", name="Bappeda", short_name="Bappeda",
                                   handles_reports=True, active=False)
        uow.commit()
    page = web.get(f"/admin/users/{sari.user_id}").get_data(as_text=True)
    assert re.search(r'<input[^>]*\bchecked\b[^>]*value="coordinator:BAPPEDA"> Bappeda \(nonaktif\)', page)
    response = web.post(f"/admin/users/{sari.user_id}", {"full_name": "Sari", "roles": ["coordinator:BAPPEDA", "auditor"],
                                                          "version": version_on(web, f"/admin/users/{sari.user_id}")},
                        page="/admin/")
    assert response.status_code == 302
    [roles] = log(world, SecurityAction.ROLES_CHANGED)
    assert roles["details"]["new"] == ["auditor", "coordinator:BAPPEDA"]
    # a new account cannot be given it
    assert 'value="coordinator:BAPPEDA"' not in web.get("/admin/users/new").get_data(as_text=True)


def test_two_administrators_deactivating_each_other_at_once_leave_one(world):
    import threading

    admins = [world.user("admin", ("admin", None)), world.user("admin2", ("admin", None))]
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def race(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            with world.services.uow() as uow:
                accounts.deactivate_user(uow, admins[i], admins[1 - i].user_id)
                uow.commit()
            outcomes[i] = "done"
        except DomainError as exc:
            outcomes[i] = exc.code
        except Exception as exc:  # noqa: BLE001 - anything else is the failure being tested
            outcomes[i] = f"unexpected {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=race, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(map(str, outcomes)) == ["done", "last_admin"], outcomes
    assert [user_row(world, a.name).active for a in admins].count(True) == 1
    assert len(log(world, SecurityAction.USER_DEACTIVATED)) == 1
