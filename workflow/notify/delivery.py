"""The delivery worker: send queued notices, any number of workers at once.

One round:

1. **Claim** up to ``batch`` rows due for sending on a configured channel, skipping rows another
   worker holds a live lease on, rows waiting out a backoff and rows given up on; take a lease.
   PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so workers claim disjoint rows. SQLite: the claim runs
   in a ``BEGIN IMMEDIATE`` transaction, so claims are serialized.
2. **Send** each, outside any transaction, then mark it sent with an audit event
   (``notification_sent``) in the case's trail. A crash between sending and marking is the only
   way a notice goes out twice; its idempotency key (the Message-ID, the gateway's reference)
   stays the same, so the receiving side can tell.
3. **On failure**, ``attempts + 1`` and an exponential backoff with jitter; a permanent failure,
   or the last attempt, gives up: an incident for the administrators (retryable from
   ``/admin/incidents``) and ``notification_failed`` in the trail.

A worker that dies loses nothing: its leases expire and another worker takes the rows.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from jinja2 import TemplateError
from sqlalchemy import and_, or_, select, text, update

from workflow.access import Actor
from workflow.notify import notices
from workflow.notify.channels import (
    Channel,
    Outgoing,
    PermanentFailure,
    SmsChannel,
    SmtpChannel,
    TemporaryFailure,
    WhatsAppChannel,
    e164,
)
from workflow.notify.notices import staff_actions
from workflow.notify.render import CASE_PATH, ESCALATIONS_PATH, links, local_date, render
from workflow.rounds import run_rounds
from workflow.services import Services
from workflow.store.models import Agency, Case, Category, Incident, OutboxMessage, Subscription
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.text import mask
from workflow.vocabulary import Action, NoticeChannel, Operation

log = logging.getLogger("tanggap.outbox")

SYSTEM = Actor.system().ref()


def configured_channels(services: Services) -> dict[NoticeChannel, Channel]:
    settings = services.settings
    channels: dict[NoticeChannel, Channel] = {}
    if settings.smtp is not None:
        channels[NoticeChannel.EMAIL] = SmtpChannel(settings.smtp)
    if settings.whatsapp is not None:
        channels[NoticeChannel.WHATSAPP] = WhatsAppChannel(settings.whatsapp)
    if settings.sms is not None:
        channels[NoticeChannel.SMS] = SmsChannel(settings.sms)
    for missing in set(NoticeChannel) - set(channels):
        log.info("channel %s is not configured: its notices wait until it is", missing)
    return channels


@dataclass
class RoundResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    stopped: int = 0  # the recipient used the stop link after the notice was queued
    given_up: list[int] = field(default_factory=list)  # incident ids


class Deliverer:
    def __init__(self, services: Services, channels: dict[NoticeChannel, Channel], *,
                 worker: str, batch: int = 50, lease: timedelta = timedelta(minutes=5),
                 max_attempts: int = 12, backoff: timedelta = timedelta(seconds=30),
                 max_backoff: timedelta = timedelta(hours=1), rng: random.Random | None = None):
        """With the defaults a notice is tried for about five hours before it is given up."""
        self.services, self.channels, self.worker = services, channels, worker
        self.batch, self.lease, self.max_attempts = batch, lease, max_attempts
        self.backoff, self.max_backoff = backoff, max_backoff
        self.rng = rng or random.Random()
        self._names: Names | None = None

    # -- claiming ------------------------------------------------------------------------------

    def claim(self) -> list[int]:
        if not self.channels:
            return []
        now = self.services.clock.now()
        due = and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
                   OutboxMessage.channel.in_(list(self.channels)),
                   or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
                   or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
        with self.services.uow() as uow:
            query = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(self.batch)
            if uow.session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(uow.session.scalars(query))
            if ids:
                uow.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                    .values(lease_owner=self.worker, lease_expires_at=now + self.lease))
            uow.commit()
        return ids

    def run_once(self) -> RoundResult:
        return self.deliver(self.claim())

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()

    def deliver(self, ids: list[int]) -> RoundResult:
        """Send the claimed notices ``ids``, one at a time, each only while its lease holds."""
        result = RoundResult(claimed=len(ids))
        if ids:
            with self.services.reading() as session:
                self._names = Names.read(session)  # reference data, read once a round
        for message_id in ids:
            self._deliver(message_id, result)
        return result

    def run_until_idle(self, max_rounds: int = 10_000) -> RoundResult:
        """Rounds until nothing is due (notices in backoff wait for a later run)."""
        total = RoundResult()
        for _ in range(max_rounds):
            result = self.run_once()
            total.claimed += result.claimed
            total.sent += result.sent
            total.retried += result.retried
            total.stopped += result.stopped
            total.given_up += result.given_up
            if not result.claimed:
                break
        return total

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        run_rounds(self.run_once, claimed=lambda r: r.claimed, batch=self.batch, interval=interval,
                   stop=stop, log=log, empty=RoundResult(), describe=lambda r: (
                       f"outbox: {r.claimed} claimed, {r.sent} sent, {r.retried} to retry, "
                       f"{len(r.given_up)} given up"))
        self.close()

    # -- one notice ----------------------------------------------------------------------------

    def _deliver(self, message_id: int, result: RoundResult) -> None:
        if not self._still_mine(message_id):  # the lease ran out while earlier notices were sent
            return
        try:
            outgoing = self.prepare(message_id)
        except (TemplateError, KeyError, ValueError) as exc:  # the notice itself is broken: give up
            log.warning("notice %s could not be rendered: %s", message_id, exc)
            self._failed(message_id, exc, result, permanent=True)
            return
        except Exception as exc:  # noqa: BLE001 - a database hiccup: try again later
            log.warning("notice %s could not be prepared: %s", message_id, exc)
            self._failed(message_id, exc, result, permanent=False)
            return
        if outgoing is None:
            result.stopped += 1
            return
        channel, item = outgoing
        try:
            provider_id = channel.send(item)
        except Exception as exc:  # noqa: BLE001 - every failure is retried or recorded
            exc = _masked(exc, item.recipient)
            log.warning("notice %s to %s failed: %s", message_id, mask(item.recipient), exc)
            self._failed(message_id, exc, result, permanent=isinstance(exc, PermanentFailure))
            return
        if self._sent(message_id, provider_id):
            result.sent += 1

    def _still_mine(self, message_id: int) -> bool:
        with self.services.reading() as session:
            row = session.get(OutboxMessage, message_id)
            return (row is not None and row.sent_at is None and row.lease_owner == self.worker
                    and row.lease_expires_at is not None and row.lease_expires_at > self.services.clock.now())

    def prepare(self, message_id: int) -> tuple[Channel, Outgoing] | None:
        """The notice rendered for its recipient, or None when they stopped notices since."""
        services = self.services
        with services.reading() as session:  # the write transaction is the marking, after sending
            row = session.get(OutboxMessage, message_id)
            if row.subscription_id is None and row.topic in staff_actions():
                return self.channels[row.channel], self._to_staff(row, self._names or Names.read(session))
            sub = session.get(Subscription, row.subscription_id) if row.subscription_id else None
            if sub is None or sub.stopped_at is not None:
                self._stopped(message_id)
                return None
            case = session.get(Case, row.case_id)
            names = self._names or Names.read(session)
            language = sub.language
            code = services.tracking.unseal(sub.sealed_code) if sub.sealed_code else None
            facts = dict(row.payload)
            category = names.categories.get(facts.get("category"))
            agency = names.agencies.get(facts.get("agency") or names.agency_codes.get(case.agency_id))
            merged = session.get(Case, case.merged_into_id) if case.merged_into_id else None
            context = {
                "case_number": case.number, "city": names.city,
                "category": category[language == "en"] if category else "",
                "agency": agency,
                "question": facts.get("question"), "reason": facts.get("reason"),
                "closure_note": facts.get("closure_note"),
                "merged_into": merged.number if merged else None,
                "deadline": local_date(facts.get("deadline"), services.zone, language),
                "tracking_code": code if row.topic == Action.REPORT_SUBMITTED else None,
                **links(services.settings.public_url, code, services.tracking.stop_token(sub.id), language),
            }
            rendered = render(row.topic, language, context)
            recipient = row.recipient if row.channel == NoticeChannel.EMAIL else e164(
                row.recipient, names.phone_country)
            return self.channels[row.channel], Outgoing(key=row.key or f"tanggap-outbox-{row.id}",
                                                        recipient=recipient, language=language,
                                                        message=rendered)

    def _to_staff(self, row: OutboxMessage, names: Names) -> Outgoing:
        """A message to the staff it is addressed to, in Indonesian (the staff screens' language),
        linking to their screens."""
        facts, language, definition = dict(row.payload), "id", self.services.definition
        base = self.services.settings.public_url.rstrip("/")
        category = names.categories.get(facts.get("category"))
        context = {
            "case_number": facts["case_number"], "city": names.city,
            "category": category[0] if category else "", "agency": names.agencies.get(facts.get("agency")),
            "level": definition.level_label(facts.get("level") or "", language),
            "task": definition.label(facts.get("task"), language),
            "case_url": f"{base}{CASE_PATH.format(case_id=facts['case_id'])}",
            "escalations_url": f"{base}{ESCALATIONS_PATH}"}
        return Outgoing(key=row.key or f"tanggap-outbox-{row.id}", recipient=row.recipient, language=language,
                        message=render(f"staff/{row.topic}", language, context))

    def _stopped(self, message_id: int) -> None:
        with self.services.uow() as uow:
            row = uow.session.get(OutboxMessage, message_id)
            row.failed_at, row.last_error = uow.clock.now(), "the recipient stopped these notices"
            row.lease_owner = row.lease_expires_at = None
            uow.commit()

    def _sent(self, message_id: int, provider_id: str | None) -> bool:
        with self.services.uow() as uow:
            if uow.session.bind.dialect.name == "postgresql":
                # Committed without waiting for the disk: the worker goes on at once. Only a crash
                # of the database server in the next fraction of a second can lose the mark, and
                # then the notice is sent again under the same key (never lost).
                uow.session.execute(text("SET LOCAL synchronous_commit = off"))
            row = uow.session.get(OutboxMessage, message_id, with_for_update=True)
            if row.sent_at is not None or row.lease_owner != self.worker:
                return False  # another worker took it over after our lease ran out, and marks it
            row.sent_at = uow.clock.now()
            row.attempts += 1
            row.lease_owner = row.lease_expires_at = None
            row.last_error = None
            self._record(uow, row, Action.NOTIFICATION_SENT, {"provider_id": provider_id})
            uow.commit()
        return True

    def _failed(self, message_id: int, exc: Exception, result: RoundResult, *, permanent: bool) -> None:
        now = self.services.clock.now()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with self.services.uow() as uow:
            row = uow.session.get(OutboxMessage, message_id, with_for_update=True)
            if row.sent_at is not None or row.lease_owner != self.worker:
                return  # no longer ours: the worker that holds it now decides
            row.attempts += 1
            row.last_error = error
            row.lease_owner = row.lease_expires_at = None
            give_up = permanent or row.attempts >= self.max_attempts
            if give_up:
                incident = Incident(occurred_at=now, case_id=row.case_id, operation=Operation.DELIVER_NOTICE,
                                    task_name=None, error=error,
                                    details={"message": row.id, "notice": row.topic, "channel": str(row.channel),
                                             "attempts": row.attempts, "worker": self.worker})
                uow.session.add(incident)
                uow.session.flush()
                row.failed_at, row.incident_id = now, incident.id
                self._record(uow, row, Action.NOTIFICATION_FAILED, {"error": error[:300], "incident": incident.id})
                result.given_up.append(incident.id)
            else:
                delay = self.backoff * 2 ** (row.attempts - 1) * self.rng.uniform(0.5, 1.5)  # jitter: no herd
                row.next_attempt_at = now + min(delay, self.max_backoff)
                result.retried += 1
            uow.commit()

    @staticmethod
    def _record(uow: UnitOfWork, row: OutboxMessage, action: Action, extra: dict) -> None:
        """The case's trail says the notice went out (or was given up), to a masked address."""
        if row.case_id is None:
            return
        notices.record(uow, row.case_id, SYSTEM, action, {
            "notice": row.topic, "channel": str(row.channel), "to": mask(row.recipient or ""),
            "message": row.id, "attempts": row.attempts, **extra})


@dataclass(frozen=True)
class Names:
    """The reference data a notice names: the city, categories (Indonesian, English) and
    agencies by code."""

    city: str
    phone_country: str
    categories: dict[str, tuple[str, str]]
    agencies: dict[str, str]
    agency_codes: dict[int, str]

    @classmethod
    def read(cls, session) -> Names:
        refs = References(session)
        return cls(city=refs.city.name, phone_country=refs.city.phone_country,
                   categories={c.code: (c.name_id, c.name_en) for c in session.scalars(select(Category))},
                   agencies={a.code: a.name for a in session.scalars(select(Agency))},
                   agency_codes={a.id: a.code for a in session.scalars(select(Agency))})


def _masked(exc: Exception, recipient: str) -> Exception:
    """The failure with the recipient's address masked: it goes into incidents and the trail."""
    text = str(exc)
    if not recipient or recipient not in text:
        return exc
    kind = type(exc) if isinstance(exc, (PermanentFailure, TemporaryFailure)) else TemporaryFailure
    return kind(text.replace(recipient, mask(recipient)))


def start_in_background(services: Services, worker: str, interval: float = 15.0):
    """The embedded mode's in-process delivery worker (``tanggap serve``); None without channels."""
    channels = configured_channels(services)
    if not channels:
        return None
    stop = threading.Event()
    thread = threading.Thread(target=Deliverer(services, channels, worker=worker).run_forever,
                              args=(interval, stop), name="tanggap-outbox", daemon=True)
    thread.start()
    return thread, stop
