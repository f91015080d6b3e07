"""The process versions pages: the list with open cases per version, a deployment from
uploaded files (every problem listed, nothing changed when refused), the dry run of a migration
and its progress, all for administrators only."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from tests.test_process_versions import FILES, inspection_files
from workflow.commands import processes
from workflow.store.models import Case, MigrationRefusal, ProcessMigration, ProcessSpec, SecurityEvent


@pytest.fixture
def admin(web, world):
    world.user("admin.web", ("admin", None))
    web.login("admin.web")
    return web


def _upload(admin, files: dict[str, str], note: str = ""):
    data = {"note": note, "files": [(io.BytesIO(text.encode("utf-8")), name) for name, text in files.items()]}
    return admin.post("/admin/processes/", data=data, content_type="multipart/form-data")


def test_the_list_shows_each_version_with_its_open_cases(admin, world):
    world.report()
    page = admin.get("/admin/processes/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'<tr data-version="1" class="current">(.*?)</tr>', html, re.S).group(1)
    assert "saat ini" in row and "Berkas proses rilis ini" in row and "Triase: 1" in row


def test_uploading_a_version_deploys_it_and_logs_who(admin, world):
    world.report()
    response = _upload(admin, inspection_files(), note="Inspeksi sebelum penutupan")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = admin.get("/admin/processes/").get_data(as_text=True)
    assert "Versi 2 diterapkan" in page
    assert re.search(r'<tr data-version="2" class="current">.*?Inspeksi sebelum penutupan', page, re.S)
    with world.services.reading() as session:
        assert session.scalar(select(SecurityEvent.actor_name)) == "admin.web"
    assert world.case(world.report().case_id).spec_id == _spec(world, 2)


def test_a_refused_upload_lists_every_problem_keeps_the_note_and_changes_nothing(admin, world):
    world.report()
    broken = FILES["case.bpmn"].replace("agency = route_to or agency", "import os").replace(
        'name="formKey" value="disposition"', 'name="formKey" value="disposisi_baru"')
    response = _upload(admin, {"case.bpmn": broken}, note="Coba")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    listed = re.findall(r"<li>(.*?)</li>", re.search(r'<ul class="problem-list">.*?</ul>', html, re.S).group(0))
    assert f"Berkas tidak diterapkan: {len(listed)} masalah" in html
    assert any("route_final" in p and "ditolak oleh sandbox skrip" in p and "imports are not allowed" in p
               for p in listed)
    assert any("disposisi_baru" in p for p in listed)
    assert 'value="Coba"' in html
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(ProcessSpec)) == 1


@pytest.mark.parametrize("name, content, message", [
    ("case.txt", "x", "proses hanya terdiri dari berkas .bpmn dan .dmn serta tasks.yaml"),
    ("case.bpmn", b"\xff\xfe".decode("latin-1"), "bukan teks UTF-8"),
])
def test_files_that_are_no_process_files_are_refused_by_name(admin, world, name, content, message):
    raw = content.encode("latin-1") if name == "case.bpmn" else content.encode()
    response = admin.post("/admin/processes/", data={"note": "", "files": [(io.BytesIO(raw), name)]},
                          content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_no_file_chosen_is_a_message(admin):
    response = admin.post("/admin/processes/", data={"note": ""}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Pilih setidaknya satu berkas" in response.get_data(as_text=True)


def _spec(world, number):
    with world.services.reading() as session:
        return session.scalar(select(ProcessSpec.id).where(ProcessSpec.version == number))


def test_the_dry_run_page_then_the_background_migration(admin, world):
    sub = world.report()
    assert _upload(admin, inspection_files()).status_code == 302
    page = admin.get("/admin/processes/1/migrate?to=2")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1 kasus terbuka dipilih" in html and "Inspeksi" in html
    assert f'data-case="{sub.case_id}"' in html and "Pindah" in html
    assert world.case(sub.case_id).spec_id == _spec(world, 1)  # a dry run
    queued = admin.post("/admin/processes/1/migrate", data={"to": "2", "category": "", "agency": "", "stage": ""})
    assert queued.status_code == 302
    target = queued.headers["Location"]
    processes.MigrationRunner(world.services, worker="test").run_until_idle()
    progress = admin.get(target).get_data(as_text=True)
    assert "Selesai" in progress and "1 dipindahkan, 0 ditolak dari 1" in progress
    assert world.case(sub.case_id).spec_id == _spec(world, 2)
    history = admin.get(f"/cases/{sub.case_id}").get_data(as_text=True)
    assert "Dipindahkan ke versi proses lain" in history


def test_the_dry_run_names_a_refusal_in_indonesian(admin, world):
    assert _upload(admin, inspection_files()).status_code == 302  # nothing stored yet: version 1
    from tests import actions
    from tests.test_process_versions import _at_verification

    sub = _at_verification(world)
    world.do(actions.verify, world.dlh, sub.case_id, approve=True)
    assert _upload(admin, {"case.bpmn": FILES["case.bpmn"], "tasks.yaml": FILES["tasks.yaml"]}).status_code == 302
    html = admin.get("/admin/processes/1/migrate?to=2").get_data(as_text=True)
    assert "Ditolak" in html and "langkahnya saat ini, Inspeksi, tidak ada di versi 2" in html
    assert "Langkah yang dihapus: Inspeksi, Inspeksi: 200% SLA" in html
    assert "inspection" not in html  # steps by their labels, never their ids


@pytest.mark.parametrize("query", ["to=99", "category=tidak-ada", "stage=tidak-ada", "agency=XYZ"])
def test_a_bad_filter_is_a_message(admin, world, query):
    world.report()
    assert _upload(admin, inspection_files()).status_code == 302
    response = admin.get(f"/admin/processes/1/migrate?{query}")
    assert response.status_code == 400 and "Pilih salah satu dari daftar" in response.get_data(as_text=True)


def test_unknown_versions_and_migrations_are_404(admin, world):
    assert admin.get("/admin/processes/7/migrate").status_code == 404
    assert admin.get("/admin/processes/migrations/7").status_code == 404


def test_stopping_a_migration(admin, world):
    world.report()
    assert _upload(admin, inspection_files()).status_code == 302
    queued = admin.post("/admin/processes/1/migrate", data={"to": "2"})
    migration_id = int(queued.headers["Location"].rsplit("/", 1)[-1])
    stopped = admin.post(f"/admin/processes/migrations/{migration_id}/cancel", data={})
    assert stopped.status_code == 302
    with world.services.reading() as session:
        assert session.get(ProcessMigration, migration_id).state == "cancelled"
        assert session.scalar(select(func.count()).select_from(MigrationRefusal)) == 0
        assert session.scalar(select(func.count()).select_from(Case).where(Case.spec_id == _spec(world, 1))) == 1
    again = admin.post(f"/admin/processes/migrations/{migration_id}/cancel", data={})
    assert again.status_code == 409


@pytest.mark.parametrize("url, status", [
    ("/admin/processes/1/migrate?to=2&page=99999999999999999999", 400),
    ("/admin/processes/1/migrate?to=2&page=0", 400),
    ("/admin/processes/migrations/{job}?page=99999999999999999999", 400),
    ("/admin/processes/99999999999999999999/migrate", 404),
    ("/admin/processes/migrations/99999999999999999999", 404),
    ("/admin/processes/1/migrate?to=99999999999999999999", 400),
    ("/admin/processes/1/migrate?to=2&category=%00", 400),
])
def test_odd_numbers_in_the_addresses_are_answered_not_500(admin, world, url, status):
    world.report()
    assert _upload(admin, inspection_files()).status_code == 302
    queued = admin.post("/admin/processes/1/migrate", data={"to": "2"})
    job = queued.headers["Location"].rsplit("/", 1)[-1]
    assert admin.get(url.format(job=job)).status_code == status


def test_queuing_a_migration_with_nothing_to_move_says_so_on_the_dry_run(admin, world):
    world.report()
    assert _upload(admin, inspection_files()).status_code == 302
    refused = admin.post("/admin/processes/1/migrate", data={"to": "2", "category": "jalan-rusak"})
    assert refused.status_code == 302 and "/admin/processes/1/migrate?to=2&category=jalan-rusak" in refused.headers["Location"]
    page = admin.get(refused.headers["Location"]).get_data(as_text=True)
    assert "tidak ada kasus terbuka versi 1 yang cocok" in page and "source:" not in page
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(ProcessMigration)) == 0
