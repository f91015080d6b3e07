"""Worker processes sweeping many due timers at once; one of them killed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.bulk import clone_case
from workflow.store.models import Case, CaseEvent, Escalation, Timer

pytestmark = pytest.mark.slow


def _worker(settings, *args):
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "TANGGAP_INSTANCE": str(settings.instance_path)}
    return subprocess.Popen([sys.executable, "-m", "tanggap", "escalation", "run", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _due_cases(world, copies):
    sub = world.report()
    clone_case(world.services, sub.case_id, copies - 1)
    with world.services.reading() as session:  # each case: its 100% and 200% triage timers
        assert session.scalar(select(func.count()).select_from(Timer)) == 2 * copies
    return copies


def _check_each_fired_once(world, cases):
    """The workers run on the real clock, days after the cases' triage started: both timers of
    each case (100% and 200% of the target) are due, and each fires exactly once."""
    with world.services.reading() as session:
        per_case = session.execute(
            select(CaseEvent.case_id, func.count()).where(CaseEvent.action == "timer_fired")
            .group_by(CaseEvent.case_id)).all()
        left = session.scalar(select(func.count()).select_from(Timer).where(
            Timer.due_at <= world.services.clock.now()))
        raised = session.scalar(select(func.count()).select_from(CaseEvent)
                                .where(CaseEvent.action == "escalation_raised"))
        total = session.scalar(select(func.count()).select_from(Case))
        escalations = session.execute(select(Escalation.level, func.count()).group_by(Escalation.level)).all()
    assert total == cases
    assert len(per_case) == cases and {n for _c, n in per_case} == {2}
    assert left == 0
    assert raised == 2 * cases  # one escalation event per fired timer, no duplicates
    assert sorted(escalations) == [("breach", cases), ("critical", cases)]  # one of each per case
    assert world.chain_breaks() == []


def test_worker_processes_fire_every_timer_exactly_once(world, settings):
    workers = 4 if world.services.engine.dialect.name == "postgresql" else 2
    copies = 2000 if workers == 4 else 400
    cases = _due_cases(world, copies)
    procs = [_worker(settings, "--until-idle", "--batch", "50") for _ in range(workers)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    fired = sum(int(o.strip().splitlines()[-1].split()[1]) for o in outputs)
    assert fired == 2 * cases, outputs
    _check_each_fired_once(world, cases)


def test_a_killed_worker_loses_nothing(world, settings):
    cases = _due_cases(world, 300)
    victim = _worker(settings, "--until-idle", "--batch", "150", "--lease", "600")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with world.services.reading() as session:
            fired = session.scalar(select(func.count()).select_from(CaseEvent)
                                   .where(CaseEvent.action == "timer_fired"))
        if fired >= 40:
            break
        time.sleep(0.05)  # polling another process, not waiting for time to pass
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    with world.services.reading() as session:
        orphaned = session.scalar(select(func.count()).select_from(Timer)
                                  .where(Timer.lease_owner.is_not(None)))
    assert orphaned > 0, "the worker was killed after it had finished: nothing to take over"
    # Its leases run out (what ten minutes would do), and another worker finishes the job.
    with world.services.uow() as uow:
        uow.session.execute(update(Timer).where(Timer.lease_owner.is_not(None)).values(
            lease_expires_at=world.services.clock.now() - timedelta(seconds=1)))
        uow.commit()
    survivor = _worker(settings, "--until-idle", "--batch", "100")
    output = survivor.communicate(timeout=300)[0]
    assert survivor.returncode == 0, output
    _check_each_fired_once(world, cases)
