"""Bahasa Indonesia by default, English on request; times in the city's zone (e.g. WITA).

Message ids are English. The Indonesian catalog (``web/translations/id``) is compiled into the
instance folder when the app starts, so no binary catalog is committed.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import format_datetime, format_timedelta, get_locale, get_timezone, gettext

from workflow.messages import Message

SOURCE = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"id": "Bahasa Indonesia", "en": "English"}
API_PREFIX = "/api/v1/"


def compile_catalogs(target: Path) -> Path:
    """Compile every ``.po`` under ``web/translations`` into ``target`` when it is newer."""
    for po in SOURCE.glob("*/LC_MESSAGES/*.po"):
        mo = target / po.relative_to(SOURCE).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_suffix(f".mo.{os.getpid()}.part")  # workers starting together each write their own
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)
    return target


def select_locale() -> str:
    """The pages: ``?lang=`` (kept in the session), else the session's, else Indonesian. The
    JSON API keeps no session: each request names its own (:func:`request_language`)."""
    if request.path.startswith(API_PREFIX):
        return request_language()
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted
    return session.get("lang", "id")


def request_language() -> str:
    """``?lang=`` when it names a language, else the best of ``Accept-Language``, else Indonesian."""
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        return wanted
    return request.accept_languages.best_match(LANGUAGES, default="id")


def tr(message) -> str:
    """Translate a domain message (see ``workflow.messages``) or any string."""
    if isinstance(message, Message):
        translated = gettext(message.template)
        params = {k: tr(v) if isinstance(v, Message) else v for k, v in message.params.items()}  # nested too
        return translated.format(**params) if params else translated
    return gettext(str(message)) if message else ""


def local_time(value: datetime | None, fmt: str = "d MMM yyyy HH:mm") -> str:
    """A moment in the city's time zone, with the zone's abbreviation ("WITA" in Makassar)."""
    if value is None:
        return ""
    return f"{format_datetime(value, fmt)} {zone_name(value)}"


def zone_name(moment: datetime) -> str:
    """The abbreviation of the city's zone at ``moment``: WIB, WITA, WIT."""
    return moment.astimezone(get_timezone()).tzname() or ""


def time_left(due: datetime | None, now: datetime) -> str:
    if due is None:
        return ""
    delta = due - now
    if delta >= timedelta(0):
        return gettext("%(time)s left", time=format_timedelta(delta, threshold=1.1))
    return gettext("%(time)s late", time=format_timedelta(-delta, threshold=1.1))


def pick(labels) -> str:
    """A label given per language ({"id": ..., "en": ...}) in the page's language."""
    if isinstance(labels, str):
        return labels
    return labels.get(str(get_locale())) or labels.get("id") or next(iter(labels.values()), "")


def ago(moment: datetime, now: datetime) -> str:
    """How long ago, roughly: "3 days ago" ("3 hari yang lalu")."""
    return gettext("%(time)s ago", time=format_timedelta(max(now - moment, timedelta(0)), threshold=1.1))


def duration_text(delta: timedelta | None) -> str:
    """A duration to the minute, its empty parts left out: "2 d 3 h" ("2 hari 3 jam")."""
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(gettext("%(num)s d", num=days))
    if hours:
        parts.append(gettext("%(num)s h", num=hours))
    if minutes or not parts:
        parts.append(gettext("%(num)s min", num=minutes))
    return " ".join(parts)


def install(app: Flask) -> None:
    from .labels import (
        ACTIONS,
        CHANNELS,
        KINDS,
        STATUS_LABELS,
        attribute_answers,
        event_actor,
        event_label,
        force_transferable,
        level_label,
        level_severe,
        operation_label,
        priority_label,
        public_stage,
        role_label,
        task_label,
    )

    app.jinja_env.globals.update(tr=tr, local_time=local_time, zone_name=zone_name, time_left=time_left, ago=ago, pick=pick,
                                 LANGUAGES=LANGUAGES, duration=duration_text,
                                 current_locale=lambda: str(get_locale()),
                                 action_labels=ACTIONS, kind_labels=KINDS, channel_labels=CHANNELS, status_labels=STATUS_LABELS,
                                 attribute_answers=attribute_answers, task_label=task_label, event_label=event_label,
                                 public_stage=public_stage, level_label=level_label,
                                 level_severe=level_severe, force_transferable=force_transferable,
                                 operation_label=operation_label, priority_label=priority_label,
                                 event_actor=event_actor, role_label=role_label)
