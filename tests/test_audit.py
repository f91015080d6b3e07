"""The audit trail is append-only in the database, and tampering is found by verification."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from tests import actions
from tests.helpers import tamper, verify_cli


@pytest.fixture
def closed_case(world):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Bukan sampah rumah tangga")
    return sub


@pytest.mark.parametrize("statement", [
    "UPDATE case_events SET reason = 'rewritten' WHERE seq = 1",
    "DELETE FROM case_events WHERE seq = 2",
])
def test_database_refuses_to_change_or_delete_events(world, closed_case, statement):
    before = [(e.id, e.hash, e.reason) for e in world.events(closed_case.case_id)]
    with world.services.engine.connect() as conn:
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))
        conn.rollback()
    assert [(e.id, e.hash, e.reason) for e in world.events(closed_case.case_id)] == before


def test_verify_passes_on_an_untouched_trail(world, closed_case, settings):
    result = verify_cli(settings)
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


@pytest.mark.parametrize("sql, problem", [
    ("UPDATE case_events SET hash = '{fake}' WHERE seq = 3", "does not match"),
    ("UPDATE case_events SET reason = 'Atas perintah atasan' WHERE action = 'case_transferred'",
     "altered"),
    ("UPDATE case_events SET to_agency = 'DINSOS' WHERE action = 'case_transferred'", "altered"),
    ("DELETE FROM case_events WHERE seq = 2", "rows missing"),
])
def test_verify_names_the_first_broken_row(world, closed_case, settings, sql, problem):
    events = world.events(closed_case.case_id)
    tamper(world.services.engine, sql.format(fake="f" * 64))
    result = verify_cli(settings)
    assert result.exit_code == 1
    assert f"case {closed_case.case_id}" in result.output
    assert problem in result.output
    broken_seq = int(result.output.split("seq ")[1].split(" ")[0])
    assert 1 <= broken_seq <= len(events)


def test_chains_are_per_case(world):
    a, b = world.report(), world.report(description="Sampah lain di ujung jalan.")
    first = world.events(a.case_id)[0]
    second = world.events(b.case_id)[0]
    assert first.seq == second.seq == 1
    assert first.prev_hash == second.prev_hash == "0" * 64
    assert first.hash != second.hash


def test_an_event_appended_aside_waits_for_a_change_in_progress_and_chains_after_it(world, closed_case):
    """A notice's event (no version move) and a user's change to the same case at once: the
    notice waits for the change's lock and chains after its event (PostgreSQL: the row is
    re-read after the wait; SQLite: writers queue)."""
    import threading

    from workflow.commands.change import CaseChange
    from workflow.notify import notices
    from workflow.store import audit
    from workflow.store.models import Case
    from workflow.vocabulary import Action

    w, case_id = world, closed_case.case_id
    before, coordinator = len(w.events(case_id)), w.dlh.ref()
    change_open, done = threading.Event(), []

    def notice():
        change_open.wait(10)
        with w.services.uow() as uow:
            notices.record(uow, case_id, audit.ActorRef(None, "sistem", "system"), Action.NOTIFICATION_SENT,
                           {"notice": "case_transferred"})
            uow.commit()
        done.append(True)

    thread = threading.Thread(target=notice)
    thread.start()
    with w.services.uow() as uow:  # the change holds the case (PostgreSQL) or the write lock (SQLite)
        case = uow.session.get(Case, case_id)
        with CaseChange(uow, case, coordinator) as change:
            change.record(Action.NOTE_ADDED, data={"note": "Dicek ulang"})
            uow.session.flush()
            change_open.set()
            thread.join(0.5)
            assert not done, "the notice's event did not wait for the change in progress"
        uow.commit()
    thread.join(20)
    assert done
    events = w.events(case_id)
    assert [e.action for e in events[before:]] == [Action.NOTE_ADDED, Action.NOTIFICATION_SENT]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    with w.services.reading() as session:
        assert audit.verify(session, case_id) == []
        assert session.get(Case, case_id).event_count == len(events)


def test_a_change_that_waited_for_an_event_appended_aside_chains_after_it(world, closed_case):
    """The other way round: a notice's event holds the case, a user's change waits for it. The
    chain head the change's UPDATE returns is read in that statement's snapshot, taken before
    the wait on PostgreSQL, so the notice's event is not in it and the head is read again after
    the lock (SQLite: the change's write transaction queues behind the notice's)."""
    import threading

    from workflow.commands.change import CaseChange
    from workflow.notify import notices
    from workflow.store import audit
    from workflow.store.models import Case
    from workflow.vocabulary import Action

    w, case_id = world, closed_case.case_id
    before, coordinator = len(w.events(case_id)), w.dlh.ref()
    notice_open, release = threading.Event(), threading.Event()

    def notice():
        with w.services.uow() as uow:
            notices.record(uow, case_id, audit.ActorRef(None, "sistem", "system"), Action.NOTIFICATION_SENT,
                           {"notice": "case_transferred"})
            uow.session.flush()
            notice_open.set()
            release.wait(10)
            uow.commit()

    thread = threading.Thread(target=notice)
    thread.start()
    assert notice_open.wait(10)
    threading.Timer(0.5, release.set).start()  # the change below waits for the notice until then
    with w.services.uow() as uow:
        case = uow.session.get(Case, case_id)
        with CaseChange(uow, case, coordinator) as change:
            change.record(Action.NOTE_ADDED, data={"note": "Dicek ulang"})
        uow.commit()
    thread.join(20)
    events = w.events(case_id)
    assert [e.action for e in events[before:]] == [Action.NOTIFICATION_SENT, Action.NOTE_ADDED]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    with w.services.reading() as session:
        assert audit.verify(session, case_id) == []
        assert session.get(Case, case_id).event_count == len(events)
