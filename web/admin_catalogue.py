"""Administration of the city's catalogue: report categories (with their extra fields), response
templates, kecamatan and kelurahan (names, centres, boundaries from a GeoJSON file) and the
city's settings. The views validate the form, run one command (``workflow.commands.catalogue``)
and render; every change goes to the security log in the command's unit of work."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, FieldList, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms import Form as SubForm
from wtforms.fields.choices import SelectChoice as C

from workflow import responses
from workflow.access import Screen
from workflow.areas import LEVELS
from workflow.commands import catalogue as cmd
from workflow.errors import Conflict, NotFound, ValidationError
from workflow.messages import msg
from workflow.read import catalogue as read
from workflow.store.models import Area, Category, City, ResponseTemplate
from workflow.store.reference import References
from workflow.store.seed import ATTRIBUTE_TYPES

from .admin import section
from .errors import render_error
from .forms import Form
from .helpers import Submitted, actor, only_for, run_command, safe_next, services, whole_number
from .i18n import local_time, tr
from .ratelimit import client_ip

bp = Blueprint("admin_catalogue", __name__, url_prefix="/admin")
only_for(bp, Screen.ADMIN)

section("admin_catalogue.categories", _l("Categories"),
        _l("Report categories: names, groups, the duplicate radius and the extra fields each asks for."), 40)
section("admin_catalogue.templates", _l("Response templates"),
        _l("Ready texts staff start closing notes, reasons, instructions and public replies from."), 50)
section("admin_catalogue.areas", _l("Areas"),
        _l("Kecamatan and kelurahan: names, centres, new kelurahan, official boundaries from a GeoJSON file."), 60)
section("admin_catalogue.city", _l("City"),
        _l("The city's name, the duplicate window and what Open311 clients are told."), 70)

ATTRIBUTE_TYPE_LABELS = {
    "string": _l("Short text"), "text": _l("Long text"), "number": _l("Number"),
    "datetime": _l("Date and time"), "singlevaluelist": _l("One choice from a list"),
    "multivaluelist": _l("Several choices from a list"),
}
PLACEHOLDER_LABELS = {
    "case_number": _l("the case number"), "category": _l("the category's name"),
    "kecamatan": _l("the kecamatan"), "kelurahan": _l("the kelurahan"),
    "team": _l("the QR team sent"), "city": _l("the city's name"),
}


def _english() -> bool:
    return str(get_locale()) == "en"


def _who_changed(entity: str, key: str) -> str:
    """What a conflict tells: who changed the object last and when (the security log), that
    what was typed is kept, and that saving again replaces their change."""
    with services().reading() as session:
        change = read.last_change(session, entity, key)
    if change is None:
        return tr(_l("Someone else changed this since you opened the page. What you typed is kept below: "
                     "check the current values in a new tab, then save again to replace them."))
    return tr(_l("%(who)s changed this on %(when)s, after you opened the page. What you typed is kept below: "
                 "check the current values in a new tab, then save again to replace them.",
                 who=change.actor_name, when=local_time(change.occurred_at)))


def _run(form, command, *args, entity: str, key: str, current=None, fallback: str, rename=None,
         **kwargs) -> Submitted:
    """The command in one unit of work, for an administration form: the administrator and
    their address go with it. Its messages go on the (nested) fields they name (``rename``:
    from the command's names to the form's); a conflict comes back as a 409 naming who changed
    the object, with what was typed and the fingerprint of the values as they are now
    (``current()``), so that saving again is a choice made knowing it."""
    try:
        return Submitted(True, run_command(command, actor(), *args, client_ip=client_ip(), **kwargs))
    except ValidationError as exc:
        _place_errors(form, rename(exc.errors) if rename else exc.errors, fallback=fallback)
        return Submitted(False)
    except Conflict:
        form.fingerprint.errors = [_who_changed(entity, key)]
        if current is not None:
            form.fingerprint.data = current()
        return Submitted(False, status=409)


def _walk(fields):
    for f in fields:
        yield f
        if isinstance(f, (FieldList, FormField)):
            yield from _walk(f)


def _place_errors(form, errors: dict, *, fallback: str) -> None:
    """Each message on the (nested) field of its name; a list's own message on its first row."""
    by_name = {f.name: f for f in _walk(form)}
    for name, message in errors.items():
        target = name
        if name == "attributes":
            target = "attributes-0-code"
        elif name.endswith("-values"):
            target = f"{name}-0-key"
        field = by_name.get(target) or by_name[fallback]
        field.errors = [*field.errors, tr(message)] if isinstance(field.errors, list) else [tr(message)]


# -- categories ----------------------------------------------------------------------------------


class ValueForm(SubForm):
    key = StringField(_l("Key"), render_kw={"maxlength": 40, "autocomplete": "off"})
    name_id = StringField(_l("Name (Indonesian)"), render_kw={"maxlength": cmd.NAME_MAX})
    name_en = StringField(_l("Name (English)"), render_kw={"maxlength": cmd.NAME_MAX})


class AttributeForm(SubForm):
    code = StringField(_l("Code"), render_kw={"maxlength": 40, "autocomplete": "off"})
    datatype = SelectField(_l("Kind of answer"), validate_choice=False,
                           choices=[C(t, ATTRIBUTE_TYPE_LABELS[t]) for t in ATTRIBUTE_TYPES])
    required = BooleanField(_l("The reporter must answer it"))
    description_id = StringField(_l("Question (Indonesian)"), render_kw={"maxlength": cmd.QUESTION_MAX})
    description_en = StringField(_l("Question (English)"), render_kw={"maxlength": cmd.QUESTION_MAX})
    order = StringField(_l("Position"), render_kw={"inputmode": "numeric", "maxlength": 3})
    values = FieldList(FormField(ValueForm), max_entries=cmd.MAX_VALUES + 1)
    remove = BooleanField(_l("Remove this field when saving"))


class CategoryForm(Form):
    fingerprint = HiddenField()
    code = StringField(_l("Code (Open311 service_code)"), render_kw={"maxlength": 64, "autocomplete": "off"})
    name_id = StringField(_l("Name (Indonesian)"), render_kw={"maxlength": cmd.NAME_MAX})
    name_en = StringField(_l("Name (English)"), render_kw={"maxlength": cmd.NAME_MAX})
    description_id = TextAreaField(_l("Description (Indonesian)"), render_kw={"maxlength": cmd.DESCRIPTION_MAX, "rows": 2})
    description_en = TextAreaField(_l("Description (English)"), render_kw={"maxlength": cmd.DESCRIPTION_MAX, "rows": 2})
    group = StringField(_l("Group"), render_kw={"maxlength": cmd.GROUP_MAX, "list": "category-groups"})
    keywords = StringField(_l("Keywords (for Open311 clients and search)"), render_kw={"maxlength": cmd.KEYWORDS_MAX})
    nearby_m = StringField(_l("Duplicate radius (metres)"), render_kw={"inputmode": "numeric", "maxlength": 5})
    active = BooleanField(_l("Active: citizens and API clients can report it"))
    attributes = FieldList(FormField(AttributeForm), max_entries=cmd.MAX_ATTRIBUTES + 1)


def _text_of(value) -> str:
    return value if isinstance(value, str) else ""


def _category_input(form: CategoryForm) -> tuple[cmd.CategoryInput, list[tuple[int, list[int]]]]:
    """The category as typed, without the extra fields marked for removal and blank rows; and
    for each field kept, its row and the rows of its choices kept (to put messages back)."""
    attributes, kept = [], []
    for i, entry in enumerate(form.attributes.entries):
        sub = entry.form
        if sub.remove.data:
            continue
        values, rows = [], []
        for j, value in enumerate(sub.values.entries):
            v = value.form
            if any(_text_of(v[k].data).strip() for k in ("key", "name_id", "name_en")):
                values.append(cmd.ValueInput(_text_of(v.key.data), _text_of(v.name_id.data), _text_of(v.name_en.data)))
                rows.append(j)
        if not values and not any(_text_of(sub[k].data).strip() for k in ("code", "description_id", "description_en")):
            continue  # a blank row
        attributes.append(cmd.AttributeInput(
            code=_text_of(sub.code.data), datatype=_text_of(sub.datatype.data), required=bool(sub.required.data),
            description_id=_text_of(sub.description_id.data), description_en=_text_of(sub.description_en.data),
            order=_text_of(sub.order.data), values=tuple(values)))
        kept.append((i, rows))
    data = cmd.CategoryInput(
        code=_text_of(form.code.data), name_id=_text_of(form.name_id.data), name_en=_text_of(form.name_en.data),
        description_id=_text_of(form.description_id.data), description_en=_text_of(form.description_en.data),
        group=_text_of(form.group.data), keywords=_text_of(form.keywords.data), active=bool(form.active.data),
        nearby_m=_text_of(form.nearby_m.data), attributes=tuple(attributes))
    return data, kept


_ROW = re.compile(r"attributes-(\d+)(?:-values-(\d+))?(-.*)?$")


def _form_names(errors: dict, kept: list[tuple[int, list[int]]]) -> dict:
    """The command's names of rows (of what was kept) as the form's rows."""
    out = {}
    for name, message in errors.items():
        m = _ROW.match(name)
        if m and int(m.group(1)) < len(kept):
            row, values = kept[int(m.group(1))]
            if m.group(2) is not None and int(m.group(2)) < len(values):
                name = f"attributes-{row}-values-{values[int(m.group(2))]}{m.group(3) or ''}"
            elif m.group(2) is None:
                name = f"attributes-{row}{m.group(3) or ''}"
        out[name] = message
    return out


def _with_blank_rows(form: CategoryForm) -> None:
    """Each extra field ends with a blank choice row (filled in, it is one more choice)."""
    for entry in form.attributes.entries:
        rows = entry.form.values.entries
        if len(rows) <= cmd.MAX_VALUES and (not rows or any(_text_of(rows[-1].form[k].data).strip()
                                                             for k in ("key", "name_id", "name_en"))):
            entry.form.values.append_entry()


def _category_form(category: Category | None) -> CategoryForm:
    if request.method == "POST":
        return CategoryForm()
    if category is None:
        return CategoryForm(formdata=None, data={"active": False, "nearby_m": "200", "attributes": []})
    values = cmd.category_values(category)
    attributes = [{**a, "order": str(a["order"]), "values": list(a["values"])} for a in values["attributes"]]
    return CategoryForm(formdata=None, data={**values, "nearby_m": str(values["nearby_m"]), "attributes": attributes,
                                             "fingerprint": cmd.fingerprint(values)})


def _category_page(form: CategoryForm, category: Category | None, status: int = 200):
    _with_blank_rows(form)
    with services().reading() as session:
        kecamatan = read.kecamatan_of(session)
        code = category.code if category is not None else _text_of(form.code.data).strip().lower()
        known = cmd.CODE_RE.fullmatch(code) is not None  # (the dry runs are kept: not for anything typed)
        routing = read.routing_of(services().process, services().definition, kecamatan, code) if known else None
        in_use = category is not None and read.category_in_use(session, category.id)
        open_cases = read.open_cases(session, [category.id]).get(category.id, 0) if category is not None else 0
        agencies = References(session).agencies
        last = read.last_change(session, "category", category.code) if category is not None else None
        groups = read.groups(session)
    return render_template("admin/categories_edit.html", form=form, category=category, routing=routing,
                           in_use=in_use, open_cases=open_cases, agencies=agencies, last=last, groups=groups,
                           more=len(form.attributes.entries) < cmd.MAX_ATTRIBUTES), status


@bp.get("/categories")
def categories():
    state = request.args.get("state") if request.args.get("state") in ("active", "inactive") else "all"
    page = min(whole_number(request.args.get("page"), 1), 10_000) or 1
    with services().reading() as session:
        result = read.category_list(session, services().process, services().definition, state=state, page=page)
        agencies = References(session).agencies
    return render_template("admin/categories.html", page=result, state=state, agencies=agencies)


def _edit_category(category: Category | None):
    form = _category_form(category)
    if request.method == "GET":
        return _category_page(form, category)
    if "add_attribute" in request.form or "more_values" in request.form:  # nothing is saved: more rows
        if "add_attribute" in request.form and len(form.attributes.entries) < cmd.MAX_ATTRIBUTES:
            form.attributes.append_entry()
        row = whole_number(request.form.get("more_values"))
        if row is not None and row < len(form.attributes.entries):
            values = form.attributes.entries[row].form.values
            if len(values.entries) < cmd.MAX_VALUES:
                values.append_entry()
        return _category_page(form, category)
    if not form.validate():
        return _category_page(form, category, 400)
    data, kept = _category_input(form)
    if category is None:
        done = _run(form, cmd.create_category, data, entity="category", key=data.code, fallback="name_id",
                    rename=lambda errors: _form_names(errors, kept))
    else:
        done = _run(form, cmd.update_category, category.id, data, expected=form.fingerprint.data,
                    entity="category", key=category.code, current=lambda: _current_category(category.id),
                    fallback="name_id", rename=lambda errors: _form_names(errors, kept))
    if not done:
        return _category_page(form, category, done.status)
    saved = done.result
    flash(_l("Category %(name)s is saved.", name=saved.name_en if _english() else saved.name_id))
    return redirect(url_for("admin_catalogue.categories_edit", category_id=saved.id))


def _current_category(category_id: int) -> str | None:
    with services().reading() as session:
        category = session.get(Category, category_id)
        return cmd.fingerprint(cmd.category_values(category)) if category is not None else None


@bp.route("/categories/new", methods=["GET", "POST"])
def categories_new():
    return _edit_category(None)


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
def categories_edit(category_id: int):
    with services().reading() as session:
        category = session.get(Category, category_id)
    if category is None:
        raise NotFound(msg("category {id} not found", id=category_id))
    return _edit_category(category)


# -- response templates --------------------------------------------------------------------------


def place_labels() -> dict[str, str]:
    """Each field a template can fill (``workflow.responses.fillable``), as "form:field", named
    by its form's title and its label, in the page's language, in the order of the process."""
    definition = services().definition
    locale = str(get_locale())
    order = {t.form_key: t.order for t in definition.tasks.values()}
    out = {}
    for place in sorted(cmd.template_places(definition),
                        key=lambda p: (p.startswith(responses.NOTE_FORM + ":"), order.get(p.split(":")[0], 0), p)):
        form_key, name = place.split(":", 1)
        if form_key == responses.NOTE_FORM:
            out[place] = tr(_l("Note on the case page: public reply"))
        else:
            form = definition.forms[form_key]
            out[place] = f"{pick_label(form.title, locale)}: {pick_label(form.field(name).label, locale)}"
    return out


def pick_label(labels, locale: str) -> str:
    return (labels or {}).get(locale) or (labels or {}).get("id") or ""


class TemplateForm(Form):
    fingerprint = HiddenField()
    code = StringField(_l("Code"), render_kw={"maxlength": 64, "autocomplete": "off"})
    place = SelectField(_l("The field it fills"), validate_choice=False)
    category = SelectField(_l("Category"), validate_choice=False)
    title_id = StringField(_l("Title (Indonesian): what staff choose it by"), render_kw={"maxlength": cmd.NAME_MAX})
    title_en = StringField(_l("Title (English)"), render_kw={"maxlength": cmd.NAME_MAX})
    text_id = TextAreaField(_l("Text (Indonesian)"), render_kw={"rows": 4})
    text_en = TextAreaField(_l("Text (English)"), render_kw={"rows": 4})
    active = BooleanField(_l("Active: offered on the forms"))


def _template_choices(form: TemplateForm, categories: list[Category]) -> None:
    form.place.choices = [C("", _l("Choose a field"))] + [C(k, v) for k, v in place_labels().items()]
    form.category.choices = [C("", _l("Every category"))] + [_category_choice(c) for c in categories]


def _category_choice(c: Category) -> C:
    name = c.name_en if _english() else c.name_id
    return C(c.code, name if c.active else _l("%(name)s (inactive)", name=name))


def _categories(session) -> list[Category]:
    return sorted(References(session).categories.values(), key=lambda c: (not c.active, c.name_id))


def _template_input(form: TemplateForm) -> cmd.TemplateInput:
    return cmd.TemplateInput(place=_text_of(form.place.data), category=_text_of(form.category.data),
                             title_id=_text_of(form.title_id.data), title_en=_text_of(form.title_en.data),
                             text_id=_text_of(form.text_id.data), text_en=_text_of(form.text_en.data),
                             active=bool(form.active.data))


def _template_form(template: ResponseTemplate | None, category_code: str | None) -> TemplateForm:
    if request.method == "POST":
        return TemplateForm()
    if template is None:
        place = request.args.get("place", "")
        return TemplateForm(formdata=None, data={"active": True, "category": _category_arg().strip("*"),
                                                 "place": place if place in cmd.template_places(services().definition)
                                                 else ""})
    values = cmd.template_values(template, category_code)
    return TemplateForm(formdata=None, data={**values, "fingerprint": cmd.fingerprint(values)})


def _template_page(form: TemplateForm, template: ResponseTemplate | None, status: int = 200, shown=None):
    """The form; ``shown``: the preview of what was typed, when asked for (else of the stored text)."""
    with services().reading() as session:
        categories = _categories(session)
        _template_choices(form, categories)
        preview = shown
        if preview is None and template is not None:
            preview = read.preview(session, template.category_id, template.text_id, template.text_en)
        last = read.last_change(session, "response_template", template.code) if template is not None else None
    limits = cmd.template_places(services().definition)
    return render_template("admin/templates_edit.html", form=form, template=template, preview=preview,
                           asked=shown is not None, last=last, placeholders=PLACEHOLDER_LABELS,
                           limit=limits.get(_text_of(form.place.data))), status


def _category_arg() -> str:
    """The query string's category: a code, "*" (those for every category), or "" for any."""
    value = request.args.get("category") or ""
    return value if value == "*" or cmd.CODE_RE.fullmatch(value) else ""


@bp.get("/templates")
def templates():
    places = place_labels()
    place = request.args.get("place") if request.args.get("place") in places else ""
    category = _category_arg()
    page = min(whole_number(request.args.get("page"), 1), 10_000) or 1
    with services().reading() as session:
        categories = _categories(session)
        result = read.template_list(session, place=place or None, category=category or None, page=page)
        toggles = {row.template.id: cmd.fingerprint(cmd.template_values(row.template, row.category.code
                                                                         if row.category else None))
                   for row in result.rows}
    return render_template("admin/templates.html", page=result, places=places, categories=categories,
                           place=place, category=category, toggles=toggles)


def _edit_template(template: ResponseTemplate | None, category_code: str | None):
    form = _template_form(template, category_code)
    if request.method == "GET":
        return _template_page(form, template)
    with services().reading() as session:
        _template_choices(form, _categories(session))
    if not form.validate():
        return _template_page(form, template, 400)
    data = _template_input(form)
    if "preview" in request.form:  # nothing is saved: the texts checked, then filled with a case's facts
        with services().uow() as uow:
            errors, values = cmd.template_errors(uow, data)
            shown = None if errors else read.preview(uow.session, values["category_id"], values["text_id"],
                                                     values["text_en"])
        if errors:
            _place_errors(form, errors, fallback="title_id")
            return _template_page(form, template, 400)
        return _template_page(form, template, shown=shown or False)
    if template is None:
        done = _run(form, cmd.create_template, _text_of(form.code.data), data, entity="response_template",
                    key=_text_of(form.code.data).strip().lower(), fallback="title_id")
    else:
        done = _run(form, cmd.update_template, template.id, data, expected=form.fingerprint.data,
                    entity="response_template", key=template.code, current=lambda: _current_template(template.id),
                    fallback="title_id")
    if not done:
        return _template_page(form, template, done.status)
    saved = done.result
    flash(_l("Template %(title)s is saved.", title=saved.title_en if _english() else saved.title_id))
    return redirect(url_for("admin_catalogue.templates_edit", template_id=saved.id))


def _current_template(template_id: int) -> str | None:
    with services().reading() as session:
        t = session.get(ResponseTemplate, template_id)
        if t is None:
            return None
        code = session.get(Category, t.category_id).code if t.category_id else None
        return cmd.fingerprint(cmd.template_values(t, code))


def _template(template_id: int) -> tuple[ResponseTemplate, str | None]:
    with services().reading() as session:
        template = session.get(ResponseTemplate, template_id)
        if template is None:
            raise NotFound(msg("response template {id} not found", id=template_id))
        code = session.get(Category, template.category_id).code if template.category_id else None
    return template, code


@bp.route("/templates/new", methods=["GET", "POST"])
def templates_new():
    return _edit_template(None, None)


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
def templates_edit(template_id: int):
    return _edit_template(*_template(template_id))


class ToggleForm(Form):
    fingerprint = HiddenField()
    active = HiddenField()
    next = HiddenField()


@bp.post("/templates/<int:template_id>/active")
def templates_active(template_id: int):
    """Offer a template no longer (or again), from the list; back to the list as it was."""
    template, _code = _template(template_id)
    form = ToggleForm()
    if not form.validate() or form.active.data not in ("0", "1"):
        return render_error(tr(_l("Nothing was changed: the form was incomplete. Reload the page and try again.")),
                            400)
    done = _run(form, cmd.set_template_active, template.id, form.active.data == "1",
                expected=form.fingerprint.data, entity="response_template", key=template.code,
                fallback="fingerprint")
    if done:
        flash(_l("Template %(title)s is offered again.", title=template.title_id) if form.active.data == "1"
              else _l("Template %(title)s is no longer offered.", title=template.title_id))
    else:
        flash(form.fingerprint.errors[0])
    return redirect(safe_next(form.next.data, url_for("admin_catalogue.templates")))


# -- areas ---------------------------------------------------------------------------------------


@bp.get("/areas")
def areas():
    with services().reading() as session:
        tree = read.area_tree(session)
    return render_template("admin/areas.html", tree=tree)


class AreaForm(Form):
    fingerprint = HiddenField()
    name = StringField(_l("Name"), render_kw={"maxlength": cmd.NAME_MAX})
    lat = StringField(_l("Centre: latitude"), render_kw={"inputmode": "decimal", "placeholder": "-5,1477"})
    lon = StringField(_l("Centre: longitude"), render_kw={"inputmode": "decimal", "placeholder": "119,4327"})


def _coordinate_text(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def _area(area_id: int) -> tuple[Area, Area | None]:
    with services().reading() as session:
        area = session.get(Area, area_id)
        if area is None:
            raise NotFound(msg("area {id} not found", id=area_id))
        parent = session.get(Area, area.parent_id) if area.parent_id else None
        session.expunge_all()
    return area, parent


def _current_area(area_id: int) -> str | None:
    with services().reading() as session:
        area = session.get(Area, area_id)
        return cmd.fingerprint(cmd.area_values(area)) if area is not None else None


@bp.route("/areas/<int:area_id>", methods=["GET", "POST"])
def areas_edit(area_id: int):
    area, parent = _area(area_id)
    if request.method == "GET":
        values = cmd.area_values(area)
        form = AreaForm(formdata=None, data={"name": area.name, "lat": _coordinate_text(area.lat),
                                             "lon": _coordinate_text(area.lon), "fingerprint": cmd.fingerprint(values)})
        return _area_page(form, area, parent)
    form = AreaForm()
    if not form.validate():
        return _area_page(form, area, parent, 400)
    done = _run(form, cmd.update_area, area.id, name=_text_of(form.name.data), lat=_text_of(form.lat.data),
                lon=_text_of(form.lon.data), expected=form.fingerprint.data, entity="area", key=area.code,
                current=lambda: _current_area(area.id), fallback="name")
    if not done:
        return _area_page(form, area, parent, done.status)
    flash(_l("%(name)s is saved.", name=done.result.name))
    return redirect(url_for("admin_catalogue.areas") + f"#area-{area.parent_id or area.id}")


def _area_page(form: AreaForm, area: Area | None, parent: Area | None, status: int = 200):
    last = None
    if area is not None:
        with services().reading() as session:
            last = read.last_change(session, "area", area.code)
    return render_template("admin/areas_edit.html", form=form, area=area, parent=parent, last=last), status


@bp.route("/areas/<int:kecamatan_id>/new", methods=["GET", "POST"])
def areas_new(kecamatan_id: int):
    """A new kelurahan of the kecamatan."""
    kecamatan, parent = _area(kecamatan_id)
    if parent is not None:
        raise NotFound(msg("kecamatan {id} not found", id=kecamatan_id))
    form = AreaForm() if request.method == "POST" else AreaForm(formdata=None)
    if request.method == "GET":
        return _area_page(form, None, kecamatan)
    if not form.validate():
        return _area_page(form, None, kecamatan, 400)
    done = _run(form, cmd.add_kelurahan, kecamatan.id, name=_text_of(form.name.data), lat=_text_of(form.lat.data),
                lon=_text_of(form.lon.data), entity="area", key="", fallback="name")
    if not done:
        return _area_page(form, None, kecamatan, done.status)
    flash(_l("Kelurahan %(name)s is added to Kecamatan %(kecamatan)s.", name=done.result.name,
             kecamatan=kecamatan.name))
    return redirect(url_for("admin_catalogue.areas") + f"#area-{kecamatan.id}")


# -- boundaries ----------------------------------------------------------------------------------

LEVEL_LABELS = {"kecamatan": _l("Kecamatan"), "kelurahan": _l("Kelurahan")}
STASH = "boundary-imports"  # under the upload folder, which every web host shares
STASH_HOURS = 24
TOKEN = re.compile(r"[0-9a-f]{32}")


class BoundaryForm(Form):
    file = FileField(_l("GeoJSON file"), render_kw={"accept": ".geojson,.json,application/geo+json,application/json"})
    level = SelectField(_l("What the file draws"), validate_choice=False,
                        choices=[C(level, LEVEL_LABELS[level]) for level in LEVELS])
    name_property = StringField(_l("The property holding each area's name"),
                                render_kw={"maxlength": cmd.NAME_PROPERTY_MAX, "autocomplete": "off"})


class ImportForm(Form):
    fingerprint = HiddenField()
    token = HiddenField()
    level = HiddenField()
    name_property = HiddenField()


def _stash_dir() -> Path:
    return services().settings.upload_dir / STASH


def _stash(data: bytes) -> str:
    """Keep an uploaded file between its preview and its import; files older than a day go."""
    folder = _stash_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.geojson"):
        if old.stat().st_mtime < time.time() - STASH_HOURS * 3600:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    (folder / f"{token}.geojson").write_bytes(data)
    return token


def _unstash(token: str | None) -> bytes | None:
    if not token or not TOKEN.fullmatch(token):
        return None
    path = _stash_dir() / f"{token}.geojson"
    return path.read_bytes() if path.is_file() else None


def _read_capped(upload) -> bytes:
    """The upload's bytes, at most one more than a boundary file may have (that one says it is too big)."""
    if not upload or not getattr(upload, "filename", ""):
        return b""
    try:
        return upload.stream.read(cmd.MAX_BOUNDARY_BYTES + 1)
    finally:
        upload.close()


@bp.route("/areas/boundaries", methods=["GET", "POST"])
def areas_boundaries():
    """Upload a boundary file and see what importing it would do."""
    form = BoundaryForm() if request.method == "POST" else BoundaryForm(formdata=None, data={"name_property": "name"})
    if request.method == "GET":
        return _boundary_page(form)
    if not form.validate():
        return _boundary_page(form, status=400)
    data = _read_capped(form.file.data)
    level, name_property = _text_of(form.level.data), _text_of(form.name_property.data)
    try:
        with services().uow() as uow:  # never committed: the import is tried, then rolled back
            result = cmd.preview_boundaries(uow, actor(), data, level=level, name_property=name_property)
    except ValidationError as exc:
        _place_errors(form, exc.errors, fallback="file")
        return _boundary_page(form, status=400)
    confirm = ImportForm(formdata=None, data={"token": _stash(data), "level": level, "name_property": name_property,
                                              "fingerprint": result.geometry_hash})
    return _boundary_page(form, result=result, confirm=confirm)


def _boundary_page(form: BoundaryForm, *, result=None, confirm=None, problem=None, status: int = 200):
    return render_template("admin/areas_boundaries.html", form=form, result=result, confirm=confirm,
                           problem=problem, status=status, levels=LEVEL_LABELS, max_mb=cmd.MAX_BOUNDARY_BYTES // (1024 * 1024)), status


@bp.post("/areas/boundaries/import")
def areas_boundaries_import():
    """Import the previewed file, if the areas are still as the preview saw them."""
    confirm = ImportForm()
    upload = BoundaryForm(formdata=None, data={"level": confirm.level.data, "name_property": confirm.name_property.data})
    data = _unstash(confirm.token.data) if confirm.validate() else None
    if data is None:
        return _boundary_page(upload, problem=tr(_l("The file of the preview is no longer here. Upload it again.")),
                              status=400)
    level, name_property = _text_of(confirm.level.data), _text_of(confirm.name_property.data)
    try:
        with services().uow() as uow:
            result = cmd.import_boundaries(uow, actor(), data, level=level, name_property=name_property,
                                           expected=confirm.fingerprint.data, client_ip=client_ip())
            uow.commit()
    except ValidationError as exc:
        _place_errors(upload, exc.errors, fallback="file")
        return _boundary_page(upload, status=400)
    except Conflict as exc:
        return _boundary_page(upload, problem=tr(exc.message), status=409)
    (_stash_dir() / f"{confirm.token.data}.geojson").unlink(missing_ok=True)
    flash(_l("Boundaries of the %(level)s imported: %(changed)s changed, %(unchanged)s unchanged.",
             level=LEVEL_LABELS.get(level, level), changed=len(result.changed), unchanged=len(result.unchanged)))
    return redirect(url_for("admin_catalogue.areas"))


# -- the city ------------------------------------------------------------------------------------


class CityForm(Form):
    fingerprint = HiddenField()
    name = StringField(_l("Name"), render_kw={"maxlength": cmd.NAME_MAX})
    duplicate_days = StringField(_l("Possible duplicates: reports of the last how many days"),
                                 render_kw={"inputmode": "numeric", "maxlength": 3})
    domain = StringField(_l("Web domain (the Open311 jurisdiction_id)"), render_kw={"maxlength": 253})
    contact = TextAreaField(_l("Contact for API users (Open311 discovery)"),
                            render_kw={"maxlength": cmd.CONTACT_MAX, "rows": 2})
    phone_country = StringField(_l("Calling code of local phone numbers"),
                                render_kw={"inputmode": "numeric", "maxlength": 4})


def _city() -> City:
    with services().reading() as session:
        return References(session).city


@bp.route("/city", methods=["GET", "POST"])
def city():
    current = _city()
    if request.method == "GET":
        values = cmd.city_values(current)
        form = CityForm(formdata=None, data={**values, "duplicate_days": str(values["duplicate_days"]),
                                             "fingerprint": cmd.fingerprint(values)})
        return _city_page(form, current)
    form = CityForm()
    if not form.validate():
        return _city_page(form, current, 400)
    done = _run(form, cmd.update_city, name=_text_of(form.name.data), duplicate_days=_text_of(form.duplicate_days.data),
                domain=_text_of(form.domain.data), contact=_text_of(form.contact.data),
                phone_country=_text_of(form.phone_country.data), expected=form.fingerprint.data, entity="city",
                key=current.code, current=lambda: cmd.fingerprint(cmd.city_values(_city())), fallback="name")
    if not done:
        return _city_page(form, current, done.status)
    flash(_l("The city's settings are saved."))
    return redirect(url_for("admin_catalogue.city"))


def _city_page(form: CityForm, current: City, status: int = 200):
    with services().reading() as session:
        last = read.last_change(session, "city", current.code)
    return render_template("admin/city.html", form=form, city=current, last=last), status
