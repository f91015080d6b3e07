"""The OpenAPI document and the API cannot drift: every route is documented (and only those),
and Schemathesis sends generated requests: no 5xx, every answer matches the document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests import actions
from web.openapi import document
from workflow.commands import credentials


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix("/api/v1")
            for converter in ("int:", ""):
                path = path.replace(f"<{converter}", "{")
            path = path.replace(">", "}")
            routes |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_route_is_documented_and_nothing_else(app):
    from web.api import REPORT_FIELDS
    from web.openapi import SCHEMAS

    documented = {(method, path) for path, ops in document()["paths"].items() for method in ops}
    assert documented == _api_routes(app)
    assert set(SCHEMAS["ReportInput"]["properties"]) == REPORT_FIELDS
    served = app.test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json()["openapi"] == "3.1.0"


def test_the_served_document_names_the_process_stages_and_every_operation_takes_the_language(app, definition):
    from workflow.read.case_list import stage_names

    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    stage = next(p for p in spec["paths"]["/cases"]["get"]["parameters"] if p["name"] == "stage")
    assert stage["schema"]["enum"] == stage_names(definition) == list(definition.open_statuses)
    assert "triage" in stage["schema"]["enum"] and "citizen_feedback" in stage["schema"]["enum"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
            taken = path != "/openapi.json"
            assert (("lang", "query") in names and ("Accept-Language", "header") in names) == taken, (method, path)
            assert ("400" in operation["responses"]) == taken, (method, path)


@pytest.fixture
def api_world(world, app):
    """A DLH case at disposition and a DLH coordinator's token."""
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    username = w.dlh.name
    with w.services.uow() as uow:
        _row, token = credentials.issue(uow, "token", "contract", username=username)
        uow.commit()
    app.config["TANGGAP_API_WRITE_LIMIT"] = "100000 per minute"
    return token


schema = schemathesis.openapi.from_dict(document())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the contract, not the database
@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_document(case, api_world, app):
    case.call_and_validate(
        app=app, headers={"Authorization": f"Bearer {api_world}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance, negative_data_rejection])
