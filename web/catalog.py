"""Which message ids the application uses (for the translation completeness test and for
translators: ``python -m web.catalog`` lists the ones the Indonesian catalog lacks)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "msg": None}
METHODS = [("web/**.py", "python"), ("workflow/**.py", "python"), ("web/templates/**.html", "jinja2")]


def used_messages() -> set[str]:
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=METHODS, keywords=KEYWORDS,
            options_map={"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return {i for i in ids if i}


def catalog(locale: str = "id"):
    with (ROOT / "web" / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def missing(locale: str = "id") -> list[str]:
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(locale) if m.string
                  and (m.string if isinstance(m.string, str) else all(m.string))}
    return sorted(used_messages() - translated)


if __name__ == "__main__":
    for message in missing():
        print(message)
