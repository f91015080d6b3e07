"""The minimal web app of the engine-core stage: landing page and health check."""

from __future__ import annotations

from web import create_app


def test_home_counts_cases_by_status(world):
    world.report()
    app = create_app({"TESTING": True}, services=world.services)
    response = app.test_client().get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Menunggu triase</td><td>1</td>" in page
    assert "(1 kasus)" in page


def test_healthz(world):
    app = create_app({"TESTING": True}, services=world.services)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
