"""Reference data kept by a process between units of work: read again as soon as anyone (an
administrator, another worker, the seed, plain SQL) changes it, never served stale."""

from __future__ import annotations

from sqlalchemy import text


def test_a_change_made_elsewhere_is_seen_by_the_next_unit_of_work(services, reference_restored):
    with services.uow() as uow:
        cached = uow.refs.agencies["DLH"]
        assert uow.refs.agencies["DLH"] is cached
    with services.uow() as uow:
        assert uow.refs.agencies["DLH"] is cached  # unchanged: not read again
    with services.engine.begin() as conn:  # as another worker or the seed would
        conn.execute(text("UPDATE agencies SET short_name = 'DLH Kota' WHERE code = 'DLH'"))
    with services.uow() as uow:
        assert uow.refs.agencies["DLH"].short_name == "DLH Kota"
    with services.engine.begin() as conn:
        conn.execute(text("UPDATE cities SET quiet_notices = '[\"case_routed\"]'"))
    with services.uow() as uow:
        assert uow.refs.city.quiet_notices == ["case_routed"]
