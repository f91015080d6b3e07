"""Opening a work item: the case, and the form of its BPMN task."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice as C

from workflow import commands, responses
from workflow.access import can_view_case, overseeing_role
from workflow.commands.supervision import REASON_MAX
from workflow.commands.tasks import QUESTION_MAX, workable_item
from workflow.engine.forms import FormDefinition, check_count
from workflow.errors import Conflict, PermissionDenied, ValidationError
from workflow.read.cases import CaseDetail, case_detail, instructions_for
from workflow.read.handoff import Step, last_step, next_task_for
from workflow.read.nearby import duplicate_candidates
from workflow.read.options import assignees_for, task_choices
from workflow.store.models import Case, WorkItem
from workflow.store.reference import References
from workflow.store.specs import fields_unread
from workflow.vocabulary import OPEN_STATUSES, Role

from .cases import NoteForm
from .forms import Form
from .helpers import actor, add_error, add_errors, read_upload, services, submit, whole_number, work_list
from .i18n import tr
from .taskforms import build_form, values_of

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


class TakeOverForm(Form):
    """Its own field names: it shares the page with the task's form (which may have a ``reason``)."""

    takeover_version = HiddenField()
    takeover_to = SelectField(_l("Give it to"), validate_choice=False)
    takeover_reason = TextAreaField(_l("Reason (in the case history)"),
                                    render_kw={"maxlength": REASON_MAX, "rows": 2})

    FIELDS = {"to_user": "takeover_to", "to_team": "takeover_to", "reason": "takeover_reason"}  # the command's


def _reassign(uow, item_id: int, take: TakeOverForm):
    try:
        return commands.reassign(uow, actor(), item_id, to_user=take.takeover_to.data or "",
                                 reason=take.takeover_reason.data or "",
                                 expected_version=whole_number(take.takeover_version.data))
    except ValidationError as exc:  # the command's field names, as this form calls them
        raise ValidationError({TakeOverForm.FIELDS.get(k, "takeover_version"): v
                               for k, v in exc.errors.items()}) from None


class AskForm(Form):
    version = HiddenField()
    question = TextAreaField(_l("Question for the reporter"),
                             render_kw={"maxlength": QUESTION_MAX, "rows": 3})


@dataclass(frozen=True)
class TaskPage:
    """What the page of a work item shows, read in one session."""

    item: WorkItem
    detail: CaseDetail
    instructions: list
    form: FormDefinition
    options: dict  # the choices of the form's fields, by source
    candidates: list = ()  # possible duplicates, for a form that can merge the case into another
    step: Step | None = None  # what the previous step handed on
    conflict: Conflict | None = None  # the task is no longer open (a form posted to it): who did it
    responses: dict | None = None  # ready texts for the form's text fields, by field
    takers: list | None = None  # held by someone else: whom the actor may give it to (None: they may not)
    may_work: bool = True  # False: the actor oversees the task (may give it on) but cannot complete it


def _read(item_id: int, *, finished_ok: bool = False) -> TaskPage:
    """404 outside the actor's view, 403 for a task they may not work; 409 for one no longer
    open, unless ``finished_ok`` (a form posted to it comes back with what was typed)."""
    with services().reading() as session:
        conflict, may_work = None, True
        try:
            item, _role = workable_item(session, actor(), item_id)
        except Conflict as exc:  # the actor may work it, but it is done: who did it is in the message
            if not finished_ok:
                raise
            item, conflict = session.get(WorkItem, item_id), exc
            if not can_view_case(actor(), item.case):  # the case went on to where they cannot follow
                raise
        except PermissionDenied:  # a supervisor, or the coordinator of field work: they read it, and may give it on
            item = session.get(WorkItem, item_id)
            if item.completed_at is not None or overseeing_role(actor(), item) is None:
                raise
            may_work = False
        _loaded = item.case, item.assignee, item.completed_by  # while the session is open: the page reads them later
        takers = None
        if item.completed_at is None and (not may_work or item.assignee_id not in (None, actor().user_id)) \
                and overseeing_role(actor(), item) is not None:
            takers = sorted(assignees_for(session, item), key=lambda o: o.code != actor().name)
        form = services().versions.form(session, item.case.spec_id, item.form_key)
        unread = fields_unread(session, services().definition, item.case.spec_id, form)
        if unread:  # the case's process version would ignore them: not offered
            form = replace(form, fields=tuple(f for f in form.fields if f.name not in unread))
        candidates = []
        if any(f.merge_into for f in form.fields):
            candidates = duplicate_candidates(session, item.case, days=References(session).city.duplicate_days,
                                              now=services().clock.now())
        return TaskPage(
            item=item, detail=case_detail(session, actor(), item.case_id),
            instructions=instructions_for(session, [item.id]).get(item.id, []), form=form,
            options={f.source: task_choices(session, item.case, f.source) for f in form.fields if f.source},
            candidates=candidates, step=last_step(session, services().definition, item.case_id),
            conflict=conflict, takers=takers, may_work=may_work, responses={
                **responses.offered(session, item.case, item.form_key, str(get_locale())),
                **{f"note:{k}": v for k, v in responses.offered(
                    session, item.case, responses.NOTE_FORM, str(get_locale())).items()}})


def merge_values(form: FormDefinition, number: str, distance_m: float) -> dict[str, str] | None:
    """The form's values that merge the case into case ``number`` in one click: the ``merge_into``
    field, the choices that field is required for, and the text fields those choices require
    (a sentence saying why). None for a form that cannot merge."""
    target = next((f for f in form.fields if f.merge_into), None)
    if target is None:
        return None
    values = {target.name: number}
    for other, allowed in target.required_if.items():
        values[other] = allowed[0]
    for f in form.fields:
        if f.type == "text" and f.name not in values and any(
                values.get(other) in allowed for other, allowed in f.required_if.items()):
            values[f.name] = tr(_l("Same problem as case %(number)s, %(distance)s m away.", number=number,
                                   distance=round(distance_m)))
    return values


def _form(page: TaskPage):
    """The task's form, filled from the request when it was posted."""
    return build_form(page.form, page.options, str(get_locale()))


def _take_over_form(page: TaskPage, form: TakeOverForm | None = None) -> TakeOverForm | None:
    if page.takers is None:
        return None
    if form is None:  # a fresh form: the version the page shows
        form = TakeOverForm(formdata=None)
        form.takeover_version.data = page.detail.case.version
    mine = _l("Myself (%(username)s)", username=actor().name)
    form.takeover_to.choices = [C("", _l("Choose"))] + [
        C(o.code, mine if o.code == actor().name else o.name_id) for o in page.takers]
    return form


def _page(page: TaskPage, form, status: int = 200, ask_form: AskForm | None = None,
          take_over: TakeOverForm | None = None, prefilled: bool = False):
    """The task page; ``prefilled``: its "when did it happen" fields hold the time of this render
    (a phone's kept copy moves them to the time it is opened, web/static/field.js)."""
    process = services().definition
    question = process.question_task
    asking = next((w for w in page.detail.work_items if question and w.task_name == question.name), None)
    task = process.task(page.item.task_name)
    if ask_form is None and task is not None and task.asks_citizen and asking is None:
        ask_form = AskForm()
        ask_form.version.data = page.detail.case.version
    holder = page.item.assignee if page.item.completed_at is None and page.item.assignee_id not in (
        None, actor().user_id) else None  # someone else holds the open task: read only
    return render_template("tasks/show.html", item=page.item, d=page.detail, form=form, note_form=NoteForm(),
                           held_by=holder and {"name": holder.full_name, "username": holder.username,
                                               "since": page.item.claimed_at},
                           definition=page.form, locale=str(get_locale()), instructions=page.instructions,
                           ask_form=ask_form if asking is None else None, asking=asking,
                           candidates=page.candidates, merge_values=merge_values, now=services().clock.now(),
                           step=page.step, responses=page.responses or {},
                           take_over=_take_over_form(page, take_over), may_work=page.may_work,
                           done_by=page.item.completed_by.username if page.item.completed_by else None,
                           prefilled=prefilled, offset_minutes=int(services().clock.now().astimezone(services().zone)
                                              .utcoffset().total_seconds() // 60),
                           form_first=page.may_work and page.item.role == Role.QR_OFFICER,  # on site: the form first
                           open_statuses=OPEN_STATUSES), status


@bp.get("/<int:item_id>")
@login_required
def show(item_id: int):
    page = _read(item_id)
    form = _form(page)
    form.version.data = page.detail.case.version
    now = services().clock.now().astimezone(services().zone).replace(tzinfo=None, second=0, microsecond=0)
    prefilled = False
    for f in page.form.fields:  # "when did it happen": most often just now (the officer on site)
        if f.type == "datetime" and f.happened and form[f.name].data is None:
            form[f.name].data, prefilled = now, True
    return _page(page, form, prefilled=prefilled)


@bp.post("/<int:item_id>")
@login_required
def complete(item_id: int):
    page = _read(item_id, finished_ok=True)
    if not page.may_work:
        abort(403)
    form = _form(page)
    if page.conflict is not None:  # someone else finished it: their work stands, what was typed stays
        add_error(form, "version", page.conflict.message)
        return _page(page, form, 409)
    if not form.validate_on_submit():
        return _page(page, form, 400)
    values, files = values_of(form, page.form, services().zone)
    for name, upload in files.items():  # more photos than the field takes: refused before any is decoded
        try:
            check_count(page.form.field(name), len(upload) if isinstance(upload, list) else 1)
        except ValueError as exc:
            add_error(form, name, exc.args[0])
            return _page(page, form, 400)
    try:  # photos are decoded before the write transaction begins
        uploads = {name: [services().storage.prepare(read_upload(u), field=name) for u in upload]
                   if isinstance(upload, list) else services().storage.prepare(read_upload(upload), field=name)
                   for name, upload in files.items()}
    except ValidationError as exc:
        add_errors(form, exc.errors, fallback="version")
        return _page(page, form, 400)
    done = submit(form, commands.complete_work_item, actor(), item_id, values, fallback="version",
                  conflicts_on="version", expected_version=whole_number(form.version.data), uploads=uploads)
    if not done:
        if done.status == 409:  # what was typed stays; the version is the case's now, to send again on purpose
            form.version.data = _current_version(page.item.case_id)
        return _page(page, form, done.status)
    flash(_l("Task completed: %(case)s.", case=page.item.case.number))
    with services().reading() as session:
        following = next_task_for(session, services().definition, actor(), page.item.case_id)
    if following is not None:  # the same case's next step is this person's too: straight on
        return redirect(url_for("tasks.show", item_id=following))
    return redirect(work_list())


def _current_version(case_id: int) -> int | None:
    with services().reading() as session:
        case = session.get(Case, case_id)
        return case.version if case else None


@bp.post("/<int:item_id>/takeover")
@login_required
def take_over(item_id: int):
    """A supervisor (or, for field work, the OPD's coordinator) gives a task someone else holds to
    another person, themselves included, with a reason: audited as a reassignment."""
    page = _read(item_id)
    if page.item.assignee_id == actor().user_id:  # theirs already (the same form sent twice): nothing to do
        return redirect(url_for("tasks.show", item_id=item_id))
    if page.takers is None:
        abort(403)
    take = _take_over_form(page, TakeOverForm())
    form = _form(page)
    form.version.data = page.detail.case.version
    if not take.validate_on_submit():
        return _page(page, form, 400, take_over=take)
    done = submit(take, _reassign, item_id, take, fallback="takeover_version", conflicts_on="takeover_version")
    if not done:  # the reason typed stays; after a conflict, the version is the case's now
        page = _read(item_id)
        if done.status == 409:
            take.takeover_version.data = page.detail.case.version
        said = [e for errors in (take.takeover_version.errors, take.takeover_to.errors) for e in errors]
        if page.takers is None and said:  # someone gave it away meanwhile: no form to show the message on
            flash(said[0])
        form.version.data = page.detail.case.version
        return _page(page, form, done.status, take_over=take)
    flash(_l("Task taken over: %(case)s.", case=page.item.case.number))
    return redirect(url_for("tasks.show", item_id=item_id))


@bp.post("/<int:item_id>/ask")
@login_required
def ask(item_id: int):
    """Ask the reporter a question; the task stays open and its SLA clock stops."""
    page = _read(item_id)
    if not page.may_work:
        abort(403)
    ask_form = AskForm()
    form = _form(page)
    form.version.data = page.detail.case.version
    if not ask_form.validate_on_submit():
        return _page(page, form, 400, ask_form=ask_form)
    asked = submit(ask_form, commands.request_information, actor(), item_id, fallback="version",
                   conflicts_on="version", question=ask_form.question.data or "",
                   expected_version=whole_number(ask_form.version.data))
    if not asked:  # the question typed stays, also when someone else acted first
        return _page(page, form, asked.status, ask_form=ask_form)
    flash(_l("Question sent to the reporter: %(case)s. The SLA clock stops until the answer.",
             case=page.item.case.number))
    return redirect(url_for("tasks.show", item_id=item_id))
