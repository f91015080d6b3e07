"""Every protected URL for every role, own and foreign agency: 200/302/403/404 as expected.

The case belongs to DLH (Mariso) and waits for DLH's disposition; it has a before-photo.
"""

from __future__ import annotations

import pytest

from tests import actions
from tests.helpers import jpeg_bytes
from tests.webclient import WebClient
from workflow import commands

ROLES = {
    "anonymous": None,
    "triage": ("triage", "KOMINFO"),
    "coordinator_own": ("coordinator", "DLH"),
    "coordinator_foreign": ("coordinator", "DINSOS"),
    "qr_foreign": ("qr_officer", "qr-tallo-1"),
    "supervisor_own": ("supervisor", "DLH"),
    "supervisor_foreign": ("supervisor", "DINSOS"),
    "supervisor_city": ("supervisor", None),
    "auditor": ("auditor", None),
    "admin": ("admin", None),
}

# url kind -> expected status per role (302 for anonymous: to the login page)
EXPECTED = {
    "GET inbox": dict(anonymous=302, triage=200, coordinator_own=200, coordinator_foreign=200,
                      qr_foreign=200, supervisor_own=403, supervisor_foreign=403,
                      supervisor_city=403, auditor=403, admin=403),
    "GET escalations": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                            qr_foreign=403, supervisor_own=200, supervisor_foreign=200,
                            supervisor_city=200, auditor=403, admin=403),
    # a supervisor of the task's OPD reads it (read-only) to give it to someone else
    "GET task": dict(anonymous=302, triage=403, coordinator_own=200, coordinator_foreign=404,
                     qr_foreign=404, supervisor_own=200, supervisor_foreign=404,
                     supervisor_city=200, auditor=403, admin=403),
    "GET case": dict(anonymous=302, triage=200, coordinator_own=200, coordinator_foreign=404,
                     qr_foreign=404, supervisor_own=200, supervisor_foreign=404,
                     supervisor_city=200, auditor=200, admin=200),
    "GET photo": dict(anonymous=302, triage=200, coordinator_own=200, coordinator_foreign=404,
                      qr_foreign=404, supervisor_own=200, supervisor_foreign=404,
                      supervisor_city=200, auditor=200, admin=200),
    "GET thumbnail": dict(anonymous=302, triage=200, coordinator_own=200, coordinator_foreign=404,
                          qr_foreign=404, supervisor_own=200, supervisor_foreign=404,
                          supervisor_city=200, auditor=200, admin=200),
    "POST task": dict(anonymous=302, triage=403, coordinator_own=302, coordinator_foreign=404,
                      qr_foreign=404, supervisor_own=403, supervisor_foreign=404,
                      supervisor_city=403, auditor=403, admin=403),
    "POST claim": dict(anonymous=302, triage=403, coordinator_own=302, coordinator_foreign=404,
                       qr_foreign=404, supervisor_own=403, supervisor_foreign=404,
                       supervisor_city=403, auditor=403, admin=403),
    "POST note": dict(anonymous=302, triage=302, coordinator_own=302, coordinator_foreign=404,
                      qr_foreign=404, supervisor_own=302, supervisor_foreign=404,
                      supervisor_city=302, auditor=403, admin=403),
    # a supervisor's action on the DLH task (the form is posted without a reason: 400 for
    # those allowed to act, so nothing changes between the parametrized runs)
    "GET supervise": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=404,
                          qr_foreign=404, supervisor_own=200, supervisor_foreign=404,
                          supervisor_city=200, auditor=403, admin=403),
    "POST supervise": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=404,
                           qr_foreign=404, supervisor_own=400, supervisor_foreign=404,
                           supervisor_city=400, auditor=403, admin=403),
    # giving the DLH disposition to someone else: its supervisors (posted without a reason: 400);
    # a coordinator takes over only field work
    "POST takeover": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=404,
                          qr_foreign=404, supervisor_own=400, supervisor_foreign=404,
                          supervisor_city=400, auditor=403, admin=403),
    "POST ask": dict(anonymous=302, triage=403, coordinator_own=302, coordinator_foreign=404,
                     qr_foreign=404, supervisor_own=403, supervisor_foreign=404,
                     supervisor_city=403, auditor=403, admin=403),
    # finding a case: every staff role, within its scope (the results are checked in test_case_search)
    "GET search": dict(anonymous=302, triage=200, coordinator_own=200, coordinator_foreign=200,
                       qr_foreign=200, supervisor_own=200, supervisor_foreign=200,
                       supervisor_city=200, auditor=200, admin=200),
    "GET workload": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=200, supervisor_foreign=200,
                         supervisor_city=200, auditor=403, admin=403),
    # one action on ticked late tasks (posted without a reason: 400 for supervisors)
    "POST bulk": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                      qr_foreign=403, supervisor_own=400, supervisor_foreign=400,
                      supervisor_city=400, auditor=403, admin=403),
    "GET admin": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=200),
    "GET incidents": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=200),
    # closing an incident with a note (an id that does not exist: 404 for administrators)
    "POST resolve": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=404),
    "POST retry": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                       qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                       supervisor_city=403, auditor=403, admin=404),
    "GET calendar": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    # the city's settings (posted without what they need: 400; a day that is not there: 409)
    "POST hours": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                       qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                       supervisor_city=403, auditor=403, admin=400),
    "POST add_day": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=400),
    "POST remove_day": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                            qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                            supervisor_city=403, auditor=403, admin=409),
    "GET notices": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                        qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                        supervisor_city=403, auditor=403, admin=200),
    "POST notices": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=400),
    "GET template": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    "POST template": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=400),
    "POST default_text": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                              qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                              supervisor_city=403, auditor=403, admin=409),
}


# The rules are the same Python on both databases; PostgreSQL runs the web flows (test_web_*).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", list(EXPECTED))
@pytest.mark.parametrize("role", list(ROLES))
def test_access(world, app, role, kind):
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    with w.services.uow() as uow:
        photo = commands.add_attachment(uow, w.triage, sub.case_id,
                                        w.services.storage.prepare(jpeg_bytes()), kind="before")
        uow.commit()
    item = w.item(sub.case_id)
    client = WebClient(app)
    if ROLES[role]:
        w.user(f"user.{role}", ROLES[role])
        client.login(f"user.{role}")
    urls = {
        "GET inbox": "/inbox", "GET escalations": "/escalations", "GET task": f"/tasks/{item.id}", "GET case": f"/cases/{sub.case_id}",
        "GET photo": f"/cases/attachments/{photo.id}", "GET thumbnail": f"/cases/attachments/{photo.id}/small", "POST task": f"/tasks/{item.id}",
        "POST claim": f"/inbox/items/{item.id}/claim", "POST note": f"/cases/{sub.case_id}/notes",
        "GET supervise": f"/escalations/items/{item.id}/transfer",
        "POST supervise": f"/escalations/items/{item.id}/transfer",
        "POST ask": f"/tasks/{item.id}/ask", "POST takeover": f"/tasks/{item.id}/takeover",
        "GET incidents": "/admin/incidents", "GET admin": "/admin/", "GET search": "/cases?q=sampah",
        "GET workload": "/escalations/workload", "POST bulk": "/escalations/bulk",
        "POST retry": "/admin/incidents/999999/retry", "POST resolve": "/admin/incidents/999999/resolve",
        "GET calendar": "/admin/calendar", "POST hours": "/admin/calendar/hours",
        "POST add_day": "/admin/calendar/days", "POST remove_day": "/admin/calendar/days/999999/remove",
        "GET notices": "/admin/notices", "POST notices": "/admin/notices",
        "GET template": "/admin/notices/templates/id/case_closed",
        "POST template": "/admin/notices/templates/id/case_closed",
        "POST default_text": "/admin/notices/templates/id/case_closed/default",
    }
    method, _ = kind.split(" ")
    if method == "GET":
        response = client.get(urls[kind])
    else:
        data = {"POST task": {"decision": "accept", "version": ""},
                "POST supervise": {"to_agency": "DPU", "reason": ""},
                "POST ask": {"question": "Di mana persisnya?"},
                "POST takeover": {"takeover_to": "koor.dlh", "takeover_reason": ""},
                "POST bulk": {"action": "acknowledge", "reason": "", "row": str(item.id)},
                "POST resolve": {"note": "Sudah ditangani."},
                "POST notices": {"told": "bogus"}}.get(kind, {"body": "Catatan uji"})
        response = client.post(urls[kind], data)
    body = response.get_data().decode("utf-8", "replace")
    response.close()
    assert response.status_code == EXPECTED[kind][role], body[-600:]
    if response.status_code == 302 and role == "anonymous":
        assert response.headers["Location"].startswith("/login")
