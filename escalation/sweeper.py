"""The timer sweeper: fire due SLA and dispute-window timers, any number of workers at once.

One sweep:

1. **Claim.** Select due rows of the ``timers`` projection by its ``due_at`` index (never
   scanning or loading cases that are not due), skipping rows another worker holds a live lease
   on, rows waiting out a retry backoff and rows given up on; take a lease on them. PostgreSQL:
   ``FOR UPDATE SKIP LOCKED``, so concurrent workers claim disjoint rows. SQLite: the claim runs
   in a ``BEGIN IMMEDIATE`` transaction, so claims are serialized. Batches are bounded.
2. **Fire**, one committed unit of work per case (``workflow.commands.fire_timers``): the case's
   version lock and its workflow state make firing exactly-once even if two workers ever held
   the same case; leases only keep them from doing the same work twice.
3. **On failure**, the case's due timers get ``attempts + 1`` and a backoff; after
   ``max_attempts`` they are given up (``failed_at``) and an incident is recorded for admins.
   The other cases of the batch still fire.

A worker that dies loses nothing: its leases expire and another worker takes the rows.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from workflow import commands
from workflow.access import Actor
from workflow.commands.change import CaseChange
from workflow.errors import Conflict
from workflow.rounds import run_rounds
from workflow.services import Services
from workflow.store.models import Case, Incident, Timer
from workflow.vocabulary import Action, Operation

log = logging.getLogger("tanggap.sweeper")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class SweepResult:
    claimed: int = 0
    cases: int = 0
    fired: int = 0  # timers
    retried: int = 0
    given_up: list[int] = field(default_factory=list)  # incident ids


class Sweeper:
    def __init__(self, services: Services, *, worker: str | None = None, batch: int = 100,
                 lease: timedelta = timedelta(minutes=2), max_attempts: int = 5,
                 backoff: timedelta = timedelta(seconds=30)):
        self.services = services
        self.worker = worker or worker_name()
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        self.backoff = backoff

    def claim(self) -> list[tuple[int, int]]:
        """Lease up to ``batch`` due timers; returns (timer id, case id) pairs."""
        now = self.services.clock.now()
        due = and_(Timer.due_at <= now, Timer.failed_at.is_(None),
                   or_(Timer.lease_expires_at.is_(None), Timer.lease_expires_at < now),
                   or_(Timer.next_attempt_at.is_(None), Timer.next_attempt_at <= now))
        with self.services.uow() as uow:
            query = select(Timer.id, Timer.case_id).where(due).order_by(Timer.due_at).limit(self.batch)
            if uow.session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = [(r.id, r.case_id) for r in uow.session.execute(query)]
            if rows:
                uow.session.execute(update(Timer).where(Timer.id.in_([r[0] for r in rows]))
                                    .values(lease_owner=self.worker, lease_expires_at=now + self.lease))
            uow.commit()
        return rows

    def run_once(self) -> SweepResult:
        claimed = self.claim()
        result = SweepResult(claimed=len(claimed))
        case_ids = sorted({case_id for _timer, case_id in claimed})
        result.cases = len(case_ids)
        for case_id in case_ids:
            self._fire(case_id, result)
        return result

    def _fire(self, case_id: int, result: SweepResult) -> None:
        try:
            with self.services.uow(record_incidents=False) as uow:
                fired = commands.fire_timers(uow, case_id)
                self._release(uow, case_id)
                uow.commit()
            result.fired += fired
        except Conflict:
            # Someone acted on the case at the same moment: let the lease go, try next sweep.
            with self.services.uow() as uow:
                self._release(uow, case_id)
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, never swallowed
            log.warning("firing timers of case %s failed: %s", case_id, exc)
            self._failed(case_id, exc, result)

    def _release(self, uow, case_id: int) -> None:
        uow.session.execute(update(Timer).where(Timer.case_id == case_id, Timer.lease_owner == self.worker)
                            .values(lease_owner=None, lease_expires_at=None))

    def _failed(self, case_id: int, exc: Exception, result: SweepResult) -> None:
        now = self.services.clock.now()
        error = f"{type(exc).__name__}: {exc}"
        with self.services.uow() as uow:
            timers = list(uow.session.scalars(select(Timer).where(
                Timer.case_id == case_id, Timer.lease_owner == self.worker)))
            attempts = max((t.attempts for t in timers), default=0) + 1
            give_up = attempts >= self.max_attempts
            incident = None
            if give_up:
                incident = Incident(occurred_at=now, case_id=case_id, operation=Operation.FIRE_TIMERS,
                                    error=error, details={"attempts": attempts, "worker": self.worker})
                uow.session.add(incident)
                # the case's trail says its deadlines stopped being watched
                with CaseChange(uow, uow.session.get(Case, case_id), Actor.system().ref()) as change:
                    change.record(Action.TIMERS_GIVEN_UP, data={
                        "timers": sorted(t.timer_name for t in timers), "attempts": attempts,
                        "error": error[:500]})
            for timer in timers:
                timer.attempts = attempts
                timer.last_error = error[:2000]
                timer.lease_owner, timer.lease_expires_at = None, None
                timer.next_attempt_at = now + self.backoff * 2 ** (attempts - 1)
                timer.failed_at = now if give_up else None
            uow.session.flush()
            incident_id = incident.id if incident else None
            uow.commit()
        if give_up:
            result.given_up.append(incident_id)
        else:
            result.retried += 1

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Sweep until ``stop`` is set; a full batch sweeps again at once."""
        run_rounds(self.run_once, claimed=lambda r: r.claimed, batch=self.batch, interval=interval,
                   stop=stop, log=log, empty=SweepResult(), describe=lambda r: (
                       f"swept {r.claimed} timers of {r.cases} cases: {r.fired} fired, "
                       f"{r.retried} to retry, {len(r.given_up)} given up"))


def start_in_background(services: Services, interval: float = 30.0) -> tuple[threading.Thread, threading.Event]:
    """The embedded mode's in-process worker (``tanggap serve``)."""
    stop = threading.Event()
    thread = threading.Thread(target=Sweeper(services).run_forever, args=(interval, stop),
                              name="tanggap-sweeper", daemon=True)
    thread.start()
    return thread, stop
