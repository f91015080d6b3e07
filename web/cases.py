"""A case as staff see it, its notes, and its photos (only for users allowed to see the case)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select
from wtforms import BooleanField, TextAreaField

from workflow import commands, responses
from workflow.access import CONTACT_DESKS, Screen, can_write_notes, overseeing_role, role_for_item
from workflow.commands.contacts import reveal_contact
from workflow.errors import ValidationError
from workflow.read.cases import attachment_for, case_detail
from workflow.read.options import report_options
from workflow.read.search import STATES, CaseSearch, find_cases
from workflow.store.models import Agency
from workflow.vocabulary import Role

from .forms import Form
from .helpers import (
    actor,
    day_arg,
    is_htmx,
    run_command,
    safe_next,
    screen_of,
    services,
    submit,
    whole_number,
)
from .i18n import tr

bp = Blueprint("cases", __name__, url_prefix="/cases")

STATE_LABELS = {"all": _l("All"), "open": _l("Still open"), "over": _l("Finished")}
QUERY_LABELS = {"number": _l("case number"), "tracking_code": _l("tracking code or words of the report"),
               "phone": _l("the reporter's phone"), "email": _l("the reporter's e-mail"),
               "text": _l("words of the report or its address")}


FIGURE_DAYS = ("received_from", "received_to", "closed_from", "closed_to")


def _days(name: str, errors: dict) -> int | None:
    """A whole number of days from the query string, or None; a message when it is not one."""
    raw = (request.args.get(name) or "").strip()
    number = whole_number(raw)
    if raw and number is None:
        errors[name] = _l("give a whole number of days")
    return number
FIGURE_ARGS = ("status", "stage", "late", "age_min", "age_max", *FIGURE_DAYS)  # from the dashboard's figures


@bp.get("")
@screen_of(Screen.SEARCH)
def search():
    """Find a case when a citizen calls, or one's own earlier work."""
    args = request.args
    errors: dict = {}
    search = CaseSearch(q=args.get("q") or None, kelurahan=args.get("kelurahan") or None,
                        area=args.get("area") or None, category=args.get("category") or None,
                        agency=args.get("agency") or None, state=args.get("state") or "all",
                        mine=args.get("mine") == "1", status=args.get("status") or None,
                        stage=args.get("stage") or None, late=args.get("late") == "1",
                        age_min=_days("age_min", errors), age_max=_days("age_max", errors),
                        **{name: day_arg(name, errors) for name in FIGURE_DAYS},
                        page=whole_number(args.get("page"), 1))
    result = None
    stages = [t.form_key for t in services().definition.stages]
    with services().reading() as session:
        options = report_options(session)
        agencies = list(session.scalars(select(Agency).where(Agency.handles_reports.is_(True))
                                        .order_by(Agency.name)))
        try:
            if not errors:
                result = find_cases(session, actor(), search, services().tracking, now=services().clock.now(),
                                    stages=stages)
        except ValidationError as exc:
            errors = {k: tr(v) for k, v in exc.errors.items()}
    return render_template("cases/search.html", page=result, search=search, errors=errors, options=options,
                           agencies=agencies, states=STATES, state_labels=STATE_LABELS, query_labels=QUERY_LABELS,
                           contacts=actor().has_role(*CONTACT_DESKS), figure_args=FIGURE_ARGS,
                           now=services().clock.now(), en=str(get_locale()) == "en"), (400 if errors else 200)


class NoteForm(Form):
    body = TextAreaField(_l("Note"), render_kw={"maxlength": 4000, "rows": 3})
    public = BooleanField(_l("Public reply (the reporter sees it)"))


def _note_texts(session, detail) -> dict:
    """Ready texts for a public reply (workflow.responses), under the key the note form reads."""
    found = responses.offered(session, detail.case, responses.NOTE_FORM, str(get_locale()))
    return {f"note:{k}": v for k, v in found.items()}


@bp.get("/<int:case_id>")
@login_required
def show(case_id: int):
    with services().reading() as session:
        detail = case_detail(session, actor(), case_id)
        ready = _note_texts(session, detail)
        open_tasks = _open_tasks(detail)
    return render_template("cases/show.html", d=detail, note_form=NoteForm(), responses=ready, open_tasks=open_tasks,
                           can_note=can_write_notes(actor(), detail.case) is not None,
                           locale=str(get_locale()))


def _open_tasks(detail) -> list[dict]:
    """The case's open tasks as its page lists them (read while the session is open): who holds
    each, and whether the viewer may open it (to work it, or to give it to someone else)."""
    return [{"id": w.id, "task_name": w.task_name, "due_at": w.due_at, "since": w.claimed_at,
             "holder": w.assignee.full_name if w.assignee else None, "reporter": w.role == Role.CITIZEN,
             "opens": role_for_item(actor(), w) is not None or overseeing_role(actor(), w) is not None}
            for w in detail.work_items]


@bp.post("/<int:case_id>/notes")
@login_required
def add_note(case_id: int):
    form = NoteForm()
    back = safe_next(request.form.get("next"), url_for("cases.show", case_id=case_id))
    if form.validate_on_submit() and submit(form, commands.add_note, actor(), case_id, form.body.data or "",
                                            public=form.public.data, fallback="body"):
        flash(_l("Reply published.") if form.public.data else _l("Note added."))
        return redirect(back)
    with services().reading() as session:
        detail = case_detail(session, actor(), case_id)
        ready = _note_texts(session, detail)
        open_tasks = _open_tasks(detail)
    return render_template("cases/show.html", d=detail, note_form=form, can_note=True, responses=ready,
                           open_tasks=open_tasks,
                           locale=str(get_locale())), 400


@bp.post("/<int:case_id>/contact")
@login_required
def contact(case_id: int):
    """The reporter's contact, for the desk that may call back, each time written to the
    security log (a POST: opening it is an act, and no cache or prefetch repeats it). With htmx
    it replaces its button on the case or task page; without, a page of its own links back."""
    shown = run_command(reveal_contact, actor(), case_id, client_ip=request.remote_addr)
    back = safe_next(request.form.get("next"), url_for("cases.show", case_id=case_id))
    page = make_response(render_template("cases/_contact.html" if is_htmx() else "cases/contact.html",
                                         contact=shown, back=back))
    page.headers["Cache-Control"] = "no-store"
    return page


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    with services().reading() as session:
        row = attachment_for(session, actor(), attachment_id)
    return _private(send_file(services().storage.path(row.storage_name), mimetype=row.mime, max_age=300))


@bp.get("/attachments/<int:attachment_id>/small")
@login_required
def thumbnail(attachment_id: int):
    """A small copy for lists (the inbox), for whoever may see the photo."""
    with services().reading() as session:
        row = attachment_for(session, actor(), attachment_id)
    try:
        small = services().storage.thumbnail(row.storage_name)
    except FileNotFoundError:
        abort(404)
    except TimeoutError:
        abort(503)  # the image thread is busy with uploads: the list shows no picture this time
    return _private(send_file(small, mimetype="image/jpeg", max_age=300))


def _private(response):
    """A staff photo is kept by the browser that asked for it, never by a shared cache."""
    response.cache_control.public = False
    response.cache_control.private = True
    return response
