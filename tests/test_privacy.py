"""Reporter privacy: *anonim* hides who reported from every staff role; contact details reach
only the desk that must call back; a merged duplicate's status page shows nothing of the other
reporter."""

from __future__ import annotations

import pytest

from tests import actions
from tests.webclient import WebClient
from workflow import commands
from workflow.commands.contacts import reveal_contact
from workflow.errors import PermissionDenied
from workflow.read.cases import case_detail
from workflow.read.public import public_status


@pytest.fixture
def staff(world):
    w = world
    return {"triage": w.triage, "dlh": w.dlh, "dpu": w.dpu, "qr": w.qr_mariso, "auditor": w.auditor,
            "sup_dlh": w.user("sup.dlh", ("supervisor", "DLH")), "sup_city": w.user("sup.kota", ("supervisor", None)),
            "admin": w.user("admin.kota", ("admin", None))}


def _seen(world, actor, case_id):
    """The reporter's name as the case shows it, and the e-mail and phone the actor gets when
    asking for them (the only way: ``reveal_contact``), or None, None when refused."""
    with world.services.reading() as session:
        d = case_detail(session, actor, case_id)
    try:
        with world.services.uow() as uow:
            contact = reveal_contact(uow, actor, case_id)
            uow.commit()
    except PermissionDenied:
        assert not d.contact_available  # no button for what would be refused
        return d.reporter_name, None, None
    assert d.contact_available
    return d.reporter_name, contact.email, contact.phone


def test_contact_details_reach_only_the_desk_working_the_case(world, staff):
    w = world
    sub = w.report()
    triage_view = {k: _seen(w, a, sub.case_id) for k, a in staff.items() if k in ("triage", "auditor", "admin", "sup_city")}
    assert triage_view["triage"] == ("Daeng Ngai", "daeng@example.id", "+62 811 4000 123")
    for who in ("auditor", "admin", "sup_city"):
        assert triage_view[who] == ("Daeng Ngai", None, None), who
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")  # routed to DLH
    assert _seen(w, staff["dlh"], sub.case_id) == ("Daeng Ngai", "daeng@example.id", "+62 811 4000 123")
    assert _seen(w, staff["triage"], sub.case_id)[1:] == (None, None)  # triage is done with it
    for who in ("sup_dlh", "sup_city", "auditor", "admin"):
        assert _seen(w, staff[who], sub.case_id) == ("Daeng Ngai", None, None), who
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    assert _seen(w, staff["qr"], sub.case_id) == ("Daeng Ngai", None, None)


def test_an_anonymous_reporter_is_known_to_no_staff_role(world, staff, app):
    w = world
    sub = w.report(anonymous=True)
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    for who, actor in staff.items():
        if who in ("dpu", "qr"):
            continue  # cannot see the case at all
        assert _seen(w, actor, sub.case_id) == (None, None, None), who
    page = WebClient(app)
    page.login("koor.dlh")
    html = page.get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert "Daeng" not in html and "daeng@example.id" not in html and "4000 123" not in html
    assert "anonim: identitas pelapor tidak ditampilkan" in html


def test_a_merged_duplicate_shows_nothing_of_the_other_reporter(world, web):
    w = world
    first = w.report(description="Sampah menumpuk di pasar, bau sekali.")
    second = w.report(description="Tumpukan sampah di pasar yang sama, belum diangkut.",
                      reporter_name="Andi", contact_email="andi@example.id")
    w.do(actions.triage, w.triage, first.case_id, decision="valid")
    item, dlh = w.item(first.case_id), w.dlh
    with w.services.uow() as uow:
        commands.request_information(uow, dlh, item.id, question="Di sisi mana pasar tepatnya?")
        uow.commit()
    w.citizen(commands.answer_information, first.tracking_code, answer="Sisi utara, dekat rumah saya di Jl. Rahasia 7")
    with w.services.uow() as uow:
        commands.add_note(uow, dlh, first.case_id, "Tim akan datang besok pagi.", public=True)
        uow.commit()
    w.do(actions.merge_duplicate, w.triage, second.case_id, into_case_number=first.case_number,
         reason="Laporan yang sama")
    with w.services.reading() as session:
        status = public_status(session, w.services.tracking, w.services.definition, second.tracking_code)
    assert status.merged_into == first.case_number
    bodies = [n.body for n in status.replies]
    assert "Tim akan datang besok pagi." in bodies  # the OPD's public reply is for everyone
    assert not any("Jl. Rahasia 7" in b for b in bodies)  # the other reporter's answer is theirs
    html = web.get(f"/lacak/{second.tracking_code}").get_data(as_text=True)
    assert "Jl. Rahasia 7" not in html and "bau sekali" not in html and "Daeng" not in html
    assert "belum diangkut" in html  # its own description
    own = web.get(f"/lacak/{first.tracking_code}").get_data(as_text=True)
    assert "Jl. Rahasia 7" in own  # the first reporter still sees their own answer


def test_contact_details_are_gone_once_the_case_is_over(world, staff):
    w = world
    rejected = w.report()
    assert _seen(w, staff["triage"], rejected.case_id)[1] == "daeng@example.id"
    w.do(actions.triage, w.triage, rejected.case_id, decision="reject", reason="Bukan wewenang kota.")
    for who in ("triage", "admin"):
        assert _seen(w, staff[who], rejected.case_id)[1:] == (None, None), who
    sub = w.approved()
    w.do(actions.close, w.dlh, sub.case_id, closure_note="Sampah sudah diangkut.")
    # resolved, and the reporter may still dispute: the OPD may have to call back
    assert _seen(w, staff["dlh"], sub.case_id)[1] == "daeng@example.id"
    w.citizen(actions.confirm, sub.tracking_code)
    assert w.case(sub.case_id).status == "closed"
    for who in ("triage", "dlh", "admin"):
        assert _seen(w, staff[who], sub.case_id) == ("Daeng Ngai", None, None), who
