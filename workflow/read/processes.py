"""Process versions and migrations as the administration pages list them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from workflow.read.paging import Page
from workflow.store.models import Case, MigrationRefusal, ProcessMigration, ProcessSpec, User
from workflow.vocabulary import OPEN_STATUSES


@dataclass(frozen=True)
class VersionRow:
    spec_id: int
    version: int
    deployed_at: datetime
    deployed_by: str | None  # None: the files of a release
    note: str
    files: tuple[str, ...]
    open_cases: int
    cases: int
    current: bool
    open_by_stage: dict  # form key -> open cases


def versions(session: Session, current_id: int | None) -> list[VersionRow]:
    """Every version, newest first, with how many cases (open and all) run on it."""
    counts = dict(session.execute(select(Case.spec_id, func.count()).group_by(Case.spec_id)).all())
    open_counts: dict[int, dict] = {}
    for spec_id, stage, n in session.execute(
            select(Case.spec_id, Case.stage, func.count()).where(Case.status.in_(OPEN_STATUSES))
            .group_by(Case.spec_id, Case.stage)):
        open_counts.setdefault(spec_id, {})[stage] = n
    rows = session.execute(select(ProcessSpec.id, ProcessSpec.version, ProcessSpec.deployed_at, User.username,
                                  ProcessSpec.note, ProcessSpec.source)
                           .outerjoin(User, User.id == ProcessSpec.deployed_by_id)
                           .order_by(ProcessSpec.version.desc())).all()
    return [VersionRow(spec_id=r.id, version=r.version, deployed_at=r.deployed_at, deployed_by=r.username,
                       note=r.note or "", files=tuple(sorted(r.source or {})),
                       open_cases=sum(open_counts.get(r.id, {}).values()), cases=counts.get(r.id, 0),
                       current=r.id == current_id, open_by_stage=open_counts.get(r.id, {}))
            for r in rows]


@dataclass(frozen=True)
class MigrationRow:
    id: int
    source: int
    target: int
    case_filter: dict
    state: str
    total: int
    migrated: int
    refused: int
    created_at: datetime
    created_by: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def handled(self) -> int:
        return self.migrated + self.refused

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.handled / self.total))


def _migration_query():
    source, target = aliased(ProcessSpec), aliased(ProcessSpec)
    return (select(ProcessMigration, source.version, target.version, User.username)
            .join(source, source.id == ProcessMigration.from_spec_id)
            .join(target, target.id == ProcessMigration.to_spec_id)
            .outerjoin(User, User.id == ProcessMigration.created_by_id))


def _row(job: ProcessMigration, source: int, target: int, by: str | None) -> MigrationRow:
    return MigrationRow(id=job.id, source=source, target=target, case_filter=dict(job.case_filter or {}),
                        state=job.state, total=job.total, migrated=job.migrated, refused=job.refused,
                        created_at=job.created_at, created_by=by, started_at=job.started_at,
                        finished_at=job.finished_at)


def migrations(session: Session, limit: int = 20) -> list[MigrationRow]:
    return [_row(*r) for r in session.execute(_migration_query().order_by(ProcessMigration.id.desc()).limit(limit))]


def migration(session: Session, migration_id: int) -> MigrationRow | None:
    found = session.execute(_migration_query().where(ProcessMigration.id == migration_id)).first()
    return _row(*found) if found else None


@dataclass(frozen=True)
class RefusalRow:
    case_id: int
    number: str | None
    stage: str | None
    reason: str  # stored form: workflow.commands.processes.read_reason


def refusals(session: Session, migration_id: int, *, page: int = 1, per_page: int = 50) -> Page:
    query = (select(MigrationRefusal.case_id, Case.number, Case.stage, MigrationRefusal.reason)
             .join(Case, Case.id == MigrationRefusal.case_id)
             .where(MigrationRefusal.migration_id == migration_id))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = [RefusalRow(*r) for r in session.execute(
        query.order_by(MigrationRefusal.case_id).offset((page - 1) * per_page).limit(per_page))]
    return Page(rows=rows, total=total, page=page, per_page=per_page)
