"""The tracking code is the citizen's credential: stored nowhere (only a keyed hash), shown to
no staff member, not even where older versions wrote it into the audit trail."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select, text

from tanggap.cli import main
from tests import actions
from tests.webclient import WebClient
from workflow.access import Actor
from workflow.commands import credentials
from workflow.config import Settings
from workflow.read import history
from workflow.store import audit, schema
from workflow.store.db import make_engine
from workflow.store.models import Case, CaseEvent, Report
from workflow.store.tracking import TrackingCodes


def _everything_stored(world) -> str:
    """Every value of every table, as text."""
    meta = MetaData()
    with world.services.reading() as session:
        meta.reflect(bind=session.get_bind())
        return "\n".join(repr(row) for table in meta.sorted_tables
                         for row in session.execute(select(table)))


def test_the_code_is_stored_nowhere(world):
    sub = world.report()
    duplicate = world.report(description="Sampah di depan pasar, sama seperti laporan tadi.")
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.merge_duplicate, world.triage, duplicate.case_id,
             into_case_number=sub.case_number, reason="Laporan yang sama")
    stored = _everything_stored(world)
    for code in (sub.tracking_code, duplicate.tracking_code):
        assert code not in stored and code.replace("-", "") not in stored
    with world.services.reading() as session:
        digest = session.scalar(select(Report.tracking_hash).where(Report.id == world.case(sub.case_id).report_id))
    assert digest == world.services.tracking.digest(sub.tracking_code) and len(digest) == 64


def test_a_code_works_however_it_is_typed_and_a_wrong_key_finds_nothing(world, web):
    sub = world.report()
    code = sub.tracking_code
    for typed in (code, code.lower(), code.replace("-", ""), f" {code[:4]} {code[5:]} "):
        assert web.get(f"/lacak/{typed}").status_code == 200, typed
    other_key = TrackingCodes("another deployment's key")
    with world.services.reading() as session:
        assert other_key.report_id(session, code) is None
        assert world.services.tracking.report_id(session, code) is not None


@pytest.fixture
def old_style_case(world):
    """A case whose trail holds a tracking code, as versions before this rule wrote it."""
    sub = world.report()
    with world.services.uow() as uow:
        case = uow.session.get(Case, sub.case_id)
        case.version += 1
        audit.append(uow.session, case_id=case.id, actor=Actor.citizen().ref(), action="report_merged",
                     occurred_at=uow.clock.now(), data={"duplicate_case": "2026-000999",
                                                        "tracking_code": sub.tracking_code})
        uow.commit()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    return sub


def test_old_events_never_show_the_code_to_staff(world, app, old_style_case):
    sub = old_style_case
    world.user("semua", ("triage", "KOMINFO"), ("auditor", None))
    web = WebClient(app)
    web.login("semua")
    pages = {url: web.get(url) for url in (
        f"/cases/{sub.case_id}", f"/audit/cases/{sub.case_id}", f"/audit/cases/{sub.case_id}/export.json",
        f"/audit/cases/{sub.case_id}/export.csv", f"/audit?tracking_code={sub.tracking_code}")}
    for url, response in pages.items():
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        if "tracking_code=" in url:  # only the search field, echoing what the auditor typed
            html = html.replace(f'value="{sub.tracking_code}"', "", 1)
        assert sub.tracking_code not in html, url
    with world.services.uow() as uow:
        _row, token = credentials.issue(uow, "token", "auditor", username="semua")
        uow.commit()
    api = app.test_client().get(f"/api/v1/cases/{sub.case_id}/history",
                                headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and sub.tracking_code not in api.get_data(as_text=True)
    # the auditor still finds the case by the code a citizen tells them
    assert f'data-case="{sub.case_number}"' in pages[f"/audit?tracking_code={sub.tracking_code}"].get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(pages[f"/audit/cases/{sub.case_id}/export.csv"].get_data(as_text=True))))
    assert len(rows) == 1 + len(world.events(sub.case_id))


def test_hashes_that_would_give_an_old_code_away_are_withheld(world, app, old_style_case, tmp_path):
    """The hash of an event that carried a code, with the event's other fields, would let anyone
    search the 32^8 codes offline: staff views withhold it (and the next event's prev_hash), so
    such an export cannot be verified offline, and says which event stops it."""
    sub = old_style_case
    world.auditor
    with world.services.reading() as session:
        legacy = session.scalar(select(CaseEvent).where(CaseEvent.case_id == sub.case_id,
                                                        CaseEvent.action == "report_merged"))
    web = WebClient(app)
    web.login("inspektorat")
    exported = web.get(f"/audit/cases/{sub.case_id}/export.json").get_data(as_text=True)
    assert legacy.hash not in exported
    document = json.loads(exported)
    assert history.redacted_events(document) == 1
    problems = history.verify_export(document)
    assert len(problems) == 1 and f"seq {legacy.seq}" in problems[0] and "withheld" in problems[0]
    path = tmp_path / "export.json"
    path.write_text(exported)
    checked = CliRunner().invoke(main, ["audit", "verify", "--file", str(path)])
    assert checked.exit_code == 1 and "withheld" in checked.output
    with world.services.uow() as uow:
        _row, token = credentials.issue(uow, "token", "auditor", username="inspektorat")
        uow.commit()
    api = app.test_client().get(f"/api/v1/cases/{sub.case_id}/history?limit=2",
                                headers={"Authorization": f"Bearer {token}"})
    page = api.get_json()
    assert legacy.hash not in api.get_data(as_text=True)
    follow = app.test_client().get(f"/api/v1/cases/{sub.case_id}/history?limit=2&cursor={page['next_cursor']}",
                                   headers={"Authorization": f"Bearer {token}"})
    assert legacy.hash not in follow.get_data(as_text=True)  # nor the next event's prev_hash
    # an event that never carried a code cannot hide behind a withheld hash
    tampered = json.loads(exported)
    other = next(e for e in tampered["events"] if e["seq"] < legacy.seq)
    other["reason"] = "ditulis ulang"
    assert any("altered" in p for p in history.verify_export(tampered))
    with world.services.reading() as session:
        assert audit.verify(session) == []  # in the database every row is checked in full


def test_migration_0008_hashes_the_codes_of_existing_reports(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    key = "the deployment's tracking key"
    try:
        schema.upgrade(engine, "0007")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO cities (id, code, name, timezone, boundary) VALUES "
                              "(1, 'mks', 'Makassar', 'Asia/Makassar', '{}')"))
            conn.execute(text("INSERT INTO areas (id, city_id, code, name) VALUES (1, 1, 'mariso', 'Mariso')"))
            conn.execute(text("INSERT INTO categories (id, code, name_id, name_en, description_id, "
                              "description_en, \"group\", keywords, active, attributes) VALUES "
                              "(1, 'sampah', 'Sampah', 'Garbage', '', '', '', '', 1, '[]')"))
            conn.execute(text("INSERT INTO process_specs (id, content_hash, process_id, spec_json, source, "
                              "created_at) VALUES (1, 'h', 'p', '{}', '{}', '2026-11-01 00:00:00')"))
            conn.execute(text("INSERT INTO reports (id, tracking_code, channel, category_id, description, lat, "
                              "lon, address, area_id, anonymous, confidential, submitted_at) VALUES "
                              "(7, 'ABCD-EFGH', 'web', 1, 'Sampah menumpuk lama.', -5.15, 119.4, '', 1, 0, 0, "
                              "'2026-11-01 00:00:00')"))
            conn.execute(text("INSERT INTO cases (id, number, report_id, spec_id, status, category_id, area_id, "
                              "priority, transfer_count, reopen_count, rework_count, created_at, updated_at, "
                              "version) VALUES (3, '2026-000003', 7, 1, 'triage', 1, 1, 'normal', 0, 0, 0, "
                              "'2026-11-01 00:00:00', '2026-11-01 00:00:00', 1)"))
        with pytest.raises(RuntimeError, match="needs the tracking key"):
            schema.upgrade(engine)
        schema.upgrade(engine, tracking_key=key)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
            assert conn.execute(text("SELECT report_id FROM cases WHERE id = 3")).scalar() == 7
            stored = conn.execute(text("SELECT tracking_hash FROM reports WHERE id = 7")).scalar()
        assert stored == TrackingCodes(key).digest("ABCD-EFGH")
        from sqlalchemy.orm import Session

        with Session(engine) as session:
            assert TrackingCodes(key).report_id(session, "abcd efgh") == 7
    finally:
        engine.dispose()


def test_a_host_with_another_tracking_key_refuses_to_start(world, settings, clock, definition):
    from web import create_app
    from workflow.services import build_services
    from workflow.store.tracking import WrongKey

    create_app({"TESTING": True, "SECRET_KEY": "x"}, services=world.services)  # records its key
    other = build_services(Settings(**{**settings.__dict__, "tracking_key": "another host's key"}),
                           clock=clock, definition=definition)
    try:
        with pytest.raises(WrongKey, match="TANGGAP_TRACKING_KEY"):
            create_app({"TESTING": True, "SECRET_KEY": "x"}, services=other)
    finally:
        other.dispose()
    create_app({"TESTING": True, "SECRET_KEY": "x"}, services=world.services)  # the right key still works
