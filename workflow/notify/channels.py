"""The adapters that send a rendered notice. Each raises :class:`TemporaryFailure` for what may
work later (a server that is down, a timeout, a "try again") and :class:`PermanentFailure` for
what never will (an address the server refuses); anything else counts as temporary."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Protocol

from workflow.config import SmtpSettings
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
                self._smtp.send_message(message)
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
