"""Notice settings (/admin/notices): which events reporters and followers are told of, and each
template's text, edited in the browser, checked before it is saved, previewed, used by the
delivery worker, and put back to the default; every change in the security log."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.helpers import PASSWORD, World
from tests.test_audit_integrity import owner_and_app_roles  # noqa: F401 - a fixture
from tests.webclient import WebClient, errors
from workflow.commands import settings as settings_commands
from workflow.commands.settings import text_token
from workflow.errors import ValidationError
from workflow.notify import editing
from workflow.notify.delivery import Deliverer, configured_channels
from workflow.store.models import City, NoticeTemplate, OutboxMessage, SecurityEvent
from workflow.vocabulary import SecurityAction

TEMPLATE = "/admin/notices/templates/id/report_submitted"
NEW_TEXT = ("Subject: Terima kasih, laporan {{ case_number }} sudah masuk\n\n"
            "Halo! Laporan {{ category }} Anda tercatat di {{ city }}.\n"
            "{% if tracking_code %}Kode: {{ tracking_code }}{% endif %}\nLihat: {{ status_url }}\n")


@pytest.fixture
def admin_web(world, app, reference_restored):
    world.user("admin", ("admin", None))
    web = WebClient(app)
    web.login("admin")
    return web


def _admin_changes(world) -> list[dict]:
    with world.services.reading() as session:
        return [json.loads(e.details) for e in session.scalars(
            select(SecurityEvent).where(SecurityEvent.action == str(SecurityAction.ADMIN_CHANGED))
            .order_by(SecurityEvent.seq))]


def _textarea(html: str) -> str:
    return unescape(re.search(r'<textarea[^>]*name="body"[^>]*>\r?\n?(.*?)</textarea>', html, re.S).group(1))


def _loaded(html: str, form_id: str = "template-form") -> str:
    form = html[html.index(f'id="{form_id}"'):]
    return re.search(r'name="loaded" type="hidden" value="([^"]*)"', form).group(1)


def _checked(html: str) -> list[str]:
    return re.findall(r'<input[^>]* checked [^>]*name="told" type="checkbox" value="([a-z_]+)"', html)


def _rendered(world, topic: str = "report_submitted"):
    """The newest queued notice of ``topic`` as the delivery worker renders it."""
    with world.services.reading() as session:
        message_id = session.scalar(select(OutboxMessage.id).where(OutboxMessage.topic == topic)
                                    .order_by(OutboxMessage.id.desc()))
    worker = Deliverer(world.services, configured_channels(world.services), worker="t")
    try:
        return worker.prepare([message_id])[1].message
    finally:
        worker.close()


# -- which events are told -----------------------------------------------------------------------------


def test_the_page_lists_the_told_events_by_name_and_every_template(admin_web):
    page = admin_web.get("/admin/notices").get_data(as_text=True)
    assert _checked(page)[:2] == ["report_submitted", "case_transferred"] and len(_checked(page)) == 8
    assert "> Laporan masuk</label>" in page and "> Dilimpahkan</label>" in page  # labels, not codes
    # 8 notices in Indonesian and English, 2 e-mails to staff in Indonesian (the staff's language)
    assert page.count('data-template="') == len(editing.templates()) == 18
    assert page.count(">bawaan<") == 18 and 'data-template="en/staff/' not in page
    assert "TANGGAP_SMTP_*" in page and "diatur di lingkungan server, bukan di halaman ini" in page
    assert "Server ini mengirimnya lewat: e-mail." in page


def test_an_event_made_quiet_is_no_longer_told_and_the_change_is_logged(world, admin_web):
    page = admin_web.get("/admin/notices").get_data(as_text=True)
    told = _checked(page)
    assert "report_submitted" in told
    keep = [a for a in told if a != "report_submitted"]
    response = admin_web.post("/admin/notices", {"told": keep, "loaded": _loaded(page, "told-form")})
    assert response.status_code == 302
    assert "Tersimpan: mulai sekarang" in admin_web.get("/admin/notices").get_data(as_text=True)
    with world.services.reading() as session:
        assert session.scalar(select(City.quiet_notices)) == ["report_submitted"]
    (change,) = _admin_changes(world)
    assert change == {"entity": "city", "key": "makassar", "change": "changed",
                      "fields": {"quiet_notices": {"old": [], "new": ["report_submitted"]}}}
    world.report()  # the reporter leaves an e-mail address and is told by e-mail: not of this
    with world.services.reading() as session:
        assert session.scalar(select(OutboxMessage.id).where(OutboxMessage.topic == "report_submitted")) is None


@pytest.mark.parametrize("told, message", [
    (["report_submitted", "task_claimed"], "Pilih di antara pesan yang tercantum"),
    (["bogus"], "Pilih di antara pesan yang tercantum"),
    (["report_submitted\x00"], "karakter yang tidak diizinkan"),
])
def test_events_that_cannot_be_told_are_refused(world, admin_web, told, message):
    response = admin_web.post("/admin/notices", {"told": told, "loaded": ""})
    assert response.status_code == 400 and any(message.lower() in e.lower() for e in errors(response))
    with world.services.reading() as session:
        assert session.scalar(select(City.quiet_notices)) == []
    assert _admin_changes(world) == []


def test_two_administrators_choosing_the_events_at_once_get_a_conflict(world, admin_web):
    loaded = _loaded(admin_web.get("/admin/notices").get_data(as_text=True), "told-form")
    with world.services.uow() as uow:  # meanwhile another administrator made transfers quiet
        uow.session.scalar(select(City)).quiet_notices = ["case_transferred"]
        uow.commit()
    response = admin_web.post("/admin/notices", {"told": ["report_submitted"], "loaded": loaded})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Orang lain mengubah pesan yang dikirim sejak Anda membuka halaman ini" in body
    assert _checked(body) == ["report_submitted"]  # as typed
    with world.services.reading() as session:
        assert session.scalar(select(City.quiet_notices)) == ["case_transferred"]
    assert _loaded(body, "told-form") == "case_transferred"


# -- template texts ------------------------------------------------------------------------------------


def test_the_editor_shows_the_text_in_use_a_preview_and_the_facts(admin_web):
    page = admin_web.get(TEMPLATE).get_data(as_text=True)
    default = editing.find("id", "report_submitted").default_text()
    assert _textarea(page) == default
    assert "Laporan Anda diterima: 2026-000123" in page  # the sample's subject
    assert "ABCD-EFGH" in page and "Kota Makassar" in page
    assert "<code>tracking_code</code>" in page and "kode lacak (hanya dalam pesan pertama kepada pelapor)" in page
    assert 'id="default-form"' not in page  # nothing to put back
    digest = admin_web.get("/admin/notices/templates/id/staff/escalation_raised_digest").get_data(as_text=True)
    assert "<code>escalations.case_number</code>" in digest and "Ringkasan eskalasi" in digest
    assert "2026-000124" in digest  # the sample digest lists two escalations


def test_a_saved_text_is_what_the_delivery_worker_sends_and_the_default_comes_back(world, admin_web):
    page = admin_web.get(TEMPLATE).get_data(as_text=True)
    response = admin_web.post(TEMPLATE, {"body": NEW_TEXT.replace("\n", "\r\n"), "loaded": _loaded(page),
                                         "save": "1"})
    assert response.status_code == 302
    page = admin_web.get(TEMPLATE).get_data(as_text=True)
    assert "Templat disimpan" in page and _textarea(page) == NEW_TEXT
    assert "Diubah oleh admin pada" in page
    assert "diubah oleh admin pada" in admin_web.get("/admin/notices").get_data(as_text=True)
    sub = world.report()
    rendered = _rendered(world)
    assert rendered.subject == f"Terima kasih, laporan {sub.case_number} sudah masuk"
    assert "Halo! Laporan Sampah Anda tercatat di Kota Makassar." in rendered.text
    assert f"Kode: {sub.tracking_code}" in rendered.text
    assert "Berhenti menerima kabar laporan ini: http" in rendered.text  # the stop link, as always
    response = admin_web.post(f"{TEMPLATE}/default", {"loaded": _loaded(page, "default-form")})
    assert response.status_code == 302
    assert _textarea(admin_web.get(TEMPLATE).get_data(as_text=True)) == editing.find("id", "report_submitted").default_text()
    world.report(contact_email="kedua@example.id")
    assert _rendered(world).subject.startswith("Laporan Anda diterima: ")
    saved, restored = _admin_changes(world)
    default = editing.find("id", "report_submitted").default_text()
    assert saved["entity"] == "notice_template" and saved["key"] == "id/report_submitted"
    assert saved["fields"] == {"text": {"old": default, "new": NEW_TEXT}, "changed": {"old": False, "new": True}}
    assert restored["fields"] == {"text": {"old": NEW_TEXT, "new": default}, "changed": {"old": True, "new": False}}
    with world.services.reading() as session:
        assert session.scalar(select(NoticeTemplate.id)) is None


def test_a_preview_shows_the_typed_text_for_a_sample_and_saves_nothing(world, admin_web):
    page = admin_web.get(TEMPLATE).get_data(as_text=True)
    response = admin_web.post(TEMPLATE, {"body": NEW_TEXT, "loaded": _loaded(page), "preview": "1"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Terima kasih, laporan 2026-000123 sudah masuk" in body and _textarea(body) == NEW_TEXT
    with world.services.reading() as session:
        assert session.scalar(select(NoticeTemplate.id)) is None
    assert _admin_changes(world) == []


BAD_TEXTS = [
    ("", "wajib diisi"),
    ("Halo {{ case_number }}\n", "baris pertama harus subjek"),
    ("Subject:   \nIsi\n", "baris pertama harus subjek"),
    ("Subject: Laporan {{ case_number }\n", "templat tidak dapat dibaca pada baris 1"),
    ("Subject: x\n\n{% if yours %}tanpa penutup\n", "templat tidak dapat dibaca pada baris"),
    ("Subject: x\n\n{{ nomor_laporan }}\n", "baris 3: nomor_laporan bukan data pesan ini"),
    ("Subject: x\n\n{% if false %}{{ reporter_phone }}{% endif %}\n", "reporter_phone bukan data pesan ini"),
    ("Subject: x\n\n{% set a = city %}{{ a }}\n", "{% set %} tidak diizinkan"),
    ("Subject: x\n\n{% include 'id/case_closed.txt' %}\n", "{% include %} tidak diizinkan"),
    ("Subject: x\n\n{{ city.upper() }}\n", "( ) tidak diizinkan"),
    ("Subject: x\n\n{{ city|center(100000000) }}\n", "tidak ada filter center"),
    ("Subject: x\n\n{% for i in range(100000) %}x{% endfor %}\n", "hanya boleh menelusuri daftar"),
    ("Subject: x\n\n{{ city * 1000000 }}\n", "terlalu panjang"),
    ("Subject: x\n\n{{ 9 ** 999999 }}\n", "tidak diizinkan"),
    ("Subject: x\n\n{{ city.__class__.__mro__ }}\n", "tidak diizinkan"),
    ("Subject: x\n\n{{ case_number.nomor }}\n", "dengan cara yang tidak dapat dipakai"),
    ("Subject: {% if yours %}x{% endif %}\n\nIsi\n", "subjek kosong untuk sebagian pesan"),
    ("Subject: x\n\nIsi\x00\n", "karakter yang tidak diizinkan"),
    ("Subject: x\n\n" + "Panjang sekali. " * 400, "paling banyak 5000 karakter"),
]


@pytest.mark.parametrize("text, message", BAD_TEXTS)
def test_a_text_that_cannot_be_used_is_refused_with_what_was_typed(world, admin_web, text, message):
    page = admin_web.get(TEMPLATE).get_data(as_text=True)
    for button in ("save", "preview"):
        response = admin_web.post(TEMPLATE, {"body": text, "loaded": _loaded(page), button: "1"})
        body = response.get_data(as_text=True)
        assert response.status_code == 400, (button, errors(response))
        assert any(message.lower() in unescape(e).lower() for e in errors(response)), errors(response)
        assert 'aria-invalid="true"' in body
        if "\x00" not in text:
            assert _textarea(body).rstrip("\n") == text.rstrip("\n")
    with world.services.reading() as session:
        assert session.scalar(select(NoticeTemplate.id)) is None
    assert _admin_changes(world) == []


def test_two_administrators_editing_a_template_at_once_get_a_conflict(world, admin_web, app):
    loaded = _loaded(admin_web.get(TEMPLATE).get_data(as_text=True))
    world.user("admin2", ("admin", None))
    other = WebClient(app)
    other.login("admin2")
    theirs = NEW_TEXT.replace("Halo!", "Salam!")
    assert other.post(TEMPLATE, {"body": theirs, "loaded": loaded, "save": "1"}).status_code == 302
    late = admin_web.post(TEMPLATE, {"body": NEW_TEXT, "loaded": loaded, "save": "1"})
    body = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Orang lain mengubah templat ini sejak Anda membukanya" in body
    assert _textarea(body) == NEW_TEXT and "Salam!" in body  # theirs is shown below, mine stays
    with world.services.reading() as session:
        assert session.scalar(select(NoticeTemplate.body)) == theirs
    again = admin_web.post(TEMPLATE, {"body": NEW_TEXT, "loaded": _loaded(body), "save": "1"})
    assert again.status_code == 302
    with world.services.reading() as session:
        assert session.scalar(select(NoticeTemplate.body)) == NEW_TEXT
    stale = admin_web.post(f"{TEMPLATE}/default", {"loaded": text_token(theirs)})
    assert stale.status_code == 409 and "periksa teksnya yang sekarang" in stale.get_data(as_text=True)
    assert admin_web.post(f"{TEMPLATE}/default", {"loaded": text_token(NEW_TEXT)}).status_code == 302
    twice = admin_web.post(f"{TEMPLATE}/default", {"loaded": text_token(NEW_TEXT)})
    assert twice.status_code == 409 and "sudah memakai teks bawaan" in twice.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/admin/notices/templates/xx/report_submitted",
                                 "/admin/notices/templates/id/email",
                                 "/admin/notices/templates/id/../en/report_submitted",
                                 "/admin/notices/templates/id/whatsapp",
                                 "/admin/notices/templates/id/staff",
                                 "/admin/notices/templates/id/staff/../report_submitted",
                                 "/admin/notices/templates/en/staff/escalation_raised"])  # staff read Indonesian
def test_a_template_that_does_not_exist_is_a_404(admin_web, url):
    assert admin_web.get(url).status_code == 404
    assert admin_web.post(url, {"body": NEW_TEXT, "loaded": "", "save": "1"}).status_code == 404


def test_every_default_text_passes_the_check_it_is_edited_with(world):
    with world.services.reading() as session:
        sample = editing.Sample.read(session, world.services.definition, public_url="https://lapor.example.id",
                                     zone=ZoneInfo("Asia/Makassar"), now=datetime(2026, 11, 23, tzinfo=timezone.utc))
    for template in editing.templates():
        assert editing.problems(template, template.default_text(), sample) == [], template
        assert editing.preview(template, template.default_text(), sample).subject


def test_the_command_refuses_what_a_form_cannot_carry_and_non_administrators(world):
    admin = settings_commands.Admin(world.user("admin", ("admin", None)))
    coordinator = settings_commands.Admin(world.dlh)
    with pytest.raises(ValidationError) as refused, world.services.uow() as uow:
        settings_commands.save_notice_template(uow, admin, language="id", name="report_submitted",
                                               text="Subject: x\n\nIsi\ud800\n", loaded="")
    assert list(refused.value.errors) == ["body"]
    from workflow.errors import PermissionDenied

    with pytest.raises(PermissionDenied), world.services.uow() as uow:
        settings_commands.set_told_notices(uow, coordinator, told=[], loaded="")
    with world.services.reading() as session:
        assert session.scalar(select(City.quiet_notices)) == []
    assert World(world.services).table_counts()["notice_templates"] == 0


@pytest.mark.parametrize("mode, name", [("immediate", "staff/escalation_raised"),
                                        ("hourly", "staff/escalation_raised_digest")])
def test_an_e_mail_to_supervisors_uses_the_saved_text(world, admin_web, settings, mode, name):
    import dataclasses

    from escalation.sweeper import Sweeper
    from tests import actions
    from workflow import commands
    from workflow.store.models import WorkItem

    w = world
    w.services.settings = dataclasses.replace(settings, escalation_mail=mode)
    w.triage
    with w.services.uow() as uow:
        commands.create_user(uow, username="spv.dlh", full_name="Spv Dlh", password=PASSWORD,
                             roles=[("supervisor", "DLH")], email="spv.dlh@makassarkota.go.id")
        uow.commit()
    url = f"/admin/notices/templates/id/{name}"
    text = ("Subject: Terlambat: {{ escalations|length }} laporan\n\n{% for e in escalations %}{{ e.case_number }} "
            "{% endfor %}\n" if mode == "hourly" else "Subject: Terlambat: {{ case_number }} ({{ level }})\n\n"
            "Buka {{ case_url }}\n")
    page = admin_web.get(url).get_data(as_text=True)
    assert admin_web.post(url, {"body": text, "loaded": _loaded(page), "save": "1"}).status_code == 302
    sub = w.report(notify_by="none")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    with w.services.reading() as session:
        due = session.scalar(select(WorkItem.due_at).where(WorkItem.case_id == sub.case_id,
                                                           WorkItem.completed_at.is_(None)))
    w.services.clock.set(due)
    Sweeper(w.services, worker="t").run_once()
    rendered = _rendered(w, "escalation_raised")
    number = w.case(sub.case_id).number
    if mode == "hourly":
        assert rendered.subject == "Terlambat: 1 laporan" and rendered.text.strip() == number
    else:
        assert rendered.subject.startswith(f"Terlambat: {number} (") and f"/cases/{sub.case_id}" in rendered.text


@pytest.mark.postgres_only
def test_the_app_role_may_remove_what_administrators_remove(owner_and_app_roles, tmp_path, clock, definition):  # noqa: F811
    """Removing a calendar day and putting a template back to its default are DELETEs, which
    `tanggap db grant` gives the app role for those two tables only."""
    from escalation.wiring import build
    from tests.helpers import FAST_PASSWORDS
    from workflow.config import Settings
    from workflow.store.models import CalendarDay

    _owner_url, app_url = owner_and_app_roles
    services = build(Settings.from_env({"DATABASE_URL": app_url, "TANGGAP_INSTANCE": str(tmp_path / "instance")}),
                     clock=clock, definition=definition, passwords=FAST_PASSWORDS)
    try:
        admin = settings_commands.Admin(World(services).user("admin", ("admin", None)))
        default = editing.find("id", "case_closed").default_text()
        with services.uow() as uow:
            settings_commands.add_calendar_day(uow, admin, day="2026-12-24", kind="cuti_bersama", note="Natal")
            settings_commands.save_notice_template(uow, admin, language="id", name="case_closed",
                                                   text=default.replace("ditutup", "selesai"), loaded=text_token(default))
            uow.commit()
        with services.uow() as uow:
            day_id = uow.session.scalar(select(CalendarDay.id).where(CalendarDay.note == "Natal"))
            settings_commands.remove_calendar_day(uow, admin, day_id)
            settings_commands.reset_notice_template(uow, admin, language="id", name="case_closed",
                                                    loaded=text_token(editing.normalized(default.replace("ditutup", "selesai"))))
            uow.commit()
        with services.reading() as session:
            assert session.scalar(select(CalendarDay.id).where(CalendarDay.note == "Natal")) is None
            assert session.scalar(select(NoticeTemplate.id)) is None
    finally:
        services.dispose()


def test_every_fact_a_template_is_given_is_described_on_its_page(world):
    from web.admin_settings import FACTS

    with world.services.reading() as session:
        sample = editing.Sample.read(session, world.services.definition, public_url="https://lapor.example.id",
                                     zone=ZoneInfo("Asia/Makassar"), now=datetime(2026, 11, 23, tzinfo=timezone.utc))
    for template in editing.templates():
        assert [n for n in editing.facts_of(template, sample) if not FACTS.get(n.rpartition(".")[2])] == [], template
