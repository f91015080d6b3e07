"""Administration of the city's catalogue: report categories and their extra fields, response
templates, kecamatan and kelurahan (names, centres, official boundaries) and the city's own
settings.

Every command here:

* is for administrators only (``PermissionDenied`` otherwise);
* checks every field at once and raises one ``ValidationError`` naming each problem, under the
  names the administration forms give their fields (``attributes-0-values-1-key``);
* compares the values the form was opened with (``expected``, their :func:`fingerprint`) with
  the ones stored now, the row locked (``FOR UPDATE`` on PostgreSQL; on SQLite the unit of work
  already holds the write lock), so that a second administrator's older form is a ``Conflict``
  instead of silently undoing the first one's change;
* writes the change with its old and new values to the security log
  (``security_log.admin_change``) in the caller's unit of work, which commits both or neither.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from workflow import areas, geo, responses
from workflow.access import Actor
from workflow.commands.case_extras import NOTE_MAX
from workflow.errors import Conflict, NotFound, PermissionDenied, ValidationError
from workflow.messages import Message, msg
from workflow.read.catalogue import category_in_use
from workflow.store import security_log
from workflow.store.audit import canonical_json
from workflow.store.models import Area, Category, City, ResponseTemplate
from workflow.store.seed import ATTRIBUTE_TYPES, CONTACT_MAX, DOMAIN, clean_contact, clean_domain, slug
from workflow.store.uow import UnitOfWork
from workflow.text import check_fields
from workflow.vocabulary import Role

CODE_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")  # a category's or a template's code
ATTRIBUTE_CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")  # part of form field names: attribute[code]
VALUE_KEY_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
NAME_MAX = 120  # names and titles (their columns)
DESCRIPTION_MAX = 1000
GROUP_MAX = 60
KEYWORDS_MAX = 300
QUESTION_MAX = 300  # an extra field's question (Open311: its description)
NEARBY_MIN, NEARBY_MAX = 10, 5000  # metres: a street light's pole to a neighbourhood
MAX_ATTRIBUTES, MAX_VALUES, ORDER_MAX = 20, 50, 999
LIST_TYPES = ("singlevaluelist", "multivaluelist")
DUPLICATE_DAYS_MAX = 365
PHONE_COUNTRY_RE = re.compile(r"[1-9][0-9]{0,2}")  # ITU calling codes: 1 to 3 digits
NAME_PROPERTY_MAX = 100
MAX_BOUNDARY_BYTES = 20 * 1024 * 1024  # a city's kelurahan, drawn finely, fit in a few megabytes
REQUIRED = msg("this field is required")


# -- shared --------------------------------------------------------------------------------------


def fingerprint(values: Mapping[str, Any]) -> str:
    """What a form carries of the values it was opened with: the hash of their canonical JSON."""
    return hashlib.sha256(canonical_json(dict(values)).encode()).hexdigest()[:32]


def _admin(actor: Actor) -> None:
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied(msg("only an administrator can do this"))


def _log(uow: UnitOfWork, actor: Actor, client_ip: str | None, entity: str, key: str,
         old: Mapping | None, new: Mapping | None) -> None:
    security_log.admin_change(uow.session, who=security_log.Who(actor.user_id, actor.name, client_ip),
                              occurred_at=uow.clock.now(), entity=entity, key=key, old=old, new=new)


def _locked(uow: UnitOfWork, model, row_id: int, missing: Message):
    row = uow.session.scalar(select(model).where(model.id == row_id).with_for_update())
    if row is None:
        raise NotFound(missing)
    return row


def _unchanged_since(values: Mapping[str, Any], expected: str | None) -> None:
    """The row still holds what the form was opened with."""
    if expected != fingerprint(values):
        raise Conflict(msg("Someone else changed this since you opened the page. Reload it to see "
                           "their change, then make yours again."))


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _required_text(errors: dict, name: str, value: str, limit: int, *, optional: bool = False) -> None:
    if name in errors:
        return
    if not value and not optional:
        errors[name] = REQUIRED
    elif len(value) > limit:
        errors[name] = msg("write at most {limit} characters", limit=limit)


def _whole(errors: dict, name: str, value, low: int, high: int) -> int | None:
    """A whole number typed in ASCII digits, between ``low`` and ``high``."""
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if not text:
        errors.setdefault(name, REQUIRED)
        return None
    if not (text.isascii() and text.isdigit()):
        errors.setdefault(name, msg("give a whole number"))
        return None
    number = int(text) if len(text) <= 18 else None  # more digits than any range here
    if number is None or not low <= number <= high:
        errors.setdefault(name, msg("must be between {low} and {high}", low=low, high=high))
        return None
    return number


def _code(errors: dict, name: str, value: str, pattern: re.Pattern, hint) -> str:
    code = _text(value).lower()
    if name in errors:
        return code
    if not code:
        errors[name] = REQUIRED
    elif not pattern.fullmatch(code):
        errors[name] = hint
    return code


def _saved(uow: UnitOfWork, row, errors_on: str, taken) -> None:
    """Flush a new row in a savepoint: another administrator creating the same code at the same
    moment is told so on the field, not with an error page."""
    try:
        with uow.session.begin_nested():
            uow.session.add(row)
    except IntegrityError:
        raise ValidationError({errors_on: taken}) from None


# -- categories ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueInput:
    """A choice of a list field: its key (what the answer stores) and its names."""

    key: str = ""
    name_id: str = ""
    name_en: str = ""


@dataclass(frozen=True)
class AttributeInput:
    """An extra field a category asks for (Open311: an attribute). ``description_*`` is its
    question, as Open311 names it; ``order`` its place among the category's fields."""

    code: str = ""
    datatype: str = "string"
    required: bool = False
    description_id: str = ""
    description_en: str = ""
    order: str | int = ""
    values: tuple[ValueInput, ...] = ()


@dataclass(frozen=True)
class CategoryInput:
    code: str
    name_id: str
    name_en: str
    description_id: str = ""
    description_en: str = ""
    group: str = ""
    keywords: str = ""
    active: bool = True
    nearby_m: str | int = ""
    attributes: tuple[AttributeInput, ...] = field(default_factory=tuple)


def category_values(c: Category) -> dict[str, Any]:
    """What the category form edits, as stored (the fingerprint and the security log's values)."""
    return {"code": c.code, "name_id": c.name_id, "name_en": c.name_en, "description_id": c.description_id or "",
            "description_en": c.description_en or "", "group": c.group or "", "keywords": c.keywords or "",
            "active": bool(c.active), "nearby_m": c.nearby_m, "attributes": list(c.attributes or [])}


def _clean_attributes(given: Sequence[AttributeInput], errors: dict) -> list[dict]:
    """The extra fields as the rest of the system reads them (``workflow.store.seed.parse_attributes``
    makes the same shape), in their order, numbered 1, 2, ...; problems under
    ``attributes-<i>-<field>``."""
    if len(given) > MAX_ATTRIBUTES:
        errors["attributes"] = msg("at most {limit} extra fields", limit=MAX_ATTRIBUTES)
        return []
    cleaned: list[tuple[int, int, dict]] = []
    codes: set[str] = set()
    for i, a in enumerate(given):
        at = f"attributes-{i}-"
        code = _code(errors, at + "code", a.code, ATTRIBUTE_CODE_RE,
                     msg("1-40 characters: lower-case letters, digits and _, starting with a letter"))
        if code and f"{at}code" not in errors:
            if code in codes:
                errors[at + "code"] = msg("{code} is used by another field of this category", code=code)
            codes.add(code)
        datatype = a.datatype if a.datatype in ATTRIBUTE_TYPES else None
        if datatype is None:
            errors[at + "datatype"] = msg("must be one of {choices}", choices=", ".join(ATTRIBUTE_TYPES))
        question_id, question_en = _text(a.description_id), _text(a.description_en)
        _required_text(errors, at + "description_id", question_id, QUESTION_MAX)
        _required_text(errors, at + "description_en", question_en, QUESTION_MAX)
        order = _whole(errors, at + "order", a.order, 1, ORDER_MAX) if str(a.order).strip() else i + 1
        values = _clean_values(a.values, at, datatype, errors)
        cleaned.append((order or i + 1, i, {
            "code": code, "datatype": datatype, "required": bool(a.required), "order": 0,
            "description_id": question_id, "description_en": question_en, "values": values}))
    out = [entry for _order, _i, entry in sorted(cleaned, key=lambda t: (t[0], t[1]))]
    for number, entry in enumerate(out, start=1):
        entry["order"] = number
    return out


def _clean_values(given: Sequence[ValueInput], at: str, datatype: str | None, errors: dict) -> list[dict]:
    if datatype is not None and datatype not in LIST_TYPES and given:
        errors[at + "values"] = msg("only a list of choices has choices: remove them, or make the field a list")
        return []
    if datatype in LIST_TYPES and not given:
        errors[at + "values"] = msg("a list of choices needs at least one choice")
    if len(given) > MAX_VALUES:
        errors[at + "values"] = msg("at most {limit} choices", limit=MAX_VALUES)
        return []
    values, keys = [], set()
    for j, v in enumerate(given):
        vat = f"{at}values-{j}-"
        key = _code(errors, vat + "key", v.key, VALUE_KEY_RE,
                    msg("1-40 characters: lower-case letters, digits, _ and -"))
        if key and f"{vat}key" not in errors:
            if key in keys:
                errors[vat + "key"] = msg("{key} is another choice's key too", key=key)
            keys.add(key)
        name_id, name_en = _text(v.name_id), _text(v.name_en)
        _required_text(errors, vat + "name_id", name_id, NAME_MAX)
        _required_text(errors, vat + "name_en", name_en, NAME_MAX)
        values.append({"key": key, "name_id": name_id, "name_en": name_en})
    return values


def _category_errors(data: CategoryInput) -> tuple[dict, dict]:
    """(errors, the cleaned values)."""
    errors: dict = {}
    check_fields({name: getattr(data, name) for name in ("code", "name_id", "name_en", "description_id",
                                                         "description_en", "group", "keywords")}, errors)
    check_fields({f"attributes-{i}-{k}": v for i, a in enumerate(data.attributes)
                  for k, v in (("code", a.code), ("description_id", a.description_id),
                               ("description_en", a.description_en), ("order", str(a.order)),
                               ("datatype", a.datatype))}, errors)
    check_fields({f"attributes-{i}-values-{j}-{k}": getattr(v, k) for i, a in enumerate(data.attributes)
                  for j, v in enumerate(a.values) for k in ("key", "name_id", "name_en")}, errors)
    code = _code(errors, "code", data.code, CODE_RE,
                 msg("1-64 characters: lower-case letters, digits and - (not at either end)"))
    values = {"code": code}
    for name, limit, optional in (("name_id", NAME_MAX, False), ("name_en", NAME_MAX, False),
                                  ("description_id", DESCRIPTION_MAX, True),
                                  ("description_en", DESCRIPTION_MAX, True), ("group", GROUP_MAX, True),
                                  ("keywords", KEYWORDS_MAX, True)):
        values[name] = _text(getattr(data, name))
        _required_text(errors, name, values[name], limit, optional=optional)
    values["active"] = bool(data.active)
    values["nearby_m"] = _whole(errors, "nearby_m", data.nearby_m, NEARBY_MIN, NEARBY_MAX)
    values["attributes"] = _clean_attributes(data.attributes, errors)
    return errors, values


def create_category(uow: UnitOfWork, actor: Actor, data: CategoryInput, *, client_ip: str | None = None) -> Category:
    """A new report category. Reports of it are routed by the routing table
    (``workflow.read.catalogue.routing_of`` says whether it covers the category)."""
    _admin(actor)
    errors, values = _category_errors(data)
    taken = msg("{code} is already another category's code", code=values["code"])
    if "code" not in errors and uow.session.scalar(select(Category.id).where(Category.code == values["code"])):
        errors["code"] = taken
    if errors:
        raise ValidationError(errors)
    category = Category(**values)
    _saved(uow, category, "code", taken)
    _log(uow, actor, client_ip, "category", category.code, None, category_values(category))
    return category


def update_category(uow: UnitOfWork, actor: Actor, category_id: int, data: CategoryInput, *,
                    expected: str | None, client_ip: str | None = None) -> Category:
    """Change a category. Its code is its Open311 service_code and what the routing table
    names: it may change only while no report uses the category."""
    _admin(actor)
    category = _locked(uow, Category, category_id, msg("category {id} not found", id=category_id))
    old = category_values(category)
    _unchanged_since(old, expected)
    errors, values = _category_errors(data)
    if "code" not in errors and values["code"] != category.code:
        if category_in_use(uow.session, category.id):
            errors["code"] = msg("reports use this category: its code stays {code}", code=category.code)
        elif uow.session.scalar(select(Category.id).where(Category.code == values["code"])):
            errors["code"] = msg("{code} is already another category's code", code=values["code"])
    if errors:
        raise ValidationError(errors)
    for name, value in values.items():
        setattr(category, name, value)
    uow.session.flush()
    _log(uow, actor, client_ip, "category", category.code, old, category_values(category))
    return category


# -- response templates --------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateInput:
    """``place``: "form:field", one of :func:`template_places`; ``category``: a category's code,
    or "" for every category."""

    place: str
    category: str
    title_id: str
    title_en: str
    text_id: str
    text_en: str
    active: bool = True


def template_places(definition) -> dict[str, int]:
    """The fields a template can fill (``workflow.responses.fillable``), as "form:field", with
    the length each field takes."""
    out = {}
    for form_key, names in responses.fillable(definition).items():
        for name in names:
            limit = NOTE_MAX if form_key == responses.NOTE_FORM else definition.forms[form_key].field(name).max_length
            out[f"{form_key}:{name}"] = limit or NOTE_MAX
    return out


def template_values(t: ResponseTemplate, category_code: str | None) -> dict[str, Any]:
    return {"code": t.code, "place": f"{t.form_key}:{t.field}", "category": category_code or "",
            "title_id": t.title_id, "title_en": t.title_en, "text_id": t.text_id, "text_en": t.text_en,
            "active": bool(t.active)}


def _category_code(uow: UnitOfWork, category_id: int | None) -> str | None:
    return uow.session.scalar(select(Category.code).where(Category.id == category_id)) if category_id else None


def template_errors(uow: UnitOfWork, data: TemplateInput) -> tuple[dict, dict]:
    """(errors, the cleaned values) of a template as typed: also what a preview checks first."""
    errors: dict = {}
    check_fields({k: getattr(data, k) for k in ("place", "category", "title_id", "title_en", "text_id", "text_en")},
                 errors)
    places = template_places(uow.definition)
    values: dict[str, Any] = {"place": _text(data.place), "active": bool(data.active)}
    if "place" not in errors and values["place"] not in places:
        errors["place"] = REQUIRED if not values["place"] else msg("choose a field of the list")
    category_code = _text(data.category)
    values["category_id"] = None
    if category_code and "category" not in errors:
        values["category_id"] = uow.session.scalar(select(Category.id).where(Category.code == category_code))
        if values["category_id"] is None:
            errors["category"] = msg("unknown category {value}", value=repr(category_code[:64]))
    limit = places.get(values["place"], NOTE_MAX)
    for name, maximum in (("title_id", NAME_MAX), ("title_en", NAME_MAX), ("text_id", limit), ("text_en", limit)):
        values[name] = _text(getattr(data, name))
        _required_text(errors, name, values[name], maximum)
        if name.startswith("text_") and name not in errors:
            problem = responses.placeholder_problem(values[name])
            if problem:
                errors[name] = problem
    return errors, values


def _apply_template(t: ResponseTemplate, values: dict) -> None:
    t.form_key, t.field = values["place"].split(":", 1)
    for name in ("category_id", "title_id", "title_en", "text_id", "text_en", "active"):
        setattr(t, name, values[name])


def create_template(uow: UnitOfWork, actor: Actor, code: str, data: TemplateInput, *,
                    client_ip: str | None = None) -> ResponseTemplate:
    _admin(actor)
    errors, values = template_errors(uow, data)
    check_fields({"code": code}, errors)
    code = _code(errors, "code", code, CODE_RE,
                 msg("1-64 characters: lower-case letters, digits and - (not at either end)"))
    taken = msg("{code} is already another template's code", code=code)
    if "code" not in errors and uow.session.scalar(select(ResponseTemplate.id).where(ResponseTemplate.code == code)):
        errors["code"] = taken
    if errors:
        raise ValidationError(errors)
    template = ResponseTemplate(code=code)
    _apply_template(template, values)
    _saved(uow, template, "code", taken)
    _log(uow, actor, client_ip, "response_template", code, None,
         template_values(template, _category_code(uow, template.category_id)))
    return template


def update_template(uow: UnitOfWork, actor: Actor, template_id: int, data: TemplateInput, *,
                    expected: str | None, client_ip: str | None = None) -> ResponseTemplate:
    """Change a template (its code, the seed's key for it, stays)."""
    _admin(actor)
    template = _locked(uow, ResponseTemplate, template_id, msg("response template {id} not found", id=template_id))
    old = template_values(template, _category_code(uow, template.category_id))
    _unchanged_since(old, expected)
    errors, values = template_errors(uow, data)
    if errors:
        raise ValidationError(errors)
    _apply_template(template, values)
    uow.session.flush()
    _log(uow, actor, client_ip, "response_template", template.code, old,
         template_values(template, _category_code(uow, template.category_id)))
    return template


def set_template_active(uow: UnitOfWork, actor: Actor, template_id: int, active: bool, *,
                        expected: str | None, client_ip: str | None = None) -> ResponseTemplate:
    """Offer a template again, or no longer (it stays, for the seed and the log)."""
    _admin(actor)
    template = _locked(uow, ResponseTemplate, template_id, msg("response template {id} not found", id=template_id))
    old = template_values(template, _category_code(uow, template.category_id))
    _unchanged_since(old, expected)
    template.active = bool(active)
    uow.session.flush()
    _log(uow, actor, client_ip, "response_template", template.code, old, {**old, "active": template.active})
    return template


# -- areas ---------------------------------------------------------------------------------------


def area_values(a: Area) -> dict[str, Any]:
    return {"code": a.code, "name": a.name, "lat": a.lat, "lon": a.lon}


def _coordinate(errors: dict, name: str, value: str, limit: float) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        number = geo.number(text)
    except ValueError:
        errors[name] = msg("give a number in degrees, such as -5,1477")
        return None
    if not math.isfinite(number) or not -limit <= number <= limit:
        errors[name] = msg("must be between {low} and {high}", low=-limit, high=limit)
        return None
    return round(number, 6)


def _area_fields(uow: UnitOfWork, name: str, lat: str, lon: str, *, siblings, shape_of: int | None,
                 errors: dict, stored: tuple | None = None) -> tuple[str, float | None, float | None]:
    """The name (unique among ``siblings`` as boundary files would match it) and the centre:
    both coordinates or neither, inside the area's shape (``shape_of``) when it has one and
    the centre moves (a ``stored`` centre an import has since left outside does not keep the
    area from being renamed)."""
    check_fields({"name": name, "lat": lat, "lon": lon}, errors)
    name = " ".join(_text(name).split())
    _required_text(errors, "name", name, NAME_MAX)
    if "name" not in errors and any(areas.name_key(s.name) == areas.name_key(name) for s in siblings):
        errors["name"] = msg("{name} is already the name of another area here", name=name)
    point_lat = _coordinate(errors, "lat", lat, 90) if "lat" not in errors else None
    point_lon = _coordinate(errors, "lon", lon, 180) if "lon" not in errors else None
    if "lat" not in errors and "lon" not in errors and (point_lat is None) != (point_lon is None):
        errors["lat" if point_lat is None else "lon"] = msg("give both coordinates of the centre, or neither")
    if point_lat is not None and point_lon is not None and shape_of is not None and not errors.keys() & {"lat", "lon"} \
            and (point_lat, point_lon) != stored:
        distance = areas.area_map(uow.session).distance_m(shape_of, point_lat, point_lon)
        if math.isfinite(distance) and distance > areas.BORDER_TOLERANCE_M:
            metres = format(round(distance), ",").replace(",", ".")
            errors["lat"] = msg("the centre lies {distance} m outside the area's boundary", distance=metres)
    return name, point_lat, point_lon


def _siblings(uow: UnitOfWork, parent_id: int | None, not_id: int | None = None) -> list[Area]:
    query = select(Area).where(Area.parent_id.is_(None) if parent_id is None else Area.parent_id == parent_id)
    return [a for a in uow.session.scalars(query) if a.id != not_id]


def update_area(uow: UnitOfWork, actor: Actor, area_id: int, *, name: str, lat: str, lon: str,
                expected: str | None, client_ip: str | None = None) -> Area:
    """Rename a kecamatan or kelurahan, or move its centre (where reports that name only the
    area are put when it has no boundary, and where the city's maps open). Its code, which the
    seed and the routing table know it by, stays."""
    _admin(actor)
    area = _locked(uow, Area, area_id, msg("area {id} not found", id=area_id))
    old = area_values(area)
    _unchanged_since(old, expected)
    errors: dict = {}
    has_shape = area.geometry is not None
    name, point_lat, point_lon = _area_fields(uow, name, lat, lon, siblings=_siblings(uow, area.parent_id, area.id),
                                              shape_of=area.id if has_shape else area.parent_id, errors=errors,
                                              stored=(area.lat, area.lon))
    if errors:
        raise ValidationError(errors)
    area.name, area.lat, area.lon = name, point_lat, point_lon
    areas.refresh_geometry_hash(uow.session)  # names are part of the shapes in use
    _log(uow, actor, client_ip, "area", area.code, old, area_values(area))
    return area


def add_kelurahan(uow: UnitOfWork, actor: Actor, kecamatan_id: int, *, name: str, lat: str = "", lon: str = "",
                  client_ip: str | None = None) -> Area:
    """A new kelurahan of a kecamatan, coded as the seed codes them (``<kecamatan>/<slug>``). It
    has no boundary until one is imported; reports that choose it meanwhile are placed in its
    kecamatan."""
    _admin(actor)
    kecamatan = _locked(uow, Area, kecamatan_id, msg("kecamatan {id} not found", id=kecamatan_id))
    if kecamatan.parent_id is not None:
        raise NotFound(msg("kecamatan {id} not found", id=kecamatan_id))
    errors: dict = {}
    name, point_lat, point_lon = _area_fields(uow, name, lat, lon, siblings=_siblings(uow, kecamatan.id),
                                              shape_of=kecamatan.id, errors=errors)
    code = f"{kecamatan.code}/{slug(name) or 'kelurahan'}"[:60]
    taken = msg("{name} is already the name of another area here", name=name)
    if "name" not in errors:
        base, n = code, 2
        while uow.session.scalar(select(Area.id).where(Area.code == code)):  # a name once used, renamed since
            code, n = f"{base}-{n}", n + 1
    if errors:
        raise ValidationError(errors)
    area = Area(city_id=kecamatan.city_id, code=code, name=name, parent_id=kecamatan.id, lat=point_lat,
                lon=point_lon)
    _saved(uow, area, "name", taken)
    areas.refresh_geometry_hash(uow.session)
    _log(uow, actor, client_ip, "area", area.code, None, area_values(area))
    return area


@dataclass(frozen=True)
class BoundaryImport:
    """What importing a boundary file does (or did): the areas whose shape it replaces, those it
    leaves as they are (the same shape), the names that match no area, the areas the file has
    no shape for (they keep theirs), shapes that crossed themselves and were made valid, and
    kelurahan left mostly outside their kecamatan."""

    level: str
    changed: list[str]
    unchanged: list[str]
    unknown: list[str]
    missing: list[str]
    repaired: list[str]
    misplaced: list[str]
    file_sha256: str
    geometry_hash: str  # the areas' hash before: an import on a preview of other areas is a conflict


def _read_boundaries(data: bytes, level: str, name_property: str) -> list:
    errors: dict = {}
    check_fields({"name_property": name_property}, errors)
    if level not in areas.LEVELS:
        errors["level"] = msg("must be one of {choices}", choices=", ".join(areas.LEVELS))
    _required_text(errors, "name_property", _text(name_property), NAME_PROPERTY_MAX)
    if not data:
        errors["file"] = msg("choose a GeoJSON file")
    elif len(data) > MAX_BOUNDARY_BYTES:
        errors["file"] = msg("the file is larger than {limit} MB", limit=MAX_BOUNDARY_BYTES // (1024 * 1024))
    if errors:
        raise ValidationError(errors)
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValidationError({"file": msg("the file is not JSON (GeoJSON, in UTF-8)")}) from None
    try:
        return areas.read_features(parsed, _text(name_property))
    except areas.AreaImportError as exc:
        raise ValidationError({"file": exc.message}) from None


def _digest(geometry) -> str | None:
    return hashlib.sha256(canonical_json(geometry).encode()).hexdigest() if geometry is not None else None


def _replace(uow: UnitOfWork, data: bytes, level: str, name_property: str) -> tuple[BoundaryImport, dict, dict]:
    """The import itself, in the caller's transaction: (what it did, old and new geometry
    digests by area code of the areas it changed)."""
    features = _read_boundaries(data, level, name_property)
    before_hash = uow.session.scalar(select(City.geometry_hash).order_by(City.id).limit(1)) or ""
    before = {a.code: _digest(a.geometry) for a in uow.session.scalars(select(Area))}
    try:
        result = areas.replace_level(uow.session, features, level, _text(name_property))
    except areas.AreaImportError as exc:
        raise ValidationError({"file": exc.message}) from None
    after = {a.code: (a.name, _digest(a.geometry)) for a in uow.session.scalars(select(Area))
             if (a.parent_id is None) == (level == "kecamatan")}
    matched = set(result.matched)
    changed = {code: name for code, (name, digest) in after.items() if name in matched and digest != before.get(code)}
    report = BoundaryImport(
        level=level, changed=sorted(changed.values()), unchanged=sorted(matched - set(changed.values())),
        unknown=result.unknown, missing=result.missing, repaired=result.repaired,
        misplaced=areas.misplaced_kelurahan(uow.session), file_sha256=hashlib.sha256(data).hexdigest(),
        geometry_hash=before_hash)
    return report, {c: before.get(c) for c in changed}, {c: after[c][1] for c in changed}


def preview_boundaries(uow: UnitOfWork, actor: Actor, data: bytes, *, level: str, name_property: str) -> BoundaryImport:
    """What importing the file would do. Run it in a unit of work that is not committed: the
    import is done exactly as it would be, and rolled back."""
    _admin(actor)
    return _replace(uow, data, level, name_property)[0]


def import_boundaries(uow: UnitOfWork, actor: Actor, data: bytes, *, level: str, name_property: str,
                      expected: str | None, client_ip: str | None = None) -> BoundaryImport:
    """Replace the boundaries of one level with the file's (``tanggap areas import`` does the
    same), if the areas are still as the preview (``expected``: the city's ``geometry_hash``
    then) saw them. The security log keeps each changed area's old and new shape as a SHA-256
    of its GeoJSON, and the file's."""
    _admin(actor)
    uow.session.scalar(select(City.id).order_by(City.id).limit(1).with_for_update())
    report, old, new = _replace(uow, data, level, name_property)
    if report.geometry_hash != (expected or ""):
        raise Conflict(msg("The areas changed since the preview (another import or a renamed area). "
                           "Preview the file again."))
    _log(uow, actor, client_ip, "area_boundaries", level, {"geometry": old},
         {"geometry": new, "file_sha256": report.file_sha256})
    return report


# -- the city ------------------------------------------------------------------------------------


def city_values(c: City) -> dict[str, Any]:
    """What the city form edits (the time zone is not: it would move every deadline)."""
    return {"code": c.code, "name": c.name, "duplicate_days": c.duplicate_days, "domain": c.domain,
            "contact": c.contact, "phone_country": c.phone_country}


def update_city(uow: UnitOfWork, actor: Actor, *, name: str, duplicate_days: str, domain: str, contact: str,
                phone_country: str, expected: str | None, client_ip: str | None = None) -> City:
    """The city's name (on public pages, the open data's attribution and notices), how far back
    triage looks for duplicates, and what Open311 clients are told (``domain`` is the
    jurisdiction_id; ``contact``, the discovery document's); local phone numbers' calling code."""
    _admin(actor)
    city_id = uow.session.scalar(select(City.id).order_by(City.id).limit(1))
    if city_id is None:
        raise NotFound(msg("no city in the reference data (run `tanggap seed`)"))
    city = _locked(uow, City, city_id, msg("no city in the reference data (run `tanggap seed`)"))
    old = city_values(city)
    _unchanged_since(old, expected)
    errors: dict = {}
    check_fields({"name": name, "domain": domain, "contact": contact, "phone_country": phone_country,
                  "duplicate_days": duplicate_days}, errors)
    name = _text(name)
    _required_text(errors, "name", name, NAME_MAX)
    days = _whole(errors, "duplicate_days", duplicate_days, 1, DUPLICATE_DAYS_MAX)
    domain = clean_domain(domain) if "domain" not in errors else ""
    if "domain" not in errors and not DOMAIN.fullmatch(domain):
        errors["domain"] = msg("a domain name such as makassarkota.go.id")
    contact = clean_contact(contact) if "contact" not in errors else ""
    _required_text(errors, "contact", contact, CONTACT_MAX)
    phone_country = _text(phone_country).lstrip("+")
    if "phone_country" not in errors and not PHONE_COUNTRY_RE.fullmatch(phone_country):
        errors["phone_country"] = msg("the country's calling code: 1 to 3 digits, such as 62")
    if errors:
        raise ValidationError(errors)
    city.name, city.duplicate_days, city.domain, city.contact, city.phone_country = (
        name, days, domain, contact, phone_country)
    uow.session.flush()
    _log(uow, actor, client_ip, "city", city.code, old, city_values(city))
    return city
