"""Notice templates as administrators edit them (``/admin/notices``): which there are, the facts
each is given, sample notices to check and preview a text with, and the check a text passes
before it is saved.

A text may fill in the facts its message has (``{{ case_number }}``), choose with ``{% if %}``
and repeat with ``{% for %}`` over a list it is given, through the filters of
``render.FILTERS``; nothing else (no ``{% set %}``, no macros, no function calls, no includes),
so that what the delivery worker renders is what the preview showed, and always finishes. The
check reads the whole text (a fact named in a branch the samples do not take is found too),
then renders it in the delivery worker's sandbox against sample notices, strictly (a name
the message does not have is an error).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.definition import ProcessDefinition
from workflow.messages import Message, msg
from workflow.notify.notices import LANGUAGES, STAFF_LANGUAGE, TEMPLATES
from workflow.notify.render import (
    TEXT,
    Rendered,
    digest_context,
    follower_context,
    links,
    local_date,
    render,
    staff_context,
    staff_facts,
)
from workflow.store.models import Agency, Category
from workflow.store.reference import References
from workflow.text import BAD_TEXT, bad_text

TEXT_MAX = 5000  # characters of a template's text
MESSAGE_MAX = 10_000  # characters of a message it renders (a sample)
STAFF, DIGEST = "staff/", "_digest"


@dataclass(frozen=True, order=True)
class Template:
    """One template: ``name`` is its file's path under the language's folder, without ``.txt``
    (``case_closed``, ``staff/escalation_raised``)."""

    name: str
    language: str

    @property
    def action(self) -> str:
        """The audit action it tells of."""
        return self.name.removeprefix(STAFF).removesuffix(DIGEST)

    @property
    def to_staff(self) -> bool:
        return self.name.startswith(STAFF)

    @property
    def digest(self) -> bool:
        return self.to_staff and self.name.endswith(DIGEST)

    def default_text(self) -> str:
        return (TEMPLATES / self.language / f"{self.name}.txt").read_text(encoding="utf-8")


def templates() -> list[Template]:
    """Every template a message is rendered from: the notices to reporters and followers first,
    each in every language, then those to staff, in the staff's language (the files of the
    others are not used)."""
    found = [Template(path.relative_to(TEMPLATES / language).with_suffix("").as_posix(), language)
             for language in LANGUAGES for path in (TEMPLATES / language).rglob("*.txt")]
    used = [t for t in found if not t.to_staff or t.language == STAFF_LANGUAGE]
    return sorted(used, key=lambda t: (t.to_staff, t.name, LANGUAGES.index(t.language)))


def find(language: str, name: str) -> Template | None:
    """The template of that name, only if there is such a file (a name is never a path)."""
    return next((t for t in templates() if t.language == language and t.name == name), None)


# -- sample notices ----------------------------------------------------------------------------------

SAMPLE_WORDS = {
    "id": {"question": "Di sebelah mana persisnya tumpukan sampah itu?",
           "reason": "Lokasi berada di luar wilayah kota.",
           "closure_note": "Sampah sudah diangkut dan lokasi dibersihkan."},
    "en": {"question": "Where exactly is the pile of rubbish?",
           "reason": "The place is outside the city.",
           "closure_note": "The rubbish was collected and the place cleaned."},
}
SAMPLE_CODE, SAMPLE_TOKEN = "ABCD-EFGH", "contoh"


@dataclass(frozen=True)
class Sample:
    """What sample notices name: this deployment's city, a category and an agency of its
    reference data, a task and an escalation level of its process."""

    city: str
    category: tuple[str, str]  # Indonesian, English
    agency: str
    public_url: str
    zone: ZoneInfo
    now: datetime
    definition: ProcessDefinition

    @classmethod
    def read(cls, session: Session, definition: ProcessDefinition, *, public_url: str, zone: ZoneInfo,
             now: datetime) -> Sample:
        refs = References(session)
        category = session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).first()
        agency = session.scalars(select(Agency).where(Agency.handles_reports.is_(True)).order_by(Agency.code)).first()
        return cls(city=refs.city.name, category=(category.name_id, category.name_en) if category else ("", ""),
                   agency=agency.name if agency else refs.city.name, public_url=public_url, zone=zone, now=now,
                   definition=definition)

    def number(self, n: int) -> str:
        return f"{self.now.astimezone(self.zone).year}-{n:06d}"

    def contexts(self, template: Template) -> list[dict]:
        """Sample facts for ``template``: for a notice to a reporter, one to its reporter with
        every fact and one to a follower without the facts a notice may lack."""
        language = template.language
        if template.to_staff:
            facts = [self._staff(language, 123), self._staff(language, 124)]
            if template.digest:
                since = local_date(self.now.replace(minute=0, second=0, microsecond=0), self.zone, language)
                return [digest_context(city=self.city, escalations_url=self._url("/escalations"), since=since,
                                       escalations=facts)]
            return [staff_context(city=self.city, escalations_url=self._url("/escalations"), facts=facts[0])]
        words = SAMPLE_WORDS[language]
        category = self.category[language == "en"]
        deadline = local_date(self.now + timedelta(days=3), self.zone, language)
        full = follower_context(
            case_number=self.number(123), city=self.city, category=category, agency=self.agency,
            question=words["question"], reason=words["reason"], closure_note=words["closure_note"],
            merged_into=self.number(98), deadline=deadline, tracking_code=SAMPLE_CODE, yours=True,
            links=links(self.public_url, SAMPLE_CODE, SAMPLE_TOKEN, language, number=self.number(123)))
        bare = follower_context(
            case_number=self.number(123), city=self.city, category=category, agency=None, question=None,
            reason=None, closure_note=None, merged_into=None, deadline=None, tracking_code=None, yours=False,
            links=links(self.public_url, None, SAMPLE_TOKEN, language, number=self.number(123)))
        return [full, bare]

    def _staff(self, language: str, n: int) -> dict:
        stages, levels = self.definition.stages, list(self.definition.levels.values())
        return staff_facts(case_number=self.number(n), category=self.category[0], agency=self.agency,
                           level=levels[0].text(language) if levels else "",
                           task=stages[0].text(language) if stages else "",
                           case_url=self._url(f"/cases/{n}"))

    def _url(self, path: str) -> str:
        return f"{self.public_url.rstrip('/')}{path}"


def facts_of(template: Template, sample: Sample) -> list[str]:
    """The names a template of this kind may use (those of a digest's list items as
    ``escalations.case_number``)."""
    context = sample.contexts(template)[0]
    names = []
    for key, value in context.items():
        names.append(key)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            names += [f"{key}.{inner}" for inner in value[0]]
    return names


# -- the check ---------------------------------------------------------------------------------------


def normalized(text: str | None) -> str:
    """A text as typed in a browser (CRLF line ends), as stored: LF, one final newline."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"


def problems(template: Template, text: str, sample: Sample) -> list[Message]:
    """Why ``text`` cannot be saved as ``template`` (empty: it can)."""
    if bad_text(text):
        return [BAD_TEXT]
    if not text.strip():
        return [msg("this field is required")]
    if len(text) > TEXT_MAX:
        return [msg("write at most {limit} characters", limit=TEXT_MAX)]
    first = text.partition("\n")[0]
    if not first.startswith("Subject: ") or not first[len("Subject: "):].strip():
        return [msg("the first line must be the subject: Subject: followed by the subject")]
    try:
        tree = TEXT.parse(text)
    except TemplateSyntaxError as exc:
        return [_unreadable(exc.lineno)]
    contexts = sample.contexts(template)
    found = _constructs(tree, set(contexts[0]))
    if found:
        return found
    for context in contexts:
        try:
            rendered = render(template.name, template.language, context, text)
        except TemplateSyntaxError as exc:
            return [_unreadable(exc.lineno)]
        except UndefinedError:
            return [msg("line {line} uses a fact of this message in a way it cannot be used",
                        line=_template_line())]
        except SecurityError:
            return [msg("line {line} makes the message too long or uses something not allowed here",
                        line=_template_line())]
        except ValueError:
            return [msg("the first line must be the subject: Subject: followed by the subject")]
        except Exception:  # noqa: BLE001 - any failure of a sample is a reason not to save
            return [msg("line {line} cannot be filled in with a sample message", line=_template_line())]
        if not rendered.subject:
            return [msg("the subject is empty for some messages: write it without conditions")]
        if len(rendered.text) > MESSAGE_MAX:
            return [msg("the message would be longer than {limit} characters", limit=MESSAGE_MAX)]
    return []


def preview(template: Template, text: str, sample: Sample) -> Rendered:
    """``text`` rendered for the first sample notice (a text that passed :func:`problems`)."""
    return render(template.name, template.language, sample.contexts(template)[0], text)


def _unreadable(line: int | None) -> Message:
    return msg("the template cannot be read at line {line}: check that each {{{{ is closed with }}}} and "
               "each {{% with %}}, each {{% if %}} ends with {{% endif %}} and each {{% for %}} with "
               "{{% endfor %}}", line=line or 1)


def _template_line() -> int:
    """The template's line where the exception being handled was raised (Jinja puts it in the
    traceback as a frame of the file ``<template>``)."""
    tb, line = sys.exc_info()[2], 1
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_ALLOWED = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.For, nodes.Name, nodes.Const,
            nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.Compare, nodes.Operand, nodes.And,
            nodes.Or, nodes.Not, nodes.CondExpr, nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div,
            nodes.FloorDiv, nodes.Mod, nodes.Neg, nodes.Pos, nodes.Tuple, nodes.List, nodes.Keyword, nodes.Slice)
_STATEMENTS = {nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}", nodes.Macro: "{% macro %}",
               nodes.CallBlock: "{% call %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
               nodes.FromImport: "{% from %}", nodes.Extends: "{% extends %}", nodes.Block: "{% block %}",
               nodes.FilterBlock: "{% filter %}", nodes.With: "{% with %}", nodes.Call: "( )",
               nodes.Pow: "**", nodes.Dict: "{ }"}


def _constructs(tree: nodes.Template, facts: set[str]) -> list[Message]:
    """What the text uses beyond facts, conditions, loops over lists and the allowed filters."""
    loop_names = {"loop"} | {n.name for f in tree.find_all(nodes.For) for n in _walk(f.target)
                             if isinstance(n, nodes.Name)}
    for node in _walk(tree):
        line = getattr(node, "lineno", 1)
        if not isinstance(node, _ALLOWED):
            what = next((label for kind, label in _STATEMENTS.items() if isinstance(node, kind)), type(node).__name__)
            return [msg("line {line}: {what} is not allowed in a notice template", line=line, what=what)]
        if isinstance(node, nodes.For) and (node.recursive or not _a_fact(node.iter)):
            return [msg("line {line}: {{% for %}} may only go through a list this message is given", line=line)]
        if isinstance(node, nodes.Filter) and node.name not in TEXT.filters:
            return [msg("line {line}: there is no filter {name} here; these are: {names}", line=line,
                        name=node.name, names=", ".join(sorted(TEXT.filters)))]
        if isinstance(node, nodes.Test) and node.name not in TEXT.tests:
            return [msg("line {line}: there is no test {name} here", line=line, name=node.name)]
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in facts | loop_names:
            return [msg("line {line}: {name} is not a fact of this message; it has: {names}", line=line,
                        name=node.name, names=", ".join(sorted(facts)))]
    return []


def _walk(node: nodes.Node):
    stack = [node]
    while stack:
        here = stack.pop()
        yield here
        stack.extend(reversed(list(here.iter_child_nodes())))


def _a_fact(node: nodes.Node) -> bool:
    """A name, or an attribute or item of one: what a loop may go through."""
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    return isinstance(node, nodes.Name)
