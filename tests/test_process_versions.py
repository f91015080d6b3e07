"""Process versions: a deployment is checked whole (every problem named, nothing changes when
refused), new cases start on the version deployed last, running cases keep theirs until they are
migrated, and a migration moves a case with its place, its deadlines and its trail, or refuses it
and leaves it as it was."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select

from tests import actions
from tests.test_process_extension import NEW, _add_inspection
from workflow import commands
from workflow.commands import processes
from workflow.config import REPO_ROOT
from workflow.engine.definition import read_source
from workflow.errors import PermissionDenied, ValidationError
from workflow.store.models import (
    Case,
    CaseEvent,
    CaseState,
    MigrationRefusal,
    ProcessMigration,
    ProcessSpec,
    SecurityEvent,
    Timer,
)

FILES = read_source(REPO_ROOT / "bpmn")


def inspection_files() -> dict[str, str]:
    """The process with one more OPD stage, an inspection between verification and closure."""
    meta = yaml.safe_load(FILES["tasks.yaml"])
    meta["forms"][NEW] = {"title": {"id": "Inspeksi", "en": "Inspection"}, "fields": [
        {"name": "finding", "type": "text", "required": True, "max_length": 1000,
         "label": {"id": "Temuan inspeksi", "en": "Inspection finding"}}]}
    meta["statuses"]["open"][NEW] = "in_progress"
    meta["tasks"][NEW] = {"label": {"id": "Inspeksi", "en": "Inspection"}}
    return {"case.bpmn": _add_inspection(FILES["case.bpmn"]).decode("utf-8"),
            "tasks.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)}


def _admin(world):
    if not hasattr(world, "process_admin"):
        world.process_admin = world.user("admin.proses", ("admin", None))
    return world.process_admin


def deploy(world, files, note=""):
    admin = _admin(world)
    with world.services.uow() as uow:
        done = processes.deploy_process(uow, admin, files, note=note)
        uow.commit()
    return done


def versions(world):
    with world.services.reading() as session:
        return session.execute(select(ProcessSpec.version, ProcessSpec.deployed_by_id)
                               .order_by(ProcessSpec.version)).all()


def _broken(*changes):
    files = {}
    for name, old, new in changes:
        text = files.get(name, FILES[name])
        assert old in text, f"the fixture no longer has {old!r}"
        files[name] = text.replace(old, new, 1)
    return files


def _without_category_rules(category: str) -> dict[str, str]:
    dmn = FILES["routing.dmn"]
    rules = re.findall(r"<rule id=\"[^\"]+\">.*?</rule>", dmn, flags=re.S)
    kept = [r for r in rules if f'"{category}"' not in r]
    assert len(kept) < len(rules)
    for rule in rules:
        if rule not in kept:
            dmn = dmn.replace(rule, "")
    return {"routing.dmn": dmn}


REFUSED = {
    "missing lane": (lambda: _broken(("tasks.yaml", "\n  OPD: {", "\n  OPD_lama: {")),
                     r"disposition: lane 'OPD' is not under lanes in tasks.yaml"),
    "broken XML": (lambda: _broken(("case.bpmn", "<bpmn:incoming>", "<bpmn:incomin>")),
                   r"case.bpmn: line \d+: not well-formed XML"),
    "unknown form key": (lambda: _broken(("case.bpmn", 'name="formKey" value="disposition"',
                                          'name="formKey" value="disposisi_baru"')),
                         r"disposition: form 'disposisi_baru' is not under forms in tasks.yaml"),
    "category missing from the routing table": (lambda: _without_category_rules("sampah"),
                                                r"routing: category 'sampah', kecamatan '[a-z-]+': no rule"),
    "script with an import": (lambda: _broken(("case.bpmn", "agency = route_to or agency", "import os")),
                              r"case.bpmn: route_final: .*imports are not allowed"),
    "schema": (lambda: _broken(("case.bpmn", "<bpmn:incoming>", "<bpmn:documentation>x</bpmn:documentation><bpmn:incoming>")),
               r"case.bpmn: [a-z_]+: .*documentation"),
    "an external entity": (lambda: _broken(("case.bpmn", '<?xml version="1.0" encoding="UTF-8"?>',
                                            '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY e SYSTEM '
                                            '"file:///etc/passwd">]>'), ("case.bpmn", "agency = route_to or agency", "&e;")),
                           r"case.bpmn: a DOCTYPE declaration is not allowed"),
    "no SLA timer": (lambda: _broken(*(("case.bpmn", f'id="disposition_{t}" name="{n}" cancelActivity="false" '
                                        'attachedToRef="disposition"', f'id="disposition_{t}" name="{n}" '
                                        'cancelActivity="false" attachedToRef="dispatch"')
                                       for t, n in (("sla", "Batas waktu SLA"), ("critical", "200% SLA")))),
                     r"disposition: a task of coordinator work has no SLA timer"),
}


@pytest.mark.parametrize("problem", list(REFUSED))
def test_an_invalid_process_is_refused_with_each_problem_named_and_nothing_changes(world, problem):
    make, expected = REFUSED[problem]
    sub = world.report()  # the release's files are version 1
    before = versions(world)
    with pytest.raises(processes.DeployRefused) as refused:
        deploy(world, make())
    assert any(re.search(expected, p) for p in refused.value.problems), refused.value.problems
    assert versions(world) == before == [(1, None)]
    later = world.report()
    assert world.case(later.case_id).spec_id == world.case(sub.case_id).spec_id
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(SecurityEvent)) == 0


def test_the_same_files_again_are_refused_as_nothing_to_deploy(world):
    world.report()
    with pytest.raises(ValidationError) as refused:
        deploy(world, {"tasks.yaml": FILES["tasks.yaml"]})
    assert "current version" in str(refused.value)


def test_a_new_version_takes_new_cases_and_old_cases_keep_theirs(world):
    old = world.report()
    done = deploy(world, inspection_files(), note="Inspeksi sebelum penutupan")
    assert (done.version, done.again) == (2, False)
    new = world.report()
    assert world.case(new.case_id).spec_id == done.spec_id != world.case(old.case_id).spec_id
    with world.services.reading() as session:
        row = session.get(ProcessSpec, done.spec_id)
        assert row.note == "Inspeksi sebelum penutupan" and row.deployed_by_id is not None
        log = session.scalars(select(SecurityEvent)).one()
        assert log.subject == "process:v2" and '"current":{"new":2,"old":1}' in log.details
    # the new case goes through the inspection; the old one goes from verification to closure
    for sub in (old, new):
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
        world.do(actions.accept, world.dlh, sub.case_id)
        world.do(actions.dispatch, world.dlh, sub.case_id, team="qr-mariso-1")
        world.field_work(world.qr_mariso, sub.case_id)
        world.do(actions.verify, world.dlh, sub.case_id, approve=True)
    assert world.case(new.case_id).stage == NEW
    assert world.case(old.case_id).stage == "closure"


def test_deploying_an_earlier_version_again_makes_it_current(world):
    world.report()
    deploy(world, inspection_files())
    again = deploy(world, {"case.bpmn": FILES["case.bpmn"], "tasks.yaml": FILES["tasks.yaml"]})
    assert (again.version, again.again) == (1, True)
    assert world.case(world.report().case_id).spec_id == again.spec_id


def _at_verification(world):
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    world.do(actions.accept, world.dlh, sub.case_id)
    world.do(actions.dispatch, world.dlh, sub.case_id, team="qr-mariso-1")
    world.field_work(world.qr_mariso, sub.case_id)
    return sub


def test_a_dry_run_then_a_migration_moves_an_old_case_through_the_new_step(world):
    sub = _at_verification(world)
    item_before = world.item(sub.case_id)
    with world.services.reading() as session:
        timers_before = sorted((t.bpmn_task_id, t.due_at) for t in session.scalars(
            select(Timer).where(Timer.case_id == sub.case_id)))
    events_before = len(world.events(sub.case_id))
    deploy(world, inspection_files())
    admin = _admin(world)
    with world.services.uow() as uow:
        preview = processes.preview_migration(uow, admin, 1, 2)
    assert (preview.total, preview.allowed, preview.refused) == (1, 1, 0)
    assert NEW in preview.diff.added and not preview.diff.removed
    assert {"verification", "verification_sla", "verification_critical"} <= set(preview.cases[0].move.at)
    assert world.case(sub.case_id).spec_id != _spec(world, 2)  # the dry run changed nothing
    assert len(world.events(sub.case_id)) == events_before

    with world.services.uow() as uow:
        moved = processes.migrate_case(uow, admin, sub.case_id, _spec(world, 2))
        uow.commit()
    assert moved.allowed
    case = world.case(sub.case_id)
    assert case.spec_id == _spec(world, 2) and case.stage == "verification"
    assert world.item(sub.case_id).id == item_before.id  # the same task, claims and all
    with world.services.reading() as session:
        assert sorted((t.bpmn_task_id, t.due_at) for t in session.scalars(
            select(Timer).where(Timer.case_id == sub.case_id))) == timers_before  # deadlines kept
    event = world.events(sub.case_id)[-1]
    assert event.action == "process_migrated" and event.actor_name == "admin.proses"
    assert '"from_version":1' in event.data and '"to_version":2' in event.data
    world.do(actions.verify, world.dlh, sub.case_id, approve=True)
    assert world.case(sub.case_id).stage == NEW  # the new step
    with world.services.uow() as uow:
        commands.complete_work_item(uow, world.dlh, world.item(sub.case_id).id, {"finding": "Sudah bersih."})
        uow.commit()
    assert world.case(sub.case_id).stage == "closure"
    assert world.chain_breaks() == []


def _state(world, case_id):
    with world.services.reading() as session:
        return session.get(CaseState, case_id).state_json


def _spec(world, number):
    with world.services.reading() as session:
        return session.scalar(select(ProcessSpec.id).where(ProcessSpec.version == number))


def test_a_case_whose_step_the_target_lacks_is_refused_and_left_untouched(world):
    deploy_first = world.report()  # version 1: the release
    deploy(world, inspection_files())
    sub = _at_verification(world)  # on version 2
    world.do(actions.verify, world.dlh, sub.case_id, approve=True)
    assert world.case(sub.case_id).stage == NEW
    state_before = _state(world, sub.case_id)
    admin = _admin(world)
    with world.services.uow() as uow:
        preview = processes.preview_migration(uow, admin, 2, 1)
    refusal = next(c for c in preview.cases if c.case_id == sub.case_id).move.refusal
    assert refusal == "its current step Inspeksi does not exist in version 1"  # by its label
    with world.services.uow() as uow:
        moved = processes.migrate_case(uow, admin, sub.case_id, _spec(world, 1))
    assert not moved.allowed
    assert world.case(sub.case_id).spec_id == _spec(world, 2)
    assert _state(world, sub.case_id) == state_before
    assert world.events(sub.case_id)[-1].action != "process_migrated"
    assert deploy_first


def test_a_background_migration_resumes_after_its_worker_stops_halfway(world):
    from tests.bulk import clone_case

    first = world.report()
    clone_case(world.services, first.case_id, 11)  # 12 cases at triage on version 1
    deploy(world, inspection_files())
    refused = _at_verification(world)  # on version 2: not chosen (it runs the target already)
    admin = _admin(world)
    with world.services.uow() as uow:
        job = processes.queue_migration(uow, admin, 1, 2)
        uow.commit()
        job_id = job.id
    assert job.total == 12
    one = processes.MigrationRunner(world.services, worker="w1", batch=5, lease=timedelta(minutes=2))
    assert one.run_once().migrated == 5  # then the worker "dies": its lease stands
    two = processes.MigrationRunner(world.services, worker="w2", batch=5, lease=timedelta(minutes=2))
    assert two.run_once().migration_id is None  # w1 still holds it
    world.services.clock.advance(timedelta(minutes=3))
    results = two.run_until_idle()
    assert sum(r.migrated for r in results) == 7 and results[-1].finished
    with world.services.reading() as session:
        job = session.get(ProcessMigration, job_id)
        assert (job.state, job.migrated, job.refused) == ("done", 12, 0)
        assert session.scalar(select(func.count()).select_from(Case).where(Case.spec_id == _spec(world, 1))) == 0
        per_case = session.execute(select(CaseEvent.case_id, func.count()).where(
            CaseEvent.action == "process_migrated").group_by(CaseEvent.case_id)).all()
        assert len(per_case) == 12 and {n for _, n in per_case} == {1}
        assert session.scalar(select(func.count()).select_from(MigrationRefusal)) == 0
    assert world.case(refused.case_id).spec_id == _spec(world, 2)
    assert world.chain_breaks() == []


def test_a_background_migration_records_refusals_with_their_reason(world):
    deploy(world, inspection_files())  # the release is not stored yet: inspection is version 1
    sub = _at_verification(world)
    world.do(actions.verify, world.dlh, sub.case_id, approve=True)  # at inspection
    other = world.report()  # at triage: can move
    deploy(world, {"case.bpmn": FILES["case.bpmn"], "tasks.yaml": FILES["tasks.yaml"]})  # version 2
    admin = _admin(world)
    with world.services.uow() as uow:
        processes.queue_migration(uow, admin, 1, 2)
        uow.commit()
    processes.MigrationRunner(world.services, worker="w1").run_until_idle()
    with world.services.reading() as session:
        job = session.scalars(select(ProcessMigration)).one()
        refusal = session.scalars(select(MigrationRefusal)).one()
        assert (job.state, job.migrated, job.refused) == ("done", 1, 1)
        assert refusal.case_id == sub.case_id
        assert "does not exist in version 2" in processes.read_reason(refusal.reason)
    assert world.case(other.case_id).spec_id == _spec(world, 2)
    assert world.case(sub.case_id).spec_id == _spec(world, 1)


def test_only_administrators_deploy_or_migrate(world):
    world.report()
    world.dlh
    with world.services.uow() as uow:
        with pytest.raises(PermissionDenied):
            processes.deploy_process(uow, world.dlh, inspection_files())
        with pytest.raises(PermissionDenied):
            processes.queue_migration(uow, world.dlh, 1, 1)


def test_a_case_left_on_a_version_whose_step_the_current_one_lacks_can_still_be_worked(world, app):
    """Not migrated (or refused), a case at a step the current version no longer has is worked
    with that step's form from its own version."""
    from tests.webclient import WebClient

    deploy(world, inspection_files())  # version 1 has the inspection
    sub = _at_verification(world)
    world.do(actions.verify, world.dlh, sub.case_id, approve=True)
    deploy(world, {"case.bpmn": FILES["case.bpmn"], "tasks.yaml": FILES["tasks.yaml"]})  # version 2 does not
    with world.services.reading() as session:
        assert NEW not in world.services.versions.refresh(session).forms
    coordinator = WebClient(app)
    coordinator.login("koor.dlh")
    item = world.item(sub.case_id)
    page = coordinator.get(f"/tasks/{item.id}")
    assert page.status_code == 200 and 'name="finding"' in page.get_data(as_text=True)
    done = coordinator.post(f"/tasks/{item.id}", {"finding": "Sudah bersih.", "version": str(world.case(sub.case_id).version)},
                            page=f"/tasks/{item.id}")
    assert done.status_code == 302, done.get_data(as_text=True)[:300]
    assert world.case(sub.case_id).stage == "closure"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0021_numbers_the_stored_specs_in_the_order_they_were_stored(tmp_path, backend):
    """(tests/test_tracking_codes.py walks a case whose spec is rebuilt here through it too.)"""
    from sqlalchemy import text

    from tests.helpers import empty_database
    from workflow.store import schema

    with empty_database(backend, tmp_path, "versions") as engine:
        schema.upgrade(engine, "0020")
        with engine.begin() as conn:
            for spec_id, day in ((4, 2), (9, 1)):  # ids and times in different orders: the id decides
                conn.execute(text("INSERT INTO process_specs (id, content_hash, process_id, spec_json, source, "
                                  "created_at) VALUES (:i, :h, 'p', '{}', '{}', :c)"),
                             {"i": spec_id, "h": f"h{spec_id}", "c": f"2026-11-0{day} 00:00:00+00:00"})
        schema.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, version, note, deployed_by_id FROM process_specs ORDER BY id")).all()
            deployed = conn.execute(text("SELECT deployed_at = created_at FROM process_specs")).scalars().all()
        assert [tuple(r) for r in rows] == [(4, 1, "", None), (9, 2, "", None)]
        assert all(deployed)


def test_a_case_not_migrated_keeps_the_rules_of_its_version(world):
    """Lanes, statuses and timers come from the version a case runs, not from the current one:
    a later tasks.yaml that gives the OPD's lane to supervisors does not change an old case."""
    old = world.report()
    meta = yaml.safe_load(FILES["tasks.yaml"])
    meta["lanes"]["OPD"]["role"] = "supervisor"
    deploy(world, {"tasks.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)})
    new = world.report()
    for sub in (old, new):
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    assert world.item(old.case_id).role == "coordinator"
    assert world.item(new.case_id).role == "supervisor"


def test_the_timers_of_a_step_the_current_version_lacks_still_fire(world):
    from escalation.sweeper import Sweeper

    deploy(world, inspection_files())  # version 1 has the inspection
    sub = _at_verification(world)
    world.do(actions.verify, world.dlh, sub.case_id, approve=True)
    deploy(world, {"case.bpmn": FILES["case.bpmn"], "tasks.yaml": FILES["tasks.yaml"]})  # version 2 does not
    world.services.clock.advance(timedelta(days=3))
    Sweeper(world.services, worker="test").run_once()
    assert "escalation_raised" in world.actions(sub.case_id)
    assert world.case(sub.case_id).stage == NEW
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(Timer).where(
            Timer.case_id == sub.case_id, Timer.failed_at.is_not(None))) == 0


def test_a_case_that_fails_to_move_is_refused_and_the_migration_goes_on(world, monkeypatch):
    first, second = world.report(), world.report()
    deploy(world, inspection_files())
    real = processes.move

    def failing(workflow, new, **named):
        if workflow.data.get("case_number") == first.case_number or any(
                t.data.get("case_number") == first.case_number for t in workflow.get_tasks()):
            raise KeyError("a broken definition")
        return real(workflow, new, **named)

    monkeypatch.setattr(processes, "move", failing)
    with world.services.uow() as uow:
        processes.queue_migration(uow, _admin(world), 1, 2)
        uow.commit()
    results = processes.MigrationRunner(world.services, worker="w1").run_until_idle(max_rounds=5)
    assert results[-1].finished
    with world.services.reading() as session:
        job = session.scalars(select(ProcessMigration)).one()
        refusal = session.scalars(select(MigrationRefusal)).one()
    assert (job.state, job.migrated, job.refused) == ("done", 1, 1)
    assert refusal.case_id == first.case_id and "KeyError" in processes.read_reason(refusal.reason)
    assert world.case(second.case_id).spec_id == _spec(world, 2)
    assert world.case(first.case_id).spec_id == _spec(world, 1)


def test_two_deployments_from_the_same_version_at_once_leave_one_and_a_conflict(world):
    import threading

    from workflow.errors import Conflict

    world.report()
    admin = _admin(world)
    meta = yaml.safe_load(FILES["tasks.yaml"])
    variants = []
    for n in (1, 2):
        meta["tasks"]["triage"]["label"] = {"id": f"Triase {n}", "en": f"Triage {n}"}
        variants.append({"tasks.yaml": yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)})
    outcomes, start = [], threading.Barrier(2)

    def deploy_one(files):
        start.wait()
        try:
            with world.services.uow() as uow:
                processes.deploy_process(uow, admin, files, based_on=1)
                uow.commit()
            outcomes.append("deployed")
        except Conflict as exc:
            outcomes.append(f"conflict: {exc.message}")

    threads = [threading.Thread(target=deploy_one, args=(files,)) for files in variants]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "deployed"], outcomes
    assert [v for v, _by in versions(world)] == [1, 2]


def test_a_first_case_whose_transaction_rolls_back_leaves_no_version_behind(world):
    """The release's files are stored with the first case; if that transaction rolls back, the
    next case stores them again rather than pointing at a row that is not there."""
    from workflow.commands.reports import ReportInput, submit_report
    from workflow.vocabulary import Channel

    with world.services.uow() as uow:  # the first report, not committed
        submit_report(uow, ReportInput(category="sampah", description="Sampah menumpuk lama di sini.",
                                       lat=-5.1560, lon=119.4050, area="mariso", channel=Channel.WEB))
    sub = world.report()
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(ProcessSpec)) == 1
        assert session.get(ProcessSpec, world.case(sub.case_id).spec_id).version == 1
