"""The supervisors' escalation view."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation.sweeper import Sweeper
from tests.webclient import WebClient
from workflow import commands

WITA = ZoneInfo("Asia/Makassar")


@pytest.fixture
def late_cases(world):
    """A DLH case and a Dinsos case, both at twice their disposition target."""
    w = world
    subs = [w.report(), w.report(category="gepeng", description="Anak mengemis di lampu merah.")]
    for sub in subs:
        w.do(commands.triage, w.triage, sub.case_id, decision="valid")
    w.services.clock.advance(timedelta(hours=20))
    Sweeper(w.services, worker="test").run_once()
    w.user("sup.dlh", ("supervisor", "DLH"))
    w.user("sup.kota", ("supervisor", None))
    return subs


def _rows(response):
    return re.findall(r'data-case="([^"]+)" data-level="([^"]+)"', response.get_data(as_text=True))


def test_scope_filters_and_counts(world, app, late_cases):
    dlh_case, dinsos_case = late_cases
    opd = WebClient(app)
    assert opd.login("sup.dlh").headers["Location"] == "/escalations"
    page = opd.get("/escalations")
    assert _rows(page) == [(dlh_case.case_number, "breach")]
    assert "Melewati target SLA: 1" in page.get_data(as_text=True)

    city = WebClient(app)
    city.login("sup.kota")
    assert sorted(_rows(city.get("/escalations"))) == sorted([
        (dlh_case.case_number, "breach"), (dlh_case.case_number, "critical"),
        (dinsos_case.case_number, "breach"), (dinsos_case.case_number, "critical")])
    assert {c for c, _l in _rows(city.get("/escalations?agency=DINSOS"))} == {dinsos_case.case_number}
    assert {lvl for _c, lvl in _rows(city.get("/escalations?level=critical"))} == {"critical"}
    fragment = city.client.get("/escalations?level=critical",
                               headers={"HX-Request": "true", "HX-Target": "escalations"})
    assert "<html" not in fragment.get_data(as_text=True) and len(_rows(fragment)) == 2
    assert city.get("/escalations?level=loud").status_code == 400


def test_acknowledging_through_the_review_form(world, app, late_cases):
    dlh_case, _ = late_cases
    web = WebClient(app)
    web.login("sup.dlh")
    page = web.get("/escalations").get_data(as_text=True)
    review = re.search(r'href="(/tasks/\d+)">Tindak lanjuti<', page).group(1)
    form = web.get(review).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form).group(1)
    missing = web.post(review, {"version": version, "note": ""}, page=review)
    assert missing.status_code == 400
    done = web.post(review, {"version": version, "note": "Sudah saya tegur, selesai hari ini."}, page=review)
    assert done.status_code == 302
    assert _rows(web.get("/escalations")) == []
    assert "Sudah ditindaklanjuti" in web.get("/escalations?state=all").get_data(as_text=True)
    assert "escalation_acknowledged" in world.actions(dlh_case.case_id)


def test_only_supervisors(world, app, late_cases):
    world.dlh
    web = WebClient(app)
    assert web.get("/escalations").status_code == 302
    web.login("koor.dlh")
    assert web.get("/escalations").status_code == 403


def test_extending_a_deadline_from_the_view(world, app, late_cases):
    dlh_case, _ = late_cases
    web = WebClient(app)
    web.login("sup.dlh")
    link = re.search(r'href="(/escalations/items/\d+/extend)"', web.get("/escalations").get_data(as_text=True)).group(1)
    page = web.get(link).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    empty = web.post(link, {"version": version, "reason": ""}, page=link)
    assert empty.status_code == 400
    assert re.findall(r'class="error" role="alert">([^<]+)<', empty.get_data(as_text=True)) == [
        "wajib diisi", "wajib diisi"]
    new_due = (world.services.clock.now() + timedelta(days=2)).astimezone(WITA)
    done = web.post(link, {"version": version, "new_due": new_due.strftime("%Y-%m-%dT%H:%M"),
                           "reason": "Menunggu alat berat dari dinas"}, page=link)
    assert done.status_code == 302
    assert world.item(dlh_case.case_id).due_at == new_due.replace(second=0, microsecond=0)
    assert world.actions(dlh_case.case_id)[-1] == "deadline_extended"
    other = WebClient(app)
    world.user("sup.dinsos", ("supervisor", "DINSOS"))
    other.login("sup.dinsos")
    assert other.get(link).status_code == 404
