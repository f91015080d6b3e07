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
    # process versions: the list, a deployment with no file (400), the dry run of version 1 (200),
    # queuing a migration onto a version that does not exist (404), an unknown migration (404)
    "GET processes": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=200),
    "POST deploy": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=400),
    "GET migrate": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=200),
    "POST migrate": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=404),
    "GET migration": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=404),
    "POST cancel": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=404),
    # the routing table's editor (posted without a table: 400 for administrators) and a process
    # version's diagram and files
    "GET routing": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                        qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                        supervisor_city=403, auditor=403, admin=200),
    "POST routing": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=400),
    "GET diagram": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                        qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                        supervisor_city=403, auditor=403, admin=200),
    "GET download": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    # the security log: auditors and administrators
    "GET security": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=200, admin=200),
    "GET security_csv": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                             qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                             supervisor_city=403, auditor=200, admin=200),
    # API keys and tokens (issued without a kind: 400; revoking one that does not exist: 404)
    "GET keys": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                     qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                     supervisor_city=403, auditor=403, admin=200),
    "GET keys_new": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    "POST keys_new": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=400),
    "POST keys_revoke": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                             qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                             supervisor_city=403, auditor=403, admin=404),
    # the reporter's contact: only the desk working the case (DLH's coordinators, at disposition)
    "POST contact": dict(anonymous=302, triage=403, coordinator_own=200, coordinator_foreign=404,
                         qr_foreign=404, supervisor_own=403, supervisor_foreign=404,
                         supervisor_city=403, auditor=403, admin=403),
    # one's own password: everyone logged in (posted empty: 400)
    "GET password": dict(anonymous=302, triage=200, coordinator_own=200, coordinator_foreign=200,
                         qr_foreign=200, supervisor_own=200, supervisor_foreign=200,
                         supervisor_city=200, auditor=200, admin=200),
    "POST password": dict(anonymous=302, triage=400, coordinator_own=400, coordinator_foreign=400,
                          qr_foreign=400, supervisor_own=400, supervisor_foreign=400,
                          supervisor_city=400, auditor=400, admin=400),
    # the catalogue's administration (web/admin_catalogue.py); posts change nothing for anyone
    "GET categories": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                           qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                           supervisor_city=403, auditor=403, admin=200),
    "GET category": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    # POST category-new: an empty form: the code and names are required
    "POST category-new": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                              qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                              supervisor_city=403, auditor=403, admin=400),
    # POST category: without the fingerprint of the values it was opened with: a conflict
    "POST category": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=409),
    "GET templates": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=200),
    "GET template": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    "POST template-new": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                              qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                              supervisor_city=403, auditor=403, admin=400),
    "POST template": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=409),
    # POST template-active: neither on nor off
    "POST template-active": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                                 qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                                 supervisor_city=403, auditor=403, admin=400),
    "GET areas": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                      qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                      supervisor_city=403, auditor=403, admin=200),
    "GET area": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                     qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                     supervisor_city=403, auditor=403, admin=200),
    "POST area": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                      qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                      supervisor_city=403, auditor=403, admin=409),
    "GET kelurahan-new": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                              qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                              supervisor_city=403, auditor=403, admin=200),
    # POST kelurahan-new: no name
    "POST kelurahan-new": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                               qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                               supervisor_city=403, auditor=403, admin=400),
    "GET boundaries": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                           qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                           supervisor_city=403, auditor=403, admin=200),
    # POST boundaries: no file
    "POST boundaries": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                            qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                            supervisor_city=403, auditor=403, admin=400),
    # POST boundaries-import: no previewed file
    "POST boundaries-import": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                                   qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                                   supervisor_city=403, auditor=403, admin=400),
    "GET city": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                     qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                     supervisor_city=403, auditor=403, admin=200),
    "POST city": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                      qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                      supervisor_city=403, auditor=403, admin=409),
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
    "GET notice_text": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                         qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                         supervisor_city=403, auditor=403, admin=200),
    "POST notice_text": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                          qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                          supervisor_city=403, auditor=403, admin=400),
    "POST default_text": dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403,
                              qr_foreign=403, supervisor_own=403, supervisor_foreign=403,
                              supervisor_city=403, auditor=403, admin=409),
    # the audit log's public side (/transparansi) and a report's Bukti riwayat: no login, the same for all
    "GET transparency": dict(anonymous=200, triage=200, coordinator_own=200, coordinator_foreign=200,
                             qr_foreign=200, supervisor_own=200, supervisor_foreign=200,
                             supervisor_city=200, auditor=200, admin=200),
    "GET proof": dict(anonymous=200, triage=200, coordinator_own=200, coordinator_foreign=200,
                      qr_foreign=200, supervisor_own=200, supervisor_foreign=200,
                      supervisor_city=200, auditor=200, admin=200),
}


def _admin_only(admin: int) -> dict:
    return dict(anonymous=302, triage=403, coordinator_own=403, coordinator_foreign=403, qr_foreign=403,
                supervisor_own=403, supervisor_foreign=403, supervisor_city=403, auditor=403, admin=admin)


# users, agencies and QR teams (web/admin_people.py): forms posted empty are 400 for administrators,
# and an account's buttons are tried on an account that does not exist (404), so nothing changes
EXPECTED.update({
    "GET users": _admin_only(200), "GET user-new": _admin_only(200), "GET user": _admin_only(200),
    "POST user-new": _admin_only(400), "POST user": _admin_only(400), "POST user-password": _admin_only(404),
    "POST user-deactivate": _admin_only(404), "POST user-reactivate": _admin_only(404),
    "GET agencies": _admin_only(200), "GET agency-new": _admin_only(200), "GET agency": _admin_only(200),
    "POST agency-new": _admin_only(400), "POST agency": _admin_only(400),
    "GET teams": _admin_only(200), "GET team-new": _admin_only(200), "GET team": _admin_only(200),
    "POST team-new": _admin_only(400), "POST team": _admin_only(400),
})


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
        "GET processes": "/admin/processes/", "POST deploy": "/admin/processes/",
        "GET migrate": "/admin/processes/1/migrate", "POST migrate": "/admin/processes/1/migrate",
        "GET migration": "/admin/processes/migrations/999999",
        "POST cancel": "/admin/processes/migrations/999999/cancel",
        "GET routing": "/admin/processes/routing", "POST routing": "/admin/processes/routing",
        "GET diagram": "/admin/processes/1/diagram", "GET download": "/admin/processes/1/files/routing.dmn",
        "GET security": "/audit/security", "GET security_csv": "/audit/security/export.csv",
        "GET keys": "/admin/keys", "GET keys_new": "/admin/keys/new", "POST keys_new": "/admin/keys/new",
        "POST keys_revoke": "/admin/keys/00000000/revoke", "POST contact": f"/cases/{sub.case_id}/contact",
        "GET password": "/akun/sandi", "POST password": "/akun/sandi",
        "GET users": "/admin/users?role=triage", "GET user-new": "/admin/users/new",
        "GET user": f"/admin/users/{w.triage.user_id}", "POST user-new": "/admin/users/new",
        "POST user": f"/admin/users/{w.triage.user_id}", "POST user-password": "/admin/users/999999/password",
        "POST user-deactivate": "/admin/users/999999/deactivate", "POST user-reactivate": "/admin/users/999999/reactivate",
        "GET agencies": "/admin/agencies", "GET agency-new": "/admin/agencies/new", "GET agency": "/admin/agencies/DLH",
        "POST agency-new": "/admin/agencies/new", "POST agency": "/admin/agencies/DLH",
        "GET teams": "/admin/teams", "GET team-new": "/admin/teams/new", "GET team": "/admin/teams/qr-mariso-1",
        "POST team-new": "/admin/teams/new", "POST team": "/admin/teams/qr-mariso-1",
        "GET categories": "/admin/categories", "GET category": "/admin/categories/1",
        "POST category-new": "/admin/categories/new", "POST category": "/admin/categories/1",
        "GET templates": "/admin/templates", "GET template": "/admin/templates/1",
        "POST template-new": "/admin/templates/new", "POST template": "/admin/templates/1",
        "POST template-active": "/admin/templates/1/active", "GET areas": "/admin/areas",
        "GET area": "/admin/areas/1", "POST area": "/admin/areas/1", "GET kelurahan-new": "/admin/areas/1/new",
        "POST kelurahan-new": "/admin/areas/1/new", "GET boundaries": "/admin/areas/boundaries",
        "POST boundaries": "/admin/areas/boundaries", "POST boundaries-import": "/admin/areas/boundaries/import",
        "GET city": "/admin/city", "POST city": "/admin/city",
        "GET calendar": "/admin/calendar", "POST hours": "/admin/calendar/hours",
        "POST add_day": "/admin/calendar/days", "POST remove_day": "/admin/calendar/days/999999/remove",
        "GET notices": "/admin/notices", "POST notices": "/admin/notices",
        "GET notice_text": "/admin/notices/templates/id/case_closed",
        "POST notice_text": "/admin/notices/templates/id/case_closed",
        "POST default_text": "/admin/notices/templates/id/case_closed/default",
        "GET transparency": "/transparansi", "GET proof": f"/lacak/{sub.tracking_code}/bukti-riwayat.json",
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
                "POST resolve": {"note": "Sudah ditangani."}, "POST migrate": {"to": "99"},
                "POST routing": {"xml": "", "note": ""},
                "POST notices": {"told": "bogus"}}.get(kind, {"body": "Catatan uji"})
        response = client.post(urls[kind], data)
    body = response.get_data().decode("utf-8", "replace")
    response.close()
    assert response.status_code == EXPECTED[kind][role], body[-600:]
    if response.status_code == 302 and role == "anonymous":
        assert response.headers["Location"].startswith("/login")
