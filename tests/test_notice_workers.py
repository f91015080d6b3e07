"""Delivery worker processes over a large queue: each notice sent once; one worker killed
mid-batch loses nothing (a duplicate only for the notice in flight at the kill)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.bulk import copy_notices
from workflow.store.models import CaseEvent, OutboxMessage
from workflow.vocabulary import Action

pytestmark = pytest.mark.slow


def _worker(settings, smtp, *args):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path),
           "TANGGAP_SMTP_HOST": "127.0.0.1", "TANGGAP_SMTP_PORT": str(smtp.port), "TANGGAP_SMTP_SECURITY": "none"}
    return subprocess.Popen([sys.executable, "-m", "tanggap", "outbox", "run", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _queue(world, total: int, reports: int = 10) -> list[str]:
    """``total`` queued notices over ``reports`` cases: each report's own, then copies of it
    under keys of their own (the worker renders and sends each like any other)."""
    for _ in range(reports):
        world.report()
    copy_notices(world.services, total // reports)
    with world.services.reading() as session:
        keys = list(session.scalars(select(OutboxMessage.key)))
    assert len(keys) == total
    return keys


def _received(smtp) -> collections.Counter:
    return collections.Counter(m["Message-ID"].strip("<>").split("@")[0] for m in smtp.box.messages)


def _check_all_sent(world, keys, received, *, duplicates_allowed: int) -> int:
    assert set(received) == set(keys), "a notice was lost"
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= duplicates_allowed, f"{duplicates} notices were sent twice"
    with world.services.reading() as session:
        unsent = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None)))
        recorded = session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.action == Action.NOTIFICATION_SENT))
    assert unsent == 0 and recorded == len(keys)  # each marked sent once
    assert world.chain_breaks() == []
    return duplicates


def test_worker_processes_send_each_notice_exactly_once(world, settings, smtp):
    postgres = world.services.engine.dialect.name == "postgresql"
    workers, total = (4, 2000) if postgres else (2, 300)
    keys = _queue(world, total)
    procs = [_worker(settings, smtp, "--until-idle", "--batch", "50") for _ in range(workers)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    sent = sum(int(o.strip().splitlines()[-1].split(" claimed, ")[1].split()[0]) for o in outputs)
    assert sent == total, outputs
    _check_all_sent(world, keys, _received(smtp), duplicates_allowed=0)


def test_a_killed_worker_loses_no_notice(world, settings, smtp):
    keys = _queue(world, 200)
    victim = _worker(settings, smtp, "--until-idle", "--batch", "300", "--lease", "600")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(smtp.box.messages) < 40:
        time.sleep(0.02)  # polling the other process's progress
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    with world.services.reading() as session:
        orphaned = session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.lease_owner.is_not(None)))
    assert orphaned > 0, "the worker was killed after it had finished: nothing to take over"
    with world.services.uow() as uow:  # its leases run out (what ten minutes would do)
        uow.session.execute(update(OutboxMessage).where(OutboxMessage.lease_owner.is_not(None)).values(
            lease_expires_at=world.services.clock.now() - timedelta(seconds=1)))
        uow.commit()
    survivor = _worker(settings, smtp, "--until-idle", "--batch", "100")
    output = survivor.communicate(timeout=240)[0]
    assert survivor.returncode == 0, output
    # a worker sends one notice at a time: at most the one in flight at the kill goes twice
    duplicates = _check_all_sent(world, keys, _received(smtp), duplicates_allowed=1)
    print(f"killed mid-batch: {orphaned} notices taken over, {duplicates} sent twice")
