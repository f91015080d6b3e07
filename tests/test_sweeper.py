"""The timer sweeper: due timers fire once, by index, with leases, retries and incidents."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from escalation.sweeper import Sweeper
from workflow.engine.runtime import ProcessEngine
from workflow.store.models import CaseEvent, Incident, Timer


def _timer_events(world, case_id):
    return [e.task_name for e in world.events(case_id) if e.action == "timer_fired"]


def test_nothing_fires_a_second_early_and_everything_due_fires(world):
    w = world
    sub = w.report()  # triage target: 4 hours (elapsed time in these tests)
    with w.services.reading() as session:
        timer = session.scalar(select(Timer).where(Timer.case_id == sub.case_id)
                               .order_by(Timer.due_at).limit(1))
    sweeper = Sweeper(w.services, worker="w1")
    w.services.clock.set(timer.due_at - timedelta(seconds=1))
    assert sweeper.run_once().claimed == 0
    assert _timer_events(w, sub.case_id) == []

    w.services.clock.set(timer.due_at)
    result = sweeper.run_once()
    assert (result.claimed, result.fired) == (1, 1)
    assert _timer_events(w, sub.case_id) == ["triage_sla"]
    with w.services.reading() as session:
        left = list(session.scalars(select(Timer.timer_name).where(Timer.case_id == sub.case_id)))
    assert left == ["triage_critical"]  # the 200% timer still waits
    # The triage task stays open and keeps its deadline (now overdue); a supervisor reviews it.
    triage, review = w.open_items(sub.case_id)
    assert triage.task_name == "triage" and triage.due_at == timer.due_at
    assert review.task_name == "sla_escalation" and review.role == "supervisor"
    assert sweeper.run_once().claimed == 0  # fired once only
    assert w.chain_breaks() == []


def test_a_failing_case_is_retried_then_becomes_an_incident_and_others_still_fire(world, monkeypatch):
    w = world
    good, bad = w.report(), w.report(description="Sampah lagi di sudut jalan.")
    w.services.clock.advance(timedelta(hours=5))
    real_refresh = ProcessEngine.refresh_timers

    def refresh(self, workflow):
        if workflow.data.get("case_number") == bad.case_number or any(
                t.data.get("case_number") == bad.case_number for t in workflow.get_tasks()):
            raise RuntimeError("simulated engine failure")
        return real_refresh(self, workflow)

    monkeypatch.setattr(ProcessEngine, "refresh_timers", refresh)
    sweeper = Sweeper(w.services, worker="w1", max_attempts=3, backoff=timedelta(minutes=1))
    first = sweeper.run_once()
    assert (first.cases, first.fired, first.retried) == (2, 1, 1)  # timers fired, cases retried
    assert _timer_events(w, good.case_id) == ["triage_sla"]
    with w.services.reading() as session:
        # the timer that was due (the case's first; its later ones are not touched): without the
        # order, PostgreSQL may hand back either row
        row = session.scalar(select(Timer).where(Timer.case_id == bad.case_id).order_by(Timer.due_at, Timer.id))
    assert row.attempts == 1 and "simulated engine failure" in row.last_error
    assert sweeper.run_once().claimed == 0  # waiting out the backoff

    w.services.clock.advance(timedelta(minutes=1))
    assert sweeper.run_once().retried == 1
    w.services.clock.advance(timedelta(minutes=2))
    third = sweeper.run_once()
    assert len(third.given_up) == 1
    with w.services.reading() as session:
        incident = session.get(Incident, third.given_up[0])
        row = session.scalar(select(Timer).where(Timer.case_id == bad.case_id).order_by(Timer.due_at, Timer.id))
    assert incident.case_id == bad.case_id and incident.operation == "fire_timers"
    assert "simulated engine failure" in incident.error and incident.details["attempts"] == 3
    assert row.failed_at is not None
    w.services.clock.advance(timedelta(hours=1))  # still before the 200% timers (8 h)
    assert sweeper.run_once().claimed == 0  # given up: left for an admin
    assert _timer_events(w, bad.case_id) == []  # and its state was never half-written
    given_up = w.events(bad.case_id)[-1]
    assert (given_up.action, given_up.actor_name) == ("timers_given_up", "system")
    assert w.event_data(given_up)["attempts"] == 3 and w.chain_breaks() == []


def test_an_expired_lease_is_taken_over(world):
    w = world
    sub = w.report()
    w.services.clock.advance(timedelta(hours=5))
    crashed = Sweeper(w.services, worker="crashed", lease=timedelta(minutes=2))
    assert len(crashed.claim()) == 1  # ... and the worker dies before firing
    survivor = Sweeper(w.services, worker="survivor")
    assert survivor.run_once().claimed == 0  # the lease is still live
    w.services.clock.advance(timedelta(minutes=3))
    assert survivor.run_once().fired == 1
    assert _timer_events(w, sub.case_id) == ["triage_sla"]


def test_concurrent_workers_fire_each_timer_once(world):
    w = world
    cases = [w.report(description=f"Sampah menumpuk di titik {n}.") for n in range(12)]
    w.services.clock.advance(timedelta(hours=5))
    workers = [Sweeper(w.services, worker=f"w{n}", batch=3) for n in range(3)]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def work(sweeper):
        barrier.wait(timeout=60)
        try:
            for _ in range(4 * len(cases)):  # bounded: a sweep that always claims fails, not hangs
                if not sweeper.run_once().claimed:
                    return
            errors.append(AssertionError(f"{sweeper.worker} never ran out of due timers"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a sweeper thread never finished"
    assert errors == []
    with w.services.reading() as session:
        fired = session.scalar(select(func.count()).select_from(CaseEvent)
                               .where(CaseEvent.action == "timer_fired"))
        waiting = session.scalar(select(func.count()).select_from(Timer).where(
            Timer.due_at <= w.services.clock.now()))  # the 200% timers are not due yet
    assert fired == len(cases) and waiting == 0
    assert all(_timer_events(w, c.case_id) == ["triage_sla"] for c in cases)
    assert w.chain_breaks() == []


def test_claims_use_the_due_index_not_the_cases(world):
    """Only due rows are leased; waiting-but-not-due rows are left alone."""
    w = world
    w.report()
    w.services.clock.advance(timedelta(hours=1))
    sweeper = Sweeper(w.services, worker="w1")
    assert sweeper.claim() == []
    with w.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(Timer)
                              .where(Timer.lease_owner.is_not(None))) == 0
    with w.services.uow() as uow:
        uow.session.execute(update(Timer).where(Timer.timer_name == "triage_sla")
                            .values(due_at=w.services.clock.now()))
        uow.commit()
    assert len(sweeper.claim()) == 1
