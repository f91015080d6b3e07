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

import dataclasses
import logging
import random
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

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
from workflow.notify.notices import STAFF_LANGUAGE, staff_actions
from workflow.notify.render import (
    CASE_PATH,
    ESCALATIONS_PATH,
    digest_context,
    follower_context,
    links,
    local_date,
    render,
    staff_context,
    staff_facts,
)
from workflow.read.settings import notice_texts
from workflow.rounds import run_rounds
from workflow.services import Services
from workflow.store.db import make_session_factory
from workflow.store.models import Agency, Case, Category, Incident, OutboxMessage, Subscription
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.text import mask
from workflow.vocabulary import Action, Following, NoticeChannel, Operation

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
    _leases: dict[int, datetime]  # claimed rows: until when this worker holds them
    _done: set[int]  # rows this round has sent, failed or stopped

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
        self._leases, self._done = {}, set()
        self._marks = services  # what the marks are written through (see _marking)

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
        self._leases = dict.fromkeys(ids, now + self.lease)
        return ids

    def run_once(self) -> RoundResult:
        return self.deliver(self.claim())

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()

    def deliver(self, ids: list[int]) -> RoundResult:
        """Send the claimed notices ``ids``, one at a time, each only while its lease holds.
        What they need is read for the whole batch at once; each is marked sent on its own,
        right after it went out."""
        result = RoundResult(claimed=len(ids))
        self._done: set[int] = set()
        if not ids:
            return result
        try:
            prepared = self._prepare_batch(ids)
        except Exception as exc:  # noqa: BLE001 - a database hiccup: the whole batch tries again later
            log.warning("notices %s… could not be prepared: %s", ids[0], exc)
            prepared = dict.fromkeys(ids, exc)
        with self._marking():
            for message_id in ids:
                self._deliver(message_id, prepared.get(message_id), result)
        return result

    @contextmanager
    def _marking(self):
        """On PostgreSQL the round's marks go through one connection held for the round, set
        not to wait for the disk at commit (``synchronous_commit = off``): no pool checkout and
        ping per notice. Only a crash of the database server in the fraction of a second after a
        commit can lose a mark, and then the notice is sent again under the same key (never
        lost). SQLite: the services' own units of work."""
        if self.services.engine.dialect.name != "postgresql":
            self._marks = self.services
            yield
            return
        with self.services.engine.connect() as conn:
            conn.exec_driver_sql("SET synchronous_commit = off")
            conn.commit()
            self._marks = dataclasses.replace(self.services, sessions=make_session_factory(conn, self.services.audit_keys))
            try:
                yield
            finally:
                self._marks = self.services
                if not conn.invalidated:
                    conn.rollback()
                    conn.exec_driver_sql("RESET synchronous_commit")  # back to the pool as it came
                    conn.commit()

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

    def _deliver(self, message_id: int, prepared, result: RoundResult) -> None:
        """``prepared``: from :meth:`_prepare_batch`; :data:`DIGEST` for a row that goes out
        in an hourly digest, which is gathered and prepared now."""
        if not self._still_mine(message_id):  # the lease ran out while earlier notices were sent
            return
        ids = [message_id]
        if prepared is DIGEST:
            ids = self._gather(message_id)
            prepared = _attempt(lambda: self.prepare(ids))
        self._done.update(ids)
        if isinstance(prepared, Exception):
            log.warning("notice %s could not be prepared: %s", message_id, prepared)
            self._failed(ids, prepared, result, permanent=isinstance(prepared, Broken))
            return
        if prepared is None:
            self._stopped(message_id)
            result.stopped += 1
            return
        channel, item = prepared
        try:
            provider_id = channel.send(item)
        except Exception as exc:  # noqa: BLE001 - every failure is retried or recorded
            exc = _masked(exc, item.recipient)
            log.warning("notice %s to %s failed: %s", message_id, mask(item.recipient), exc)
            self._failed(ids, exc, result, permanent=isinstance(exc, PermanentFailure))
            return
        try:
            result.sent += self._sent(ids, provider_id)
        except Exception:  # noqa: BLE001 - sent, not marked: its lease runs out and it goes again, same key
            log.exception("notice %s was sent but could not be marked", message_id)

    def _still_mine(self, message_id: int) -> bool:
        """Whether this worker may still send the notice: not done this round, and its lease
        (taken by :meth:`claim`, known without asking the database) has not run out."""
        if message_id in self._done:
            return False
        now = self.services.clock.now()
        if message_id in self._leases:
            return now < self._leases[message_id]
        with self.services.reading() as session:  # ids this worker did not claim itself
            row = session.get(OutboxMessage, message_id)
            return (row is not None and row.sent_at is None and row.lease_owner == self.worker
                    and row.lease_expires_at is not None and row.lease_expires_at > now)

    def _gather(self, message_id: int) -> list[int]:
        """Every digest row due for the same recipient as ``message_id``, ``message_id`` first,
        all leased to this worker afresh (rows another worker holds go out in its digest)."""
        now = self.services.clock.now()
        with self.services.uow() as uow:
            first = uow.session.get(OutboxMessage, message_id)
            query = select(OutboxMessage).where(
                OutboxMessage.recipient == first.recipient, OutboxMessage.topic == first.topic,
                OutboxMessage.subscription_id.is_(None), OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
                or_(OutboxMessage.lease_owner == self.worker, OutboxMessage.lease_expires_at.is_(None),
                    OutboxMessage.lease_expires_at < now)).order_by(OutboxMessage.id)
            if uow.session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [r for r in uow.session.scalars(query) if (r.payload or {}).get("digest")]
            for r in rows:
                r.lease_owner, r.lease_expires_at = self.worker, now + self.lease
                self._leases[r.id] = now + self.lease
            uow.commit()
        return [message_id, *(r.id for r in rows if r.id != message_id)]

    def _prepare_batch(self, ids: list[int]) -> dict[int, object]:
        """Each notice of ``ids`` rendered (``(channel, outgoing)``), None (its recipient
        stopped notices), the error that keeps it from being rendered, or :data:`DIGEST`. The
        rows, subscriptions and cases are read in a few queries for the whole batch."""
        out: dict[int, object] = {}
        with self.services.reading() as session:
            rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))))
            # Held here while the batch is rendered: the session keeps only weak references.
            subscriptions = _load(session, Subscription, {r.subscription_id for r in rows})
            cases = _load(session, Case, {r.case_id for r in rows})
            cases += _load(session, Case, {c.merged_into_id for c in cases} - {c.id for c in cases})
            self._names = Names.read(session)  # reference data, read once a round
            for row in rows:
                if row.subscription_id is None and (row.payload or {}).get("digest"):
                    out[row.id] = DIGEST
                    continue
                out[row.id] = _attempt(lambda row=row: self._prepare_in(session, [row.id]))
            del subscriptions, cases
        return out

    def prepare(self, ids: list[int]) -> tuple[Channel, Outgoing] | None:
        """The notice ``ids`` (one row, or the rows of a digest) rendered for its recipient, or
        None when they stopped notices since."""
        with self.services.reading() as session:  # the write transaction is the marking, after sending
            return self._prepare_in(session, ids)

    def _prepare_in(self, session, ids: list[int]) -> tuple[Channel, Outgoing] | None:
        services = self.services
        rows = [session.get(OutboxMessage, i) for i in ids]
        row = rows[0]
        names = self._names or Names.read(session)
        if row.subscription_id is None and row.topic in staff_actions():
            if (row.payload or {}).get("digest"):
                return self.channels[row.channel], self._digest(rows, names)
            return self.channels[row.channel], self._to_staff(row, names)
        sub = session.get(Subscription, row.subscription_id) if row.subscription_id else None
        if sub is None or sub.stopped_at is not None:
            return None
        case = session.get(Case, row.case_id)
        language = sub.language
        code = services.tracking.unseal(sub.sealed_code) if sub.sealed_code else None
        facts = dict(row.payload)
        category = names.categories.get(facts.get("category"))
        agency = names.agencies.get(facts.get("agency") or names.agency_codes.get(case.agency_id))
        merged = session.get(Case, case.merged_into_id) if case.merged_into_id else None
        context = follower_context(
            case_number=case.number, city=names.city, category=category[language == "en"] if category else "",
            agency=agency, question=facts.get("question"), reason=facts.get("reason"),
            closure_note=facts.get("closure_note"), merged_into=merged.number if merged else None,
            deadline=local_date(facts.get("deadline"), services.zone, language),
            tracking_code=code if row.topic == Action.REPORT_SUBMITTED else None,
            yours=sub.following == Following.REPORTER,
            links=links(services.settings.public_url, code, services.tracking.stop_token(sub.id), language,
                        number=case.number))
        rendered = render(row.topic, language, context, names.texts.get((language, row.topic)))
        recipient = row.recipient if row.channel == NoticeChannel.EMAIL else e164(
            row.recipient, names.phone_country)
        return self.channels[row.channel], Outgoing(key=row.key or f"tanggap-outbox-{row.id}",
                                                    recipient=recipient, language=language,
                                                    message=rendered)

    def _to_staff(self, row: OutboxMessage, names: Names) -> Outgoing:
        """A message to the staff it is addressed to, in Indonesian (the staff screens' language),
        linking to their screens."""
        language, name = STAFF_LANGUAGE, f"staff/{row.topic}"
        context = staff_context(city=names.city, escalations_url=self._staff_url(ESCALATIONS_PATH),
                                facts=self._staff_facts(row, names, language))
        return Outgoing(key=row.key or f"tanggap-outbox-{row.id}", recipient=row.recipient, language=language,
                        message=render(name, language, context, names.texts.get((language, name))))

    def _digest(self, rows: list[OutboxMessage], names: Names) -> Outgoing:
        """One message listing every escalation of the hour addressed to one recipient."""
        language, first = STAFF_LANGUAGE, rows[0]
        since = min(r.created_at for r in rows)
        name = f"staff/{first.topic}_digest"
        context = digest_context(
            city=names.city, escalations_url=self._staff_url(ESCALATIONS_PATH),
            since=local_date(since.replace(minute=0, second=0, microsecond=0), self.services.zone, language),
            escalations=[self._staff_facts(r, names, language) for r in rows])
        return Outgoing(key=f"{first.key or f'tanggap-outbox-{first.id}'}-digest", recipient=first.recipient,
                        language=language, message=render(name, language, context, names.texts.get((language, name))))

    def _staff_facts(self, row: OutboxMessage, names: Names, language: str) -> dict:
        facts, definition = dict(row.payload), self.services.definition
        category = names.categories.get(facts.get("category"))
        return staff_facts(case_number=facts["case_number"], category=category[0] if category else "",
                           agency=names.agencies.get(facts.get("agency")),
                           level=definition.level_label(facts.get("level") or "", language),
                           task=definition.label(facts.get("task"), language),
                           case_url=self._staff_url(CASE_PATH.format(case_id=facts["case_id"])))

    def _staff_url(self, path: str) -> str:
        return f"{self.services.settings.public_url.rstrip('/')}{path}"

    def _stopped(self, message_id: int) -> None:
        """The recipient stopped these notices after this one was queued: it is not sent."""
        with self.services.uow() as uow:
            uow.session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None),
                                            OutboxMessage.lease_owner == self.worker)
                .values(failed_at=uow.clock.now(), last_error="the recipient stopped these notices",
                        lease_owner=None, lease_expires_at=None).execution_options(synchronize_session=False))
            uow.commit()

    def _sent(self, ids: list[int], provider_id: str | None) -> int:
        """Mark the notices ``ids`` sent (those still this worker's); how many were."""
        with self._marks.uow() as uow:
            outbox = OutboxMessage.__table__
            # One statement that checks and marks: a row another worker took over after our lease
            # ran out is left to it (it marks it).
            rows = uow.session.connection().execute(
                update(outbox).where(outbox.c.id.in_(ids), outbox.c.sent_at.is_(None),
                                     outbox.c.lease_owner == self.worker)
                .values(sent_at=uow.clock.now(), attempts=outbox.c.attempts + 1, lease_owner=None,
                        lease_expires_at=None, last_error=None)
                .returning(outbox.c.id, outbox.c.case_id, outbox.c.topic, outbox.c.channel,
                           outbox.c.recipient, outbox.c.attempts)).all()
            # cases locked in one order by every worker (a digest spans several): no deadlock
            for row in sorted(rows, key=lambda r: (r.case_id or 0, r.id)):
                self._record(uow, row, Action.NOTIFICATION_SENT, {"provider_id": provider_id})
            uow.commit()
        return len(rows)

    def _failed(self, ids: list[int], exc: Exception, result: RoundResult, *, permanent: bool) -> None:
        """The notices ``ids`` (one, or a digest's) failed: all wait out one backoff, or are
        given up together into one incident."""
        now = self.services.clock.now()
        error = f"{type(exc).__name__}: {exc}"[:2000]
        jitter = self.rng.uniform(0.5, 1.5)  # no herd of retries
        with self.services.uow() as uow:
            rows = [uow.session.get(OutboxMessage, i, with_for_update=True) for i in ids]
            rows = [r for r in rows if r.sent_at is None and r.lease_owner == self.worker]
            if not rows:
                return  # no longer ours: the worker that holds them now decides
            for row in rows:
                row.attempts += 1
                row.last_error = error
                row.lease_owner = row.lease_expires_at = None
            attempts = max(r.attempts for r in rows)
            if permanent or attempts >= self.max_attempts:
                first, cases = rows[0], {r.case_id for r in rows}
                incident = Incident(occurred_at=now, case_id=first.case_id if len(cases) == 1 else None,
                                    operation=Operation.DELIVER_NOTICE, task_name=None, error=error,
                                    details={"message": first.id, "messages": [r.id for r in rows],
                                             "notice": first.topic, "channel": str(first.channel),
                                             "attempts": attempts, "worker": self.worker})
                uow.session.add(incident)
                uow.session.flush()
                for row in sorted(rows, key=lambda r: (r.case_id or 0, r.id)):  # see _sent
                    row.failed_at, row.incident_id = now, incident.id
                    self._record(uow, row, Action.NOTIFICATION_FAILED,
                                 {"error": error[:300], "incident": incident.id})
                result.given_up.append(incident.id)
            else:
                delay = min(self.backoff * 2 ** (attempts - 1) * jitter, self.max_backoff)
                for row in rows:
                    row.next_attempt_at = now + delay
                result.retried += 1
            uow.commit()

    @staticmethod
    def _record(uow: UnitOfWork, row, action: Action, extra: dict) -> None:
        """The case's trail says the notice went out (or was given up), to a masked address."""
        if row.case_id is None:
            return
        notices.record(uow, row.case_id, SYSTEM, action, {
            "notice": row.topic, "channel": str(row.channel), "to": mask(row.recipient or ""),
            "message": row.id, "attempts": row.attempts, **extra})


DIGEST = object()  # a row that goes out in an hourly digest


class Broken(Exception):
    """A notice that cannot be rendered (a template naming a fact it lacks, a fact of the
    wrong type): it never will be, so it is given up at once."""


def _attempt(prepare):
    """``prepare()``, or the error that stopped it: a database error as it is (temporary: the
    notice waits out a backoff), anything else as :class:`Broken`."""
    try:
        return prepare()
    except SQLAlchemyError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a broken notice must not hold up the others
        return Broken(f"{type(exc).__name__}: {exc}")


def _load(session, model, ids: set) -> list:
    """The rows of ``model`` with these ids, into the session (``session.get`` finds them
    while the caller holds the list)."""
    ids = {i for i in ids if i is not None}
    return list(session.scalars(select(model).where(model.id.in_(ids)))) if ids else []


@dataclass(frozen=True)
class Names:
    """The reference data a notice names: the city, categories (Indonesian, English) and
    agencies by code; and the administrators' texts of templates, by (language, name)."""

    city: str
    phone_country: str
    categories: dict[str, tuple[str, str]]
    agencies: dict[str, str]
    agency_codes: dict[int, str]
    texts: dict[tuple[str, str], str]

    @classmethod
    def read(cls, session) -> Names:
        refs = References(session)
        return cls(city=refs.city.name, phone_country=refs.city.phone_country,
                   categories={c.code: (c.name_id, c.name_en) for c in session.scalars(select(Category))},
                   agencies={a.code: a.name for a in session.scalars(select(Agency))},
                   agency_codes={a.id: a.code for a in session.scalars(select(Agency))},
                   texts=notice_texts(session))


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
