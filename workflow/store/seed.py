"""Load a city's reference data from its seed file. Safe to run again: rows are matched by code
and updated, never duplicated. What administrators change on their pages (the business calendar,
the notices told) comes from the seed only for a new city: afterwards the database is its source."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import areas
from workflow.calendar import NOTE_MAX, hours_problems, in_week_order, parse_day, refresh_calendar_hash
from workflow.responses import check_template
from workflow.store.models import Agency, Area, CalendarDay, Category, City, QrTeam, ResponseTemplate
from workflow.text import bad_text
from workflow.vocabulary import DayKind

DEFAULT_SEED = Path(__file__).resolve().parent / "seeds" / "makassar.yaml"


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class SeedCounts:
    agencies: int
    kecamatan: int
    kelurahan: int
    teams: int
    categories: int


def _upsert(session: Session, model, code: str, **values):
    """The row of ``code``, added with ``values`` when it is missing. A row that exists is left
    as it is: from then on it is the city's, changed on the administration pages (running the
    seed again, after an upgrade say, must not undo an administrator's work)."""
    row = session.scalar(select(model).where(model.code == code))
    if row is None:
        row = model(code=code, **values)
        session.add(row)
    return row


def load_reference_data(session: Session, path: Path = DEFAULT_SEED) -> SeedCounts:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    c = data["city"]
    new_city = session.scalar(select(City.id).where(City.code == c["code"])) is None
    # What administrators change (the calendar, the notices told) is the seed's for a new city only.
    settings = {"quiet_notices": list(c.get("quiet_notices") or []), **calendar_settings(c)} if new_city else {}
    city = _upsert(session, City, c["code"], name=c["name"], timezone=c["timezone"],
                   phone_country=str(c.get("phone_country", "62")), **open311_facts(c),
                   **_whole("duplicate_days", c), **settings)  # absent: the model's default
    session.flush()
    if new_city:
        for day, kind, note in calendar_days(c):
            session.add(CalendarDay(day=day, kind=kind, note=note))
        refresh_calendar_hash(session)
    for a in data["agencies"]:
        _upsert(session, Agency, a["code"], name=a["name"], short_name=a["short_name"],
                is_command_center=bool(a.get("is_command_center", False)),
                handles_reports=bool(a.get("handles_reports", True)), active=True)
    kelurahan = teams = 0
    for k in data["kecamatan"]:
        lat, lon = k["center"]
        kec = _upsert(session, Area, k["code"], city_id=city.id, name=k["name"], parent_id=None,
                      lat=lat, lon=lon)
        session.flush()
        for name in k["kelurahan"]:
            _upsert(session, Area, f"{k['code']}/{slug(name)}", city_id=city.id, name=name,
                    parent_id=kec.id, lat=None, lon=None)
            kelurahan += 1
        count = int(k.get("teams", 1))
        for n in range(1, count + 1):
            name = f"Tim QR {k['name']}" + (f" {n}" if count > 1 else "")
            _upsert(session, QrTeam, f"qr-{k['code']}-{n}", name=name, area_id=kec.id, active=True)
            teams += 1
    for cat in data["categories"]:
        _upsert(session, Category, cat["code"], name_id=cat["name_id"], name_en=cat["name_en"],
                description_id=cat.get("description_id", ""),
                description_en=cat.get("description_en", ""), group=cat.get("group", ""),
                keywords=cat.get("keywords", ""), active=True, **_whole("nearby_m", cat),
                attributes=parse_attributes(cat.get("attributes") or []))
    session.flush()
    categories = {cat.code: cat for cat in session.scalars(select(Category))}
    for t in data.get("response_templates") or []:
        check_template(t["code"], t["id"], t["en"])
        title = t.get("title")
        if not isinstance(title, dict) or not all(isinstance(title.get(k), str) and title[k].strip()
                                                  for k in ("id", "en")):
            raise ValueError(f"response template {t['code']}: title needs both languages, "
                             "as title: {id: ..., en: ...}")
        category = t.get("category")
        if category is not None and category not in categories:
            raise ValueError(f"response template {t['code']}: unknown category {category!r}")
        _upsert(session, ResponseTemplate, t["code"], form_key=t["form"], field=t["field"],
                category_id=categories[category].id if category else None, title_id=title["id"],
                title_en=title["en"],
                text_id=t["id"], text_en=t["en"], active=bool(t.get("active", True)))
    session.flush()
    if c.get("areas_file"):
        seeded = {k["name"] for k in data["kecamatan"]} | {n for k in data["kecamatan"] for n in k["kelurahan"]}
        load_area_geometry(session, Path(path).parent / c["areas_file"], seeded)
    areas.refresh_geometry_hash(session)  # names and kecamatan are part of the shapes in use
    return SeedCounts(agencies=len(data["agencies"]), kecamatan=len(data["kecamatan"]),
                      kelurahan=kelurahan, teams=teams, categories=len(data["categories"]))


def calendar_settings(city: dict) -> dict:
    """The working week and hours of the seed's ``city.calendar`` (``workdays``, ``hours``
    ``"08:00-16:00"``), checked by the rules of the administration page; without a ``calendar``,
    the model's (Monday to Friday, 08:00-16:00)."""
    if "calendar" not in city:
        return {}
    cal = city["calendar"] or {}
    workdays = [str(d) for d in cal.get("workdays") or ()]
    starts, _, ends = str(cal.get("hours", "")).partition("-")
    problems = hours_problems(workdays, starts, ends)
    if problems:
        raise ValueError(f"city {city.get('code')}: calendar: " + "; ".join(
            f"{name}: {problem}" for name, problem in problems.items()))
    return {"workdays": list(in_week_order(workdays)), "work_starts": starts.strip(), "work_ends": ends.strip()}


def calendar_days(city: dict) -> list[tuple[date, DayKind, str]]:
    """The seed's ``city.calendar.days``: ``{date, kind, note}`` each, a date once."""
    out: dict[date, tuple[date, DayKind, str]] = {}
    for entry in (city.get("calendar") or {}).get("days") or ():
        day = parse_day(str(entry.get("date")))
        if day is None or day in out:
            raise ValueError(f"calendar day {entry.get('date')!r}: a date YYYY-MM-DD, listed once")
        try:
            kind = DayKind(entry.get("kind"))
        except ValueError:
            raise ValueError(f"calendar day {day}: kind must be one of {', '.join(DayKind)}") from None
        note = str(entry.get("note") or "").strip()
        if len(note) > NOTE_MAX or bad_text(note):
            raise ValueError(f"calendar day {day}: a note of at most {NOTE_MAX} plain characters")
        out[day] = (day, kind, note)
    return sorted(out.values())


DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


CONTACT_MAX = 500  # cities.contact


def clean_domain(value) -> str:
    """A domain as stored: without surrounding spaces, in lower case (check it with DOMAIN)."""
    return str(value or "").strip().lower()


def clean_contact(value) -> str:
    """A contact as stored: one line, runs of spaces and line breaks as one space."""
    return " ".join(str(value or "").split())


def open311_facts(city: dict) -> dict:
    """The city's ``domain`` (its Open311 jurisdiction_id, e.g. makassarkota.go.id) and the
    ``contact`` API users are given; a ValueError names what is missing or malformed."""
    domain = clean_domain(city.get("domain"))
    if not DOMAIN.fullmatch(domain):
        raise ValueError(f"city {city.get('code')}: domain must be a domain name such as "
                         f"makassarkota.go.id, not {city.get('domain')!r}")
    contact = clean_contact(city.get("contact"))
    if not contact or len(contact) > CONTACT_MAX:
        raise ValueError(f"city {city.get('code')}: contact must be a text of 1 to 500 characters "
                         "(who answers API users, and how)")
    return {"domain": domain, "contact": contact}


def _whole(name: str, entry: dict) -> dict:
    """``{name: value}`` when the seed entry gives a whole number of at least 1 (nothing when it
    gives none: the column's default); a ValueError for anything else."""
    if name not in entry:
        return {}
    value = entry[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{entry.get('code', 'city')}: {name} must be a whole number of at least 1, not {value!r}")
    return {name: value}


def load_area_geometry(session: Session, path: Path, seeded: set[str] | None = None) -> None:
    """The seed's polygons: a GeoJSON file whose features say their ``level`` and ``name``;
    every area the seed names (``seeded``; None: every area) must have one (a seed that leaves
    one of its areas without a shape is a broken seed; a kelurahan an administrator added gets
    its shape from an import). Areas that already have a shape keep it: ``tanggap areas
    import`` is what replaces them."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for level in areas.LEVELS:
        features = areas.read_features({**data, "features": [
            f for f in data["features"] if f.get("properties", {}).get("level") == level]}, "name")
        result = areas.import_areas(session, features, level, keep_existing=True)
        missing = [name for name in result.missing if seeded is None or name in seeded]
        if result.unknown or missing:
            raise ValueError(f"{path.name}: {level} names that match no area: {result.unknown}; "
                             f"areas without a shape: {missing}")


ATTRIBUTE_TYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def parse_attributes(raw: list) -> list[dict]:
    """A category's extra fields, checked: Open311 datatypes, unique codes, values for lists."""
    attributes, codes = [], set()
    for order, a in enumerate(raw, start=1):
        code, datatype = str(a["code"]), a.get("datatype", "string")
        if datatype not in ATTRIBUTE_TYPES:
            raise ValueError(f"attribute {code}: datatype must be one of {', '.join(ATTRIBUTE_TYPES)}")
        if code in codes:
            raise ValueError(f"attribute {code} appears twice")
        codes.add(code)
        values = [{"key": str(v["key"]), "name_id": v.get("name_id", str(v["key"])),
                   "name_en": v.get("name_en", v.get("name_id", str(v["key"])))}
                  for v in a.get("values") or []]
        if datatype.endswith("valuelist") and not values:
            raise ValueError(f"attribute {code}: a {datatype} needs values")
        attributes.append({"code": code, "datatype": datatype, "required": bool(a.get("required")),
                           "order": order, "description_id": a.get("description_id", code),
                           "description_en": a.get("description_en", a.get("description_id", code)),
                           "values": values})
    return attributes

