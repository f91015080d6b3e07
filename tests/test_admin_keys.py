"""Administrators issue and revoke API keys and tokens on the web: the list shows no secret, a
new secret is shown once, revoking asks first; each creation and revocation is in the security
log with the administrator and the address."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from tests.webclient import WebClient, errors
from workflow.commands import credentials
from workflow.store.models import ApiCredential, SecurityEvent

IP = "198.51.100.23"


@pytest.fixture
def admin(world, app):
    world.user("admin.kota", ("admin", None))
    client = WebClient(app)
    client.login("admin.kota")
    return client


def _log(world, action: str) -> list[SecurityEvent]:
    with world.services.reading() as session:
        return list(session.scalars(select(SecurityEvent).where(SecurityEvent.action == action)
                                    .order_by(SecurityEvent.seq)))


def _issue(admin, **form):
    return admin.post("/admin/keys/new", form, page="/admin/keys/new", environ_base={"REMOTE_ADDR": IP})


def test_a_token_is_issued_its_secret_shown_once_and_it_works(world, app, admin):
    dlh = world.dlh
    assert admin.get("/admin/keys").status_code == 200
    assert "Belum ada kunci atau token." in admin.get("/admin/keys").get_data(as_text=True)
    response = _issue(admin, kind="token", name="Sistem DLH", username="koor.dlh")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="secret"[^>]* value="(tgt_[0-9a-f]{8}_[^"]+)"', response.get_data(as_text=True)).group(1)
    prefix = secret.split("_")[1]
    assert app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = admin.get("/admin/keys").get_data(as_text=True)
    assert f'data-prefix="{prefix}"' in listing and "Sistem DLH" in listing and "Token API JSON" in listing
    assert secret not in listing and secret.split("_", 2)[2] not in listing  # never again
    assert "Koor.Dlh" in listing and "berlaku" in listing
    (created,) = _log(world, "credential_created")
    assert (created.actor_name, created.client_ip, created.subject, created.subject_user_id) == (
        "admin.kota", IP, f"credential:{prefix}", dlh.user_id)
    assert json.loads(created.details) == {"kind": "token", "name": "Sistem DLH", "prefix": prefix,
                                           "user": "koor.dlh"}
    assert secret.split("_", 2)[2] not in created.details


def test_an_open311_key_needs_no_user(world, admin):
    response = _issue(admin, kind="open311", name="Aplikasi Qlue", username="")
    assert response.status_code == 200
    assert re.search(r'value="tgk_[0-9a-f]{8}_', response.get_data(as_text=True))
    with world.services.reading() as session:
        (row,) = session.scalars(select(ApiCredential))
        assert (row.kind, row.name, row.user_id) == ("open311", "Aplikasi Qlue", None)


@pytest.mark.parametrize("form, field, message", [
    ({"name": "Sistem DLH"}, "kind", "Wajib diisi"),
    ({"kind": "magic", "name": "Sistem DLH"}, "kind", "Pilihan tidak dikenal"),
    ({"kind": "open311", "name": ""}, "name", "Wajib diisi"),
    ({"kind": "open311", "name": "x" * 121}, "name", "120"),
    ({"kind": "open311", "name": "Aplikasi\x07"}, "name", "berisi karakter yang tidak diizinkan"),
    ({"kind": "token", "name": "Sistem DLH", "username": "tidak.ada"}, "username", "tidak.ada"),
    ({"kind": "token", "name": "Sistem DLH", "username": ""}, "username", "tidak ada pengguna aktif"),
])
def test_a_refused_key_names_the_field_keeps_what_was_typed_and_stores_nothing(world, admin, form, field, message):
    world.dlh
    counts = world.table_counts()
    response = _issue(admin, **form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert any(message in e for e in errors(response)), errors(response)
    assert re.search(rf'aria-invalid="true"[^>]*id="{field}', html), html[-1500:]
    if form.get("name") and "\x07" not in form["name"]:
        assert f'value="{form["name"]}"' in html
    assert world.table_counts() == counts


def test_revoking_asks_first_then_the_key_stops_working(world, app, admin):
    world.dlh
    with world.services.uow() as uow:
        row, secret = credentials.issue(uow, "token", "Sistem DLH", username="koor.dlh")
        uow.commit()
    confirm = admin.get(f"/admin/keys/{row.prefix}/revoke")
    assert confirm.status_code == 200 and "Cabut Sistem DLH" in confirm.get_data(as_text=True)
    assert not _log(world, "credential_revoked")  # asking is not revoking
    done = admin.post(f"/admin/keys/{row.prefix}/revoke", {}, page=f"/admin/keys/{row.prefix}/revoke",
                      environ_base={"REMOTE_ADDR": IP})
    assert done.status_code == 302 and done.headers["Location"] == "/admin/keys"
    assert app.test_client().get("/api/v1/tasks", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    (revoked,) = _log(world, "credential_revoked")
    assert (revoked.actor_name, revoked.client_ip, revoked.subject) == ("admin.kota", IP, f"credential:{row.prefix}")
    listing = admin.get("/admin/keys").get_data(as_text=True)
    assert "dicabut" in listing and f'/admin/keys/{row.prefix}/revoke"' not in listing
    again = admin.post(f"/admin/keys/{row.prefix}/revoke", {}, page="/admin/keys")  # a second click
    assert again.status_code == 302 and len(_log(world, "credential_revoked")) == 1
    assert "Sudah dicabut" in admin.get(f"/admin/keys/{row.prefix}/revoke").get_data(as_text=True)


def test_an_unknown_key_is_not_found(admin):
    assert admin.get("/admin/keys/00000000/revoke").status_code == 404
    assert admin.post("/admin/keys/00000000/revoke", {}, page="/admin/keys").status_code == 404


def test_the_list_is_paged_newest_first(world, admin):
    with world.services.uow() as uow:
        for n in range(52):
            credentials.issue(uow, "open311", f"Aplikasi {n:02d}")
        uow.commit()
    first = admin.get("/admin/keys").get_data(as_text=True)
    second = admin.get("/admin/keys?page=2").get_data(as_text=True)
    assert first.count("data-prefix=") == 50 and second.count("data-prefix=") == 2
    assert "Aplikasi 51" in first and "Aplikasi 00" in second and "Aplikasi 00" not in first


def test_the_section_is_on_the_administration_index(admin):
    index = admin.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/keys"' in index and "Kunci API dan token" in index
    page = admin.get("/admin/keys/new").get_data(as_text=True)
    assert re.search(r'<a href="/admin/keys" aria-current="page">', page)  # its sub-pages mark it current
