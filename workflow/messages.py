"""User-facing messages that the web layer can translate.

Domain code writes ``msg("write at most {limit} characters", limit=300)``. The result is a plain
``str`` (English, formatted), so callers that only need text use it as is; it also keeps its
template and parameters, so a user interface translates the template and formats it again.
"""

from __future__ import annotations


class Message(str):
    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Message:
        obj = super().__new__(cls, template.format(**params) if params else template)
        obj.template = template
        obj.params = params
        return obj


def msg(template: str, **params) -> Message:
    return Message(template, **params)
