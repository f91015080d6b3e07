"""A failing BPMN step saves nothing and records an incident."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from workflow import commands
from workflow.errors import ProcessError
from workflow.store.models import Category, Incident, SecurityEvent


def test_unroutable_category_is_an_incident_and_nothing_else_is_written(world):
    # A category added by an admin but forgotten in routing.dmn: routing yields no SLA targets.
    with world.services.uow() as uow:
        uow.session.add(Category(code="banjir", name_id="Banjir", name_en="Flood"))
        uow.commit()
    before = world.table_counts()
    with pytest.raises(ProcessError) as info:
        with world.services.uow() as uow:
            commands.submit_report(uow, commands.ReportInput(
                category="banjir", description="Air setinggi lutut di jalan utama.",
                lat=-5.156, lon=119.405, area="mariso"))
            uow.commit()
    after = world.table_counts()
    assert after.pop("incidents") == before.pop("incidents") + 1
    assert after == before
    with world.services.reading() as session:
        incident = session.scalar(select(Incident))
    assert incident.id == info.value.incident_id
    assert incident.operation == "submit_report" and incident.case_id is None
    assert incident.details["category"] == "banjir" and incident.details["area"] == "mariso"
    assert incident.task_name == "route_initial" and "agency" in incident.error
    assert f"incident #{incident.id}" in info.value.message


ALREADY = "Insiden ini sudah diselesaikan."


def _case_incident(world) -> tuple[int, int]:
    """An incident recorded against a case (a step of a user's that failed), and the case."""
    sub = world.report()
    with world.services.uow() as uow:
        incident = Incident(occurred_at=world.services.clock.now(), case_id=sub.case_id,
                            operation="complete:disposition", task_name="disposition",
                            error="NameError: name 'x' is not defined", details={})
        uow.session.add(incident)
        uow.commit()
        return incident.id, sub.case_id


def test_an_administrator_closes_an_incident_with_a_note_the_case_trail_keeps(world, app):
    from tests.webclient import WebClient, errors

    incident_id, case_id = _case_incident(world)
    world.user("admin", ("admin", None))
    web = WebClient(app)
    web.login("admin")
    listed = web.get("/admin/incidents").get_data(as_text=True)
    assert f'action="/admin/incidents/{incident_id}/resolve"' in listed
    empty = web.post(f"/admin/incidents/{incident_id}/resolve", {"note": "  "}, page="/admin/incidents")
    assert empty.status_code == 400 and errors(empty) == ["tulis apa yang sudah dilakukan"]
    assert "<details open>" in empty.get_data(as_text=True)
    bad = web.post(f"/admin/incidents/{incident_id}/resolve", {"note": "ok\x00"}, page="/admin/incidents")
    assert bad.status_code == 400 and "ok" in bad.get_data(as_text=True)
    note = "Koordinator mengulang disposisinya setelah perbaikan formulir."
    done = web.post(f"/admin/incidents/{incident_id}/resolve", {"note": note}, page="/admin/incidents")
    assert done.status_code == 302
    with world.services.reading() as session:
        incident = session.get(Incident, incident_id)
        assert incident.resolved_at is not None and incident.resolution_note == note
    (event,) = [e for e in world.events(case_id) if e.action == "incident_resolved"]
    assert event.actor_name == "admin" and event.reason == note and world.chain_breaks() == []
    with world.services.reading() as session:  # and the security log, with who and from where
        (logged,) = session.scalars(select(SecurityEvent).where(SecurityEvent.subject == f"incident:{incident_id}"))
        assert logged.actor_name == "admin" and logged.client_ip and note in logged.details
    page = web.get("/admin/incidents?state=all").get_data(as_text=True)
    assert note in page
    again = web.post(f"/admin/incidents/{incident_id}/resolve", {"note": note}, page="/admin/incidents?state=all")
    assert again.status_code == 409 and ALREADY in again.get_data(as_text=True)


def test_only_administrators_close_incidents(world, app):
    from tests.webclient import WebClient
    from workflow.errors import PermissionDenied

    incident_id, _case = _case_incident(world)
    world.auditor
    with pytest.raises(PermissionDenied):
        with world.services.uow() as uow:
            commands.resolve_incident(uow, world.auditor, incident_id, "Sudah ditangani.")
    world.dlh
    web = WebClient(app)
    web.login("koor.dlh")
    assert web.post(f"/admin/incidents/{incident_id}/resolve", {"note": "x"}, page="/").status_code == 403
    with world.services.reading() as session:
        assert session.get(Incident, incident_id).resolved_at is None
