"""Text that may enter the system: the one rule for every channel (web forms, the JSON API,
Open311, the CLI).

Control characters (U+0000-U+001F other than TAB, LF and CR, U+007F-U+009F) and lone
surrogates are refused with a message naming the field, never stripped: the audit trail keeps
what a person sent, so nothing is changed behind their back. Anything refused here would break
an XML feed, a CSV export or a PostgreSQL text column (NUL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from workflow.errors import ValidationError
from workflow.messages import msg

FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
BAD_TEXT = msg("contains characters that are not allowed (control characters or broken Unicode)")
# Characters XML 1.0 cannot carry at all (also the U+FFFE/U+FFFF non-characters).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def bad_text(value: str) -> bool:
    return FORBIDDEN.search(value) is not None


def check(value: str | None, field: str) -> str | None:
    """``value`` unchanged, or ``ValidationError`` naming ``field``."""
    if value is not None and bad_text(value):
        raise ValidationError({field: BAD_TEXT})
    return value


def check_fields(values: dict, errors: dict, prefix: str = "") -> None:
    """Add an error for every string in ``values`` (nested lists and dicts too) that holds a
    forbidden character."""
    for path, value in walk(values, prefix):
        if isinstance(value, str) and bad_text(value):
            errors.setdefault(path or "body", BAD_TEXT)


def walk(value, path: str = "", max_depth: int = 32) -> Iterator[tuple[str, object]]:
    """Every (dotted path, leaf) of a JSON-like value, keys included; iterative, so a deeply
    nested document cannot exhaust the stack. Raises ``ValidationError`` past ``max_depth``."""
    stack = [(path, value, 0)]
    while stack:
        here, item, depth = stack.pop()
        if depth > max_depth:
            top = re.split(r"[.\[]", here, maxsplit=1)[0]  # the field the client sent
            raise ValidationError({top or "body": msg("nested more than {limit} levels deep",
                                                      limit=max_depth)})
        if isinstance(item, dict):
            for key, inner in item.items():
                child = f"{here}.{key}" if here else str(key)
                yield child, key
                stack.append((child, inner, depth + 1))
        elif isinstance(item, list):
            for index, inner in enumerate(item):
                stack.append((f"{here}[{index}]", inner, depth + 1))
        else:
            yield here, item


def xml_safe(value: str) -> str:
    """Text an XML 1.0 document can carry: characters XML forbids become U+FFFD. For writers of
    stored text, which may predate the input rule above."""
    return _NOT_XML.sub("\ufffd", value)


def mask(address: str) -> str:
    """An address as the status page and the trail show it: ``a***@gmail.com``,
    ``+62 81*****123``."""
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    digits = [i for i, ch in enumerate(address) if ch.isdigit()]
    if len(digits) <= 6:
        return "*" * len(address)
    keep = set(digits[:4]) | set(digits[-3:])
    return "".join(ch if (not ch.isdigit() or i in keep) else "*" for i, ch in enumerate(address))
