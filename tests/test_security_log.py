"""The security log's chain: appended in the caller's transaction, verified end to end, and any
change, reordering or deletion of its rows named."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError

from tests.helpers import tamper_security
from workflow.store import security_log
from workflow.store.models import SecurityChain, SecurityEvent
from workflow.vocabulary import SecurityAction

WHO = security_log.Who(None, "budi", "203.0.113.7")


def _record(world, count=3):
    with world.services.uow() as uow:
        for n in range(count):
            security_log.record(uow.session, action=SecurityAction.LOGIN_FAILED, who=WHO,
                                occurred_at=world.services.clock.now(), details={"attempt": n + 1})
        uow.commit()


def test_events_chain_from_genesis_and_the_head_follows(world):
    _record(world)
    with world.services.reading() as session:
        rows = session.scalars(select(SecurityEvent).order_by(SecurityEvent.seq)).all()
        head = session.get(SecurityChain, 1)
        assert [r.seq for r in rows] == [1, 2, 3]
        assert rows[0].prev_hash == security_log.GENESIS
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert (head.seq, head.hash) == (3, rows[-1].hash)
        assert rows[0].client_ip == "203.0.113.7" and rows[0].actor_name == "budi"
        assert security_log.verify(session) == []


def test_a_rolled_back_change_leaves_no_event(world):
    with world.services.uow() as uow:
        security_log.record(uow.session, action=SecurityAction.LOGIN_FAILED, who=WHO,
                            occurred_at=world.services.clock.now())
        pass  # no commit: the unit of work rolls back
    with world.services.reading() as session:
        assert security_log.count(session) == 0 and session.get(SecurityChain, 1).seq == 0


def test_rows_cannot_be_updated_or_deleted(world):
    _record(world, 1)
    for sql in ("UPDATE security_events SET actor_name = 'x'", "DELETE FROM security_events"):
        with pytest.raises(DatabaseError, match="append-only"):
            with world.services.engine.begin() as conn:
                conn.exec_driver_sql(sql)


@pytest.mark.parametrize("sql, problem", [
    ("UPDATE security_events SET actor_name = 'someone' WHERE seq = 2", "content does not match"),
    ("UPDATE security_events SET client_ip = '198.51.100.1' WHERE seq = 1", "content does not match"),
    ("DELETE FROM security_events WHERE seq = 2", "expected seq 2"),
    ("DELETE FROM security_events WHERE seq = 3", "the last rows were deleted"),
])
def test_tampering_is_named(world, sql, problem):
    _record(world)
    tamper_security(world.services.engine, sql)
    with world.services.reading() as session:
        breaks = security_log.verify(session)
    assert len(breaks) == 1 and problem in breaks[0].problem, breaks


def test_an_admin_change_keeps_only_what_moved(world):
    with world.services.uow() as uow:
        same = security_log.admin_change(uow.session, who=WHO, occurred_at=world.services.clock.now(),
                                         entity="agency", key="DLH", old={"name": "A"}, new={"name": "A"})
        event = security_log.admin_change(uow.session, who=WHO, occurred_at=world.services.clock.now(),
                                          entity="agency", key="DLH", old={"name": "A", "active": True},
                                          new={"name": "B", "active": True})
        uow.commit()
    assert same is None
    with world.services.reading() as session:
        row = session.scalars(select(SecurityEvent)).one()
        assert row.id == event.id and row.subject == "agency:DLH"
        assert security_log.payload(row)["details"] == {
            "entity": "agency", "key": "DLH", "change": "changed", "fields": {"name": {"old": "A", "new": "B"}}}
