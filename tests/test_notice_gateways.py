"""The WhatsApp and SMS adapters against a loopback HTTP receiver that checks every request
against the provider's documented JSON shape and answers with the provider's documented
success and error bodies."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from workflow.config import Settings
from workflow.notify.delivery import Deliverer, configured_channels
from workflow.store.models import Incident, OutboxMessage
from workflow.vocabulary import Action

WA_OK = {"messaging_product": "whatsapp", "contacts": [{"input": "628114000123", "wa_id": "628114000123"}],
         "messages": [{"id": "wamid.HBgLNjI4MTE0MDAwMTIzFQIAERgSMDk4QjQ3", "message_status": "accepted"}]}
WA_RATE_LIMITED = {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
                             "error_data": {"messaging_product": "whatsapp",
                                            "details": "Cloud API message throughput has been reached."},
                             "fbtrace_id": "AbCdEf"}}
WA_NO_TEMPLATE = {"error": {"message": "(#132001) Template name does not exist in the translation",
                            "type": "OAuthException", "code": 132001, "fbtrace_id": "AbCdEg"}}
SMS_OK = {"bulkId": "2034072219640523072", "messages": [{
    "to": "628114000123", "messageId": "x",
    "status": {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED",
               "description": "Message sent to next instance"}}]}
SMS_TOO_MANY = {"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}}
SMS_UNAUTHORIZED = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED",
                                                          "text": "Invalid login details"}}}


class Receiver:
    """Answers each request with the next scripted (status, body); records what it received and
    every way a request broke the provider's documented shape."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []
        self.problems: list[str] = []
        self.script: list[tuple[int, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append((self.path, headers, body))
                receiver.check(self.path, headers, body)
                status, reply = receiver.script.pop(0) if receiver.script else (200, receiver.ok(self.path, body))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ok(self, path, body):
        if path.endswith("/messages"):
            return WA_OK
        return {**SMS_OK, "messages": [{**SMS_OK["messages"][0],
                                        "messageId": body["messages"][0]["destinations"][0]["messageId"]}]}

    def check(self, path, headers, body):
        need = self.problems.append
        if headers.get("content-type") != "application/json":
            need("Content-Type is not application/json")
        if path.endswith("/messages"):  # WhatsApp Cloud API, template message
            if headers.get("authorization") != "Bearer wa-token":
                need("no Bearer token")
            if set(body) - {"messaging_product", "recipient_type", "to", "type", "template",
                            "biz_opaque_callback_data"}:
                need(f"unknown keys {set(body)}")
            if body.get("messaging_product") != "whatsapp" or body.get("type") != "template":
                need("not a WhatsApp template message")
            if not str(body.get("to", "")).isdigit():
                need(f"'to' is not a phone number in digits: {body.get('to')}")
            template = body.get("template") or {}
            if not template.get("name") or set(template.get("language", {})) - {"code", "policy"}:
                need("template name or language missing")
            for component in template.get("components", []):
                if component.get("type") != "body":
                    need("only body components are sent")
                for p in component.get("parameters", []):
                    if p.get("type") != "text" or not p.get("text") or "\n" in p["text"]:
                        need(f"bad parameter {p}")
        else:  # Infobip SMS v2, text/advanced
            if headers.get("authorization") != "App sms-key":
                need("no App key")
            for m in body.get("messages", []):
                if set(m) - {"destinations", "from", "text"} or not m.get("text"):
                    need(f"bad message {m}")
                for d in m.get("destinations", []):
                    if not d.get("to", "").isdigit() or not d.get("messageId"):
                        need(f"bad destination {d}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def settings(db_url, tmp_path, receiver):
    return Settings.from_env({
        "TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": db_url,
        "TANGGAP_PUBLIC_URL": "https://lapor.example.id",
        "TANGGAP_WHATSAPP_URL": f"{receiver.url}/v21.0/1234567890/messages", "TANGGAP_WHATSAPP_TOKEN": "wa-token",
        "TANGGAP_SMS_URL": f"{receiver.url}/sms/2/text/advanced", "TANGGAP_SMS_TOKEN": "sms-key",
        "TANGGAP_SMS_TIMEOUT": "5", "TANGGAP_WHATSAPP_TIMEOUT": "5"})


def _deliver(services, **kwargs):
    return Deliverer(services, configured_channels(services), worker="t", **kwargs).run_until_idle(max_rounds=20)


def _rows(services):
    with services.reading() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_whatsapp_sends_the_documented_template_message(world, receiver):
    sub = world.report(notify_by="whatsapp", contact_email=None, contact_phone="0811 4000 123")
    result = _deliver(world.services)
    assert result.sent == 1 and receiver.problems == []
    path, _headers, body = receiver.requests[0]
    assert path == "/v21.0/1234567890/messages"
    assert body["to"] == "628114000123"  # the city's calling code, from the seed data
    assert body["template"]["name"] == "tanggap_report_submitted"
    assert body["template"]["language"]["code"] == "id"
    texts = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    number = world.case(sub.case_id).number
    assert texts[0] == number and texts[1] == sub.tracking_code
    assert texts[2] == f"https://lapor.example.id/lacak/{sub.tracking_code}"
    assert texts[3].startswith("https://lapor.example.id/berhenti/")
    (row,) = _rows(world.services)
    assert body["biz_opaque_callback_data"] == row.key
    sent = [e for e in world.events(sub.case_id) if e.action == Action.NOTIFICATION_SENT]
    assert world.event_data(sent[0])["provider_id"] == WA_OK["messages"][0]["id"]
    assert world.event_data(sent[0])["to"] == "0811 **** 123"


def test_whatsapp_rate_limit_is_retried_and_a_missing_template_is_given_up(world, receiver):
    world.report(notify_by="whatsapp", contact_phone="+62 811 4000 123")
    receiver.script = [(429, WA_RATE_LIMITED)]
    first = _deliver(world.services)
    assert (first.sent, first.retried, first.given_up) == (0, 1, [])
    (row,) = _rows(world.services)
    assert "130429" in row.last_error and row.next_attempt_at is not None
    world.services.clock.set(row.next_attempt_at)
    receiver.script = [(400, WA_NO_TEMPLATE)]
    second = _deliver(world.services)
    assert second.sent == 0 and len(second.given_up) == 1
    with world.services.reading() as session:
        incident = session.get(Incident, second.given_up[0])
    assert "132001" in incident.error and incident.operation == "deliver_notice"
    assert receiver.problems == []


def test_sms_sends_the_documented_infobip_request(world, receiver):
    sub = world.report(notify_by="sms", contact_email=None, contact_phone="0811-4000-123")
    assert _deliver(world.services).sent == 1 and receiver.problems == []
    path, headers, body = receiver.requests[0]
    assert path == "/sms/2/text/advanced"
    message = body["messages"][0]
    assert message["from"] == "Tanggap" and message["destinations"][0]["to"] == "628114000123"
    assert message["destinations"][0]["messageId"] == _rows(world.services)[0].key
    number = world.case(sub.case_id).number
    assert message["text"].startswith(f"Laporan Anda diterima: {number}. https://lapor.example.id/lacak/")
    assert "https://lapor.example.id/berhenti/" in message["text"]


def test_sms_too_many_requests_and_a_wrong_key_wait(world, receiver):
    world.report(notify_by="sms", contact_phone="0811 4000 123")
    receiver.script = [(429, SMS_TOO_MANY)]
    assert _deliver(world.services).retried == 1
    (row,) = _rows(world.services)
    world.services.clock.set(row.next_attempt_at)
    receiver.script = [(401, SMS_UNAUTHORIZED)]  # an operator's mistake: not the recipient's fault
    result = _deliver(world.services)
    assert result.retried == 1 and result.given_up == []
    assert "UNAUTHORIZED" in _rows(world.services)[0].last_error


def test_a_rejected_sms_in_a_200_answer_is_permanent(world, receiver):
    world.report(notify_by="sms", contact_phone="0811 4000 123")
    rejected = {**SMS_OK, "messages": [{**SMS_OK["messages"][0], "status": {
        "groupId": 5, "groupName": "REJECTED", "id": 51, "name": "REJECTED_DESTINATION",
        "description": "Invalid destination address"}}]}
    receiver.script = [(200, rejected)]
    result = _deliver(world.services)
    assert len(result.given_up) == 1 and "REJECTED" in _rows(world.services)[0].last_error


def test_an_unreachable_gateway_is_retried(world, receiver):
    world.report(notify_by="sms", contact_phone="0811 4000 123")
    receiver.close()
    result = _deliver(world.services)
    assert result.retried == 1 and result.given_up == []


def test_a_question_over_several_lines_is_one_whatsapp_variable(world, receiver):
    from workflow import commands

    sub = world.report(notify_by="whatsapp", contact_phone="0811 4000 123")
    _deliver(world.services)
    world.do(commands.request_information, world.triage, sub.case_id,
             question="Di sisi jalan yang mana?\n\tDekat   pasar atau masjid?")
    assert _deliver(world.services).sent == 1 and receiver.problems == []
    body = receiver.requests[-1][2]
    assert body["template"]["name"] == "tanggap_information_requested"
    texts = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert texts[1] == "Di sisi jalan yang mana? Dekat pasar atau masjid?"
    assert "WITA" in texts[2]  # the answer deadline, in the city's time
