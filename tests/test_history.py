"""Auditors' case history: the timeline from the audit trail, durations, the path through the
process, exports that verify offline, chain heads, search and scope."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner

from escalation.sweeper import Sweeper
from tanggap.cli import main
from tests import actions
from tests.webclient import WebClient
from workflow.engine.sla import ElapsedTime
from workflow.errors import NotFound
from workflow.read import history


@pytest.fixture
def eventful(world):
    """Transferred twice, late at disposition (escalated), field work sent back once."""
    w = world
    sub = w.report()
    w.do(actions.triage, w.triage, sub.case_id, decision="valid")  # +30 min each step
    w.do(actions.transfer, w.dlh, sub.case_id, to_agency="DPU", reason="Saluran, bukan sampah")
    w.do(actions.transfer, w.dpu, sub.case_id, to_agency="DLH", reason="Sampah di saluran")
    w.services.clock.set(w.item(sub.case_id).due_at)
    Sweeper(w.services, worker="t").run_once()  # disposition breach: escalated
    w.services.clock.advance(timedelta(hours=1))
    w.do(actions.accept, w.dlh, sub.case_id)
    w.do(actions.dispatch, w.dlh, sub.case_id, team="qr-mariso-1")
    w.field_work(w.qr_mariso, sub.case_id)
    w.do(actions.verify, w.dlh, sub.case_id, approve=False, reason="Foto kurang jelas")
    w.field_work(w.qr_mariso, sub.case_id, action="Sampah diangkut ulang.")
    return sub


def _timeline(world, case_id, actor=None):
    with world.services.reading() as session:
        return history.timeline(session, actor or world.auditor, case_id, now=world.services.clock.now(),
                                calendar=ElapsedTime(), definition=world.services.definition)


def test_the_timeline_shows_every_step_in_order_with_durations(world, eventful):
    t = _timeline(world, eventful.case_id)
    actions = [e.action for e in t.events]
    assert actions.index("report_submitted") == 0
    transfers = [(e.from_agency, e.to_agency, e.reason) for e in t.transfers]
    assert transfers == [("DLH", "DPU", "Saluran, bukan sampah"), ("DPU", "DLH", "Sampah di saluran")]
    assert [e.task_name for e in t.breaches] == ["disposition_sla"]
    assert [e.action for e in t.escalations] == ["escalation_raised", "escalation_resolved"]
    assert "field_work_returned" in actions and [e.seq for e in t.events] == list(range(1, len(t.events) + 1))
    assert [s.name for s in t.stages] == ["triage", "disposition", "dispatch", "field_work",
                                          "verification", "field_work", "verification"]
    assert t.stages[0].elapsed == timedelta(0)  # triaged at once (the clock moves after each step)
    # disposition: from the triage to the acceptance, through two transfers and the late hour
    disposition = t.stages[1]
    accepted = next(e for e in t.events if e.action == "task_completed" and e.task_name == "disposition"
                    and json.loads(e.data)["values"]["decision"] == "accept")
    assert disposition.end == accepted.occurred_at and disposition.elapsed == accepted.occurred_at - disposition.start
    assert t.stages[-1].end is None  # the second verification is where it is now
    assert [s.name for s in t.agencies] == ["DLH", "DPU", "DLH"]
    assert t.agencies[1].elapsed == timedelta(minutes=30)  # DPU held it for one step
    assert t.chain_ok and t.current == {"verification"}
    assert {"triage", "disposition", "record_transfer", "dispatch", "field_work", "record_send_back",
            "verification", "disposition_sla", "sla_escalation"} <= t.taken


def test_history_page_with_diagram_and_badge(world, app, eventful):
    world.auditor
    web = WebClient(app)
    assert web.login("inspektorat").headers["Location"] == "/audit"
    page = web.get(f"/audit/cases/{eventful.case_id}").get_data(as_text=True)
    assert 'id="chain-badge"' in page and "chain-ok" in page
    assert page.count('class="transfer"') == 2
    assert re.search(r'class="bpmn-node bpmn-task taken current" data-element="verification"', page)
    assert re.search(r'class="bpmn-node bpmn-task taken" data-element="record_transfer"', page)
    assert re.search(r'class="bpmn-node bpmn-task" data-element="record_reopen"', page)  # not taken
    assert 'data-stage="disposition"' in page and 'data-agency="DPU"' in page


def test_the_json_export_verifies_and_one_changed_byte_does_not(world, app, tmp_path, eventful):
    world.auditor
    web = WebClient(app)
    web.login("inspektorat")
    exported = web.get(f"/audit/cases/{eventful.case_id}/export.json")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    document = json.loads(exported.get_data())
    assert history.verify_export(document) == []
    good = tmp_path / "export.json"
    good.write_bytes(exported.get_data())
    ok = CliRunner().invoke(main, ["audit", "verify", "--file", str(good)])
    assert ok.exit_code == 0 and "export verifies" in ok.output

    raw = exported.get_data()
    at = raw.index(b"Saluran, bukan sampah")
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(raw[:at] + b"s" + raw[at + 1:])  # "Saluran" -> "saluran": one byte
    bad = CliRunner().invoke(main, ["audit", "verify", "--file", str(tampered)])
    assert bad.exit_code == 1 and "altered" in bad.output
    csv_text = web.get(f"/audit/cases/{eventful.case_id}/export.csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").startswith("seq,occurred_at,actor_name")
    assert len(csv_text.strip().splitlines()) == len(document["events"]) + 1


def test_chain_heads_prove_nothing_was_rewritten(world, app, tmp_path, eventful, settings):
    world.auditor
    web = WebClient(app)
    web.login("inspektorat")
    heads = web.get("/audit/heads.json")
    document = json.loads(heads.get_data())
    assert [h["case_number"] for h in document["heads"]] == [eventful.case_number]
    with world.services.reading() as session:
        assert history.verify_heads(session, document) == []
    world.do(actions.verify, world.dlh, eventful.case_id, approve=True)  # the chain grows
    with world.services.reading() as session:
        assert history.verify_heads(session, document) == []  # appending is fine
        changed = {**document, "heads": [{**document["heads"][0], "seq": 2}]}
        assert "digest" in history.verify_heads(session, changed)[0]  # the kept file was edited
    if world.services.engine.dialect.name == "sqlite":  # rewrite history behind the triggers' back
        with world.services.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER case_events_no_update")
            conn.exec_driver_sql("UPDATE case_events SET hash = substr(hash, 2) || substr(hash, 1, 1) WHERE seq = ?",
                                 (document["heads"][0]["seq"],))
        with world.services.reading() as session:
            assert "rewritten" in history.verify_heads(session, document)[0]
        path = tmp_path / "heads.json"
        path.write_bytes(heads.get_data())
        env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
        result = CliRunner().invoke(main, ["audit", "verify", "--heads", str(path)], env=env)
        assert result.exit_code == 1 and "rewritten" in result.output


def test_search_filters_and_supervisor_scope(world, app, eventful):
    w = world
    other = w.report(category="gepeng", description="Anak mengemis di lampu merah.", area="tallo",
                     kelurahan=None)
    w.do(actions.triage, w.triage, other.case_id, decision="reject", reason="Sudah ditangani Dinsos.")

    def numbers(reader, **filters):
        with w.services.reading() as session:
            page = history.search_cases(session, reader, history.HistoryFilters(**filters), w.services.tracking)
        return {r.number for r in page.rows}

    both = {eventful.case_number, other.case_number}
    assert numbers(w.auditor) == both
    assert numbers(w.auditor, tracking_code=eventful.tracking_code.lower()) == {eventful.case_number}
    assert numbers(w.auditor, number=other.case_number) == {other.case_number}
    assert numbers(w.auditor, agency="DLH") == {eventful.case_number}
    assert numbers(w.auditor, category="gepeng") == {other.case_number}
    assert numbers(w.auditor, area="tallo") == {other.case_number}
    assert numbers(w.auditor, status="rejected") == {other.case_number}
    today = w.services.clock.now().date()
    assert numbers(w.auditor, date_from=today - timedelta(days=1), date_to=today + timedelta(days=1)) == both
    assert numbers(w.auditor, date_from=today + timedelta(days=1)) == set()
    assert numbers(w.auditor, actor="koor.dpu") == {eventful.case_number}
    assert numbers(w.auditor, actor="nobody") == set()
    sup_dpu = w.user("sup.dpu", ("supervisor", "DPU"))
    sup_dlh = w.user("sup.dlh", ("supervisor", "DLH"))
    assert numbers(sup_dlh) == {eventful.case_number} and numbers(sup_dpu) == set()
    with pytest.raises(NotFound):
        _timeline(w, eventful.case_id, sup_dpu)  # it passed through DPU, but DLH holds it
    with w.services.reading() as session:
        done = history.actor_events(session, w.auditor, "koor.dpu")
    assert [(e.action, e.to_agency) for e in done.rows] == [
        ("case_transferred", "DLH"), ("task_completed", None), ("task_claimed", None)]

    web = WebClient(app)
    web.login("sup.dlh")
    assert web.get("/audit?agency=DLH").status_code == 200
    assert web.get(f"/audit/cases/{other.case_id}").status_code == 404
    assert web.get("/audit?date_from=kemarin").status_code == 400
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    assert coordinator.get("/audit").status_code == 403
    assert WebClient(app).get("/audit").status_code == 302
