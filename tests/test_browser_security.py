"""Browser tests of the security log's pages: the triage desk opens a reporter's contact in
place (htmx), an administrator issues a token and sees its secret once; both pages pass axe.

They use the live server and Chromium of ``tests/test_browser.py`` (skipped there without them,
failed under CI)."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from tests import test_browser
from tests.helpers import PASSWORD
from tests.test_browser import FAILING, _axe, _context, _login
from workflow import commands
from workflow.store.models import SecurityEvent

browser, server = test_browser.browser, test_browser.server  # the fixtures, shared


def _serious(page) -> list[str]:
    return [f"{v['id']}: {v['help']}" for v in _axe(page) if v["impact"] in FAILING]


def _logged(services, action: str) -> list[SecurityEvent]:
    with services.reading() as session:
        return list(session.scalars(select(SecurityEvent).where(SecurityEvent.action == action)))


def test_the_triage_desk_opens_a_reporters_contact_in_place(browser, server):
    base, services = server
    with services.uow() as uow:
        sub = commands.submit_report(uow, commands.ReportInput(
            category="sampah", description="Sampah di depan SD Inpres, sudah seminggu.",
            lat=-5.1560, lon=119.4050, area="mariso", reporter_name="Daeng Ngai", contact_phone="0811 4000 123"))
        uow.commit()
    context, errors = _context(browser, base, bypass_csp=True)  # axe goes in as a script of its own
    page = _login(context, "triase")
    page.goto(f"/cases/{sub.case_id}")
    assert "0811 4000 123" not in page.inner_text("main")
    page.click("#contact-reveal button")
    expect(page.locator(f"#contact-{sub.case_id}")).to_contain_text("0811 4000 123")
    assert page.url.endswith(f"/cases/{sub.case_id}")  # in place: no page of its own
    assert page.locator(f"#contact-{sub.case_id} a[href='tel:08114000123']").count() == 1
    assert [e.actor_name for e in _logged(services, "contact_viewed")] == ["triase"]
    assert _serious(page) == []
    assert errors == []
    context.close()


def test_an_administrator_issues_a_token_and_sees_its_secret_once(browser, server):
    base, services = server
    with services.uow() as uow:
        commands.create_user(uow, username="admin.kota", full_name="Admin Kota", password=PASSWORD,
                             roles=[("admin", None)])
        uow.commit()
    context, errors = _context(browser, base, bypass_csp=True)
    page = _login(context, "admin.kota", lands="**/admin/")
    page.click("text=Kunci API dan token")
    page.click("text=Terbitkan kunci atau token")
    page.check("input[name=kind][value=token]")
    page.fill("#name", "Sistem DLH")
    page.fill("#username", "koor.dlh")
    page.click("#key-form button[type=submit]")
    secret = page.input_value("#secret")
    assert secret.startswith("tgt_")
    assert _serious(page) == []
    page.click("text=Kembali ke kunci API dan token")
    assert secret not in page.content() and "Sistem DLH" in page.inner_text("#credentials")
    page.click("#credentials >> text=Cabut")
    page.click("#revoke-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("dicabut")
    assert [e.actor_name for e in _logged(services, "credential_created")] == ["admin.kota"]
    assert [e.actor_name for e in _logged(services, "credential_revoked")] == ["admin.kota"]
    assert errors == []
    context.close()
