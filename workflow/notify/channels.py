"""The adapters that send a rendered notice. Each raises :class:`TemporaryFailure` for what may
work later (a server that is down, a timeout, a "try again") and :class:`PermanentFailure` for
what never will (an address the server refuses); anything else counts as temporary."""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol

import yaml

from workflow.config import Gateway, SmtpSettings
from workflow.notify.notices import TEMPLATES
from workflow.notify.render import Rendered


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


@dataclass(frozen=True)
class Outgoing:
    key: str  # the idempotency key: the Message-ID, the gateway's client reference
    recipient: str
    language: str
    message: Rendered


class Channel(Protocol):
    name: str

    def send(self, outgoing: Outgoing) -> str | None:
        """Send it; the provider's id for it, when it gives one."""

    def close(self) -> None: ...


class SmtpChannel:
    """E-mail over SMTP: one connection, reused while it lasts; plain text and HTML."""

    name = "email"

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                 context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.user:
            smtp.login(s.user, s.password or "")
        return smtp

    def message(self, outgoing: Outgoing) -> EmailMessage:
        m = EmailMessage()
        m["From"] = self.settings.sender
        m["To"] = formataddr(("", outgoing.recipient))
        m["Subject"] = outgoing.message.subject
        m["Date"] = formatdate(localtime=False)
        m["Message-ID"] = f"<{outgoing.key}@{self.settings.domain}>"
        m["Auto-Submitted"] = "auto-generated"
        if outgoing.message.stop_url:
            m["List-Unsubscribe"] = f"<{outgoing.message.stop_url}>"
            m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        m.set_content(outgoing.message.text)
        m.add_alternative(outgoing.message.html, subtype="html")
        m["Content-Language"] = outgoing.language  # after the content: set_content clears Content-*
        return m

    def send(self, outgoing: Outgoing) -> str | None:
        message = self.message(outgoing)
        for attempt in (1, 2):  # a reused connection the server has since closed: once more
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(message, to_addrs=[outgoing.recipient])  # never what To parses to
                return message["Message-ID"]
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                if all(500 <= code < 600 for code in codes):
                    raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
                raise TemporaryFailure(f"recipient deferred: {exc.recipients}") from exc
            except smtplib.SMTPServerDisconnected as exc:
                self._smtp = None
                if attempt == 2:
                    raise TemporaryFailure(f"SMTP server disconnected: {exc}") from exc
            except smtplib.SMTPResponseException as exc:
                self.close()
                failure = PermanentFailure if 500 <= exc.smtp_code < 600 else TemporaryFailure
                raise failure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                raise TemporaryFailure(f"SMTP: {type(exc).__name__}: {exc}") from exc
        return None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


# -- HTTP gateways -------------------------------------------------------------------------------

WHATSAPP_PARAMETERS = yaml.safe_load((TEMPLATES / "whatsapp.yaml").read_text(encoding="utf-8"))
# Cloud API error codes that mean "later": throughput, pair rate limit, a temporary Meta error
WHATSAPP_LATER = {4, 80007, 130429, 131000, 131016, 131056, 133004}


def e164(phone: str, country: str) -> str:
    """Digits only, with the calling code: ``0811 4000 123`` → ``628114000123``."""
    digits = re.sub(r"\D", "", phone)
    if phone.strip().startswith("+"):
        return digits
    if digits.startswith("0"):
        return country + digits[1:]
    return digits if digits.startswith(country) else country + digits


def _post(url: str, headers: dict, body: dict, timeout: float) -> tuple[int, dict]:
    """POST JSON; (status, JSON reply). Network trouble is a temporary failure."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        reply = {"unreadable": raw[:200].decode("utf-8", "replace")}
    if status == 429 or status >= 500:
        raise TemporaryFailure(f"HTTP {status}: {json.dumps(reply)[:300]}")
    return status, reply if isinstance(reply, dict) else {"reply": reply}


def _one_line(text: str | None) -> str:
    """A template variable as Meta accepts it: no newlines or tabs, no runs of spaces, not
    empty, at most 1,024 characters."""
    return (" ".join((text or "").split()) or "-")[:1024]


class WhatsAppChannel:
    """WhatsApp Business Cloud API (``POST /<version>/<phone number id>/messages``): a template
    message per notice, its body variables from ``templates/whatsapp.yaml``; the idempotency key
    travels as ``biz_opaque_callback_data`` and comes back in the delivery webhooks. BSPs that
    expose the same endpoint (360dialog's ``/messages``) fit as well."""

    name = "whatsapp"

    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def body(self, outgoing: Outgoing) -> dict:
        message = outgoing.message
        names = WHATSAPP_PARAMETERS[message.action]
        return {
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": outgoing.recipient,
            "type": "template", "biz_opaque_callback_data": outgoing.key,
            "template": {
                "name": f"{self.gateway.sender}{message.action}",
                "language": {"code": outgoing.language, "policy": "deterministic"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": _one_line(message.facts.get(n))} for n in names]}]}}

    def send(self, outgoing: Outgoing) -> str | None:
        status, reply = _post(self.gateway.url, {"Authorization": f"Bearer {self.gateway.token}"},
                              self.body(outgoing), self.gateway.timeout)
        if status == 200 and reply.get("messages"):
            return reply["messages"][0].get("id")
        error = reply.get("error") or {}
        text = f"HTTP {status}: WhatsApp error {error.get('code')}: {error.get('message')}"
        if error.get("code") in WHATSAPP_LATER or status in (401, 403):  # a token to fix: keep them
            raise TemporaryFailure(text)
        raise PermanentFailure(text)

    def close(self) -> None:
        pass


class SmsChannel:
    """SMS through an HTTP gateway with Infobip's ``POST /sms/2/text/advanced`` format (also
    offered by gateways compatible with it); the idempotency key is the message's ``messageId``."""

    name = "sms"
    PERMANENT_GROUPS = {"REJECTED", "UNDELIVERABLE", "EXPIRED"}

    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def body(self, outgoing: Outgoing) -> dict:
        return {"messages": [{"destinations": [{"to": outgoing.recipient, "messageId": outgoing.key}],
                              "from": self.gateway.sender, "text": outgoing.message.short}]}

    def send(self, outgoing: Outgoing) -> str | None:
        status, reply = _post(self.gateway.url, {"Authorization": f"App {self.gateway.token}"},
                              self.body(outgoing), self.gateway.timeout)
        if status == 200 and reply.get("messages"):
            sent = reply["messages"][0]
            group = (sent.get("status") or {}).get("groupName", "")
            if group in self.PERMANENT_GROUPS:
                raise PermanentFailure(f"SMS {group}: {(sent.get('status') or {}).get('description')}")
            return sent.get("messageId")
        error = ((reply.get("requestError") or {}).get("serviceException") or {})
        text = f"HTTP {status}: {error.get('messageId')}: {error.get('text')}"
        if status in (401, 403):  # a key to fix: the notices wait for it, each retried, then given up
            raise TemporaryFailure(text)
        raise PermanentFailure(text)

    def close(self) -> None:
        pass
