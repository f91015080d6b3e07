"""Auditors change nothing: every staff POST route refuses them (the public forms, the login,
and the token-based APIs, tested on their own, aside)."""

from __future__ import annotations

import re

import pytest

from tests import actions
from tests.test_admin_routing import sampah_to
from tests.webclient import WebClient
from workflow.commands import credentials

# POST routes that are not staff actions: anyone may use them, or they authenticate otherwise;
# and one's own password, which an auditor changes like everyone (tests/test_security_events.py)
NOT_STAFF = {"auth.login", "auth.logout", "public.report", "public.status", "public.answer", "public.stop",
             "public.follow", "auth.password"}


SETTINGS = ("admin_settings.calendar_hours", "admin_settings.calendar_add", "admin_settings.calendar_remove",
            "admin_settings.notices_told", "admin_settings.notices_template_save",
            "admin_settings.notices_template_default")


def _staff_post_rules(app):
    return sorted((r for r in app.url_map.iter_rules()
                   if "POST" in r.methods and r.endpoint not in NOT_STAFF
                   and not r.endpoint.startswith(("open311.", "api."))), key=lambda r: r.rule)


def test_the_list_of_staff_post_routes_is_complete(app):
    endpoints = {r.endpoint for r in _staff_post_rules(app)}
    assert endpoints == {"inbox.claim", "inbox.release", "tasks.complete", "tasks.ask", "tasks.take_over",
                         "cases.add_note", "escalations.act", "escalations.bulk", "admin.retry",
                         "admin.resolve", "admin_process.versions_deploy", "admin_process.versions_migrate_start",
                         "admin_process.versions_migration_cancel", "admin_routing.editor", "cases.contact",
                         "admin_keys.keys_new", "admin_keys.keys_revoke", *ADMIN_PEOPLE, *CATALOGUE, *SETTINGS}, \
        "a new POST route: add it to the test below"


ADMIN_PEOPLE = ("admin_people.users_new", "admin_people.users_edit", "admin_people.users_password",
                "admin_people.users_deactivate", "admin_people.users_reactivate", "admin_people.agencies_new",
                "admin_people.agencies_edit", "admin_people.teams_new", "admin_people.teams_edit")
CATALOGUE = tuple(f"admin_catalogue.{e}" for e in (
    "categories_new", "categories_edit", "templates_new", "templates_edit", "templates_active", "areas_edit",
    "areas_new", "areas_boundaries", "areas_boundaries_import", "city"))
ROUTES = [(e, None) for e in ("inbox.claim", "inbox.release", "tasks.complete", "tasks.ask", "tasks.take_over",
                               "cases.add_note", "escalations.bulk", "admin.retry", "admin.resolve",
                               "admin_process.versions_deploy", "admin_process.versions_migrate_start",
                               "admin_process.versions_migration_cancel", "admin_routing.editor",
                               "cases.contact", "admin_keys.keys_new", "admin_keys.keys_revoke", *ADMIN_PEOPLE,
                               *CATALOGUE, *SETTINGS)] + [
    ("escalations.act", a) for a in ("extend", "reassign", "transfer", "instruct")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("endpoint, action", ROUTES)
def test_every_staff_post_refuses_the_auditor(world, app, endpoint, action):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with w.services.uow() as uow:
        credential, _secret = credentials.issue(uow, "open311", "Aplikasi warga")
        uow.commit()
    values = {"item_id": item.id, "case_id": sub.case_id, "incident_id": 1, "action": action, "version": 1,
              "migration_id": 1, "prefix": credential.prefix, "user_id": w.triage.user_id,
              "code": "qr-mariso-1" if endpoint.startswith("admin_people.teams") else "DLH",
              "category_id": 1, "template_id": 1, "area_id": 1, "kecamatan_id": 1, "day_id": 1,
              "language": "id", "name": "case_closed"}
    url = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule.rule)
    w.auditor
    web = WebClient(app)
    web.login("inspektorat")
    counts = w.table_counts()
    response = web.post(url, {"body": "x", "decision": "accept", "question": "x", "reason": "x",
                              "text": "x", "to_agency": "DPU", "row": str(item.id),
                              "action": "acknowledge", "xml": sampah_to("DPU"), "kind": "open311",
                              "username": "budi.dlh", "full_name": "Budi", "roles": "auditor", "name": "Dinas",
                              "short_name": "Dinas", "active": "y", "kecamatan": "mariso", "workdays": "mon",
                              "starts": "07:00", "ends": "15:00", "day": "2026-12-24", "note": "x",
                              "told": "case_closed"})
    assert response.status_code == 403, (url, response.status_code)
    assert w.table_counts() == counts
