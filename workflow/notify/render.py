"""A queued notice as the message its recipient reads: subject, plain text and HTML.

Templates are Jinja files, one per told audit action and language
(``templates/<language>/<action>.txt``): the first line is ``Subject: ...``, then a blank line,
then the body; an administrator's text of one (``notice_templates``, checked by
``workflow.notify.editing``) is used instead of its file. Both are rendered in one sandbox
(:data:`TEXT`: no functions, no assignments, a short list of filters) with the facts the
``*_context`` functions below give, and nothing else. The HTML part is the same text in
``templates/email.html``, its links made clickable; every message ends with the stop link. Times
are in the city's zone (WITA for Makassar); links are absolute, from ``TANGGAP_PUBLIC_URL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from workflow.notify.notices import TEMPLATES

# The public pages the links open (web/public.py serves them).
STATUS_PATH = "/lacak/{code}"
STOP_PATH = "/berhenti/{token}"
FOLLOW_PATH = "/lapor/ikuti/{number}"  # a follower has no tracking code: the case's public page
CASE_PATH, ESCALATIONS_PATH = "/cases/{case_id}", "/escalations"  # staff screens
ANSWER_ANCHOR, FEEDBACK_ANCHOR = "#question", "#feedback"

# Filters that cannot make a text much longer than what they are given (not center, indent,
# format, replace, batch ...): a template cannot grow a message without bound.
FILTERS = ("abs", "capitalize", "count", "d", "default", "first", "int", "join", "last", "length", "list",
           "lower", "reverse", "round", "sort", "string", "striptags", "title", "trim", "truncate", "unique",
           "upper", "wordcount")
REPEAT_MAX = 10_000  # characters (or items) a ``*`` may make


class TextSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no access to Python internals) without its globals (``range``,
    ``lipsum``...), with :data:`FILTERS` only, ``**`` refused and ``*`` kept short."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options):
        super().__init__(**options)
        self.globals.clear()
        self.filters = {name: self.filters[name] for name in FILTERS}

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("** is not allowed in a notice template")
        sized = [v for v in (left, right) if isinstance(v, (str, list, tuple))]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sized and counts and len(sized[0]) * counts[0] > REPEAT_MAX:
            raise SecurityError(f"a text repeated to more than {REPEAT_MAX} characters")
        return super().call_binop(context, operator, left, right)


TEXT = TextSandbox(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined,
                   keep_trailing_newline=True)
_html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
_URL = re.compile(r"https?://[^\s<>\"]+")

FOOTER = {"id": "Anda menerima pesan ini karena mengikuti laporan ini.",
          "en": "You receive this message because you follow this report."}
STOP = {"id": "Berhenti menerima kabar laporan ini", "en": "Stop messages about this report"}
DATE_FORMAT = {"id": "d MMMM y 'pukul' HH.mm", "en": "d MMMM y 'at' HH:mm"}


@dataclass(frozen=True)
class Rendered:
    action: str
    subject: str
    text: str
    html: str
    stop_url: str | None  # None: a message to staff, about their work
    short: str  # an SMS: the subject, the case's link, the stop link
    facts: dict  # what the template was given, as text (a WhatsApp template's variables)


def local_date(value: str | datetime | None, zone: ZoneInfo, language: str) -> str | None:
    """``5 Desember 2026 pukul 14.00 WITA``: a moment as the recipient reads it."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    return f"{format_datetime(local, DATE_FORMAT[language], locale=language)} {local.tzname()}"


def links(public_url: str, code: str | None, token: str, language: str, number: str | None = None) -> dict[str, str]:
    base = public_url.rstrip("/")
    query = "?lang=en" if language == "en" else ""
    if code:
        status = f"{base}{STATUS_PATH.format(code=code)}{query}"
    elif number:
        status = f"{base}{FOLLOW_PATH.format(number=number)}{query}"
    else:
        status = f"{base}/{query}"
    return {"status_url": status, "answer_url": status + ANSWER_ANCHOR,
            "feedback_url": status + FEEDBACK_ANCHOR,
            "stop_url": f"{base}{STOP_PATH.format(token=token)}{query}"}


def follower_context(*, case_number: str, city: str, category: str, agency: str | None, question: str | None,
                     reason: str | None, closure_note: str | None, merged_into: str | None,
                     deadline: str | None, tracking_code: str | None, yours: bool, links: dict[str, str]) -> dict:
    """The facts a notice to a reporter or follower gives its template (every one of them, also
    when empty: a template may test them). ``yours``: to the reporter (a follower is told of "the
    report you follow"); ``links``: :func:`links`."""
    return {"case_number": case_number, "city": city, "category": category, "agency": agency,
            "question": question, "reason": reason, "closure_note": closure_note, "merged_into": merged_into,
            "deadline": deadline, "tracking_code": tracking_code, "yours": yours,
            **{k: links[k] for k in ("status_url", "answer_url", "feedback_url", "stop_url")}}


def staff_facts(*, case_number: str, category: str, agency: str | None, level: str, task: str,
                case_url: str) -> dict:
    """What an e-mail to staff says about one escalation."""
    return {"case_number": case_number, "category": category, "agency": agency, "level": level, "task": task,
            "case_url": case_url}


def staff_context(*, city: str, escalations_url: str, facts: dict) -> dict:
    """The facts of an e-mail about one escalation (``facts``: :func:`staff_facts`)."""
    return {"city": city, "escalations_url": escalations_url, **facts}


def digest_context(*, city: str, escalations_url: str, since: str | None, escalations: list[dict]) -> dict:
    """The facts of an hourly digest: ``escalations``, each :func:`staff_facts`."""
    return {"city": city, "escalations_url": escalations_url, "since": since, "escalations": escalations}


def render(action: str, language: str, context: dict, source: str | None = None) -> Rendered:
    """``context``: the facts of one of the ``*_context`` functions; missing names are an error
    (a template that names a fact nobody provides fails the test of every notice). ``action``
    ``staff/<action>``: a message to staff, without a stop link. ``source``: an administrator's
    text of the template, instead of its file."""
    template = TEXT.from_string(source) if source is not None else TEXT.get_template(f"{language}/{action}.txt")
    first, _, body = template.render(**context).partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"{language}/{action}.txt must start with 'Subject: '")
    subject = first[len("Subject: "):].strip()
    body = body.strip() + "\n"
    stop_url = context.get("stop_url")
    text = f"{body}\n-- \n{FOOTER[language]}\n{STOP[language]}: {stop_url}\n" if stop_url else body
    paragraphs = [[_linked(line) for line in block.splitlines()]
                  for block in re.split(r"\n\s*\n", body.strip()) if block.strip()]
    html = _html.get_template("email.html").render(
        language=language, subject=subject, paragraphs=paragraphs, footer=FOOTER[language],
        stop_label=STOP[language], stop_url=stop_url)
    short = f"{subject}. {context.get('status_url', '')} {STOP[language]}: {stop_url}"
    facts = {k: "" if v is None else str(v) for k, v in context.items()}
    return Rendered(action=action.rsplit("/", 1)[-1], subject=subject, text=text, html=html, stop_url=stop_url,
                    short=short, facts=facts)


def _linked(line: str) -> Markup:
    out, last = [], 0
    for match in _URL.finditer(line):
        out.append(escape(line[last:match.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(match.group(0)))
        last = match.end()
    out.append(escape(line[last:]))
    return Markup("").join(out)
