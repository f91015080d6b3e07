"""The ``tanggap`` command: database, reference and demo data, serving, audit, users, processes."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click
from sqlalchemy import func, inspect, select

from tanggap.console import configure_logging, limit_malloc_arenas
from tanggap.console import services as _services
from tanggap.console import until_stopped as _until_stopped
from tanggap.process_cli import process_group
from workflow import areas, responses
from workflow.access import Actor
from workflow.commands import accounts
from workflow.errors import DomainError
from workflow.services import Services
from workflow.store import audit, schema, security_log, seed
from workflow.store.models import Case


@click.group()
def main() -> None:
    """Tanggap: inter-agency case management for city complaint handling."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the schema."""
    services = _services(ctx)
    schema.upgrade(services.engine, revision, tracking_key=services.settings.tracking_key,
                   calendar_file=services.settings.bpmn_dir / "calendar.yaml")  # an old one: 0022 moves it in
    click.echo(f"database at revision {schema.current_revision(services.engine)}")
    if revision == "head":
        _deploy_release(services)


def _deploy_release(services: Services) -> None:
    """The release's process files become a version the first time this database sees them."""
    from workflow.store.specs import deploy_release

    with services.uow() as uow:
        row = deploy_release(uow.session, services.versions.files, services.clock.now())
        uow.commit()
        if row is not None:
            click.echo(f"process: the files of this release are version {row.version}")


@db.command("grant")
@click.argument("role")
@click.option("--print", "print_only", is_flag=True, help="print the statements instead of running them")
@click.pass_context
def db_grant(ctx: click.Context, role: str, print_only: bool) -> None:
    """Give the app's PostgreSQL ROLE exactly the rights it needs (run as the tables' owner,
    after `db upgrade`): no ALTER, TRUNCATE, UPDATE or DELETE of the audit trail."""
    services = _services(ctx)
    if services.engine.dialect.name != "postgresql":
        raise click.ClickException("database roles are a PostgreSQL deployment matter")
    statements = schema.app_grants(role, services.engine.url.database)
    if print_only:
        click.echo(";\n".join(statements) + ";")
        return
    with services.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    click.echo(f"{role}: {len(statements)} grants applied")


@db.command("revision")
@click.option("-m", "--message", required=True)
@click.pass_context
def db_revision(ctx: click.Context, message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    schema.revision(_services(ctx).settings.database_url, message)


@main.command("seed")
@click.option("--file", "seed_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=seed.DEFAULT_SEED, show_default=True, help="reference data of the city")
@click.option("--demo", is_flag=True, help="also add demo users and demo cases")
@click.option("--cases", default=300, show_default=True, help="demo cases to create")
@click.option("--demo-password", envvar="TANGGAP_DEMO_PASSWORD", default="tanggap-demo",
              show_default=True, help="password of every demo user")
@click.pass_context
def seed_command(ctx: click.Context, seed_file: Path, demo: bool, cases: int, demo_password: str) -> None:
    """Load reference data (agencies, areas, QR teams, categories); optionally demo data."""
    from tanggap import demo as demo_data

    services = _services(ctx)
    with services.uow() as uow:
        try:
            counts = seed.load_reference_data(uow.session, seed_file)
        except ValueError as exc:  # a broken seed file: what is wrong, not a traceback; nothing is kept
            raise click.ClickException(f"{seed_file}: {exc}") from None
        wrong = responses.misplaced(uow.session, services.definition)
        if wrong:  # nothing is kept: a seed that names forms the process does not have is broken
            raise click.ClickException("response templates that fill no text field:\n  " + "\n  ".join(wrong))
        uow.commit()
    click.echo(f"reference data: {counts.agencies} agencies, {counts.kecamatan} kecamatan, "
               f"{counts.kelurahan} kelurahan, {counts.teams} QR teams, {counts.categories} categories")
    if not demo:
        return
    from workflow.store.tracking import check_key

    with services.sessions() as session:  # demo reports' codes are hashed with this host's key
        check_key(session, services.tracking)
    try:
        added = demo_data.demo_users(services, demo_password)
    except DomainError as exc:
        raise click.ClickException(f"demo password: {exc.message}") from None
    click.echo(f"demo users: {added} added (password: {demo_password})" if added
               else "demo users: already present")
    with services.reading() as session:
        existing = session.scalar(select(func.count()).select_from(Case))
    if existing:
        click.echo(f"demo cases: skipped, the database already holds {existing} cases")
        return
    with click.progressbar(length=cases, label="demo cases") as bar:
        summary = demo_data.demo_cases(services, cases, progress=bar.update)
    spread = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_stop.items()))
    click.echo(f"demo cases: {summary.cases} ({spread})")


@main.group("areas")
def areas_group() -> None:
    """The kecamatan and kelurahan polygons."""


@areas_group.command("import")
@click.argument("geojson_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--level", type=click.Choice(areas.LEVELS), required=True, help="which areas the file draws")
@click.option("--name-property", required=True, help="the feature property holding the area's name")
@click.pass_context
def areas_import(ctx: click.Context, geojson_file: Path, level: str, name_property: str) -> None:
    """Replace the polygons of one level with a city's official boundaries (BIG/BPS, or an
    OpenStreetMap export), matched by name. A file that cannot be used changes nothing."""
    from workflow.access import Actor
    from workflow.commands import catalogue
    from workflow.store.models import City

    try:
        json.loads(geojson_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise click.ClickException(f"{geojson_file.name} is not JSON: {exc}") from None
    services = _services(ctx)
    try:  # the administration page's import, by the command line: in the security log as well
        with services.uow() as uow:
            expected = uow.session.scalar(select(City.geometry_hash).order_by(City.id).limit(1))
            result = catalogue.import_boundaries(uow, Actor.command_line(), geojson_file.read_bytes(), level=level,
                                                 name_property=name_property, expected=expected)
            uow.commit()
    except DomainError as exc:
        raise click.ClickException(f"{geojson_file.name}: {exc.message}; nothing was changed") from None
    misplaced = result.misplaced
    click.echo(f"{level}: {len(result.changed) + len(result.unchanged)} polygons replaced")
    if result.repaired:
        click.echo(f"made valid (the file's shape crossed itself): {', '.join(result.repaired)}")
    if result.unknown:
        click.echo(f"names in the file that match no {level}: {', '.join(result.unknown)}")
    if result.missing:
        click.echo(f"{level} the file has no polygon for (they keep theirs): {', '.join(result.missing)}")
    if misplaced:
        click.echo("kelurahan mostly outside their kecamatan (import the other level too): "
                   + ", ".join(misplaced))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--demo", is_flag=True, help="migrate and seed demo data first if the database is empty")
@click.option("--no-worker", is_flag=True, help="do not fire timers, send notices or migrate cases in this process")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, demo: bool, no_worker: bool) -> None:
    """Run the web app (embedded mode: SQLite, one process, timer and notice workers included)."""
    from escalation.sweeper import start_in_background, worker_name
    from web import create_app
    from workflow.notify import delivery

    limit_malloc_arenas()  # before the workers' and the requests' threads
    services = _services(ctx)
    if demo:
        schema.upgrade(services.engine, tracking_key=services.settings.tracking_key,
                       calendar_file=services.settings.bpmn_dir / "calendar.yaml")
        if not inspect(services.engine).has_table("cases") or not _has_reference_data(services):
            ctx.invoke(seed_command, seed_file=seed.DEFAULT_SEED, demo=True, cases=300,
                       demo_password="tanggap-demo")
    configure_logging()
    app = create_app(services=services)
    if not no_worker:
        from workflow.commands.processes import start_in_background as migrations_in_background
        from workflow.store import merkle_log

        start_in_background(services)
        migrations_in_background(services, worker=worker_name())
        merkle_log.start_in_background(services)
        if delivery.start_in_background(services, worker=worker_name()) is None:
            click.echo("no notice channel is configured (TANGGAP_SMTP_HOST, TANGGAP_WHATSAPP_URL, TANGGAP_SMS_URL): notices wait in the outbox")
    click.echo(f"Tanggap on http://{host}:{port}/")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


def _has_reference_data(services: Services) -> bool:
    from workflow.store.models import Agency

    with services.reading() as session:
        return session.scalar(select(func.count()).select_from(Agency)) > 0


@main.group("escalation")
def escalation_group() -> None:
    """SLA timers and escalation."""


@escalation_group.command("run")
@click.option("--once", is_flag=True, help="one sweep, then exit")
@click.option("--until-idle", is_flag=True, help="sweep until nothing is due, then exit")
@click.option("--interval", default=30.0, show_default=True, help="seconds between sweeps")
@click.option("--batch", default=100, show_default=True, help="timers claimed per sweep")
@click.option("--lease", default=120, show_default=True, help="lease length in seconds")
@click.pass_context
def escalation_run(ctx: click.Context, once: bool, until_idle: bool, interval: float, batch: int,
                   lease: int) -> None:
    """Fire due timers. Run as many workers as you like: each timer fires once."""
    from datetime import timedelta

    from escalation.sweeper import Sweeper

    configure_logging()
    sweeper = Sweeper(_services(ctx), batch=batch, lease=timedelta(seconds=lease))
    if once or until_idle:
        total = 0
        while True:
            r = sweeper.run_once()
            total += r.fired
            click.echo(f"{sweeper.worker}: {r.claimed} timers of {r.cases} cases claimed, {r.fired} "
                       f"fired, {r.retried} cases to retry, {len(r.given_up)} given up")
            if once or not r.claimed:
                break
        click.echo(f"{sweeper.worker}: {total} timers fired")
        return
    _until_stopped(sweeper.run_forever, interval, f"{sweeper.worker}: sweeping every {interval:g} s")


@main.group("outbox")
def outbox_group() -> None:
    """Notices to reporters and followers."""


@outbox_group.command("run")
@click.option("--once", is_flag=True, help="one round, then exit")
@click.option("--until-idle", is_flag=True, help="rounds until nothing is due, then exit")
@click.option("--interval", default=15.0, show_default=True, help="seconds between rounds")
@click.option("--batch", default=50, show_default=True, help="notices claimed per round")
@click.option("--lease", default=300, show_default=True, help="lease length in seconds")
@click.pass_context
def outbox_run(ctx: click.Context, once: bool, until_idle: bool, interval: float, batch: int,
               lease: int) -> None:
    """Send queued notices. Run as many workers as you like: each notice is sent once."""
    from datetime import timedelta

    from escalation.sweeper import worker_name
    from workflow.notify.delivery import Deliverer, configured_channels

    configure_logging()
    services = _services(ctx)
    channels = configured_channels(services)
    if not channels:
        click.echo("no notice channel is configured (set TANGGAP_SMTP_HOST, TANGGAP_WHATSAPP_URL or TANGGAP_SMS_URL): nothing to send", err=True)
        ctx.exit(1)
    worker = Deliverer(services, channels, worker=worker_name(), batch=batch, lease=timedelta(seconds=lease))
    if once or until_idle:
        result = worker.run_once() if once else worker.run_until_idle()
        click.echo(f"{worker.worker}: {result.claimed} claimed, {result.sent} sent, {result.retried} to retry, "
                   f"{result.stopped} stopped by their recipient, {len(result.given_up)} given up")
        worker.close()
        return
    _until_stopped(worker.run_forever, interval, f"{worker.worker}: sending every {interval:g} s")


@main.group("audit")
def audit_group() -> None:
    """Audit trail."""


@audit_group.command("verify")
@click.option("--case", "case_number", help="verify one case (case number)")
@click.option("--file", "export_file", type=click.File("rb"),
              help="verify an exported case history (JSON) offline, without the database")
@click.option("--heads", "heads_file", type=click.File("rb"),
              help="also check tree heads (or chain heads) kept outside the system: the log must still "
                   "hold each of them")
@click.option("--anchors", is_flag=True, help="also verify the RFC 3161 timestamp of every tree head")
@click.option("--each-signature", is_flag=True,
              help="check every event's own signature, also those a matching tree head vouches for")
@click.pass_context
def audit_verify(ctx: click.Context, case_number: str | None, export_file, heads_file, anchors: bool,
                 each_signature: bool) -> None:
    """Recompute the hash chains (every case's and the security log's), check every case's
    chain is as long as the case says, and check the Merkle log: every event logged as it is
    now and signed with the audit key, every tree head signed and matching the log. Exit 1 and
    name the first bad event of each problem if any.

    With --case, only that case's chain. With --file, check an export instead. With --heads, a
    file of tree heads kept outside the system (`tanggap audit tree-head`, or the history from
    /transparansi) or of chain heads (`tanggap audit heads`).
    """
    import time

    from workflow.read import history
    from workflow.store import merkle_log

    if export_file is not None:
        problems = history.verify_export(_load_json(export_file))
        _report(problems, "export verifies: every event matches its hash and its predecessor")
        return
    services = _services(ctx)
    kept = _load_json(heads_file) if heads_file is not None else None
    started = time.monotonic()
    lines = []
    with services.reading() as session:
        case_id = None
        if case_number:
            case_id = session.scalar(select(Case.id).where(Case.number == case_number))
            if case_id is None:
                raise click.ClickException(f"no case {case_number}")
        problems = [str(b) for b in audit.verify(session, case_id)]
        chains = session.scalar(select(func.count(func.distinct(audit.CaseEvent.case_id))))
        lines.append(f"audit chains intact ({chains if case_id is None else 1} case(s) checked)")
        if case_id is None:
            problems += [f"security log: seq {b.seq}" + (f" (event {b.event_id})" if b.event_id else "")
                         + f": {b.problem}" for b in security_log.verify(session)]
            lines.append(f"security log intact ({security_log.count(session)} events)")
            tree_heads, chain_heads = _kept_heads(kept)
            if chain_heads is not None:
                problems += history.verify_heads(session, chain_heads)
                lines.append("every recorded chain head is still there")
            report = merkle_log.verify(session, services.audit_keys, heads=tree_heads,
                                       each_signature=each_signature)
            problems += [str(p) for p in report.problems]
            lines.append(f"log intact ({report.size} entries, {report.heads_checked} tree heads, "
                         f"{report.signatures_checked} signatures checked one by one)")
            if anchors:
                anchored, anchor_problems, unstamped = merkle_log.verify_anchors(session, services.settings.tsa)
                problems += anchor_problems
                lines.append(f"{anchored} tree heads timestamped and verified")
                if unstamped:
                    click.echo(f"note: {unstamped} tree heads have no time-stamp (anchoring was off or failed: "
                               "/transparansi says why)", err=True)
            for note in report.notes:
                click.echo(f"note: {note}", err=True)
        elif kept is not None:
            tree_heads, chain_heads = _kept_heads(kept)
            if chain_heads is None:
                raise click.UsageError("--case checks a chain-heads file (tanggap audit heads); a tree head "
                                       "is checked against the whole log: leave --case out")
            problems += history.verify_heads(session, chain_heads)
    elapsed = time.monotonic() - started
    _report(problems, "; ".join(lines) + f" in {elapsed:.1f} s")


def _kept_heads(document) -> tuple[list[dict], dict | None]:
    """The tree heads, or the chain-heads document, of a --heads file."""
    if document is None:
        return [], None
    if isinstance(document, dict) and document.get("format") == "tanggap-chain-heads/1":
        return [], document
    if isinstance(document, dict) and document.get("format") == "tanggap-tree-heads/1":
        document = document.get("heads")
    elif isinstance(document, dict):
        document = [document.get("tree_head", document)]
    if not isinstance(document, list) or not all(isinstance(h, dict) for h in document):
        raise click.ClickException("--heads: not a file of tree heads or chain heads")
    return document, None


def _load_json(stream):
    import json

    try:
        return json.load(stream)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"not a JSON file: {exc}") from None


def _report(problems: list[str], ok_message: str) -> None:
    if problems:
        for problem in problems:
            click.echo(f"BROKEN: {problem}", err=True)
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(ok_message)


@audit_group.command("heads")
@click.option("--output", type=click.File("w"), default="-", show_default=True)
@click.pass_context
def audit_heads(ctx: click.Context, output) -> None:
    """Write the head of every case's chain and a digest over them (JSON). Keep the file
    outside the system; `tanggap audit verify --heads FILE` later proves no chain was rewritten."""
    import json

    from workflow.access import Actor, Scope
    from workflow.read import history
    from workflow.vocabulary import Role

    services = _services(ctx)
    auditor = Actor(user_id=None, name="cli", scopes=(Scope(Role.AUDITOR),), kind="system")
    with services.reading() as session:
        document = history.chain_heads(session, auditor, services.clock.now())
    json.dump(document, output, indent=1)
    output.write("\n")
    click.echo(f"{len(document['heads'])} chain heads, digest {document['digest']}", err=True)


@audit_group.command("publish")
@click.pass_context
def audit_publish(ctx: click.Context) -> None:
    """Move every pending event into the log now and sign (and timestamp) a tree head."""
    from workflow.store.merkle_log import LogError, LogKeeper

    keeper = LogKeeper(_services(ctx))
    try:
        taken = keeper.run_once(publish=True)
    except LogError as exc:
        raise click.ClickException(str(exc)) from None
    head = keeper.last_head
    click.echo(f"{taken.logged} events logged ({taken.backfilled} from before the log), "
               f"{len(taken.rejected)} refused; tree head of {head.size} entries, root {head.root.hex()}, "
               + (f"timestamped {head.tsa_time.isoformat()}" if head.tsa_token
                  else f"not timestamped: {head.tsa_error}" if head.tsa_error else "not timestamped (no TSA set)"))
    for problem in taken.rejected:
        click.echo(f"refused: {problem}", err=True)


@audit_group.command("tree-head")
@click.option("--output", type=click.File("w"), default="-", show_default=True)
@click.pass_context
def audit_tree_head(ctx: click.Context, output) -> None:
    """Write the latest signed tree head (JSON). Keep it outside the system: `tanggap audit
    verify --heads FILE` later proves the log still holds everything it covered."""
    from workflow.store import merkle_log

    with _services(ctx).reading() as session:
        head = merkle_log.latest_head(session)
        if head is None:
            raise click.ClickException("no tree head yet: run `tanggap audit publish`")
        document = {"format": "tanggap-tree-head/1", **merkle_log.head_document(head)}
    json.dump(document, output, indent=1)
    output.write("\n")


@audit_group.command("keygen")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="the new key's file (PEM, made readable by its owner only)")
def audit_keygen(output: Path) -> None:
    """Make a new Ed25519 audit key. Give the file to every host (TANGGAP_AUDIT_KEY_FILE); add
    the old key's public half to TANGGAP_AUDIT_PUBLIC_KEYS so what it signed still verifies."""
    import os

    from workflow import signing

    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{output} exists: choose a new file") from None
    with os.fdopen(fd, "w") as f:
        f.write(signing.generate_pem())
    keys = signing.AuditKeys.from_pem(output.read_text())
    click.echo(f"key {keys.key_id} written to {output}")


@audit_group.command("public-key")
@click.pass_context
def audit_public_key(ctx: click.Context) -> None:
    """Print the public keys audit signatures are checked with (PEM), the signing key's first."""
    click.echo(_services(ctx).audit_keys.public_pems(), nl=False)


@main.group("log")
def log_group() -> None:
    """The audit log's worker: signed events into the Merkle log, signed tree heads."""


@log_group.command("run")
@click.option("--once", is_flag=True, help="one round, then exit")
@click.option("--interval", type=float, help="seconds between rounds (default TANGGAP_LOG_INTERVAL, 300)")
@click.option("--batch", default=2000, show_default=True, type=click.IntRange(min=1),
              help="events logged per transaction")
@click.pass_context
def log_run(ctx: click.Context, once: bool, interval: float | None, batch: int) -> None:
    """Move signed events into the log and sign a tree head when it grew. Several may run: they
    take turns on the log's state row."""
    from workflow.store.merkle_log import LogError, LogKeeper

    configure_logging()
    services = _services(ctx)
    keeper = LogKeeper(services, batch=batch)
    if once:
        try:
            taken = keeper.run_once()
        except LogError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{taken.logged} events logged, {len(taken.rejected)} refused; the log holds {taken.size}")
        return
    every = interval if interval is not None else services.settings.log_interval
    _until_stopped(keeper.run_forever, every, f"log: a tree head every {every:g} s when events came")


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="full name")
@click.option("--email")
@click.option("--role", "roles", multiple=True, required=True,
              help="ROLE or ROLE:SCOPE, e.g. coordinator:DLH, qr_officer:qr-mariso-1, auditor")
@click.option("--password", envvar="TANGGAP_NEW_PASSWORD", help="asked for when not given")
@click.pass_context
def users_create(ctx: click.Context, username, full_name, email, roles, password) -> None:
    """Create a user with one or more scoped roles."""
    if not password:
        password = getpass.getpass("Password: ")
    pairs = [(r.split(":", 1)[0], r.split(":", 1)[1] if ":" in r else None) for r in roles]
    services = _services(ctx)
    try:
        with services.uow() as uow:  # the security log names the command line as "system"
            user = accounts.create_account(uow, Actor.system(), username=username, full_name=full_name,
                                           password=password, roles=pairs, email=email).user
            uow.commit()
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"user {user.username} created (id {user.id})")


@users.command("password")
@click.argument("username")
@click.option("--password", envvar="TANGGAP_NEW_PASSWORD", help="asked for (twice) when not given")
@click.pass_context
def users_password(ctx: click.Context, username, password) -> None:
    """Give USERNAME a new password (an account whose owner cannot log in); every session of
    it ends. The security log records a reset by the system."""
    from workflow.commands import users as accounts

    if not password:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise click.ClickException("the two passwords differ")
    try:
        with _services(ctx).uow() as uow:
            user = accounts.set_password(uow, username, password)
            uow.commit()
    except DomainError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in getattr(exc, "errors", {}).items())
        raise click.ClickException(detail or exc.message) from None
    click.echo(f"password of {user.username} changed; its sessions are logged out")


def _credential_group(kind: str, help_text: str) -> click.Group:
    from workflow.commands import credentials

    group = click.Group(help=help_text)

    @group.command("create")
    @click.argument("name")
    @click.option("--user", "username", required=kind == "token",
                  help="the user the token acts as (its roles and scopes)", hidden=kind != "token")
    @click.pass_context
    def create(ctx: click.Context, name: str, username: str | None) -> None:
        """Issue a credential; its secret is printed once."""
        try:
            with _services(ctx).uow() as uow:
                row, secret = credentials.issue(uow, kind, name, username=username)
                uow.commit()
        except DomainError as exc:
            detail = "; ".join(f"{k}: {v}" for k, v in getattr(exc, "errors", {}).items())
            raise click.ClickException(detail or exc.message) from None
        click.echo(f"{kind} credential {row.prefix} ({row.name}) created. Keep this secret, it is not shown again:")
        click.echo(secret)

    @group.command("list")
    @click.pass_context
    def list_(ctx: click.Context) -> None:
        """Credentials (never their secrets)."""
        with _services(ctx).reading() as session:
            rows = credentials.listing(session, kind)
        for row, username in rows:
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            click.echo(f"{row.prefix}  {row.name}  {username or '-'}  {state}  last used {used}")
        if not rows:
            click.echo("none")

    @group.command("revoke")
    @click.argument("prefix")
    @click.pass_context
    def revoke(ctx: click.Context, prefix: str) -> None:
        """Revoke a credential by its prefix (the part after the first underscore)."""
        try:
            with _services(ctx).uow() as uow:
                credentials.revoke(uow, prefix)
                uow.commit()
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"credential {prefix} revoked")

    return group


main.add_command(_credential_group("open311", "Open311 API keys, one per client application."), "apikeys")
main.add_command(_credential_group("token", "JSON API bearer tokens, each acting as a user."), "tokens")


if __name__ == "__main__":
    main()


main.add_command(process_group)
