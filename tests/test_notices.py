"""Notices to reporters, sent by the delivery worker through a real SMTP server on loopback
(aiosmtpd), read back as the recipient's mail client would."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests import actions
from tests.helpers import PASSWORD, jpeg_bytes, mail_settings
from tests.webclient import WebClient
from workflow import commands
from workflow.config import Settings
from workflow.notify.delivery import Deliverer, configured_channels
from workflow.store.models import Incident, OutboxMessage, Subscription
from workflow.vocabulary import Action

REPORT = {"category": "sampah", "description": "Sampah menumpuk di depan Pasar Lette.",
          "lat": "-5.1560", "lon": "119.4050", "area": "mariso", "kelurahan": "mariso/lette",
          "address": "Jl. Rajawali", "reporter_name": "Daeng Ngai", "contact_email": "daeng@example.id",
          "contact_phone": "+62 811 4000 123"}
PUBLIC_URL = "https://lapor.example.id"


@pytest.fixture
def settings(db_url, tmp_path, smtp):
    return mail_settings(db_url, tmp_path, smtp, PUBLIC_URL)


def _worker(services, name="t", **kwargs) -> Deliverer:
    return Deliverer(services, configured_channels(services), worker=name, **kwargs)


def _deliver(services, **kwargs):
    worker = _worker(services, **kwargs)
    try:
        return worker.run_until_idle(max_rounds=50)
    finally:
        worker.close()


def _report(web, **overrides):
    data = {**REPORT, "notify_by": "email", **overrides}
    data.setdefault("photo", (io.BytesIO(jpeg_bytes()), "sebelum.jpg"))
    page = "/lapor?lang=en" if overrides.pop("_english", False) else "/lapor"
    response = web.post("/lapor", data, page=page, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    code = response.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    return code


def _case_id(world, code: str) -> int:
    from workflow.store.models import Case, Report

    with world.services.reading() as session:
        return session.scalar(select(Case.id).join(Report).where(
            Report.tracking_hash == world.services.tracking.lookup(code)))


def _to_resolved(w, case_id):
    w.do(actions.triage, w.triage, case_id, decision="valid")
    w.do(actions.accept, w.dlh, case_id)
    w.do(actions.dispatch, w.dlh, case_id, team="qr-mariso-1")
    w.field_work(w.qr_mariso, case_id)
    w.do(actions.verify, w.dlh, case_id, approve=True)
    w.do(actions.close, w.dlh, case_id, closure_note="Sampah sudah diangkut truk DLH.")


def _between(html: str, start: str, end: str) -> str:
    """The part of a page from ``start`` to the first ``end`` after it."""
    part = html[html.index(start):]
    return part[:part.index(end)]


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def _html(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def _links(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


def test_a_case_life_tells_the_reporter_each_step_once(world, app, smtp):
    w, citizen = world, WebClient(app)
    code = _report(citizen)
    case_id = _case_id(w, code)
    _to_resolved(w, case_id)
    first = _deliver(w.services)
    w.citizen(actions.confirm, code)
    second = _deliver(w.services)
    assert (first.sent, second.sent, first.given_up, second.given_up) == (2, 1, [], [])

    box = smtp.box.messages
    number = w.case(case_id).number
    assert [m["Subject"] for m in box] == [
        f"Laporan Anda diterima: {number}", f"Laporan {number} sudah ditangani", f"Laporan {number} ditutup"]
    for message in box:
        assert message["To"] == "daeng@example.id"
        assert message["From"] == "Tanggap Makassar <lapor@example.id>"
        assert message["Message-ID"].startswith(f"<tanggap-{case_id}-")
        assert message["List-Unsubscribe"].strip().startswith(f"<{PUBLIC_URL}/berhenti/")
        body = _text(message)
        # public facts only: nobody's name, phone or description
        for private in ("Daeng", "4000 123", "Pasar Lette", "koor.", "qr."):
            assert private not in body and private not in _html(message)
    received, resolved, closed = (_text(m) for m in box)
    assert code in received and f"{PUBLIC_URL}/lacak/{code}" in received
    assert code not in closed.replace(f"/lacak/{code}", "")  # the code itself only in the first
    assert "Sampah sudah diangkut truk DLH." in resolved
    due = w.services.clock.now()  # the dispute window's end, in WITA, as the reporter reads it
    assert re.search(r"sebelum \d{1,2} \w+ 2026 pukul \d\d\.\d\d WITA", resolved), resolved
    assert f'<a href="{PUBLIC_URL}/lacak/{code}#feedback">' in _html(box[1])
    assert due is not None

    # every link opens a page of the app
    for link in {*_links(received), *_links(resolved), *_links(closed)}:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
        response = citizen.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert response.status_code == 200, link

    # the trail says what was sent, to a masked address, and the status page lists it
    sent = [e for e in w.events(case_id) if e.action == Action.NOTIFICATION_SENT]
    assert [w.event_data(e)["notice"] for e in sent] == ["report_submitted", "case_resolved", "case_closed"]
    assert {w.event_data(e)["to"] for e in sent} == {"d***@example.id"}
    page = citizen.get(f"/lacak/{code}").get_data(as_text=True)
    assert page.count("d***@example.id") == 3 and "daeng@example.id" not in page
    assert "Selesai: e-mail ke d***@example.id" in page  # not "e-mail sampai" (the dates' "to")
    assert w.chain_breaks() == []


def test_english_when_the_reporter_used_english(world, app, smtp):
    citizen = WebClient(app)
    citizen.get("/lapor?lang=en")
    code = _report(citizen)
    _deliver(world.services)
    (message,) = smtp.box.messages
    assert message["Subject"].startswith("Your report was received: ")
    assert message["Content-Language"] == "en"
    assert f"{PUBLIC_URL}/lacak/{code}?lang=en" in _text(message)


def test_not_at_all_sends_nothing_ever(world, app, smtp):
    w, citizen = world, WebClient(app)
    code = _report(citizen, notify_by="none")
    case_id = _case_id(w, code)
    _to_resolved(w, case_id)
    w.citizen(actions.confirm, code)
    assert _deliver(w.services).claimed == 0 and smtp.box.messages == []
    with w.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_the_form_says_an_email_is_needed_to_be_told_by_email(world, app, smtp):
    citizen = WebClient(app)
    data = {**REPORT, "contact_email": "", "notify_by": "email"}
    response = citizen.post("/lapor", data, page="/lapor", content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "alamat e-mail" in page and 'value="Sampah menumpuk di depan Pasar Lette."' not in page
    assert "Sampah menumpuk di depan Pasar Lette." in page  # what was typed is kept
    bogus = citizen.post("/lapor", {**REPORT, "notify_by": "telegram"}, page="/lapor",
                         content_type="multipart/form-data")
    assert bogus.status_code == 400


def test_a_server_down_for_hours_then_back_delivers_each_message_once(world, app, smtp):
    w = world
    sub = w.report()
    _to_resolved(w, sub.case_id)
    smtp.stop()
    for _ in range(4):  # down: every round fails, backs off, keeps the messages
        result = _deliver(w.services)
        assert result.claimed == 2 and result.sent == 0 and result.given_up == []
        assert _deliver(w.services).claimed == 0  # backing off: not tried again at once
        w.services.clock.advance(timedelta(hours=1))
    with w.services.reading() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [r.attempts for r in rows] == [4, 4] and all(r.sent_at is None for r in rows)
    assert "Connection refused" in rows[0].last_error or "SMTP" in rows[0].last_error
    smtp.start()
    assert _deliver(w.services).sent == 2
    assert _deliver(w.services).claimed == 0
    assert sorted(m["Message-ID"] for m in smtp.box.messages) == sorted(
        f"<{r.key}@tanggap.local>" for r in rows)


def test_backoff_grows_with_jitter_and_the_last_attempt_gives_up(world, smtp):
    w = world
    w.report()
    smtp.stop()
    worker = _worker(w.services, max_attempts=3)
    delays = []
    for _ in range(3):
        assert worker.run_once().claimed == 1
        with w.services.reading() as session:
            row = session.scalar(select(OutboxMessage))
        if row.next_attempt_at and not row.failed_at:
            delays.append((row.next_attempt_at - w.services.clock.now()).total_seconds())
            w.services.clock.set(row.next_attempt_at)
    assert 15 <= delays[0] <= 45 and 30 <= delays[1] <= 90  # 30 s, then 60 s, each ±50%
    assert row.failed_at is not None and row.incident_id is not None and row.attempts == 3
    actions_ = w.actions(row.case_id)
    assert actions_[-1] == Action.NOTIFICATION_FAILED


def test_a_refused_address_is_an_incident_an_admin_retries(world, smtp):
    w = world
    sub = w.report()
    smtp.box.refuse = 550
    result = _deliver(w.services)
    assert result.sent == 0 and len(result.given_up) == 1  # permanent: no retries
    with w.services.reading() as session:
        incident = session.get(Incident, result.given_up[0])
    assert incident.operation == "deliver_notice" and "550" in incident.error
    failed = next(e for e in w.events(sub.case_id) if e.action == Action.NOTIFICATION_FAILED)
    for text in (incident.error, json.dumps(w.event_data(failed))):  # the address stays masked
        assert "daeng@example.id" not in text and "d***@example.id" in text
    admin = w.user("admin.kota", ("admin", None))
    smtp.box.refuse = None
    with w.services.uow() as uow:
        assert commands.retry_incident(uow, admin, incident.id) == 1
        uow.commit()
    assert _deliver(w.services).sent == 1
    assert Action.NOTICES_RETRIED in w.actions(sub.case_id)
    assert [m["To"] for m in smtp.box.messages] == ["daeng@example.id"]


def test_a_worker_whose_lease_ran_out_leaves_the_notice_to_its_new_holder(world, smtp):
    w = world
    w.report()
    slow, quick = _worker(w.services, "slow"), _worker(w.services, "quick")
    ids = slow.claim()
    w.services.clock.advance(timedelta(minutes=6))  # slow took too long over earlier notices
    assert quick.run_once().sent == 1
    assert slow.deliver(ids).sent == 0
    slow.close()
    quick.close()
    assert len(smtp.box.messages) == 1
    sent = [e for e in w.events(_rows_case(w)) if e.action == Action.NOTIFICATION_SENT]
    assert len(sent) == 1


def _rows_case(w) -> int:
    with w.services.reading() as session:
        return session.scalar(select(OutboxMessage.case_id))


def test_an_address_a_mail_header_would_read_as_two_is_refused(world):
    from workflow.errors import ValidationError

    for address in ("warga@example.id,root@localhost", "warga@example.id;root", "Warga <warga@example.id>",
                    '"a b"@example.id'):
        with pytest.raises(ValidationError) as refused:
            world.report(contact_email=address)
        assert set(refused.value.errors) == {"contact_email"}, address


def test_two_workers_never_claim_the_same_message(world, smtp):
    w = world
    for _ in range(3):
        w.report()
    first, second = _worker(w.services, "a", batch=2), _worker(w.services, "b", batch=2)
    claimed_a, claimed_b = first.claim(), second.claim()
    assert len(claimed_a) == 2 and len(claimed_b) == 1 and not set(claimed_a) & set(claimed_b)
    assert second.claim() == []  # the rest is leased
    w.services.clock.advance(timedelta(minutes=6))  # a lease that ran out is taken over
    assert len(_worker(w.services, "c", batch=10).claim()) == 3


def test_the_stop_link_stops_the_messages_that_follow(world, app, smtp):
    w, citizen = world, WebClient(app)
    code = _report(citizen)
    case_id = _case_id(w, code)
    _deliver(w.services)
    (received,) = smtp.box.messages
    stop_url = next(link for link in _links(_text(received)) if "/berhenti/" in link)
    path = urlsplit(stop_url).path
    page = citizen.get(path)
    assert page.status_code == 200 and "d***@example.id" in page.get_data(as_text=True)
    assert citizen.get(path[:-3] + "AAA").status_code == 404  # a token is not guessable
    for odd in ("1.%C3%A9", "1.%00", "99999999999999999999.x", "x", "%ED%A0%80"):
        assert citizen.get(f"/berhenti/{odd}").status_code in (400, 404), odd  # never a 500
        assert citizen.client.post(f"/berhenti/{odd}").status_code in (400, 404), odd
    w.do(actions.triage, w.triage, case_id, decision="valid")
    w.do(actions.transfer, w.dlh, case_id, to_agency="DPU", reason="Saluran, bukan sampah")
    done = citizen.client.post(path)  # RFC 8058 one-click: no form, no CSRF token
    assert done.status_code == 200
    queued_before = _deliver(w.services)  # the transfer's notice was queued before the stop
    assert queued_before.stopped == 1 and queued_before.sent == 0
    w.do(actions.transfer, w.dpu, case_id, to_agency="DLH", reason="Kembali ke DLH")
    _deliver(w.services)
    with w.services.reading() as session:  # and nothing is queued after it
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    assert len(smtp.box.messages) == 1
    assert Action.NOTICES_STOPPED in w.actions(case_id)
    assert citizen.client.post(path).status_code == 200  # stopping twice changes nothing
    assert w.actions(case_id).count(Action.NOTICES_STOPPED) == 1


def test_the_reporter_of_a_merged_duplicate_follows_the_case_it_joined(world, smtp):
    w = world
    original = w.report(contact_email="first@example.id", reporter_name="Pertama")
    w.do(actions.triage, w.triage, original.case_id, decision="valid")
    duplicate = w.report(contact_email="second@example.id", reporter_name="Kedua")
    number = w.case(original.case_id).number
    w.do(actions.triage, w.triage, duplicate.case_id, decision="duplicate", duplicate_of=number,
         reason="Sudah dilaporkan")
    _deliver(w.services)
    w.do(actions.accept, w.dlh, original.case_id)
    w.do(actions.dispatch, w.dlh, original.case_id, team="qr-mariso-1")
    w.field_work(w.qr_mariso, original.case_id)
    w.do(actions.verify, w.dlh, original.case_id, approve=True)
    w.do(actions.close, w.dlh, original.case_id, closure_note="Selesai diangkut.")
    _deliver(w.services)
    to_second = [m for m in smtp.box.messages if m["To"] == "second@example.id"]
    assert [m["Subject"].split(":")[0] for m in to_second][:1] == ["Laporan Anda diterima"]
    merged = next(m for m in to_second if "digabung" in m["Subject"])
    assert number in merged["Subject"] and duplicate.tracking_code in _text(merged)
    resolved = next(m for m in to_second if "sudah ditangani" in m["Subject"])
    assert "Selesai diangkut." in _text(resolved)
    # the other reporter's data never reaches this one
    for message in to_second:
        assert "first@example.id" not in message.as_string() and "Pertama" not in _text(message)
    assert original.tracking_code not in "".join(m.as_string() for m in to_second)


def test_the_outbox_command_sends_what_is_due(world, settings, smtp):
    from click.testing import CliRunner

    from tanggap.cli import main

    world.report()
    env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path),
           "TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": str(smtp.port),
           "TANGGAP_SMTP_SECURITY": "none", "TANGGAP_PUBLIC_URL": PUBLIC_URL}
    result = CliRunner().invoke(main, ["outbox", "run", "--until-idle"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 claimed, 1 sent" in result.output
    assert [m["To"] for m in smtp.box.messages] == ["daeng@example.id"]
    unconfigured = CliRunner().invoke(main, ["outbox", "run", "--once"],
                                      env={**env, "TANGGAP_SMTP_HOST": ""})
    assert unconfigured.exit_code == 1 and "TANGGAP_SMTP_HOST" in unconfigured.output


def _supervisor(w, username, scope, email):
    with w.services.uow() as uow:
        commands.create_user(uow, username=username, full_name=username.title(), password=PASSWORD,
                             roles=[("supervisor", scope)], email=email)
        uow.commit()


def test_an_escalation_reaches_the_supervisors_it_is_addressed_to(world, smtp):
    from escalation.sweeper import Sweeper

    w = world
    _supervisor(w, "spv.dlh", "DLH", "spv.dlh@makassarkota.go.id")
    _supervisor(w, "spv.dpu", "DPU", "spv.dpu@makassarkota.go.id")  # another OPD: not told
    _supervisor(w, "spv.kota", None, "spv.kota@makassarkota.go.id")  # city level: told at 200%
    sub = w.report(notify_by="none")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    w.services.clock.set(item.due_at)
    Sweeper(w.services, worker="t").run_once()  # the disposition is late: DLH's supervisors
    assert _deliver(w.services).sent == 1
    (message,) = smtp.box.messages
    number = w.case(sub.case_id).number
    assert message["To"] == "spv.dlh@makassarkota.go.id"
    assert number in message["Subject"] and "Disposisi" in message["Subject"]
    body = _text(message)
    assert f"{PUBLIC_URL}/cases/{sub.case_id}" in body and f"{PUBLIC_URL}/escalations" in body
    assert "List-Unsubscribe" not in message and "Daeng" not in body
    w.services.clock.set(item.created_at + 2 * (item.due_at - item.created_at))
    Sweeper(w.services, worker="t").run_once()  # twice the target: the city's supervisors
    _deliver(w.services)
    assert [m["To"] for m in smtp.box.messages] == ["spv.dlh@makassarkota.go.id", "spv.kota@makassarkota.go.id"]


def test_escalation_mail_can_be_switched_off(world, smtp, settings):
    import dataclasses

    from escalation.sweeper import Sweeper

    w = world
    w.services.settings = dataclasses.replace(settings, escalation_mail="off")
    _supervisor(w, "spv.dlh", "DLH", "spv.dlh@makassarkota.go.id")
    sub = w.report(notify_by="none")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.set(w.item(sub.case_id).due_at)
    Sweeper(w.services, worker="t").run_once()
    assert _deliver(w.services).claimed == 0 and smtp.box.messages == []


def _escalated_cases(w, count: int) -> list[int]:
    """``count`` cases whose disposition went past its deadline, escalated to DLH's supervisor
    in the same sweep."""
    from escalation.sweeper import Sweeper

    case_ids = []
    for _ in range(count):
        sub = w.report(notify_by="none")
        w.do(actions.triage, w.triage, sub.case_id, decision="valid")
        case_ids.append(sub.case_id)
    w.services.clock.set(max(w.item(c).due_at for c in case_ids))
    Sweeper(w.services, worker="t").run_once()
    return case_ids


def _hourly(w, settings):
    import dataclasses

    w.services.settings = dataclasses.replace(settings, escalation_mail="hourly")
    _supervisor(w, "spv.dlh", "DLH", "spv.dlh@makassarkota.go.id")


def test_an_hourly_digest_lists_the_hours_escalations_in_one_message(world, smtp, settings):
    from workflow.notify.notices import digest_hour

    w = world
    _hourly(w, settings)
    first, second = _escalated_cases(w, 2)
    assert _deliver(w.services).claimed == 0  # waits for the top of the hour
    top = digest_hour(w.services.clock.now())
    w.services.clock.set(top - timedelta(seconds=1))
    assert _deliver(w.services).claimed == 0 and smtp.box.messages == []
    w.services.clock.set(top)
    assert _deliver(w.services).sent == 2  # two escalations ...
    (message,) = smtp.box.messages  # ... in one message
    assert message["To"] == "spv.dlh@makassarkota.go.id" and "2 laporan" in message["Subject"]
    body = _text(message)
    for case_id in (first, second):
        assert w.case(case_id).number in body and f"{PUBLIC_URL}/cases/{case_id}" in body
        assert w.actions(case_id)[-1] == Action.NOTIFICATION_SENT  # each case's trail says so
    assert f"{PUBLIC_URL}/escalations" in body and "Daeng" not in body
    assert _deliver(w.services).claimed == 0  # nothing left over


def test_a_digest_that_fails_stays_one_message_and_one_incident(world, smtp, settings):
    w = world
    _hourly(w, settings)
    case_ids = _escalated_cases(w, 2)
    w.services.clock.advance(timedelta(hours=1))
    smtp.stop()
    result = _deliver(w.services)
    assert result.claimed == 2 and result.retried == 1 and result.sent == 0
    with w.services.reading() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert len({r.next_attempt_at for r in rows}) == 1 and all(r.attempts == 1 for r in rows)
    smtp.start()
    smtp.box.refuse = 550
    w.services.clock.set(rows[0].next_attempt_at)
    result = _deliver(w.services)
    (incident_id,) = result.given_up  # the digest is given up whole
    with w.services.reading() as session:
        incident = session.get(Incident, incident_id)
        assert incident.case_id is None  # it spans two cases
        assert sorted(incident.details["messages"]) == [r.id for r in rows]
    for case_id in case_ids:
        assert w.actions(case_id)[-1] == Action.NOTIFICATION_FAILED
    smtp.box.refuse = None
    admin = w.user("admin.kota", ("admin", None))
    with w.services.uow() as uow:
        assert commands.retry_incident(uow, admin, incident_id) == 2
        uow.commit()
    assert _deliver(w.services).sent == 2
    (message,) = smtp.box.messages
    assert all(w.case(c).number in _text(message) for c in case_ids)
    for case_id in case_ids:  # each case's trail says the admin queued it again
        assert Action.NOTICES_RETRIED in w.actions(case_id)


@pytest.mark.parametrize("value,expected", [("immediate", "immediate"), ("on", "immediate"),
                                            ("Hourly", "hourly"), ("off", "off"), ("no", "off")])
def test_the_escalation_mail_setting(value, expected, tmp_path):
    env = {"TANGGAP_INSTANCE": str(tmp_path), "TANGGAP_ESCALATION_MAIL": value}
    assert Settings.from_env(env).escalation_mail == expected


def test_an_unknown_escalation_mail_setting_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="TANGGAP_ESCALATION_MAIL"):
        Settings.from_env({"TANGGAP_INSTANCE": str(tmp_path), "TANGGAP_ESCALATION_MAIL": "weekly"})


def test_the_dashboard_counts_notices_sent_given_up_stopped_and_waiting(world, app, smtp):
    from workflow.commands.notices import stop_notices
    from workflow.read import dashboard
    from workflow.vocabulary import NoticeChannel

    w = world
    w.report()
    assert _deliver(w.services).sent == 1
    w.report(contact_email="penuh@example.id")
    smtp.box.refuse = 550
    assert len(_deliver(w.services).given_up) == 1
    smtp.box.refuse = None
    stopped = w.report(contact_email="cukup@example.id")
    with w.services.reading() as session:
        sub_id = session.scalar(select(Subscription.id).where(Subscription.case_id == stopped.case_id))
    with w.services.uow() as uow:
        stop_notices(uow, w.services.tracking.stop_token(sub_id))
        uow.commit()
    assert _deliver(w.services).stopped == 1
    w.services.clock.advance(timedelta(minutes=5))
    w.report(contact_email="nanti@example.id")  # queued, not yet delivered
    queued_at = w.services.clock.now()
    w.services.clock.advance(timedelta(minutes=30))
    today = w.services.clock.now().astimezone(w.services.zone).date().isoformat()
    with w.services.reading() as session:
        d = dashboard.build(session, dashboard.Period.parse(today, today, None, w.services.zone),
                            w.services.clock.now())
    (email,) = d.notices
    assert email == dashboard.Notices(channel=NoticeChannel.EMAIL, sent=1, given_up=1, stopped=1, waiting=1,
                                      waiting_since=queued_at)
    with w.services.reading() as session:  # another period: only what waits now
        earlier = dashboard.build(session, dashboard.Period.parse("2026-01-01", "2026-01-31", None,
                                                                   w.services.zone), w.services.clock.now())
    assert earlier.notices == [dashboard.Notices(channel=NoticeChannel.EMAIL, waiting=1, waiting_since=queued_at)]
    w.auditor
    web = WebClient(app)
    web.login("inspektorat")
    html = web.get(f"/dashboard?start={today}&end={today}").get_data(as_text=True)
    table = _between(html, 'data-table="notices"', "</table>")
    assert re.search(r"<td>e-mail</td><td>1</td><td>1</td><td>1</td><td>1</td><td>23 Nov 2026 08.05 WITA</td>",
                     table), table
    assert "Menunggu sejak" in table


def test_an_open311_report_with_an_email_hears_each_step_once(world, app, smtp):
    from workflow.commands import credentials
    from workflow.store.models import Case

    w = world
    with w.services.uow() as uow:
        _row, key = credentials.issue(uow, "open311", "Aplikasi warga")
        uow.commit()
    filed = app.test_client().post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "sampah", "lat": "-5.1560", "long": "119.4050",
        "description": "Sampah menumpuk di depan pasar, sudah tiga hari.", "email": "warga311@example.id"})
    assert filed.status_code == 200, filed.get_data(as_text=True)
    number = filed.get_json()[0]["service_request_id"]
    with w.services.reading() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
    assert _deliver(w.services).sent == 1
    (received,) = smtp.box.messages
    code = re.search(r"/lacak/([^\s?#]+)", _text(received)).group(1)  # the mail carries the code
    _to_resolved(w, case_id)
    w.citizen(actions.confirm, code)
    assert _deliver(w.services).sent == 2
    assert [m["Subject"] for m in smtp.box.messages] == [
        f"Laporan Anda diterima: {number}", f"Laporan {number} sudah ditangani", f"Laporan {number} ditutup"]
    assert {m["To"] for m in smtp.box.messages} == {"warga311@example.id"}
    assert _deliver(w.services).claimed == 0


def test_the_case_page_shows_each_message_and_where_it_stands(world, app, smtp):
    w = world
    sub = w.report()
    assert _deliver(w.services).sent == 1
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran, bukan sampah")
    smtp.stop()
    assert _deliver(w.services).retried == 1
    w.dpu
    web = WebClient(app)
    web.login("koor.dpu")
    html = web.get(f"/cases/{sub.case_id}").get_data(as_text=True)
    card = _between(html, 'id="notices"', "</details>")
    assert "Pesan tentang laporan ini (2)" in card
    sent, waiting = card.index('data-notice="sent"'), card.index('data-notice="waiting"')
    assert waiting < sent  # newest first
    rows = card.split("<tr")
    transfer = next(r for r in rows if 'data-notice="waiting"' in r)
    assert "Dilimpahkan" in transfer and "menunggu: dicoba lagi" in transfer and "SMTP" in transfer
    assert "<td>1</td>" in transfer  # one attempt so far
    received = next(r for r in rows if 'data-notice="sent"' in r)
    assert "Laporan masuk" in received and "terkirim" in received
    assert card.count("d***@example.id") == 2 and "daeng@example.id" not in card


def test_a_notice_that_cannot_be_rendered_does_not_hold_up_its_batch(world, smtp):
    from sqlalchemy import update

    w = world
    w.report()
    w.report(contact_email="kedua@example.id")
    with w.services.uow() as uow:  # a fact of the wrong type: rendering it fails
        first = uow.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id))
        uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(
            payload={"case_number": "x", "category": "sampah", "deadline": 5}))
        uow.commit()
    result = _deliver(w.services)
    assert result.sent == 1 and len(result.given_up) == 1 and result.retried == 0
    assert [m["To"] for m in smtp.box.messages] == ["kedua@example.id"]


class _SlowChannel:
    """The SMTP channel, but the first send takes longer than the lease: meanwhile another
    worker takes the notice over."""

    def __init__(self, inner, on_first_send):
        self.inner, self.on_first_send, self.name, self.calls = inner, on_first_send, inner.name, 0

    def send(self, outgoing):
        self.calls += 1
        if self.calls == 1:
            self.on_first_send()
        return self.inner.send(outgoing)

    def close(self):
        self.inner.close()


def test_a_worker_whose_lease_ran_out_during_the_send_does_not_mark_it(world, smtp):
    from workflow.vocabulary import NoticeChannel

    w = world
    sub = w.report()
    slow = _worker(w.services, "slow")
    quick = _worker(w.services, "quick")

    taken = []

    def stall():  # the lease runs out; the other worker takes the notice over, not yet sent
        w.services.clock.advance(timedelta(minutes=6))
        taken.extend(quick.claim())

    slow.channels[NoticeChannel.EMAIL] = _SlowChannel(slow.channels[NoticeChannel.EMAIL], stall)
    assert slow.run_once().sent == 0  # sent (the duplicate window), but no longer its to mark
    assert len(taken) == 1 and quick.deliver(taken).sent == 1  # the holder sends and marks it
    slow.close()
    quick.close()
    assert len(smtp.box.messages) == 2 and len({m["Message-ID"] for m in smtp.box.messages}) == 1
    with w.services.reading() as session:
        row = session.scalar(select(OutboxMessage))
    assert row.attempts == 1 and row.sent_at is not None
    assert [e.action for e in w.events(sub.case_id)].count(Action.NOTIFICATION_SENT) == 1


def test_a_round_gives_its_connection_back_as_it_took_it(world, smtp):
    from sqlalchemy import text

    w = world
    if w.services.engine.dialect.name != "postgresql":
        pytest.skip("the held marking connection is PostgreSQL's")
    w.report()
    assert _deliver(w.services).sent == 1
    with w.services.engine.connect() as conn:  # the pool hands back the connection the round used
        source = conn.execute(text("SELECT source FROM pg_settings WHERE name = 'synchronous_commit'")).scalar()
    assert source != "session"
