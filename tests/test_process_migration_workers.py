"""A background migration of thousands of cases whose worker is killed halfway: after another
worker takes over, every case runs exactly one version, none half-moved, the chains intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.bulk import clone_case
from tests.test_process_versions import _admin, deploy, inspection_files
from workflow.commands import processes
from workflow.engine.serialization import load_state
from workflow.store.models import Case, CaseEvent, CaseState, ProcessMigration, ProcessSpec, WorkItem

pytestmark = pytest.mark.slow


def _cli(settings, *args):
    env = {**os.environ, "DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    return subprocess.Popen([sys.executable, "-m", "tanggap", "process", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _migrated(world) -> int:
    with world.services.reading() as session:
        return session.scalar(select(ProcessMigration.migrated)) or 0


@pytest.mark.timeout(900)  # 5,000 cases through two worker processes: about a minute on an idle machine
def test_a_killed_migration_worker_leaves_every_case_on_exactly_one_version(world, settings):
    cases = 5000 if world.services.engine.dialect.name == "postgresql" else 600
    first = world.report()
    clone_case(world.services, first.case_id, cases - 1)
    deploy(world, inspection_files())
    victim = _cli(settings, "migrate", "--from", "1", "--to", "2", "--batch", "100", "--lease", "600")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and _migrated(world) < cases * 0.4:
        time.sleep(0.05)  # polling another process, not waiting for time to pass
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    halfway = _migrated(world)
    assert 0 < halfway < cases, "the worker was killed after it had finished: nothing to take over"
    with world.services.uow() as uow:  # its lease runs out (what ten minutes would do)
        uow.session.execute(update(ProcessMigration).values(
            lease_expires_at=world.services.clock.now() - timedelta(seconds=1)))
        uow.commit()
    survivor = _cli(settings, "work", "--until-idle", "--batch", "200")
    output = survivor.communicate(timeout=600)[0]
    assert survivor.returncode == 0, output

    versions = world.services.versions
    with world.services.reading() as session:
        job = session.scalars(select(ProcessMigration)).one()
        assert (job.state, job.migrated, job.refused, job.total) == ("done", cases, 0, cases)
        target = session.scalar(select(ProcessSpec.id).where(ProcessSpec.version == 2))
        assert session.scalar(select(func.count()).select_from(Case).where(Case.spec_id != target)) == 0
        per_case = dict(session.execute(select(CaseEvent.case_id, func.count()).where(
            CaseEvent.action == "process_migrated").group_by(CaseEvent.case_id)).all())
        assert len(per_case) == cases and set(per_case.values()) == {1}
        new = versions.definition_of(session, target)
        engine = versions.engine(new)
        for case_id, state in session.execute(select(CaseState.case_id, CaseState.state_json)):
            workflow = load_state((new.spec, new.subprocess_specs), state, engine.script_engine)
            open_ids = {t.task_id for t in engine.snapshot(workflow).tasks}
            items = set(session.scalars(select(WorkItem.bpmn_task_id).where(
                WorkItem.case_id == case_id, WorkItem.completed_at.is_(None))))
            assert open_ids == items, case_id
    assert world.chain_breaks() == []


def test_a_cancelled_migration_stops_after_the_case_it_is_on(world):
    first = world.report()
    clone_case(world.services, first.case_id, 9)
    deploy(world, inspection_files())
    with world.services.uow() as uow:
        job = processes.queue_migration(uow, _admin(world), 1, 2)
        uow.commit()
        job_id = job.id
    runner = processes.MigrationRunner(world.services, worker="w1", batch=4)
    assert runner.run_once().migrated == 4
    with world.services.uow() as uow:
        processes.cancel_migration(uow, _admin(world), job_id)
        uow.commit()
    assert runner.run_once().migration_id is None
    with world.services.reading() as session:
        job = session.get(ProcessMigration, job_id)
        assert (job.state, job.migrated) == ("cancelled", 4)
        assert session.scalar(select(func.count()).select_from(Case).where(
            Case.spec_id == job.from_spec_id)) == 6
