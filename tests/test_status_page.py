"""The reporter's status page (/lacak/<code>) through the web, JavaScript off: the timeline of
public events, the expected completion, the thread, a dispute, the rating and the dashboard's
figure of it, and codes however they are typed."""

from __future__ import annotations

import html as markup
import json
import re
from datetime import timedelta

import pytest

from escalation.sweeper import Sweeper
from tests import actions
from tests.webclient import errors
from workflow import commands
from workflow.engine.definition import RatingFields, _rating_fields
from workflow.engine.forms import parse_forms

FIXED = "Sampah sudah diangkut dari depan pasar."


def _page(web, code) -> str:
    response = web.get(f"/lacak/{code}")
    assert response.status_code == 200
    return markup.unescape(response.get_data(as_text=True))


def _timeline(page: str) -> list[tuple[str, str, str]]:
    """(kind, time as shown, line) of each timeline entry, in page order."""
    return [(kind, when, re.sub(r"\s+", " ", line).strip()) for kind, when, line in re.findall(
        r'<li class="[^"]*" data-kind="(\w+)">\s*<time[^>]*>([^<]+)</time><br>\s*<strong>([^<]+)</strong>', page)]


def _note(w, case_id, body, *, public):
    officer = w.dlh
    with w.services.uow() as uow:
        commands.add_note(uow, officer, case_id, body, public=public)
        uow.commit()
    w.later()


def _resolved(w, **report):
    """A case DLH has closed with :data:`FIXED` as its note: it waits for the reporter."""
    sub = w.approved(**report)
    w.do(actions.close, w.dlh, sub.case_id, closure_note=FIXED)
    return sub


def test_the_timeline_tells_each_public_event_once_dated_in_wita_and_names_no_one(world, web):
    w = world
    sub = w.report()
    w.do(commands.request_information, w.triage, sub.case_id, question="Di sisi mana pasarnya?")
    w.citizen(commands.answer_information, sub.tracking_code, answer="Sisi utara, dekat masjid.")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    _note(w, sub.case_id, "Catatan internal: truk sedang rusak.", public=False)
    _note(w, sub.case_id, "Truk dijadwalkan besok pagi.", public=True)
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran tersumbat: rahasia dapur")
    w.do(actions.accept, w.dpu, sub.case_id)
    w.do(actions.dispatch, w.dpu, sub.case_id, team="qr-mariso-1", instructions="Bawa sekop besar")
    w.field_work(w.qr_mariso, sub.case_id)
    w.do(actions.verify, w.dpu, sub.case_id, approve=True)
    w.do(actions.close, w.dpu, sub.case_id, closure_note=FIXED)

    page = _page(web, sub.tracking_code)
    entries = _timeline(page)
    assert [(kind, line) for kind, _when, line in entries] == [
        ("received", "Laporan diterima"),
        ("question", "Petugas Kominfo bertanya"),
        ("answer", "Anda menjawab"),
        ("routed", "Diverifikasi dan diteruskan ke Dinas Lingkungan Hidup"),
        ("reply", "Petugas DLH menulis"),
        ("transferred", "Dilimpahkan dari Dinas Lingkungan Hidup ke Dinas Pekerjaan Umum"),
        ("dispatched", "Dinas PU menugaskan tim lapangan"),
        ("resolved", "Dinas PU menyatakan masalah sudah ditangani"),
    ]
    events = {e.action: e.occurred_at for e in w.events(sub.case_id)}
    assert entries[0][1] == "23 Nov 2026 08:00 WITA"  # 00:00 UTC, in Makassar's time
    assert entries[-1][1] == events["case_resolved"].astimezone(w.services.zone).strftime("%d %b %Y %H:%M WITA")
    for text in ("Di sisi mana pasarnya?", "Sisi utara, dekat masjid.", "Truk dijadwalkan besok pagi."):
        assert f'<blockquote class="note-body">{text}</blockquote>' in page
    # no staff name, internal note, reason, instruction or contact detail
    for secret in ("triase", "Triase", "koor.dlh", "Koor.Dlh", "koor.dpu", "qr.mariso", "truk sedang rusak",
                   "rahasia dapur", "Bawa sekop", "daeng@example.id", "4000 123", "task_completed", "case_routed"):
        assert secret not in page, secret


def test_the_expected_completion_and_what_happens_when_it_is_late(world, web):
    w = world
    sub = w.report()
    expected = w.case(sub.case_id).expected_at
    shown = expected.astimezone(w.services.zone).strftime("%d %b %Y %H:%M WITA")
    page = _page(web, sub.tracking_code)
    assert re.search(rf'id="expected"><strong>Perkiraan selesai:</strong> <time[^>]*>{shown}</time>', page)
    assert "Melewati perkiraan" not in page

    w.services.clock.set(expected + timedelta(minutes=1))  # late, and nobody has been told yet
    page = _page(web, sub.tracking_code)
    assert "Melewati perkiraan selesai." in page and "diteruskan ke atasan" not in page.lower()

    assert Sweeper(w.services, worker="test").run_once().fired > 0  # the SLA timers escalate it
    page = _page(web, sub.tracking_code)
    raised = w.events(sub.case_id)[-1]
    assert raised.action == "escalation_raised"
    assert ("Melewati perkiraan selesai. Sudah diteruskan ke atasan pada "
            f"{raised.occurred_at.astimezone(w.services.zone).strftime('%d %b %Y %H:%M WITA')}.") in re.sub(r"\s+", " ", page)
    assert [line for kind, _when, line in _timeline(page) if kind == "escalated"] == [
        "Diteruskan ke atasan di Dinas Komunikasi dan Informatika",  # the triage's breach
        "Diteruskan ke atasan tingkat kota"]  # and twice its target: the city level

    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    w.field_work(w.qr_mariso, sub.case_id)
    w.do(actions.verify, w.dlh, sub.case_id, approve=True)
    w.do(actions.close, w.dlh, sub.case_id, closure_note=FIXED)
    assert 'id="expected"' not in _page(web, sub.tracking_code)  # handled: nothing is expected any more


def test_a_dispute_takes_the_closing_note_off_the_page(world, web):
    w = world
    sub = _resolved(w)
    url = f"/lacak/{sub.tracking_code}"
    page = _page(web, sub.tracking_code)
    assert f'<p id="closure-note">{FIXED}</p>' in page and "Sudah ditangani: mohon konfirmasi" in page
    assert "Wajib bila Anda memilih “Belum, saya sanggah”." in page  # under the reason, from tasks.yaml

    disputed = web.post(url, {"decision": "dispute", "reason": "Masih ada sampah di selokan."}, page=url)
    assert disputed.status_code == 302
    page = _page(web, sub.tracking_code)
    assert FIXED not in page and 'id="closure-note"' not in page
    assert '<span id="status">Sedang ditangani</span>' in page and 'id="feedback"' not in page
    kind, _when, line = _timeline(page)[-1]
    assert (kind, line) == ("disputed", "Anda menyatakan masalah belum selesai; laporan dikembalikan ke "
                                        "Dinas Lingkungan Hidup")
    assert '<blockquote class="note-body">Masih ada sampah di selokan.</blockquote>' in page

    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    w.field_work(w.qr_mariso, sub.case_id)
    w.do(actions.verify, w.dlh, sub.case_id, approve=True)
    w.do(actions.close, w.dlh, sub.case_id, closure_note="Selokan juga sudah dibersihkan.")
    page = _page(web, sub.tracking_code)
    assert '<p id="closure-note">Selokan juga sudah dibersihkan.</p>' in page and FIXED not in page
    assert [k for k, _w, _l in _timeline(page)].count("resolved") == 2


def test_a_rating_with_the_confirmation_is_stored_audited_shown_and_averaged_per_opd(world, web):
    w = world
    w.auditor
    first, second = _resolved(w), _resolved(w, description="Sampah di selokan belakang pasar.")
    url = f"/lacak/{first.tracking_code}"
    confirmed = web.post(url, {"decision": "confirm", "rating": "4", "comment": "Cepat, terima kasih."}, page=url)
    assert confirmed.status_code == 302
    case = w.case(first.case_id)
    assert (case.status, case.rating, case.rating_comment) == ("closed", 4, "Cepat, terima kasih.")
    assert case.rated_at == w.services.clock.now()
    completed = [json.loads(e.data) for e in w.events(first.case_id) if e.action == "task_completed"][-1]
    assert completed["values"] == {"decision": "confirm", "reason": None, "rating": "4",
                                   "comment": "Cepat, terima kasih."}  # in the confirmation's audit event
    assert w.chain_breaks() == []
    page = _page(web, first.tracking_code)
    kind, _when, line = _timeline(page)[-1]
    assert (kind, line) == ("confirmed", "Anda menyatakan masalah sudah selesai; laporan ditutup")
    assert "Penilaian Anda: 4 dari 5" in page
    assert '<blockquote class="note-body">Cepat, terima kasih.</blockquote>' in page

    other = f"/lacak/{second.tracking_code}"
    assert web.post(other, {"decision": "confirm", "rating": "1"}, page=other).status_code == 302
    unrated = _resolved(w)  # confirmed without a rating: counts for nothing
    assert web.post(f"/lacak/{unrated.tracking_code}", {"decision": "confirm", "rating": ""},
                    page=f"/lacak/{unrated.tracking_code}").status_code == 302
    assert w.case(unrated.case_id).rating is None and w.case(unrated.case_id).rated_at is None
    remarked = _resolved(w)  # a comment without a rating is kept, and counts for nothing either
    assert web.post(f"/lacak/{remarked.tracking_code}", {"decision": "confirm", "comment": "Oke."},
                    page=f"/lacak/{remarked.tracking_code}").status_code == 302
    case = w.case(remarked.case_id)
    assert (case.rating, case.rating_comment, case.rated_at) == (None, "Oke.", w.services.clock.now())

    day = w.services.clock.now().astimezone(w.services.zone).date()
    staff = type(web)(web.app)
    staff.login("inspektorat")
    board = staff.get(f"/dashboard?start={day}&end={day}").get_data(as_text=True)
    table = re.search(r'<table data-table="ratings">.*?</table>', board, re.S).group(0)
    rows = [re.findall(r"<td>([^<]*)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert rows == [["Seluruh kota", "2", "2.5"], ["DLH", "2", "2.5"]]
    csv_text = staff.get(f"/dashboard/ratings.csv?start={day}&end={day}").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").splitlines() == ["OPD,Jumlah penilaian,Rata-rata", "Seluruh kota,2,2.5",
                                                       "DLH,2,2.5"]
    before = day - timedelta(days=1)
    earlier = staff.get(f"/dashboard?start={before}&end={before}").get_data(as_text=True)
    table = re.search(r'<table data-table="ratings">.*?</table>', earlier, re.S).group(0)
    assert re.findall(r"<td>([^<]*)</td>", table) == ["Seluruh kota", "0", "—"]  # outside the period


@pytest.mark.parametrize("posted, field, message", [
    ({"rating": "0"}, "rating", "'0' bukan salah satu pilihan yang tersedia"),
    ({"rating": "6"}, "rating", "'6' bukan salah satu pilihan yang tersedia"),
    ({"rating": "4.5"}, "rating", "'4.5' bukan salah satu pilihan yang tersedia"),
    ({"rating": "empat"}, "rating", "'empat' bukan salah satu pilihan yang tersedia"),
    ({"rating": "3", "comment": "x" * 501}, "comment", "paling banyak 500 karakter"),
    ({"rating": "3", "comment": "bagus\x00"}, "comment", "berisi karakter yang tidak diizinkan"),
    ({"rating": "3", "comment": "bagus\x1b[31m"}, "comment", "berisi karakter yang tidak diizinkan"),
    ({"decision": "dispute", "reason": "Belum.", "rating": "5"}, "rating", "kosongkan untuk jawaban yang Anda pilih"),
    ({"decision": "dispute", "reason": "Belum.", "comment": "Lumayan"}, "comment",
     "kosongkan untuk jawaban yang Anda pilih"),
])
def test_a_bad_rating_is_refused_on_its_field_and_nothing_is_recorded(world, web, posted, field, message):
    w = world
    sub = _resolved(w)
    url = f"/lacak/{sub.tracking_code}"
    before = w.actions(sub.case_id)
    response = web.post(url, {"decision": "confirm", **posted}, page=url)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    at = page.index(f'id="{field}"')
    shown = errors(response)
    assert len(shown) == 1 and message in markup.unescape(shown[0])
    assert page.index(shown[0], at) > at  # under its own field
    assert w.actions(sub.case_id) == before and w.case(sub.case_id).rating is None
    if posted.get("comment") and "\x00" not in posted["comment"] and "\x1b" not in posted["comment"]:
        assert markup.escape(posted["comment"]) in page  # what was typed is kept
    if field == "rating" and posted["rating"] == "5":
        assert re.search(r'<input [^>]*checked [^>]*name="rating" type="radio" value="5"', page)
        assert '<input type="radio" name="rating" value=""> Tanpa penilaian' in page  # to go back to


def test_a_code_typed_in_lower_case_without_its_hyphen_finds_the_report(world, web):
    sub = _resolved(world)
    typed = sub.tracking_code.replace("-", "").lower()
    found = web.get(f"/lacak?code=+{typed}+")
    assert found.status_code == 302 and found.headers["Location"] == f"/lacak/{sub.tracking_code}"
    page = _page(web, typed)
    assert f"<h1>Laporan {sub.tracking_code}</h1>" in page
    confirmed = web.post(f"/lacak/{typed}", {"decision": "confirm", "rating": "5"}, page=f"/lacak/{typed}")
    assert confirmed.status_code == 302 and world.case(sub.case_id).rating == 5


def test_a_merged_duplicate_follows_the_case_it_joined_from_the_merge_on(world, web):
    w = world
    first = w.report(description="Sampah menumpuk di pasar, bau sekali.")
    w.do(commands.request_information, w.triage, first.case_id, question="Sebelah mana tepatnya?")
    w.citizen(commands.answer_information, first.tracking_code, answer="Dekat rumah saya di Jl. Rahasia 7")
    w.do(actions.triage, w.triage, first.case_id, decision="valid")
    second = w.report(description="Tumpukan sampah di pasar yang sama.")
    w.do(actions.merge_duplicate, w.triage, second.case_id, into_case_number=first.case_number,
         reason="Laporan yang sama")
    w.do(actions.accept, w.dlh, first.case_id)
    w.do(actions.dispatch, w.dlh, first.case_id, team="qr-mariso-1")
    page = _page(web, second.tracking_code)
    assert [k for k, _w, _l in _timeline(page)] == ["received", "merged", "dispatched"]
    assert "Sebelah mana" not in page and "Jl. Rahasia 7" not in page and "bau sekali" not in page


# -- the rating's fields, as the process definition reads them -------------------------------------

DECISION = {"name": "decision", "type": "choice", "required": True, "choices": ["yes", "no"]}
SCORE = {"name": "score", "type": "choice", "choices": ["1", "2", "3"], "rating": "score"}
REMARK = {"name": "remark", "type": "text", "rating": "comment"}


def _rating_of(*forms):
    raw = {f"form{i}": {"title": {}, "fields": fields} for i, fields in enumerate(forms)}
    problems: list[str] = []
    return _rating_fields(parse_forms(raw), problems), problems


def test_the_rating_is_one_score_of_whole_numbers_and_at_most_one_comment_beside_it(definition):
    assert definition.rating == RatingFields("citizen_feedback", "rating", "comment", (1, 2, 3, 4, 5))
    assert _rating_of([DECISION]) == (None, [])
    assert _rating_of([DECISION, SCORE, REMARK]) == (RatingFields("form0", "score", "remark", (1, 2, 3)), [])
    assert _rating_of([DECISION, SCORE])[0].comment is None
    for forms, problem in [
        (([DECISION, SCORE, {**SCORE, "name": "again"}],), "one form field marked 'rating: score'"),
        (([DECISION, REMARK],), "one form field marked 'rating: score'"),
        (([DECISION, SCORE, REMARK, {**REMARK, "name": "more"}],), "at most one 'rating: comment'"),
        (([DECISION, {**SCORE, "choices": ["good", "bad"]}],), "forms.form0.score: a rating score is a choice"),
        (([DECISION, {**SCORE, "type": "text", "choices": []}],), "forms.form0.score: a rating score is a choice"),
        (([DECISION, SCORE, {**REMARK, "type": "choice", "choices": ["a"]}],), "a rating comment is a text field"),
        (([DECISION, SCORE], [REMARK]), "forms.form1.remark: a rating comment is a text field of the form form0"),
    ]:
        rating, problems = _rating_of(*forms)
        assert rating is None and len(problems) == 1 and problem in problems[0], (forms, problems)
    with pytest.raises(ValueError, match="rating must be one of"):
        parse_forms({"f": {"title": {}, "fields": [{**SCORE, "rating": "stars"}]}})
