"""A database restart is survived without a ping before every checkout: the unit of work whose
pooled connection the server dropped tries once more on a new one."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, select, text

from tests import actions
from workflow.store.models import WorkItem


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_unit_of_work_after_the_server_dropped_its_connections_succeeds(world, db_url):
    sub, triage = world.report(), world.triage
    assert not world.services.engine.pool._pre_ping
    with world.services.uow() as uow:  # a connection is in the pool now
        uow.commit()
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a restart does to the pool's connections
        dropped = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert dropped >= 1
    checkouts = []
    event.listen(world.services.engine, "checkout", lambda *_args: checkouts.append(1))
    with world.services.uow() as uow:  # the first statement fails on the dropped connection
        item_id = uow.session.scalar(select(WorkItem.id).where(WorkItem.case_id == sub.case_id))
        actions.triage(uow, triage, item_id, decision="valid")
        uow.commit()
    assert len(checkouts) == 2  # the dropped one, then a new one
    assert world.case(sub.case_id).stage == "disposition"
