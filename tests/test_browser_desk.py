"""Browser tests of the desk: a supervisor's bulk action on late tasks, and finding a case.

They use the live server and Chromium of ``tests/test_browser.py`` (skipped there without them,
failed under CI)."""

from __future__ import annotations

from datetime import timedelta

from escalation.sweeper import Sweeper
from tests import test_browser
from tests.helpers import PASSWORD
from tests.test_browser import _as_user, _context, _login
from workflow import commands

browser, server = test_browser.browser, test_browser.server  # the fixtures, shared


def _late_cases(services, count: int) -> list:
    """``count`` reports past twice their disposition target (breach and critical raised)."""
    subs = []
    with services.uow() as uow:
        for n in range(count):
            subs.append(commands.submit_report(uow, commands.ReportInput(
                category="sampah", description=f"Sampah menumpuk di Pasar Lette, tumpukan {n + 1}.",
                lat=-5.1560, lon=119.4050, area="mariso", contact_phone="0811 4000 123")))
        commands.create_user(uow, username="sup.kota", full_name="Supervisor Kota", password=PASSWORD,
                             roles=[("supervisor", None)])
        uow.commit()
    for sub in subs:
        _as_user(services, sub.case_id, "triase", {"decision": "valid"})
    services.clock.advance(timedelta(hours=20))
    Sweeper(services, worker="test").run_once()
    return subs


def test_a_supervisor_acknowledges_ticked_late_tasks_in_one_go(browser, server):
    base, services = server
    subs = _late_cases(services, 3)
    context, errors = _context(browser, base)
    page = _login(context, "sup.kota", lands="**/escalations")
    rows = page.locator("#escalations tbody tr")
    assert rows.count() == 3  # each late task once, though each reached two levels
    for sub in subs[:2]:
        page.check(f"tr[data-case='{sub.case_number}'] input[name=row]")
    # the list's own refresh waits while tasks are ticked: a refresh now would drop the ticks
    page.evaluate("htmx.ajax('GET', location.href, {source: '#escalations', target: '#escalations'})")
    page.wait_for_timeout(300)
    assert page.locator("input[name=row]:checked").count() == 2
    page.check("input[name=action][value=acknowledge]")
    page.fill("#reason", "Sudah saya telepon kepala bidang, diangkut hari ini.")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector(".flash")
    assert "Selesai untuk 2 tugas" in page.inner_text(".flash")
    assert [page.locator("#escalations tbody tr").first.get_attribute("data-case")] == [subs[2].case_number]
    assert rows.count() == 1
    assert errors == []
    context.close()


def test_the_triage_desk_finds_a_callers_case_by_phone(browser, server):
    base, services = server
    with services.uow() as uow:
        sub = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah di depan SD Inpres, sudah seminggu.",
            lat=-5.1560, lon=119.4050, area="mariso", contact_phone="+62 811-4000-123"))
        uow.commit()
    context, errors = _context(browser, base)
    page = _login(context, "triase")
    page.click("nav >> text=Cari kasus")
    page.fill("#s-q", "0811 4000 123")
    page.click("#case-search button[type=submit]")
    page.wait_for_selector(f"tr[data-case='{sub.case_number}']")
    assert "Dicari sebagai nomor telepon pelapor" in page.inner_text("main")
    page.click(f"text={sub.case_number}")
    page.wait_for_url(f"**/cases/{sub.case_id}")
    assert errors == []
    context.close()
