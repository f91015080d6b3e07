"""Opening a work item: the case, and the form of its BPMN task."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from wtforms import HiddenField, TextAreaField

from workflow import commands
from workflow.commands.tasks import QUESTION_MAX, workable_item
from workflow.errors import Conflict, ValidationError
from workflow.read.queries import case_detail, instructions_for, task_choices
from workflow.store.models import Case, WorkItem

from .cases import NoteForm
from .errors import render_error
from .forms import Form
from .helpers import actor, read_upload, services, whole_number
from .i18n import tr
from .taskforms import build_form, values_of

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _item(item_id: int) -> WorkItem:
    with services().reading() as session:
        item, _role = workable_item(session, actor(), item_id)
        _case = item.case  # load the case while the session is open: the page reads it later
        return item


class AskForm(Form):
    version = HiddenField()
    question = TextAreaField(_l("Question for the reporter"),
                             render_kw={"maxlength": QUESTION_MAX, "rows": 3})


def _page(item: WorkItem, form, status: int = 200, ask_form: AskForm | None = None):
    with services().reading() as session:
        detail = case_detail(session, actor(), item.case_id)
        instructions = instructions_for(session, [item.id]).get(item.id, [])
    process = services().definition
    question = process.question_task
    asking = next((w for w in detail.work_items if question and w.task_name == question.name), None)
    task = process.task(item.task_name)
    if ask_form is None and task is not None and task.asks_citizen and asking is None:
        ask_form = AskForm()
        ask_form.version.data = detail.case.version
    definition = services().definition.forms[item.form_key]
    return render_template("tasks/show.html", item=item, d=detail, form=form, note_form=NoteForm(),
                           definition=definition, locale=str(get_locale()), instructions=instructions,
                           ask_form=ask_form if asking is None else None, asking=asking), status


def _form(item: WorkItem):
    definition = services().definition.forms[item.form_key]
    with services().reading() as session:
        case = session.get(Case, item.case_id)
        options = {f.source: task_choices(session, case, f.source)
                   for f in definition.fields if f.source}
    form = build_form(definition, options, str(get_locale()))
    return form, definition


@bp.get("/<int:item_id>")
@login_required
def show(item_id: int):
    item = _item(item_id)
    form, _definition = _form(item)
    form.version.data = item.case.version
    return _page(item, form)


@bp.post("/<int:item_id>")
@login_required
def complete(item_id: int):
    item = _item(item_id)
    form, definition = _form(item)
    if not form.validate_on_submit():
        return _page(item, form, 400)
    values, files = values_of(form, definition, services().zone)
    try:
        uploads = {name: services().storage.prepare(read_upload(upload), field=name)
                   for name, upload in files.items()}
        version = whole_number(form.version.data)
        with services().uow() as uow:
            commands.complete_work_item(uow, actor(), item_id, values, expected_version=version,
                                        uploads=uploads)
            uow.commit()
    except ValidationError as exc:
        for name, message in exc.errors.items():
            target = form[name] if name in form else form.version
            target.errors = [*target.errors, tr(message)]
        return _page(item, form, 400)
    except Conflict as exc:
        return render_error(exc.message, 409, reload=True)
    flash(_l("Task completed: %(case)s.", case=item.case.number))
    return redirect(url_for("inbox.index"))


@bp.post("/<int:item_id>/ask")
@login_required
def ask(item_id: int):
    """Ask the reporter a question; the task stays open and its SLA clock stops."""
    item = _item(item_id)
    ask_form = AskForm()
    form, _definition = _form(item)
    form.version.data = item.case.version
    if not ask_form.validate_on_submit():
        return _page(item, form, 400, ask_form=ask_form)
    try:
        version = whole_number(ask_form.version.data)
        with services().uow() as uow:
            commands.request_information(uow, actor(), item_id, question=ask_form.question.data or "",
                                         expected_version=version)
            uow.commit()
    except ValidationError as exc:
        for name, message in exc.errors.items():
            target = ask_form[name] if name in ask_form else ask_form.version
            target.errors = [*target.errors, tr(message)]
        return _page(item, form, 400, ask_form=ask_form)
    except Conflict as exc:
        return render_error(exc.message, 409, reload=True)
    flash(_l("Question sent to the reporter: %(case)s. The SLA clock stops until the answer.",
             case=item.case.number))
    return redirect(url_for("tasks.show", item_id=item_id))
