"""The security log as auditors and administrators see it: searched by user, action and days of
the city's calendar, newest first and paged, with the chain's state; the CSV of the same filter;
the command line's verification."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.helpers import tamper_security, verify_cli
from tests.webclient import WebClient
from workflow.errors import ValidationError
from workflow.read.security_log import SecurityFilters
from workflow.store import security_log
from workflow.store.models import SecurityEvent
from workflow.store.security_log import Who
from workflow.text import BAD_TEXT
from workflow.vocabulary import SecurityAction

WITA = timezone(timedelta(hours=8))


def _record(world, action: SecurityAction, who: Who, when: datetime | None = None, **kw):
    with world.services.uow() as uow:
        event = security_log.record(uow.session, action=action, who=who,
                                    occurred_at=when or world.services.clock.now(), **kw)
        uow.commit()
    return event.seq


@pytest.fixture
def reader(world, app):
    world.auditor
    client = WebClient(app)
    client.login("inspektorat")
    return client


def _seqs(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', response.get_data(as_text=True))]


def test_the_auditor_searches_by_user_action_and_city_days(world, reader):
    dlh, triage = world.dlh, world.triage
    auditor_login = 1  # the reader's own login is the first entry
    late = _record(world, SecurityAction.LOGIN_SUCCEEDED, Who(dlh.user_id, "koor.dlh", "10.0.0.1"),
                   datetime(2026, 11, 24, 23, 30, tzinfo=WITA), subject_user_id=dlh.user_id)
    stranger = _record(world, SecurityAction.LOGIN_FAILED, Who(None, "Koor.DLH", "10.0.0.2"),
                       datetime(2026, 11, 25, 0, 30, tzinfo=WITA), subject_user_id=dlh.user_id,
                       details={"reason": "wrong_password"})
    guest = _record(world, SecurityAction.LOGIN_FAILED, Who(None, "Tamu", "10.0.0.3"),
                    datetime(2026, 11, 25, 9, 0, tzinfo=WITA), details={"reason": "unknown_user"})
    issued = _record(world, SecurityAction.CREDENTIAL_CREATED, Who(None, "system"),
                     datetime(2026, 11, 25, 10, 0, tzinfo=WITA), subject_user_id=dlh.user_id,
                     subject="credential:ab12cd34",
                     details={"kind": "token", "name": "Sistem DLH", "prefix": "ab12cd34", "user": "koor.dlh"})
    viewed = _record(world, SecurityAction.CONTACT_VIEWED, Who(triage.user_id, "triase", "10.0.0.4"),
                     datetime(2026, 11, 26, 8, 0, tzinfo=WITA), subject="case:7",
                     details={"case_number": "2026-000007", "shown": ["phone"]})
    everything = _seqs(reader.get("/audit/security"))
    assert everything == [viewed, issued, guest, stranger, late, auditor_login]  # newest first
    # a user: what they did, what concerned their account (a token for them, a failure typed in
    # their name), and names typed as theirs, whatever the case
    assert _seqs(reader.get("/audit/security?user=KOOR.DLH")) == [issued, stranger, late]
    assert _seqs(reader.get("/audit/security?user=tamu")) == [guest]
    assert _seqs(reader.get("/audit/security?action=login_failed")) == [guest, stranger]
    # days of Makassar: 23:30 WITA on the 24th is the 24th (15:30 UTC), 00:30 on the 25th is the 25th
    assert _seqs(reader.get("/audit/security?date_from=2026-11-25&date_to=2026-11-25")) == [issued, guest, stranger]
    assert _seqs(reader.get("/audit/security?date_to=2026-11-24")) == [late, auditor_login]
    assert _seqs(reader.get("/audit/security?date_from=2026-11-26")) == [viewed]
    assert _seqs(reader.get("/audit/security?user=koor.dlh&action=login_failed&date_from=2026-11-25")) == [stranger]
    page = reader.get("/audit/security").get_data(as_text=True)
    assert "Log keamanan" in page and "Rantai log keamanan terverifikasi" in page
    assert "Gagal masuk" in page and "tidak ada akun dengan nama itu" in page  # labels, not codes
    assert 'href="/audit/cases/7"' in page and "Kasus 2026-000007" in page
    assert "Ditampilkan: telepon" in page and "Token API JSON" in page
    empty = reader.get("/audit/security?user=siapa.pun").get_data(as_text=True)
    assert "Tidak ada entri yang cocok dengan filter ini." in empty


def test_an_admin_change_shows_its_old_and_new_values(world, reader):
    with world.services.uow() as uow:
        security_log.admin_change(uow.session, who=Who(None, "admin.kota", "10.0.0.9"),
                                  occurred_at=world.services.clock.now(), entity="agency", key="DLH",
                                  old={"name": "Dinas LH", "active": True}, new={"name": "Dinas Lingkungan Hidup",
                                                                                 "active": True})
        uow.commit()
    html = reader.get("/audit/security?action=admin_changed").get_data(as_text=True)
    assert "Perubahan oleh administrator" in html
    change = re.search(r'<ul class="changes">(.*?)</ul>', html, re.S).group(1)
    # the field and what was changed by their names, the values as recorded
    assert re.sub(r"<[^>]+>", "", change).split() == ["Nama:", "Dinas", "LH", "→", "Dinas", "Lingkungan", "Hidup"]
    assert re.search(r"OPD\s*<span translate=\"no\">DLH</span>\s*diubah", html)


def test_the_log_is_paged_fifty_entries_a_page(world, reader):
    for n in range(54):
        _record(world, SecurityAction.LOGIN_FAILED, Who(None, f"tebak{n}"), details={"reason": "unknown_user"})
    first = _seqs(reader.get("/audit/security"))
    second = _seqs(reader.get("/audit/security?page=2"))
    assert first == list(range(55, 5, -1)) and second == [5, 4, 3, 2, 1]
    assert "Halaman 2 dari 2" in reader.get("/audit/security?page=2").get_data(as_text=True)


@pytest.mark.parametrize("query, message", [
    ("date_from=kemarin", "isi tanggal dengan format TTTT-BB-HH"),
    ("date_to=2026-02-30", "isi tanggal dengan format TTTT-BB-HH"),
    ("date_from=1900-01-01", "isi tanggal antara 2000-01-01 dan 2099-12-31"),
    ("date_from=2026-11-25&date_to=2026-11-24", "tanggal akhir lebih awal dari tanggal awal"),
    ("action=login_hacked", "pilih tindakan dari daftar"),
    ("user=" + "x" * 201, "paling banyak 200 karakter"),
    ("page=0", "harus antara 1 dan"),
    ("page=" + "9" * 40, "harus antara 1 dan"),
])
def test_bad_filters_are_a_400_naming_the_field(reader, query, message):
    for url in (f"/audit/security?{query}", f"/audit/security/export.csv?{query}"):
        response = reader.get(url)
        assert response.status_code == 400, url
        html = response.get_data(as_text=True)
        assert message in html and 'role="alert"' in html, (url, html[-1500:])
        assert 'aria-invalid="true"' in html or "page" in query


@pytest.mark.parametrize("user", ["a\x00b", "lone \ud800 surrogate"])
def test_a_user_filter_with_characters_the_text_rule_refuses_names_the_field(user):
    # (over the web, the boundary already answers such a query string with a 400)
    with pytest.raises(ValidationError) as refused:
        SecurityFilters(user=user).validate()
    assert refused.value.errors == {"user": BAD_TEXT}


def test_the_csv_has_the_same_filter_every_page_and_times_in_the_city(world, reader):
    dlh = world.dlh
    for n in range(60):
        _record(world, SecurityAction.LOGIN_FAILED, Who(None, "koor.dlh", "10.0.0.1"),
                subject_user_id=dlh.user_id, details={"reason": "wrong_password"})
    _record(world, SecurityAction.CREDENTIAL_CREATED, Who(None, "system"),
            datetime(2026, 11, 24, 23, 30, tzinfo=WITA), subject_user_id=dlh.user_id,
            subject="credential:ab12cd34", details={"kind": "token", "name": "=HYPERLINK(\"x\")", "prefix": "ab12cd34"})
    response = reader.get("/audit/security/export.csv?user=koor.dlh")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="security-log-')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["seq", "occurred_at (WITA)", "action"]
    assert len(rows) == 1 + 61  # every page of the filter; not the auditor's own login
    newest = rows[1]
    assert newest[1] == "2026-11-24 23:30:00" and newest[2] == "credential_created"
    assert newest[3] == "Kunci API atau token dibuat" and newest[6] == "koor.dlh"
    assert newest[10].startswith('{"kind": "token", "name": "=HYPERLINK')  # JSON, not a formula cell
    assert rows[2][1] == "2026-11-23 08:00:00"  # the test clock's 00:00 UTC, in Makassar
    semicolons = reader.get("/audit/security/export.csv?user=koor.dlh&action=credential_created&sep=;")
    lines = semicolons.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(lines) == 2 and lines[0].startswith("seq;occurred_at (WITA);action;")
    with world.services.reading() as session:
        hashes = {e.seq: e.hash for e in session.scalars(select(SecurityEvent))}
    assert all(hashes[int(r[0])] == r[12] for r in rows[1:])


def test_the_page_says_when_the_chain_is_broken_and_the_cli_names_the_break(world, reader):
    for n in range(3):
        _record(world, SecurityAction.LOGIN_FAILED, Who(None, f"tebak{n}", "10.0.0.1"))
    settings = world.services.settings
    intact = verify_cli(settings)
    assert intact.exit_code == 0, intact.output
    assert "security log intact (4 events)" in intact.output
    tamper_security(world.services.engine, "UPDATE security_events SET actor_name = 'orang lain' WHERE seq = 3")
    html = reader.get("/audit/security").get_data(as_text=True)
    assert "Rantai log keamanan RUSAK" in html and "Mulai entri 3," in html and "terverifikasi" not in html
    broken = verify_cli(settings)
    assert broken.exit_code == 1
    assert "BROKEN: security log: seq 3 (event 3): content does not match its hash" in broken.output


def test_the_cli_names_deleted_trailing_entries(world):
    for n in range(3):
        _record(world, SecurityAction.LOGIN_FAILED, Who(None, f"tebak{n}"))
    tamper_security(world.services.engine, "DELETE FROM security_events WHERE seq = 3")
    result = verify_cli(world.services.settings)
    assert result.exit_code == 1 and "security log: seq 3: the chain has 2 events, its head says 3" in result.output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("roles", [("supervisor", None), ("triage", "KOMINFO"), ("coordinator", "DLH")])
def test_other_roles_are_refused(world, app, roles):
    world.user("someone", roles)
    client = WebClient(app)
    client.login("someone")
    assert client.get("/audit/security").status_code == 403
    assert client.get("/audit/security/export.csv").status_code == 403
    assert "Log keamanan" not in client.get("/audit" if roles[0] == "supervisor" else "/cases").get_data(as_text=True)


def test_administrators_read_it_and_find_it_from_their_pages(world, app, reader):
    world.user("admin.kota", ("admin", None))
    admin = WebClient(app)
    admin.login("admin.kota")
    assert admin.get("/audit/security").status_code == 200
    assert 'href="/audit/security"' in admin.get("/admin/").get_data(as_text=True)
    assert 'href="/audit/security"' in reader.get("/audit").get_data(as_text=True)
