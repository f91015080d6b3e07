"""Submitting a report: validate it, store it, and start its case's process."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from workflow import areas, geo
from workflow.access import Actor
from workflow.addresses import locate_address
from workflow.commands.case_extras import store_attachment
from workflow.commands.change import CaseChange
from workflow.config import Settings
from workflow.errors import ValidationError
from workflow.messages import msg
from workflow.notify import notices
from workflow.ranges import OUT_OF_RANGE, moment_in_range
from workflow.store.attachments import PreparedImage
from workflow.store.models import Case, Report
from workflow.store.reference import References
from workflow.store.uow import UnitOfWork
from workflow.text import check_fields
from workflow.vocabulary import (
    Action,
    AttachmentKind,
    CaseStatus,
    Channel,
    Following,
    NoticeChannel,
    Operation,
)

DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 4000
# No list or display-name characters: one address, which a mail header cannot read as two.
EMAIL_RE = re.compile(r"^[^@\s,;<>\"()\[\]\\]{1,64}@[^@\s,;<>\"()\[\]\\]+\.[^@\s,;<>\"()\[\]\\]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{6,18}[0-9]$")


@dataclass(frozen=True)
class ReportInput:
    category: str
    description: str
    lat: float | str | None  # None (or blank): the kecamatan chosen, or the one the address names
    lon: float | str | None
    area: str | None = None  # kecamatan code; the point's when absent (another one than the point's is refused)
    kelurahan: str | None = None
    address: str = ""
    reporter_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    anonymous: bool = False
    confidential: bool = False
    channel: Channel = Channel.WEB
    attributes: dict[str, Any] | None = None  # answers to the category's extra fields, by code
    media_url: str | None = None  # a photo link (API clients)
    # How the reporter wants to be told: a NoticeChannel value, "none" for not at all, or None
    # for "by e-mail when an e-mail address is given" (API and Open311 clients, which do not ask).
    notify_by: str | None = None
    language: str = "id"  # of the notices: id or en


@dataclass(frozen=True)
class Submitted:
    """A filed report. ``tracking_code`` exists only here, for the one who filed it."""

    case_id: int
    case_number: str
    tracking_code: str


TEXT_FIELDS = ("category", "description", "area", "kelurahan", "address", "reporter_name",
               "contact_email", "contact_phone", "media_url", "lat", "lon")


def _text(value: str | None) -> str:
    return (value or "").strip()


def _attribute_paths(errors: dict) -> dict:
    """``attribute.code`` (as walked) is named ``attribute[code]``, as the forms name it."""
    out = {}
    for name, message in errors.items():
        if name.startswith("attribute."):
            code = name[len("attribute."):].split(".")[0].split("[")[0]
            name = f"attribute[{code}]"
        out[name] = message
    return out


def _validate(data: ReportInput, refs: References, offered: tuple[NoticeChannel, ...]) -> dict:
    """Check every field; raise one ValidationError naming all the problems."""
    errors: dict[str, str] = {}
    check_fields({name: getattr(data, name) for name in TEXT_FIELDS}, errors)
    check_fields({"attribute": data.attributes or {}}, errors)
    if errors:  # nothing else can be judged reliably on broken text
        raise ValidationError(_attribute_paths(errors))
    category = refs.categories.get(_text(data.category))
    if not _text(data.category):
        errors["category"] = msg("choose a category")
    elif category is None or not category.active:
        errors["category"] = msg("unknown category {value}", value=repr(data.category))

    description = _text(data.description)
    if not description:
        errors["description"] = msg("describe the problem")
    elif len(description) < DESCRIPTION_MIN:
        errors["description"] = msg("write at least {limit} characters", limit=DESCRIPTION_MIN)
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = msg("write at most {limit} characters", limit=DESCRIPTION_MAX)

    area, kelurahan, lat, lon, given = _place(data, refs, errors)

    if len(_text(data.address)) > 300:
        errors["address"] = msg("write at most {limit} characters", limit=300)
    if len(_text(data.reporter_name)) > 200:
        errors["reporter_name"] = msg("write at most {limit} characters", limit=200)
    email, phone = _text(data.contact_email), _text(data.contact_phone)
    if email and (len(email) > 200 or not EMAIL_RE.match(email)):
        errors["contact_email"] = msg("not a valid e-mail address")
    if phone and not PHONE_RE.match(phone):
        errors["contact_phone"] = msg("not a valid phone number")
    media_url = _text(data.media_url)
    if media_url and (len(media_url) > 500 or urlsplit(media_url).scheme not in ("http", "https")
                      or not urlsplit(media_url).netloc):
        errors["media_url"] = msg("not an http(s) link of at most {limit} characters", limit=500)
    attributes = _attributes(category, data.attributes or {}, errors) if category else None
    notify_by = notify_channel(data.notify_by, email, phone, offered, errors)
    if data.language not in notices.LANGUAGES:
        errors["language"] = msg("must be one of {choices}", choices=", ".join(notices.LANGUAGES))
    if errors:
        raise ValidationError(errors)
    return {"category": category, "description": description, "lat": lat, "lon": lon,
            "area": area, "kelurahan": kelurahan, "point_given": given, "email": email or None,
            "phone": phone or None,
            "attributes": attributes or None, "media_url": media_url or None, "notify_by": notify_by}


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _place(data: ReportInput, refs: References, errors: dict) -> tuple:
    """(kecamatan, kelurahan, lat, lon, given). The point decides the kecamatan (workflow.areas);
    without a point, the kecamatan chosen or the one the address names, and a point inside it
    (``given`` False: a place for the map link, not where the problem is)."""
    lat = lon = None
    if not (_blank(data.lat) and _blank(data.lon)):
        try:
            lat, lon = geo.parse_point(data.lat, data.lon)
        except (TypeError, ValueError, OverflowError):
            errors["lat"] = msg("give the location as latitude and longitude (for example -5,1477 and 119,4327), "
                                "or paste a Google Maps or OpenStreetMap link")
    area = kelurahan = None
    if _text(data.area):
        area = refs.areas.get(_text(data.area))
        if area is None or not area.is_kecamatan:
            errors["area"] = msg("unknown kecamatan {value}", value=repr(data.area))
            area = None
    if _text(data.kelurahan):
        kelurahan = refs.areas.get(_text(data.kelurahan))
        if kelurahan is None or kelurahan.is_kecamatan:
            errors["kelurahan"] = msg("unknown kelurahan {value}", value=repr(data.kelurahan))
            kelurahan = None
        elif area is not None and kelurahan.parent_id != area.id:
            errors["kelurahan"] = msg("{kelurahan} is not in kecamatan {kecamatan}", kelurahan=kelurahan.name,
                                      kecamatan=area.name)
        elif area is None and "area" not in errors:
            area = refs.areas_by_id[kelurahan.parent_id]
    if errors.keys() & {"area", "kelurahan", "lat"}:
        return None, None, None, None, False
    shapes = areas.area_map(refs.session)
    if lat is not None and shapes.has_geometry:
        where = shapes.locate(lat, lon)
        if isinstance(where, areas.Outside):
            distance = f"{where.distance_km:.1f}"
            errors["lat"] = msg("the location is outside {city}; the nearest kecamatan is {kecamatan}, "
                                "{distance} km away", city=refs.city.name, kecamatan=where.nearest,
                                distance=distance)
            return None, None, None, None, False
        found = refs.areas_by_id[where.kecamatan_id]
        if area is None:
            area = found
        elif area.id != found.id and shapes.distance_m(area.id, lat, lon) > areas.BORDER_TOLERANCE_M:
            errors["area"] = msg("the point on the map is in Kecamatan {found}, not {chosen}: move the point "
                                 "or choose {found}", found=found.name, chosen=area.name)
            return None, None, None, None, False
        if kelurahan is None:
            kelurahan_id = where.kelurahan_id if area.id == found.id else shapes.kelurahan_of(area.id, lat, lon)
            kelurahan = refs.areas_by_id[kelurahan_id] if kelurahan_id is not None else None
        return area, kelurahan, lat, lon, True
    if lat is not None:  # a city without polygons: the kecamatan with the nearest centre
        if area is None:
            centred = [a for a in refs.areas.values() if a.is_kecamatan and a.lat is not None]
            area = min(centred, key=lambda a: geo.distance_km((lat, lon), (a.lat, a.lon)))
        return area, kelurahan, lat, lon, True
    if area is None and _text(data.address) and len(_text(data.address)) <= 300:
        try:
            area, kelurahan = locate_address(refs, _text(data.address))
        except ValidationError as exc:
            errors.update(exc.errors)
            return None, None, None, None, False
    if area is None:
        errors["area"] = msg("choose a kecamatan, or give the location on the map")
        return None, None, None, None, False
    point = shapes.label_point((kelurahan or area).id) or shapes.label_point(area.id)
    if point is None and area.lat is not None:
        point = area.lat, area.lon
    if point is None:
        errors["lat"] = msg("give the location as latitude and longitude (for example -5,1477 and 119,4327), "
                            "or paste a Google Maps or OpenStreetMap link")
        return None, None, None, None, False
    return area, kelurahan, *point, False


NOT_TOLD = "none"


def notify_channel(choice: str | None, email: str, phone: str, offered: tuple[NoticeChannel, ...],
               errors: dict) -> NoticeChannel | None:
    """The channel the reporter is told on, or None; it must be one this deployment sends on,
    and the address it needs must be given."""
    if choice is None:
        return NoticeChannel.EMAIL if email and NoticeChannel.EMAIL in offered else None
    if choice == NOT_TOLD:
        return None
    if choice not in offered:
        errors["notify_by"] = msg("must be one of {choices}", choices=", ".join([*offered, NOT_TOLD]))
        return None
    channel = NoticeChannel(choice)
    if channel == NoticeChannel.EMAIL and not email:
        errors["contact_email"] = msg("give an e-mail address to be told by e-mail")
    elif channel != NoticeChannel.EMAIL and not phone:
        errors["contact_phone"] = msg("give a phone number to be told by WhatsApp or SMS")
    return channel


ATTRIBUTE_TEXT_MAX = {"string": 200, "text": 2000}


def _attributes(category, given: dict[str, Any], errors: dict) -> dict[str, Any]:
    """The answers to the category's extra fields, typed; errors under ``attribute[code]``."""
    definitions = {a["code"]: a for a in category.attributes or []}
    clean: dict[str, Any] = {}
    for code in given:
        if code not in definitions:
            errors[f"attribute[{code}]"] = msg("{category} has no field {code}", category=category.code, code=code)
    for code, a in definitions.items():
        field, value = f"attribute[{code}]", given.get(code)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, "", []):
            if a["required"]:
                errors[field] = msg("this field is required")
            continue
        keys = {v["key"] for v in a["values"]}
        datatype = a["datatype"]
        if datatype in ATTRIBUTE_TEXT_MAX:
            if not isinstance(value, str) or len(value) > ATTRIBUTE_TEXT_MAX[datatype]:
                errors[field] = msg("write at most {limit} characters", limit=ATTRIBUTE_TEXT_MAX[datatype])
            else:
                clean[code] = value
        elif datatype == "number":
            try:
                number = float(value)
                if not math.isfinite(number) or isinstance(value, bool):
                    raise ValueError
                clean[code] = int(number) if number.is_integer() else number
            except (TypeError, ValueError, OverflowError):
                errors[field] = msg("not a number")
        elif datatype == "datetime":
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    raise ValueError
                if not moment_in_range(moment):
                    errors[field] = OUT_OF_RANGE
                else:
                    clean[code] = moment.isoformat()
            except ValueError:
                errors[field] = msg("give an ISO 8601 date and time with a time zone")
        elif datatype == "singlevaluelist":
            if not isinstance(value, str) or value not in keys:
                errors[field] = msg("{value} is not one of the allowed choices", value=str(value)[:50])
            else:
                clean[code] = value
        else:  # multivaluelist
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) and v in keys for v in values):
                errors[field] = msg("{value} is not one of the allowed choices", value=str(value)[:50])
            else:
                clean[code] = sorted(set(values))
    return clean


def validate_only(session: Session, data: ReportInput, settings: Settings) -> None:
    """Raise the ValidationError ``submit_report`` would raise, reading only."""
    _validate(data, References(session), notices.offered(settings))


def start_variables(settings: Settings, *, case_number: str, category: str, area: str,
                    channel: Channel) -> dict[str, Any]:
    """The variables a case's process starts with: the report's facts the process routes on,
    its counters, and the deployment's windows and limits (what the BPMN expressions read)."""
    return {"case_number": case_number, "category": category, "area": area, "channel": str(channel),
            "transfer_count": 0, "rework_count": 0, "reopen_count": 0,
            "dispute_window": settings.dispute_window, "info_window": settings.info_window,
            "max_transfers": settings.max_transfers, "closure_note": None}


def submit_report(uow: UnitOfWork, data: ReportInput, *, photo: PreparedImage | None = None,
                  actor: Actor | None = None) -> Submitted:
    """Store the report, open its case and run the process to the first human task (triage).

    ``photo`` is an image already checked by ``AttachmentStore.prepare``.
    """
    actor = actor or Actor.citizen()
    refs = uow.refs
    clean = _validate(data, refs, notices.offered(uow.settings))
    now = uow.clock.now()
    uow.acting_on(Operation.SUBMIT_REPORT, category=clean["category"].code, area=clean["area"].code,
                  channel=str(data.channel))

    code = uow.services.tracking.new()
    report = Report(
        tracking_hash=uow.services.tracking.digest(code), channel=data.channel, category_id=clean["category"].id,
        description=clean["description"], lat=clean["lat"], lon=clean["lon"],
        address=_text(data.address), area_id=clean["area"].id,
        kelurahan_id=clean["kelurahan"].id if clean["kelurahan"] else None,
        reporter_name=_text(data.reporter_name) or None, contact_email=clean["email"],
        contact_phone=clean["phone"], anonymous=bool(data.anonymous),
        confidential=bool(data.confidential), attributes=clean["attributes"],
        media_url=clean["media_url"], submitted_at=now)
    uow.session.add(report)
    spec_id = uow.services.versions.ensure_current_id(uow.session, now)
    case = Case(report=report, spec_id=spec_id, status=CaseStatus.TRIAGE,
                category_id=clean["category"].id, area_id=clean["area"].id,
                # only a point the reporter gave is a place other reports are near
                lat=clean["lat"] if clean["point_given"] else None, lon=clean["lon"] if clean["point_given"] else None,
                created_at=now, updated_at=now)
    uow.session.add(case)
    uow.session.flush()
    year = now.astimezone(ZoneInfo(refs.city.timezone)).year
    case.number = f"{year}-{case.id:06d}"  # written with the case's UPDATE of the first save

    channel = clean["notify_by"]
    if channel is not None:  # before the first save: "report received" is its first notice
        notices.subscribe(uow, case, following=Following.REPORTER, channel=channel, code=code,
                          address=clean["email"] if channel == NoticeChannel.EMAIL else clean["phone"],
                          language=data.language, flush=False)
    with CaseChange(uow, case, actor.ref(), new=True) as change:
        change.started(uow.process.start(start_variables(
            uow.settings, case_number=case.number, category=clean["category"].code,
            area=clean["area"].code, channel=data.channel)))
        change.save(events=[{"action": Action.REPORT_SUBMITTED, "data": {
            "channel": str(data.channel), "category": clean["category"].code, "area": clean["area"].code,
            "kelurahan": clean["kelurahan"].code if clean["kelurahan"] else None,
            "lat": clean["lat"], "lon": clean["lon"], "photo": photo is not None,
            "attributes": clean["attributes"], "media_url": clean["media_url"]}}])
    if photo is not None:
        store_attachment(uow, case, photo, kind=AttachmentKind.BEFORE, actor=actor)
    return Submitted(case_id=case.id, case_number=case.number, tracking_code=code)

