"""Guards whose removal the rest of the suite would not notice: the optimistic lock on the case
row, the sweeper's SKIP LOCKED claim, and confidential reports on every Open311 read."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from escalation.sweeper import Sweeper
from workflow.access import Actor
from workflow.commands.case_extras import store_attachment
from workflow.commands.change import CaseChange
from workflow.errors import Conflict
from workflow.store.models import Case, Timer


def test_a_case_row_changed_since_it_was_read_is_never_written(world):
    """Every UPDATE of a case says WHERE version = <the version read>: a write made in between
    (by any connection) turns the command into a conflict instead of being overwritten."""
    sub = world.report()
    before = world.case(sub.case_id).version
    with pytest.raises(Conflict):
        with world.services.uow() as uow:
            case = uow.session.get(Case, sub.case_id)  # read at version v
            uow.session.execute(text("UPDATE cases SET version = version + 1, priority = 'high' "
                                     "WHERE id = :id"), {"id": sub.case_id})  # someone else's write
            with CaseChange(uow, case, Actor.system().ref()):  # locks: the stale row must not win
                pass
            uow.commit()
    after = world.case(sub.case_id)
    assert after.version == before and after.priority != "high"  # all of it rolled back


def test_the_sweeper_skips_timers_another_worker_holds(world):
    if world.services.engine.dialect.name != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's; SQLite serializes claims")
    first, second = world.report(), world.report(description="Sampah di ujung jalan lain.")
    world.services.clock.advance(timedelta(hours=5))
    with world.services.reading() as session:
        held = session.scalar(select(Timer.id).where(Timer.case_id == first.case_id)
                              .order_by(Timer.due_at).limit(1))
    holder = world.services.engine.connect()
    holder.exec_driver_sql("BEGIN")
    holder.exec_driver_sql(f"SELECT id FROM timers WHERE id = {held} FOR UPDATE")  # another worker's claim
    claimed: list = []
    thread = threading.Thread(target=lambda: claimed.extend(Sweeper(world.services, worker="w2").claim()),
                              daemon=True)
    thread.start()
    thread.join(timeout=20)
    blocked = thread.is_alive()
    holder.rollback()
    holder.close()
    thread.join(timeout=20)
    assert not blocked, "the claim waited for a row another worker holds"
    ids = [timer_id for timer_id, _case_id in claimed]
    assert held not in ids and {case_id for _t, case_id in claimed} == {second.case_id}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_confidential_report_is_on_no_open311_read(world, app, fmt):
    public = world.report()
    secret = world.report(confidential=True, description="Laporan rahasia tentang lapak liar.")
    client = app.test_client()
    for url in (f"/open311/v2/requests/{secret.case_number}.{fmt}", f"/open311/v2/tokens/{secret.tracking_code}.{fmt}",
                f"/open311/v2/requests.{fmt}?service_request_id={secret.case_number}"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert "rahasia" not in body and "lapak liar" not in body, url
        if "service_request_id=" in url:  # a list: the request is simply not in it
            assert response.status_code == 200 and f">{secret.case_number}<" not in body
            assert f'"{secret.case_number}"' not in body
        else:
            assert response.status_code == 404, url
    assert client.get(f"/open311/v2/requests/{public.case_number}.{fmt}").status_code == 200
    assert client.get(f"/open311/v2/tokens/{public.tracking_code}.{fmt}").status_code == 200
    listed = client.get(f"/open311/v2/requests.{fmt}").get_data(as_text=True)
    assert public.case_number in listed and secret.case_number not in listed


def test_confidential_photos_stay_off_the_status_page(world, web):
    from tests.helpers import jpeg_bytes

    sub = world.report(confidential=True)
    with world.services.uow() as uow:
        image = world.services.storage.prepare(jpeg_bytes())
        store_attachment(uow, uow.session.get(Case, sub.case_id), image, kind="before",
                         actor=Actor.citizen())
        uow.commit()
    page = web.get(f"/lacak/{sub.tracking_code}").get_data(as_text=True)
    assert "/foto/" not in page
