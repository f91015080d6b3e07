"""Auditors change nothing: every staff POST route refuses them (the public forms, the login,
and the token-based APIs, tested on their own, aside)."""

from __future__ import annotations

import re

import pytest

from tests import actions
from tests.webclient import WebClient

# POST routes that are not staff actions: anyone may use them, or they authenticate otherwise
NOT_STAFF = {"auth.login", "auth.logout", "public.report", "public.status", "public.answer", "public.stop",
             "public.follow"}


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
                         "admin.resolve", *SETTINGS}, "a new POST route: add it to the test below"


ROUTES = [(e, None) for e in ("inbox.claim", "inbox.release", "tasks.complete", "tasks.ask", "tasks.take_over",
                               "cases.add_note", "escalations.bulk", "admin.retry", "admin.resolve", *SETTINGS)] + [
    ("escalations.act", a) for a in ("extend", "reassign", "transfer", "instruct")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("endpoint, action", ROUTES)
def test_every_staff_post_refuses_the_auditor(world, app, endpoint, action):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    item = w.item(sub.case_id)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {"item_id": item.id, "case_id": sub.case_id, "incident_id": 1, "action": action, "day_id": 1,
              "language": "id", "name": "case_closed"}
    url = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule.rule)
    w.auditor
    web = WebClient(app)
    web.login("inspektorat")
    counts = w.table_counts()
    response = web.post(url, {"body": "x", "decision": "accept", "question": "x", "reason": "x",
                              "text": "x", "to_agency": "DPU", "row": str(item.id),
                              "action": "acknowledge", "workdays": "mon", "starts": "07:00", "ends": "15:00",
                              "day": "2026-12-24", "kind": "cuti_bersama", "note": "x", "told": "case_closed"})
    assert response.status_code == 403, (url, response.status_code)
    assert w.table_counts() == counts
