"""A failing BPMN step saves nothing and records an incident."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from workflow import commands
from workflow.errors import ProcessError
from workflow.store.models import Category, Incident


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
