"""Administration of the process: its versions, deploying a new one from files, and migrating
open cases onto another version (a dry run on the page, then a background migration whose
progress the page follows)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from wtforms import HiddenField, StringField

from workflow.access import Screen
from workflow.commands import processes
from workflow.engine.checks import MAX_FILE
from workflow.errors import Conflict, ValidationError
from workflow.ranges import MAX_PAGE
from workflow.read import processes as read
from workflow.store.models import Agency, Category, ProcessSpec
from workflow.store.specs import RELEASE_NOTE

from .admin import section
from .forms import Form
from .helpers import actor, add_error, add_errors, only_for, run_command, services, whole_number
from .i18n import tr
from .labels import migration_state

bp = Blueprint("admin_process", __name__, url_prefix="/admin/processes")
only_for(bp, Screen.ADMIN)
PREVIEW_ROWS = 50

@bp.app_context_processor
def _labels():
    return {"migration_state": migration_state, "release_note": RELEASE_NOTE}


section("admin_process.versions", _l("Process versions"),
        _l("Deploy a new version of the process from its files, and move open cases onto it"), 30)


class DeployForm(Form):
    files = MultipleFileField(_l("Process files (.bpmn, .dmn, tasks.yaml)"))
    note = StringField(_l("What changed"), render_kw={"maxlength": processes.NOTE_MAX})
    based_on = HiddenField()  # the version current when the page was opened


class MigrateForm(Form):
    to = HiddenField()
    category = HiddenField()
    agency = HiddenField()
    stage = HiddenField()


def _read_files(form: DeployForm) -> dict[str, str] | None:
    """The uploaded files by name, or None with a message on the form."""
    files = {}
    for upload in form.files.data or []:
        if not getattr(upload, "filename", ""):
            continue
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
        raw = upload.read(MAX_FILE + 1)
        upload.close()
        if not (name.endswith(".bpmn") or name.endswith(".dmn") or name == "tasks.yaml"):
            add_error(form, "files", _l("%(name)s: only .bpmn and .dmn files and tasks.yaml make a process", name=name))
        elif len(raw) > MAX_FILE:
            add_error(form, "files", _l("%(name)s is larger than 2 MB", name=name))
        else:
            try:
                files[name] = raw.decode("utf-8")
            except UnicodeDecodeError:
                add_error(form, "files", _l("%(name)s is not UTF-8 text", name=name))
    if not files and not form.files.errors:
        add_error(form, "files", _l("Choose at least one file"))
    return None if form.files.errors else files


def _versions_page(form: DeployForm, problems: list[str] | None = None, status: int = 200):
    svc = services()
    with svc.reading() as session:
        svc.versions.refresh(session)
        rows = read.versions(session, svc.versions.current_id)
        jobs = read.migrations(session)
    current = next((r.version for r in rows if r.current), None)
    if not form.based_on.data or status == 409:  # after a conflict: sent again, the files replace it
        form.based_on.data = current
    return render_template("admin/processes.html", rows=rows, jobs=jobs, form=form,
                           problems=problems or [], max_note=processes.NOTE_MAX), status


@bp.get("/")
def versions():
    return _versions_page(DeployForm(formdata=None))


@bp.post("/")
def versions_deploy():
    form = DeployForm()
    if not form.validate_on_submit():
        return _versions_page(form, status=400)
    files = _read_files(form)
    if files is None:
        return _versions_page(form, status=400)
    try:
        done = run_command(processes.deploy_process, actor(), files, note=form.note.data or "",
                           client_ip=request.remote_addr, based_on=whole_number(form.based_on.data))
    except processes.DeployRefused as exc:  # the count on the field, the list below the form
        add_error(form, "files", tr(exc.errors["files"]))
        return _versions_page(form, exc.problems, 400)
    except ValidationError as exc:
        add_errors(form, exc.errors, fallback="files")
        return _versions_page(form, status=400)
    except Conflict as exc:
        add_error(form, "files", tr(exc.message))
        return _versions_page(form, status=409)
    if done.again:
        flash(_l("Version %(version)s is the current version again: new cases start on it.", version=done.version))
    else:
        flash(_l("Version %(version)s is deployed: new cases start on it; running cases keep their version "
                 "until you migrate them.", version=done.version))
    return redirect(url_for("admin_process.versions"))


def _version_row(session, number: int):
    row = session.scalar(select(ProcessSpec).where(ProcessSpec.version == number))
    if row is None:
        abort(404)
    return row


def _filter_choices(session, definition):
    english = str(get_locale()) == "en"
    categories = [(c.code, c.name_en if english else c.name_id)
                  for c in session.scalars(select(Category).order_by(Category.name_id))]
    agencies = [(a.code, a.name) for a in session.scalars(select(Agency).where(Agency.handles_reports.is_(True))
                                                          .order_by(Agency.name))]
    stages = [t.form_key for t in definition.stages]
    return categories, agencies, stages


@bp.get("/<int:version>/migrate")
def versions_migrate(version: int):
    """The dry run: what moving this version's chosen open cases onto ``to`` would do."""
    svc = services()
    args = request.args
    page = whole_number(args.get("page"), 1)
    errors = {}
    with svc.reading() as session:
        source = _version_row(session, version)
        svc.versions.refresh(session)
        targets = [r for r in read.versions(session, svc.versions.current_id) if r.version != version]
        categories, agencies, stages = _filter_choices(session, svc.definition)
    if not 1 <= page <= MAX_PAGE:
        errors["page"] = _l("A page from 1 to %(limit)s", limit=MAX_PAGE)
        page = 1
    target = whole_number(args.get("to"), None)
    if target is None and targets:
        target = next((r.version for r in targets if r.current), targets[0].version)
    chosen = processes.clean_filter(args)
    for name, options in (("category", [c for c, _ in categories]), ("agency", [a for a, _ in agencies]),
                          ("stage", stages)):
        if chosen.get(name) and chosen[name] not in options:
            errors[name] = _l("Choose one of the list")
    if target is not None and all(r.version != target for r in targets):
        errors["to"] = _l("Choose one of the list")
    preview = None
    if target is not None and not errors:
        with svc.uow() as uow:
            preview = processes.preview_migration(uow, actor(), version, target, chosen, limit=PREVIEW_ROWS,
                                                  offset=(page - 1) * PREVIEW_ROWS)
    form = MigrateForm(formdata=None, to=target, **chosen)
    pages = max(1, -(-(preview.total if preview else 0) // PREVIEW_ROWS))
    return render_template("admin/process_migrate.html", source=source, targets=targets, target=target,
                           chosen=chosen, categories=categories, agencies=agencies, stages=stages,
                           preview=preview, errors=errors, form=form, page=page, pages=pages), (400 if errors else 200)


@bp.post("/<int:version>/migrate")
def versions_migrate_start(version: int):
    form = MigrateForm()
    with services().reading() as session:
        _version_row(session, version)
    target = whole_number(form.to.data, None)
    if not form.validate_on_submit() or target is None:
        abort(400)
    chosen = {"category": form.category.data, "agency": form.agency.data, "stage": form.stage.data}
    try:
        job = run_command(processes.queue_migration, actor(), version, target, chosen, client_ip=request.remote_addr)
    except (ValidationError, Conflict) as exc:  # nothing left to move, one still running: said on the dry run
        message = next(iter(exc.errors.values())) if isinstance(exc, ValidationError) else exc.message
        flash(tr(message))
        return redirect(url_for("admin_process.versions_migrate", version=version, to=target,
                                **processes.clean_filter(chosen)))
    flash(_l("Migration %(id)s is queued: %(count)s cases are moved in the background.", id=job.id, count=job.total))
    return redirect(url_for("admin_process.versions_migration", migration_id=job.id))


@bp.get("/migrations/<int:migration_id>")
def versions_migration(migration_id: int):
    page = whole_number(request.args.get("page"), 1)
    if not 1 <= page <= MAX_PAGE:
        abort(400)
    with services().reading() as session:
        job = read.migration(session, migration_id)
        if job is None:
            abort(404)
        refused = read.refusals(session, migration_id, page=page)
    template = "admin/_migration_progress.html" if request.headers.get("HX-Request") else "admin/process_migration.html"
    return render_template(template, job=job, refused=refused, read_reason=processes.read_reason,
                           form=MigrateForm(formdata=None))


@bp.post("/migrations/<int:migration_id>/cancel")
def versions_migration_cancel(migration_id: int):
    form = MigrateForm()
    if not form.validate_on_submit():
        abort(400)
    run_command(processes.cancel_migration, actor(), migration_id, client_ip=request.remote_addr)
    flash(_l("Migration %(id)s is stopped; the cases moved so far stay on the new version.", id=migration_id))
    return redirect(url_for("admin_process.versions_migration", migration_id=migration_id))
