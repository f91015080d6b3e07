"""``tanggap process``: deploy a process version, list versions, migrate open cases, run the
migration worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from sqlalchemy import func, select

from tanggap.console import configure_logging, until_stopped
from tanggap.console import services as _services
from workflow.access import Actor
from workflow.commands import processes
from workflow.errors import DomainError
from workflow.messages import msg
from workflow.store.models import Case, ProcessMigration, ProcessSpec
from workflow.vocabulary import OPEN_STATUSES


def _admin() -> Actor:
    return Actor.command_line()


@click.group("process")
def process_group() -> None:
    """Process versions: deploy, list, migrate open cases."""


@process_group.command("deploy")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="what changed (shown in the versions list)")
@click.pass_context
def deploy(ctx: click.Context, files: tuple[Path, ...], note: str) -> None:
    """Deploy FILES (.bpmn, .dmn, tasks.yaml) as a new version, the current version's other
    files kept. Everything is checked first; nothing changes when a problem is found."""
    services = _services(ctx)
    texts = {}
    for path in files:
        try:
            texts[path.name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise click.ClickException(f"{path.name}: not UTF-8 text; nothing was deployed") from None
    try:
        with services.uow() as uow:
            done = processes.deploy_process(uow, _admin(), texts, note=note)
            uow.commit()
    except processes.DeployRefused as exc:
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        raise click.ClickException(f"{len(exc.problems)} problems: nothing was deployed") from None
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    state = "deployed again" if done.again else "deployed"
    click.echo(f"version {done.version} {state}: new cases start on it")


@process_group.command("list")
@click.pass_context
def list_versions(ctx: click.Context) -> None:
    """The versions, the current one marked, with their open cases."""
    services = _services(ctx)
    with services.reading() as session:
        current = services.versions.refresh(session)
        rows = session.execute(
            select(ProcessSpec.version, ProcessSpec.deployed_at, ProcessSpec.content_hash, ProcessSpec.note,
                   select(func.count()).where(Case.spec_id == ProcessSpec.id, Case.status.in_(OPEN_STATUSES))
                   .scalar_subquery())
            .order_by(ProcessSpec.version)).all()
    for version, deployed, content_hash, note, open_cases in rows:
        mark = "*" if content_hash == current.content_hash else " "
        click.echo(f"{mark} {version:>3}  {deployed:%Y-%m-%d %H:%M} UTC  {open_cases:>6} open  {note}")


def _print_header(preview: processes.MigrationPreview) -> None:
    diff = preview.diff
    click.echo(f"version {preview.source} -> {preview.target}: {preview.total} open cases chosen")
    for label, names in (("added", diff.added), ("removed", diff.removed), ("changed", diff.changed)):
        if names:
            click.echo(f"  {label}: {', '.join(names)}")


def _print_case(row: processes.CasePreview) -> None:
    if row.move.allowed:
        changed = f" (changed: {', '.join(row.move.changed)})" if row.move.changed else ""
        click.echo(f"  {row.number}: moves at {', '.join(row.move.at) or '-'}{changed}")
    else:
        click.echo(f"  {row.number}: REFUSED: {row.move.refusal}")


@process_group.command("migrate")
@click.option("--from", "source", type=int, required=True, help="the version the cases run")
@click.option("--to", "target", type=int, required=True, help="the version to move them onto")
@click.option("--category", help="only cases of this category (code)")
@click.option("--agency", help="only cases held by this OPD (code)")
@click.option("--stage", help="only cases at this stage (form key)")
@click.option("--dry-run", is_flag=True, help="try every chosen case on a copy and say what would happen")
@click.option("--batch", default=200, show_default=True, help="cases per round")
@click.option("--lease", default=120, show_default=True, help="seconds another worker waits before taking over")
@click.pass_context
def migrate(ctx: click.Context, source: int, target: int, category, agency, stage, dry_run: bool,
            batch: int, lease: int) -> None:
    """Move the open cases of version FROM (or those the filters choose) onto version TO, one
    case per transaction; refused cases stay where they are, with the reason."""
    services = _services(ctx)
    chosen = {"category": category, "agency": agency, "stage": stage}
    try:
        if dry_run:
            offset, refused, allowed = 0, 0, 0
            while True:
                with services.uow() as uow:
                    preview = processes.preview_migration(uow, _admin(), source, target, chosen,
                                                          limit=batch, offset=offset)
                if offset == 0:
                    _print_header(preview)
                for row in preview.cases:
                    _print_case(row)
                allowed, refused = allowed + preview.allowed, refused + preview.refused
                offset += batch
                if offset >= preview.total:
                    break
            click.echo(f"dry run: {allowed} would move, {refused} refused; nothing was changed")
            return
        with services.uow() as uow:
            job = processes.queue_migration(uow, _admin(), source, target, chosen)
            uow.commit()
            job_id, total = job.id, job.total
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    from escalation.sweeper import worker_name

    click.echo(f"migration {job_id}: {total} cases from version {source} to {target}")
    runner = processes.MigrationRunner(services, worker=worker_name(), batch=batch, lease=timedelta(seconds=lease))
    while True:
        result = runner.run_once()
        with services.reading() as session:
            row = session.get(ProcessMigration, job_id)
            click.echo(f"migration {job_id}: {row.migrated} moved, {row.refused} refused of {row.total}")
            if row.state in ("done", "cancelled"):
                break
        if result.migration_id is None:
            raise click.ClickException(msg("migration {id} is run by another worker", id=job_id))


@process_group.command("work")
@click.option("--until-idle", is_flag=True, help="run queued migrations to the end, then exit")
@click.option("--interval", default=5.0, show_default=True, help="seconds between looks for work")
@click.option("--batch", default=200, show_default=True, help="cases per round")
@click.option("--lease", default=120, show_default=True, help="seconds another worker waits before taking over")
@click.pass_context
def work(ctx: click.Context, until_idle: bool, interval: float, batch: int, lease: int) -> None:
    """Run queued migrations (from the web page or another host); any number of these may run,
    each migration is worked by one at a time."""
    from escalation.sweeper import worker_name

    configure_logging()
    runner = processes.MigrationRunner(_services(ctx), worker=worker_name(), batch=batch,
                                       lease=timedelta(seconds=lease))
    if until_idle:
        results = runner.run_until_idle()
        click.echo(f"{runner.worker}: {sum(r.migrated for r in results)} cases moved, "
                   f"{sum(r.refused for r in results)} refused")
        return
    until_stopped(runner.run_forever, interval, f"{runner.worker}: migrating, a look every {interval:g} s")
