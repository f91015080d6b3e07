"""Finding a case at the desk: by number, tracking code, the reporter's phone or e-mail (only
where the searcher may see the contact), words, kelurahan, state, and one's own earlier work."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests import actions
from tests.webclient import WebClient
from workflow.read.search import excerpt, phone_core, query_kind


def _found(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return re.findall(r'<tr data-case="([^"]+)"', response.get_data(as_text=True))


def _client(app, username: str) -> WebClient:
    web = WebClient(app)
    web.login(username)
    return web


@pytest.fixture
def desk(world, app):
    """A DLH case in triage (the reporter's phone +62 811 4000 123), a DLH case DLH works (the
    reporter Daeng Ngai again, another phone), and a Dinsos case; the desk's clients."""
    w = world
    waiting = w.report(description="Sampah menumpuk di depan pasar, 100% penuh.")
    w.services.clock.advance(timedelta(minutes=5))
    worked = w.report(description="Got mampet di Jl. Nuri.", category="sampah", contact_phone="0812-9999-0001",
                      contact_email="Ngai@Example.ID", kelurahan="mariso/kampung-buyang")
    w.do(actions.triage, w.triage, worked.case_id, decision="valid")
    w.do(actions.accept, w.dlh, worked.case_id)
    w.services.clock.advance(timedelta(minutes=5))
    other = w.report(category="gepeng", description="Anak mengemis di lampu merah.",
                     contact_phone="0813 5555 0002")
    w.do(actions.triage, w.triage, other.case_id, decision="valid")
    w.dinsos
    w.qr_mariso
    return waiting, worked, other


def test_every_staff_role_finds_cases_of_its_scope_by_number(world, app, desk):
    waiting, worked, other = desk
    world.user("sup.dlh", ("supervisor", "DLH"))
    world.auditor
    seen = {"triase": {waiting, worked, other}, "koor.dlh": {worked}, "koor.dinsos": {other},
            "sup.dlh": {worked}, "inspektorat": {waiting, worked, other}, "qr.mariso": set()}
    for username, cases in seen.items():
        web = _client(app, username)
        for sub in desk:
            assert _found(web.get(f"/cases?q={sub.case_number}")) == (
                [sub.case_number] if sub in cases else []), (username, sub.case_number)
    page = _client(app, "koor.dinsos").get(f"/cases?q={worked.case_number}").get_data(as_text=True)
    assert "Dicari sebagai nomor kasus." in page and "Tidak ada kasus" in page


def test_the_reporters_phone_finds_the_case_only_for_the_desk_that_calls_back(world, app, desk):
    waiting, worked, _other = desk
    triage = _client(app, "triase")
    for typed in ("+62 811 4000 123", "0811-4000-123", "628114000123", "(0811) 4000.123"):
        assert _found(triage.get("/cases", query_string={"q": typed})) == [waiting.case_number], typed
    # the DLH case has left triage: its contact is the coordinators' now, not the triage desk's
    assert _found(triage.get("/cases", query_string={"q": "0812 9999 0001"})) == []
    dlh = _client(app, "koor.dlh")
    assert _found(dlh.get("/cases", query_string={"q": "+62812-9999-0001"})) == [worked.case_number]
    assert _found(dlh.get("/cases", query_string={"q": "ngai@example.id"})) == [worked.case_number]
    assert _found(dlh.get("/cases", query_string={"q": "0811 4000 123"})) == []  # still in triage
    assert _found(triage.get("/cases", query_string={"q": "DAENG@example.id"})) == [waiting.case_number]


def test_a_closed_case_or_an_anonymous_report_is_not_found_by_contact(world, app):
    closed = world.approved(contact_phone="0811 2222 3333")
    world.do(actions.close, world.dlh, closed.case_id, closure_note="Sudah bersih.")
    dlh = _client(app, "koor.dlh")  # until the reporter confirms, DLH may still call back
    assert _found(dlh.get("/cases", query_string={"q": "081122223333"})) == [closed.case_number]
    world.citizen(actions.confirm, closed.tracking_code)
    hidden = world.report(contact_phone="0811 2222 3333", anonymous=True)
    triage = _client(app, "triase")
    assert _found(triage.get("/cases", query_string={"q": "081122223333"})) == []
    assert _found(dlh.get("/cases", query_string={"q": "081122223333"})) == []
    # both are still found by number, without their contact
    assert _found(triage.get(f"/cases?q={hidden.case_number}")) == [hidden.case_number]
    assert _found(dlh.get(f"/cases?q={closed.case_number}")) == [closed.case_number]


def test_roles_that_never_call_back_are_told_they_cannot_search_by_contact(world, app, desk):
    world.auditor
    for username in ("qr.mariso", "inspektorat"):
        web = _client(app, username)
        for typed in ("0811 4000 123", "daeng@example.id"):
            answer = web.get("/cases", query_string={"q": typed})
            page = answer.get_data(as_text=True)
            assert answer.status_code == 400
            assert "hanya untuk meja triase dan koordinator OPD" in page
            assert f'value="{typed}"' in page  # what was typed is kept
            assert 'aria-describedby="s-q-hint s-q-error"' in page and 'id="s-q-error"' in page


def test_words_tracking_code_kelurahan_and_state(world, app, desk):
    waiting, worked, other = desk
    triage = _client(app, "triase")
    assert _found(triage.get("/cases", query_string={"q": "PASAR"})) == [waiting.case_number]
    assert _found(triage.get("/cases", query_string={"q": "100%"})) == [waiting.case_number]
    assert _found(triage.get("/cases", query_string={"q": "1_0%"})) == []  # no wildcards
    assert _found(triage.get("/cases", query_string={"q": "jl. nuri"})) == [worked.case_number]
    code = worked.tracking_code.replace("-", "").lower()
    assert _found(triage.get("/cases", query_string={"q": code})) == [worked.case_number]
    assert _found(triage.get("/cases?kelurahan=mariso/kampung-buyang")) == [worked.case_number]
    assert _found(triage.get("/cases?category=gepeng")) == [other.case_number]
    assert _found(triage.get("/cases")) == [other.case_number, worked.case_number, waiting.case_number]
    world.do(actions.triage, world.triage, waiting.case_id, decision="reject", reason="Bukan wewenang kota.")
    assert _found(triage.get("/cases?state=over")) == [waiting.case_number]
    assert _found(triage.get("/cases?state=open")) == [other.case_number, worked.case_number]
    assert triage.get("/cases?state=bogus").status_code == 400


def test_a_qr_officer_finds_the_field_work_they_did(world, app):
    done = world.approved()
    world.do(actions.close, world.dlh, done.case_id, closure_note="Sudah bersih.")
    untouched = world.report()
    world.do(actions.triage, world.triage, untouched.case_id, decision="valid")
    world.do(actions.accept, world.dlh, untouched.case_id)
    world.do(actions.dispatch, world.dlh, untouched.case_id, team="qr-mariso-1")
    qr = _client(app, "qr.mariso")
    assert _found(qr.get("/cases?mine=1")) == [done.case_number]
    assert _found(qr.get("/cases")) == [untouched.case_number, done.case_number]
    assert 'name="mine" value="1" checked' in qr.get("/cases?mine=1").get_data(as_text=True)


@pytest.mark.parametrize("raw", ["q=Sampah%00", "q=%1Bx"])
def test_control_characters_are_refused(world, app, desk, raw):
    answer = _client(app, "triase").get(f"/cases?{raw}")
    assert answer.status_code == 400
    assert "karakter kontrol atau Unicode rusak" in answer.get_data(as_text=True)


def test_broken_utf8_in_the_query_searches_for_what_could_be_read(world, app, desk):
    """The bytes of a lone surrogate arrive as U+FFFD (the server decodes with replacement)."""
    assert _found(_client(app, "triase").get("/cases?q=pasar%ED%B3%BF")) == []


def test_a_query_too_long_is_refused_and_kept(world, app, desk):
    answer = _client(app, "triase").get("/cases", query_string={"q": "x" * 201})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="s-q-error">paling banyak 200 karakter' in page
    assert 'value="' + "x" * 201 + '"' in page


def test_huge_page_numbers_are_refused(world, app, desk):
    assert _client(app, "triase").get("/cases?page=99999999999999999999").status_code == 400


def test_citizens_and_strangers_cannot_search(world, app):
    assert WebClient(app).get("/cases").status_code == 302


def test_what_a_query_is_taken_for():
    assert query_kind("2026-000013") == "number"
    assert query_kind("2026-0000013") == "number"  # a zero too many: still a number (found or not)
    assert query_kind("0812-34567890") == "phone"
    assert query_kind("daeng@example.id") == "email"
    assert query_kind("+62 811-4000-123") == "phone"
    assert query_kind("0811 400") == "text"  # seven digits: not a whole phone number
    assert query_kind("abcd efgh") == "tracking_code"
    assert query_kind("sampah pasar") == "text"
    assert phone_core("+62 811 4000 123") == phone_core("0811-4000-123") == "8114000123"
    assert excerpt("kata " * 100).endswith("…") and len(excerpt("kata " * 100)) <= 161
    assert excerpt("  satu\n dua  ") == "satu dua"


def test_the_filters_dashboard_figures_link_to(world, app):
    """Each figure's list counts the way the figure does: stage, late now, age, received, closed."""
    late = world.report()
    world.do(actions.triage, world.triage, late.case_id, decision="valid")
    world.services.clock.advance(timedelta(days=2))
    fresh = world.report()
    world.do(actions.triage, world.triage, fresh.case_id, decision="valid")
    done = world.approved()
    world.do(actions.close, world.dlh, done.case_id, closure_note="Sudah bersih.")
    world.citizen(actions.confirm, done.tracking_code)
    world.auditor
    auditor = _client(app, "inspektorat")
    both = sorted([late.case_number, fresh.case_number], reverse=True)
    assert _found(auditor.get("/cases?stage=disposition&agency=DLH")) == both
    assert _found(auditor.get("/cases?stage=disposition&late=1&agency=DLH")) == [late.case_number]
    assert _found(auditor.get("/cases?state=open&age_min=1")) == [late.case_number]
    assert _found(auditor.get("/cases?state=open&age_min=0&age_max=1")) == [fresh.case_number]
    today = world.services.clock.now().astimezone(world.services.zone).date().isoformat()
    assert _found(auditor.get(f"/cases?status=closed&closed_from={today}&closed_to={today}")) == [done.case_number]
    assert _found(auditor.get(f"/cases?received_from={today}&received_to={today}")) == [
        done.case_number, fresh.case_number]
    page = auditor.get("/cases?stage=disposition&late=1").get_data(as_text=True)
    assert 'id="figure-filters"' in page and 'type="hidden" name="late" value="1"' in page
    for bad in ("stage=bogus", "status=bogus", "closed_from=kemarin", "age_min=99999999", "age_min=-1",
                "received_from=2026-12-02&received_to=2026-12-01"):
        assert auditor.get(f"/cases?{bad}").status_code == 400, bad


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_results_come_in_pages_that_keep_the_search(world, app):
    subs = [world.report(description=f"Sampah menumpuk di pasar, laporan ke-{n}.") for n in range(26)]
    world.triage
    triage = _client(app, "triase")
    first = triage.get("/cases?q=pasar")
    assert len(_found(first)) == 25 and "Halaman 1 dari 2" in first.get_data(as_text=True)
    link = re.search(r'href="(/cases\?[^"]*page=2[^"]*)">', first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert "q=pasar" in link
    assert _found(triage.get(link)) == [subs[0].case_number]
