"""The whole flow through the web with JavaScript off: plain forms and links."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.helpers import jpeg_bytes
from tests.webclient import WebClient, errors

WITA = ZoneInfo("Asia/Makassar")
REPORT = {"category": "sampah", "description": "Sampah menumpuk di depan Pasar Lette.",
          "lat": "-5.1560", "lon": "119.4050", "area": "mariso", "kelurahan": "mariso/lette",
          "address": "Jl. Rajawali", "contact_email": "warga@example.id"}


def _submit(web, **overrides):
    data = {**REPORT, **overrides}
    data.setdefault("photo", (io.BytesIO(jpeg_bytes()), "sebelum.jpg"))
    return web.post("/lapor", data, page="/lapor", content_type="multipart/form-data")


def _item_link(web, case_number):
    html = web.get("/inbox").get_data(as_text=True)
    match = re.search(rf'<a href="/tasks/(\d+)">{case_number}</a>', html)
    assert match, f"{case_number} not in the inbox"
    return f"/tasks/{match.group(1)}"


def _complete(web, link, data, **kwargs):
    page = web.get(link).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    return web.post(link, {**data, "version": version}, page=link, **kwargs)


def test_report_to_closure_without_javascript(world, app):
    w = world
    for who in ("triage", "dlh", "dpu"):
        getattr(w, who)
    w.user("qr.mariso", ("qr_officer", "qr-mariso-1"))
    citizen, staff = WebClient(app), WebClient(app)

    submitted = _submit(citizen)
    assert submitted.status_code == 302
    status_url = submitted.headers["Location"].split("?")[0]
    code = status_url.rsplit("/", 1)[1]
    page = citizen.get(submitted.headers["Location"]).get_data(as_text=True)
    assert f'id="tracking-code">{code}<' in page
    assert "Diterima, sedang diperiksa command center" in page
    with w.services.reading() as session:
        from workflow.store.models import Case, Report
        case = session.query(Case).join(Report).filter(Report.tracking_hash == w.services.tracking.lookup(code)).one()
        number = case.number

    staff.login("triase")
    assert _complete(staff, _item_link(staff, number), {"decision": "valid"}).status_code == 302
    staff.logout()

    staff.login("koor.dlh")
    filtered = staff.get("/inbox?area=mariso&stage=disposition").get_data(as_text=True)
    assert number in filtered
    assert f">{number}</a>" not in staff.get("/inbox?area=tallo").get_data(as_text=True)
    link = _item_link(staff, number)
    claimed = staff.post(f"/inbox/items/{link.rsplit('/', 1)[1]}/claim", {"next": "/inbox?tab=mine"})
    assert claimed.headers["Location"] == "/inbox?tab=mine"
    assert number in staff.get("/inbox?tab=mine").get_data(as_text=True)
    missing_reason = _complete(staff, link, {"decision": "transfer", "transfer_to": "DPU"})
    assert missing_reason.status_code == 400 and errors(missing_reason) == ["wajib diisi"]
    moved = _complete(staff, link, {"decision": "transfer", "transfer_to": "DPU",
                                    "reason": "Saluran tersumbat, kewenangan PU"})
    assert moved.status_code == 302
    assert f">{number}</a>" not in staff.get("/inbox").get_data(as_text=True)
    staff.logout()

    staff.login("koor.dpu")
    _complete(staff, _item_link(staff, number), {"decision": "accept"})
    _complete(staff, _item_link(staff, number), {"team": "qr-mariso-1"})
    staff.logout()

    staff.login("qr.mariso")
    w.services.clock.advance(timedelta(hours=2))
    arrived = (w.services.clock.now() - timedelta(minutes=10)).astimezone(WITA)
    done = _complete(staff, _item_link(staff, number), {
        "arrived_at": arrived.strftime("%Y-%m-%dT%H:%M"), "action_taken": "Sampah diangkut truk",
        "after_photo": (io.BytesIO(jpeg_bytes(color=(20, 160, 40))), "sesudah.jpg")},
        content_type="multipart/form-data")
    assert done.status_code == 302, errors(done)
    staff.logout()

    staff.login("koor.dpu")
    _complete(staff, _item_link(staff, number), {"decision": "approve"})
    _complete(staff, _item_link(staff, number), {"closure_note": "Sampah sudah diangkut. Terima kasih."})

    page = citizen.get(status_url).get_data(as_text=True)
    assert "Sudah ditangani: mohon konfirmasi" in page
    assert "Sampah sudah diangkut. Terima kasih." in page
    assert len(re.findall(r'/lacak/[^/]+/foto/\d+', page)) == 2  # before and after
    confirmed = citizen.post(status_url, {"decision": "confirm"}, page=status_url)
    assert confirmed.status_code == 302
    page = citizen.get(status_url).get_data(as_text=True)
    assert '<span id="status">Selesai</span>' in page
    assert "WITA" in page
    assert w.chain_breaks() == []


def test_script_in_report_and_note_renders_as_text(world, app):
    w = world
    w.triage
    web = WebClient(app)
    attack = "<script>alert('xss')</script> sampah di jalan"
    response = _submit(web, description=attack)
    status_url = response.headers["Location"]
    page = web.get(status_url).get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
    web.login("triase")
    case_id = w.case(1).id
    web.post(f"/cases/{case_id}/notes", {"body": "<img src=x onerror=alert(1)>", "public": "y"})
    staff_page = web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<img src=x" not in staff_page and "&lt;img src=x onerror=alert(1)&gt;" in staff_page
    public_page = WebClient(app).get(status_url).get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in public_page


def test_upload_checks_in_the_report_form(world, app):
    web = WebClient(app)
    fake = _submit(web, photo=(io.BytesIO(b"%PDF-1.4 not a photo"), "foto.jpg"))
    assert fake.status_code == 400
    assert errors(fake) == ["berkas bukan gambar yang dapat dibaca"]
    huge = _submit(web, photo=(io.BytesIO(jpeg_bytes() + b"\0" * (20 * 1024 * 1024)), "besar.jpg"))
    assert huge.status_code == 400
    assert errors(huge) == ["berkas lebih besar dari 10 MB"]
    both = _submit(web, photo=(io.BytesIO(b"bukan foto"), "x.jpg"), description="")
    assert set(errors(both)) == {"berkas bukan gambar yang dapat dibaca", "jelaskan masalahnya"}
    page = both.get_data(as_text=True)
    assert "Jl. Rajawali" in page  # what was typed is kept
    assert world.table_counts()["reports"] == 0


def test_second_coordinator_gets_a_clear_conflict(world, app):
    from tests import actions

    w = world
    w.dlh
    w.user("koor.dlh2", ("coordinator", "DLH"))
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    first, second = WebClient(app), WebClient(app)
    first.login("koor.dlh")
    second.login("koor.dlh2")
    link = _item_link(first, sub.case_number)
    second_page = second.get(link).get_data(as_text=True)  # both have the form open
    version = re.search(r'name="version" type="hidden" value="(\d+)"', second_page).group(1)
    assert _complete(first, link, {"decision": "accept"}).status_code == 302
    late = second.post(link, {"decision": "transfer", "transfer_to": "DPU", "version": version,
                              "reason": "Saluran tersumbat, urusan Dinas PU."}, page="/")
    assert late.status_code == 409
    body = late.get_data(as_text=True)
    assert "baru saja ditangani oleh koor.dlh" in body
    # the form comes back with what was typed, nothing lost
    assert re.search(r'<input checked[^>]*value="transfer"|value="transfer"[^>]*checked', body)
    assert "Saluran tersumbat, urusan Dinas PU." in body


def test_english_on_request(world, web):
    page = web.get("/lapor?lang=en").get_data(as_text=True)
    assert "Report a problem" in page and '<html lang="en">' in page
    assert "Laporkan masalah" in web.get("/lapor?lang=id").get_data(as_text=True)


def _gps_jpeg() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "S", 2: (5.0, 9.0, 21.6), 3: "E", 4: (119.0, 24.0, 18.0)})
    return jpeg_bytes(size=(64, 48), exif=exif.tobytes())


def test_photo_with_gps_is_stored_without_it_and_confidential_photos_stay_private(world, app):
    from PIL import Image

    web = WebClient(app)
    public = _submit(web, photo=(io.BytesIO(_gps_jpeg()), "gps.jpg"))
    page = web.get(public.headers["Location"]).get_data(as_text=True)
    photo_url = re.search(r'src="(/lacak/[^"]+/foto/\d+)"', page).group(1)
    served = web.get(photo_url)
    image = Image.open(io.BytesIO(served.get_data()))
    served.close()
    assert image.getexif().get_ifd(0x8825) == {} and dict(image.getexif()) == {}

    private = _submit(web, photo=(io.BytesIO(jpeg_bytes()), "rumah.jpg"), confidential="y")
    page = web.get(private.headers["Location"]).get_data(as_text=True)
    assert "/foto/" not in page
    code = private.headers["Location"].split("/")[2].split("?")[0]
    guessed = web.get(f"/lacak/{code}/foto/2")  # the confidential report's photo id
    assert guessed.status_code == 404


def test_a_categorys_extra_fields_on_the_report_form(world, web):
    page = web.get("/lapor").get_data(as_text=True)
    assert 'data-category="lampu-rambu"' in page and 'data-category="orang-hilang"' in page  # no JS: all
    fragment = web.get("/lapor/isian?category=lampu-rambu").get_data(as_text=True)
    assert 'data-category="lampu-rambu"' in fragment and "orang-hilang" not in fragment
    assert web.get("/lapor/isian?category=sampah").get_data(as_text=True).strip() == ""
    street_light = dict(category="lampu-rambu", description="Lampu jalan mati lima tiang berturut-turut.")
    missing = _submit(web, **street_light)
    assert missing.status_code == 400 and errors(missing) == ["wajib diisi"]
    html = missing.get_data(as_text=True)
    assert 'data-category="orang-hilang"' not in html  # only the chosen category's fields now
    assert 'name="attr-lampu-rambu-jumlah_tiang"' in html
    done = _submit(web, **street_light, **{"attr-lampu-rambu-jenis": "lampu",
                                           "attr-lampu-rambu-jumlah_tiang": "5",
                                           "attr-orang-hilang-perkiraan_usia": "70"})
    assert done.status_code == 302
    from sqlalchemy import select

    from workflow.store.models import Report
    with world.services.reading() as session:
        report = session.scalars(select(Report).order_by(Report.id.desc())).first()
    assert report.attributes == {"jenis": "lampu", "jumlah_tiang": 5}  # another category's ignored
    world.triage
    staff = WebClient(web.app)
    staff.login("triase")
    case_page = staff.get(_item_link(staff, report_case_number(world, report.id))).get_data(as_text=True)
    assert "<dt>Apa yang rusak?</dt><dd>Lampu jalan</dd>" in case_page


def report_case_number(world, report_id):
    from sqlalchemy import select

    from workflow.store.models import Case
    with world.services.reading() as session:
        return session.scalar(select(Case.number).where(Case.report_id == report_id))


def test_a_reporter_step_that_is_not_due_is_said_on_its_form(world, web):
    """Confirming a case that is still being worked, or answering when nothing was asked:
    a 400 that says why, shows what was typed, and records nothing."""
    w = world
    sub = w.report()
    status = f"/lacak/{sub.tracking_code}"
    before = w.actions(sub.case_id)
    page = web.post(status, {"decision": "dispute", "reason": "Belum diangkut sama sekali."}, page=status)
    assert page.status_code == 400
    assert "kasus ini tidak sedang menunggu konfirmasi Anda" in errors(page)
    assert "Belum diangkut sama sekali." in page.get_data(as_text=True)
    page = web.post(f"{status}/jawab", {"answer": "Di depan pasar, sisi utara."}, page=status)
    assert page.status_code == 400
    assert "tidak ada pertanyaan yang menunggu jawaban Anda" in errors(page)
    assert "Di depan pasar, sisi utara." in page.get_data(as_text=True)
    assert w.actions(sub.case_id) == before


def test_a_form_on_a_case_that_moved_on_says_who_did_what_and_when(world, app):
    """The 409 names the person (or the reporter) and what they did, as the JSON API does."""
    from tests import actions
    from workflow import commands

    w = world
    sup = w.user("sup.dlh", ("supervisor", "DLH"))
    w.dlh
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    web = WebClient(app)
    web.login("koor.dlh")
    link = _item_link(web, sub.case_number)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', web.get(link).get_data(as_text=True)).group(1)
    with w.services.uow() as uow:
        commands.add_note(uow, sup, sub.case_id, "Tolong cek lokasinya dulu.")
        uow.commit()
    late = web.post(link, {"decision": "accept", "version": version}, page=link)
    body = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Sup.Dlh (Supervisor) mengubah kasus ini pada" in body and "Catatan ditambahkan" in body
    assert "citizen" not in body and "just handled" not in body
    # the reporter's own step is named by their role, never by the trail's word for them
    with w.services.uow() as uow:
        commands.request_information(uow, w.dlh, w.item(sub.case_id).id, question="Di sebelah mana?")
        uow.commit()
    version = re.search(r'name="version" type="hidden" value="(\d+)"', web.get(link).get_data(as_text=True)).group(1)
    with w.services.uow() as uow:
        commands.answer_information(uow, sub.tracking_code, answer="Dekat masjid.")
        uow.commit()
    late = web.post(link, {"decision": "accept", "version": version}, page=link)
    assert late.status_code == 409 and "Warga mengubah kasus ini pada" in late.get_data(as_text=True)


def test_a_conflicts_own_message_names_the_reporter_and_the_system_in_words(world):
    """Where the latest change cannot be shown in full (a viewer outside the case's scope), the
    conflict still says "the reporter" or "the system", never the trail's codes."""
    import pytest

    from tests import actions
    from workflow.commands.change import check_version
    from workflow.errors import Conflict
    from workflow.store.models import Case

    w = world
    sub = w.report()
    with w.services.uow() as uow:
        case = uow.session.get(Case, sub.case_id)
        with pytest.raises(Conflict) as reporter:
            check_version(uow, case, case.version - 1 if case.version > 1 else case.version + 1)
    assert reporter.value.message.template.startswith("The reporter just acted")
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")
    with w.services.uow() as uow:
        case = uow.session.get(Case, sub.case_id)
        with pytest.raises(Conflict) as staff:
            check_version(uow, case, 1)
    assert staff.value.message.params == {"who": "triase"}
