"""Pages of a list: the page asked for, its rows, and the total."""

from __future__ import annotations

import math
from dataclasses import dataclass

from workflow.messages import msg
from workflow.ranges import MAX_PAGE

MAX_PER_PAGE = 100


def check_one_of(value, field: str, choices, errors: dict) -> None:
    """A message in ``errors`` when ``value`` is given but not one of ``choices``."""
    choices = [str(c) for c in choices]
    if value and str(value) not in choices:
        errors[field] = msg("must be one of {choices}", choices=", ".join(choices))


def paging_errors(page: int, per_page: int) -> dict:
    errors = {}
    if not 1 <= page <= MAX_PAGE:
        errors["page"] = msg("must be between 1 and {limit}", limit=MAX_PAGE)
    if not 1 <= per_page <= MAX_PER_PAGE:
        errors["per_page"] = msg("must be between 1 and {limit}", limit=MAX_PER_PAGE)
    return errors


@dataclass(frozen=True)
class Page:
    rows: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))
