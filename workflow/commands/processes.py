"""Process versions: deploying one, previewing and migrating open cases onto another.

A deployment is checked whole before anything is stored (``engine/checks.py`` for the files,
:func:`routing_problems` for the city's categories), becomes a numbered version and is what
new cases start on; running cases keep theirs. A migration moves one case per transaction
(``engine/migration.py``): its workflow, its projections (case row, work items, timers) and a
``process_migrated`` event, or nothing when the case is refused.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import DBAPIError

from workflow.access import Actor, Screen, may_use
from workflow.commands.change import CaseChange, get_case
from workflow.engine.checks import check_source
from workflow.engine.definition import ProcessDefinition
from workflow.engine.migration import CaseMove, VersionDiff, move, version_diff
from workflow.engine.runtime import ProcessEngine
from workflow.engine.sla import duration
from workflow.errors import Conflict, NotFound, PermissionDenied, ValidationError
from workflow.messages import Message, msg
from workflow.store import security_log
from workflow.store.models import (
    Agency,
    Area,
    Case,
    Category,
    MigrationRefusal,
    ProcessMigration,
    ProcessSpec,
)
from workflow.store.specs import lock_versions, store_version
from workflow.store.uow import UnitOfWork
from workflow.text import bad_text
from workflow.vocabulary import MIGRATION_ACTIVE, OPEN_STATUSES, Action, MigrationState, Role

log = logging.getLogger("tanggap.migrations")
NOTE_MAX = 500
FILTER_KEYS = ("category", "agency", "stage")  # how a migration's cases are chosen, besides the version


class DeployRefused(ValidationError):
    """The files do not make a process that can run here; ``problems`` names each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__({"files": msg("the process was not deployed: {count} problems", count=len(problems))})

    def as_dict(self) -> dict:
        return {**super().as_dict(), "problems": self.problems}


@dataclass(frozen=True)
class Deployed:
    spec_id: int
    version: int
    again: bool  # content deployed before: that version is current again


def _admin(actor: Actor) -> None:
    if not may_use(actor, Screen.ADMIN):
        raise PermissionDenied(msg("only an administrator can change the process"))


def routing_problems(session, definition: ProcessDefinition, engine: ProcessEngine) -> list[str]:
    """The routing table must send a report of every active category, in every kecamatan, to
    an OPD that exists and takes reports, with SLA targets that are durations (a dry run of a
    new case up to the task ``route_preview`` names in ``tasks.yaml``)."""
    preview = definition.route_preview
    if preview is None:
        return []
    agencies = {a.code: a for a in session.scalars(select(Agency))}
    categories = session.scalars(select(Category.code).where(Category.active.is_(True)).order_by(Category.code)).all()
    kecamatan = session.scalars(select(Area.code).where(Area.parent_id.is_(None)).order_by(Area.code)).all()
    problems = []
    for category in categories:
        for area in kecamatan:
            answer = engine.route_preview(category, area)
            where = {"category": repr(category), "area": repr(area)}
            if answer is None or not answer.agency:
                problems.append(msg("routing: category {category}, kecamatan {area}: no rule of the routing table "
                                    "gives it an OPD", **where))
                continue
            agency = agencies.get(answer.agency)
            if agency is None or not agency.active or not agency.handles_reports:
                problems.append(msg("routing: category {category}, kecamatan {area}: the OPD {agency} does not "
                                    "exist or takes no reports", agency=repr(answer.agency), **where))
            if answer.sla is not None:
                try:
                    duration(answer.sla, datetime(2000, 1, 1, tzinfo=timezone.utc))
                except (ValueError, TypeError):
                    problems.append(msg("routing: category {category}, kecamatan {area}: the SLA target {sla} is not "
                                        "an ISO 8601 duration", sla=repr(answer.sla), **where))
    return problems


def check_files(uow: UnitOfWork, files: Mapping[str, str]) -> tuple[ProcessDefinition | None, list[str]]:
    """The definition that the current version's files with ``files`` in place of theirs make,
    or every problem found (nothing is stored either way)."""
    source = {**uow.definition.source, **files}
    definition, problems = check_source(source, uow.definition.process_id)
    if definition is not None:
        problems = routing_problems(uow.session, definition, uow.services.versions.engine(definition))
    return (definition if not problems else None), problems


def deploy_process(uow: UnitOfWork, actor: Actor, files: Mapping[str, str], *, note: str = "",
                   client_ip: str | None = None, based_on: int | None = None) -> Deployed:
    """Make the files (the current version's, with these in place of theirs) the version new
    cases start on. Refused whole, with every problem, when they do not make a process that runs.
    ``based_on``: the version number the deployer's page showed as current; a version deployed
    since is a conflict (their files would quietly undo it)."""
    _admin(actor)
    lock_versions(uow.session)  # deployments one after another: the numbering and the check below
    uow.definition = uow.services.versions.refresh(uow.session)
    current = _number(uow, uow.services.versions.current_id)
    if based_on is not None and current is not None and based_on != current:
        row = uow.session.scalar(select(ProcessSpec).where(ProcessSpec.version == current))
        who = row.deployed_by.username if row.deployed_by else msg("the release's files")
        raise Conflict(msg("Version {version} was deployed by {who} after this page was opened. Look at it, "
                           "then deploy your change again.", version=current, who=who))
    note = (note or "").strip()
    if bad_text(note) or len(note) > NOTE_MAX:
        raise ValidationError({"note": msg("at most {limit} characters of plain text", limit=NOTE_MAX)})
    for name, text in files.items():
        if bad_text(text):
            raise DeployRefused([msg("{file}: control characters or invalid Unicode", file=name)])
    definition, problems = check_files(uow, files)
    if problems:
        raise DeployRefused(problems)
    previous = uow.services.versions.current_id
    if previous is not None and definition.content_hash == uow.definition.content_hash:
        raise ValidationError({"files": msg("these files make the current version: nothing to deploy")})
    again = uow.session.scalar(select(ProcessSpec.id).where(ProcessSpec.content_hash == definition.content_hash))
    now = uow.clock.now()
    row = store_version(uow.session, definition, now, deployed_by_id=actor.user_id, note=note)
    uow.services.versions.adopt(definition)
    changed = sorted(n for n in definition.source if definition.source[n] != uow.definition.source.get(n))
    security_log.admin_change(
        uow.session, who=security_log.Who(actor.user_id, actor.name, client_ip), occurred_at=now,
        entity="process", key=f"v{row.version}", old={"current": _number(uow, previous)},
        new={"current": row.version, "files": changed, "note": note or None})
    return Deployed(spec_id=row.id, version=row.version, again=again is not None)


def _number(uow: UnitOfWork, spec_id: int | None) -> int | None:
    return uow.session.scalar(select(ProcessSpec.version).where(ProcessSpec.id == spec_id)) if spec_id else None


# -- migration ---------------------------------------------------------------------------------


def _version(session, number: int) -> ProcessSpec:
    row = session.scalar(select(ProcessSpec).where(ProcessSpec.version == number))
    if row is None:
        raise NotFound(msg("process version {version} does not exist", version=number))
    return row


def _chosen(from_id: int, case_filter: Mapping[str, str | None], *, after: int = 0):
    """The open cases of a version that a filter chooses, in id order (the migration's cursor)."""
    query = select(Case.id).where(Case.spec_id == from_id, Case.status.in_(OPEN_STATUSES), Case.id > after)
    if case_filter.get("category"):
        query = query.where(Case.category_id == select(Category.id).where(
            Category.code == case_filter["category"]).scalar_subquery())
    if case_filter.get("agency"):
        query = query.where(Case.agency_id == select(Agency.id).where(
            Agency.code == case_filter["agency"]).scalar_subquery())
    if case_filter.get("stage"):
        query = query.where(Case.stage == case_filter["stage"])
    return query.order_by(Case.id)


def clean_filter(raw: Mapping[str, str | None]) -> dict[str, str]:
    return {k: str(raw[k]).strip() for k in FILTER_KEYS if raw.get(k) and str(raw[k]).strip()}


@dataclass(frozen=True)
class CasePreview:
    case_id: int
    number: str | None
    stage: str | None
    move: CaseMove


@dataclass(frozen=True)
class MigrationPreview:
    source: int  # version numbers
    target: int
    diff: VersionDiff
    total: int  # open cases the filter chooses
    cases: tuple[CasePreview, ...]  # the first ``limit`` of them, each tried on a copy
    allowed: int  # of those tried
    refused: int
    labels: dict  # element id or form key -> {"id": ..., "en": ...}, from the version that has it


def step_namer(old: ProcessDefinition, new: ProcessDefinition, locale: str = "id"):
    """A step's label, from the version that has it (a removed step from the old one)."""
    def name(element: str) -> str:
        known = new if element in new.spec.task_specs or new.task_for_form(element) else old
        return known.label(element, locale)
    return name


def preview_migration(uow: UnitOfWork, actor: Actor, source: int, target: int,
                      case_filter: Mapping[str, str | None] | None = None, *, limit: int = 50,
                      offset: int = 0) -> MigrationPreview:
    """What moving the chosen open cases of version ``source`` to ``target`` would do, tried
    case by case on copies (the unit of work is not committed: nothing changes)."""
    _admin(actor)
    old_row, new_row = _version(uow.session, source), _version(uow.session, target)
    if old_row.id == new_row.id:
        raise ValidationError({"target": msg("choose another version than the cases run")})
    versions = uow.services.versions
    old, new = versions.definition_of(uow.session, old_row.id), versions.definition_of(uow.session, new_row.id)
    chosen = clean_filter(case_filter or {})
    query = _chosen(old_row.id, chosen)
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ids = uow.session.scalars(query.offset(offset).limit(limit)).all()
    rows = []
    for case_id in ids:
        case = uow.session.get(Case, case_id)
        with CaseChange(uow, case, actor.ref(Role.ADMIN), operation=None) as change:
            result = move(change.workflow, new, version=new_row.version, name=step_namer(old, new))
            change.saved = True  # a copy in a transaction that is rolled back: nothing is saved
        rows.append(CasePreview(case_id, case.number, case.stage, result))
    uow.session.rollback()
    allowed = sum(1 for r in rows if r.move.allowed)
    diff = version_diff(old, new)
    named = {n for r in rows for n in (*r.move.at, *r.move.changed, *r.move.dropped, r.stage) if n}
    named |= {*diff.added, *diff.removed, *diff.changed}
    labels = {n: {loc: step_namer(old, new, loc)(n) for loc in ("id", "en")} for n in named}
    return MigrationPreview(source=old_row.version, target=new_row.version, diff=diff, total=total,
                            cases=tuple(rows), allowed=allowed, refused=len(rows) - allowed, labels=labels)


def migrate_case(uow: UnitOfWork, actor: Actor, case_id: int, target_spec_id: int) -> CaseMove:
    """Move one open case onto the version ``target_spec_id`` in this unit of work: its
    workflow, projections and timers, and a ``process_migrated`` event naming both versions.
    A refused move changes nothing (the caller does not commit) and says why."""
    case = get_case(uow, case_id)
    if case.status not in OPEN_STATUSES:
        return CaseMove((), (), (), msg("the case is finished: there is nothing to move"))
    if case.spec_id == target_spec_id:
        return CaseMove((), (), (), msg("the case already runs this version"))
    versions = uow.services.versions
    new = versions.definition_of(uow.session, target_spec_id)
    numbers = dict(uow.session.execute(select(ProcessSpec.id, ProcessSpec.version).where(
        ProcessSpec.id.in_((case.spec_id, target_spec_id)))).all())
    with CaseChange(uow, case, actor.ref(Role.ADMIN if actor.user_id else None)) as change:
        result = move(change.workflow, new, version=numbers[target_spec_id],
                      name=step_namer(change.definition, new))
        if not result.allowed:
            change.saved = True  # nothing is saved: the caller rolls back
            return result
        source_version = numbers[case.spec_id]
        case.spec_id = target_spec_id
        change.save(events=[{"action": Action.PROCESS_MIGRATED, "data": {
            "from_version": source_version, "to_version": numbers[target_spec_id],
            "changed": list(result.changed), "dropped": list(result.dropped)}}])
    return result


def queue_migration(uow: UnitOfWork, actor: Actor, source: int, target: int,
                    case_filter: Mapping[str, str | None] | None = None, *,
                    client_ip: str | None = None) -> ProcessMigration:
    """A background migration of the chosen open cases (``workflow.commands.processes.MigrationRunner``)."""
    _admin(actor)
    old_row, new_row = _version(uow.session, source), _version(uow.session, target)
    if old_row.id == new_row.id:
        raise ValidationError({"target": msg("choose another version than the cases run")})
    chosen = clean_filter(case_filter or {})
    running = uow.session.scalar(select(ProcessMigration.id).where(
        ProcessMigration.from_spec_id == old_row.id, ProcessMigration.state.in_(MIGRATION_ACTIVE)))
    if running:
        raise Conflict(msg("migration {id} of version {version} is still running", id=running, version=source))
    total = uow.session.scalar(select(func.count()).select_from(_chosen(old_row.id, chosen).subquery())) or 0
    if not total:
        raise ValidationError({"source": msg("no open case of version {version} matches", version=source)})
    now = uow.clock.now()
    job = ProcessMigration(from_spec_id=old_row.id, to_spec_id=new_row.id, case_filter=chosen, state=MigrationState.QUEUED,
                           total=total, migrated=0, refused=0, cursor_case_id=0, created_by_id=actor.user_id,
                           created_at=now)
    uow.session.add(job)
    uow.session.flush()
    security_log.admin_change(
        uow.session, who=security_log.Who(actor.user_id, actor.name, client_ip), occurred_at=now,
        entity="process_migration", key=str(job.id), old=None,
        new={"from": source, "to": target, "filter": chosen, "cases": total})
    return job


def cancel_migration(uow: UnitOfWork, actor: Actor, migration_id: int, *, client_ip: str | None = None) -> None:
    """Stop a migration after the case it is on; the cases moved so far stay moved."""
    _admin(actor)
    job = uow.session.get(ProcessMigration, migration_id)
    if job is None:
        raise NotFound(msg("migration {id} not found", id=migration_id))
    if job.state not in MIGRATION_ACTIVE:
        raise Conflict(msg("migration {id} has already ended", id=migration_id))
    now, job_state = uow.clock.now(), job.state
    job.state, job.finished_at = MigrationState.CANCELLED, now
    security_log.admin_change(uow.session, who=security_log.Who(actor.user_id, actor.name, client_ip),
                              occurred_at=now, entity="process_migration", key=str(job.id),
                              old={"state": str(job_state)}, new={"state": str(MigrationState.CANCELLED)})


@dataclass(frozen=True)
class RunResult:
    migration_id: int | None
    migrated: int = 0
    refused: int = 0
    finished: bool = False


def stored_reason(reason: Message | str | None) -> str:
    """A refusal as the database keeps it: the message's template and parameters (JSON), so that
    it is read in the reader's language."""
    if isinstance(reason, Message):
        return json.dumps({"template": reason.template, "params": reason.params}, ensure_ascii=False)
    return json.dumps({"template": str(reason or ""), "params": {}}, ensure_ascii=False)


def read_reason(stored: str) -> Message:
    try:
        value = json.loads(stored)
        return msg(value["template"], **value.get("params", {}))
    except (ValueError, KeyError, TypeError):
        return msg(stored)


class MigrationRunner:
    """Runs queued migrations: a lease on one migration, then case after case, each in its own
    transaction that also moves the migration's cursor and counts. A worker killed between two
    cases leaves both consistent; when its lease runs out, any worker goes on from the cursor."""

    def __init__(self, services, *, worker: str, batch: int = 200, lease: timedelta = timedelta(minutes=2),
                 attempts: int = 3):
        self.services, self.worker, self.batch, self.lease, self.attempts = services, worker, batch, lease, attempts

    def _claim(self) -> int | None:
        now = self.services.clock.now()
        with self.services.uow(record_incidents=False) as uow:
            job_id = uow.session.scalar(
                select(ProcessMigration.id).where(
                    ProcessMigration.state.in_(MIGRATION_ACTIVE),
                    or_(ProcessMigration.lease_expires_at.is_(None), ProcessMigration.lease_expires_at < now,
                        ProcessMigration.lease_owner == self.worker))
                .order_by(ProcessMigration.id).limit(1))
            if job_id is None:
                return None
            claimed = uow.session.execute(
                update(ProcessMigration).where(
                    ProcessMigration.id == job_id, ProcessMigration.state.in_(MIGRATION_ACTIVE),
                    or_(ProcessMigration.lease_expires_at.is_(None), ProcessMigration.lease_expires_at < now,
                        ProcessMigration.lease_owner == self.worker))
                .values(state=MigrationState.RUNNING, lease_owner=self.worker, lease_expires_at=now + self.lease,
                        started_at=func.coalesce(ProcessMigration.started_at, now))).rowcount
            uow.commit()
        return job_id if claimed else None

    def run_once(self) -> RunResult:
        """Up to ``batch`` cases of one migration."""
        job_id = self._claim()
        if job_id is None:
            return RunResult(None)
        with self.services.reading() as session:
            job = session.get(ProcessMigration, job_id)
            ids = session.scalars(_chosen(job.from_spec_id, job.case_filter, after=job.cursor_case_id)
                                  .limit(self.batch)).all()
            target = job.to_spec_id
        migrated = refused = 0
        for case_id in ids:
            outcome = self._one(job_id, case_id, target)
            if outcome is None:  # cancelled or taken over meanwhile
                return RunResult(job_id, migrated, refused)
            migrated += outcome
            refused += 1 - outcome
        if len(ids) < self.batch:
            now = self.services.clock.now()
            with self.services.uow(record_incidents=False) as uow:
                uow.session.execute(update(ProcessMigration).where(
                    ProcessMigration.id == job_id, ProcessMigration.state == MigrationState.RUNNING,
                    ProcessMigration.lease_owner == self.worker)
                    .values(state=MigrationState.DONE, finished_at=now, lease_owner=None, lease_expires_at=None))
                uow.commit()
            return RunResult(job_id, migrated, refused, finished=True)
        return RunResult(job_id, migrated, refused)

    def _still_ours(self, uow: UnitOfWork, job_id: int, case_id: int) -> bool:
        """Move the cursor past ``case_id`` and renew the lease, if the migration is still this
        worker's (the same statement: it holds the migration's row until commit)."""
        now = uow.clock.now()
        return bool(uow.session.execute(update(ProcessMigration).where(
            ProcessMigration.id == job_id, ProcessMigration.state == MigrationState.RUNNING,
            ProcessMigration.lease_owner == self.worker, ProcessMigration.cursor_case_id < case_id)
            .values(cursor_case_id=case_id, lease_expires_at=now + self.lease)).rowcount)

    def _one(self, job_id: int, case_id: int, target: int) -> int | None:
        """1 migrated, 0 refused, None: the migration is no longer this worker's."""
        actor = Actor.system()
        reason: Message | str | None = None
        for _ in range(self.attempts):
            try:
                with self.services.uow() as uow:
                    if not self._still_ours(uow, job_id, case_id):
                        return None
                    result = migrate_case(uow, actor, case_id, target)
                    if result.allowed:
                        uow.session.execute(update(ProcessMigration).where(ProcessMigration.id == job_id)
                                            .values(migrated=ProcessMigration.migrated + 1))
                        uow.commit()
                        return 1
                    reason = result.refusal
            except Conflict:  # someone acted on the case meanwhile: try it again as it is now
                reason = msg("the case kept changing while it was being moved")
                continue
            except DBAPIError:
                raise  # the database, not the case: the round fails and is tried again later
            except Exception as exc:  # noqa: BLE001 - this case cannot move; the others still can
                log.exception("%s: migration %s could not move case %s", self.worker, job_id, case_id)
                error = (type(exc).__name__ + ": " + str(exc))[:300]
                reason = msg("moving it failed: {error}", error=error)
            break
        with self.services.uow(record_incidents=False) as uow:
            if not self._still_ours(uow, job_id, case_id):
                return None
            uow.session.add(MigrationRefusal(migration_id=job_id, case_id=case_id, reason=stored_reason(reason)))
            uow.session.execute(update(ProcessMigration).where(ProcessMigration.id == job_id)
                                .values(refused=ProcessMigration.refused + 1))
            uow.commit()
        return 0

    def run_until_idle(self, max_rounds: int = 10_000) -> list[RunResult]:
        results = []
        for _ in range(max_rounds):
            result = self.run_once()
            if result.migration_id is None:
                break
            results.append(result)
        return results

    def run_forever(self, interval: float, stop) -> None:
        """Batches back to back while a migration has cases left; otherwise a look every
        ``interval`` seconds. A failed round (the database away) is logged and tried again."""
        while not stop.is_set():
            try:
                busy = self.run_once().migration_id is not None
            except Exception:  # noqa: BLE001 - the worker outlives a failed round
                log.exception("%s: a migration round failed", self.worker)
                busy = False
            if not busy:
                stop.wait(interval)


def start_in_background(services, *, worker: str, interval: float = 5.0):
    """The embedded mode's migration worker (``tanggap serve``)."""
    stop = threading.Event()
    thread = threading.Thread(target=MigrationRunner(services, worker=worker).run_forever, args=(interval, stop),
                              name="tanggap-migrations", daemon=True)
    thread.start()
    return thread, stop
