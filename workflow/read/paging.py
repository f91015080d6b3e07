"""Pages of a list: the page asked for, its rows, and the total."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from workflow.messages import msg
from workflow.ranges import MAX_PAGE

MAX_PER_PAGE = 100
# A work list counts its rows up to this many, and says "more than" beyond: counting every open
# item of a busy scope would cost more than the page it heads (growing with the city).
COUNT_LIMIT = 1000


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
    capped: bool = False  # there are more than ``total`` (= COUNT_LIMIT) rows

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        if self.capped:
            return len(self.rows) == self.per_page
        return self.page < self.pages


def capped_count(session: Session, stmt, limit: int | None = None) -> tuple[int, bool]:
    """How many rows ``stmt`` selects, counted up to ``limit`` (default :data:`COUNT_LIMIT`):
    (count, whether there are more). The database stops reading the index after ``limit + 1`` rows."""
    return capped_counts(session, [stmt], limit)[0]


def capped_counts(session: Session, stmts: list, limit: int | None = None) -> list[tuple[int, bool]]:
    """:func:`capped_count` of each of ``stmts``, in one statement (a count subquery each)."""
    limit = COUNT_LIMIT if limit is None else limit
    counts = [select(func.count()).select_from(
        stmt.with_only_columns(literal(1), maintain_column_froms=True).limit(limit + 1).subquery())
        for stmt in stmts]
    found = session.execute(counts[0] if len(counts) == 1 else select(*(c.scalar_subquery() for c in counts))).one()
    return [(limit, True) if n > limit else (n, False) for n in found]


def nulls_last_page(session: Session, stmt, key, tiebreak, *, descending: bool, offset: int, limit: int) -> list:
    """The rows ``offset``..``offset + limit`` of ``stmt`` in ``key`` order (``tiebreak`` after
    it), rows without a ``key`` last, read in two parts so that each is a range of an index in
    either direction on both databases (SQLite keeps NULL first in an index, PostgreSQL last:
    a NULLS LAST sort would make either sort every row of the scope)."""
    order = (key.desc(), tiebreak.desc()) if descending else (key.asc(), tiebreak.asc())
    rows = list(session.execute(stmt.where(key.is_not(None)).order_by(*order).limit(limit).offset(offset)))
    if len(rows) == limit:
        return rows
    if rows:
        keyed = offset + len(rows)  # the keyed part ended on this page
    else:
        keyed = session.scalar(select(func.count()).select_from(
            stmt.where(key.is_not(None)).with_only_columns(literal(1), maintain_column_froms=True)
            .limit(offset).subquery()))
    rest = stmt.where(key.is_(None)).order_by(tiebreak.desc() if descending else tiebreak.asc())
    return rows + list(session.execute(rest.limit(limit - len(rows)).offset(max(0, offset - keyed))))
