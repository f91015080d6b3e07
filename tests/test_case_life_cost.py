"""What one case life costs the database: the SQL statements its commands send, from the report to
the closure (``bench.case_life``: submit, seven steps through the real commands, an after photo).

The statements are counted with a ``before_cursor_execute`` listener and broken down by kind in
the failure message, so a regression names itself (a reference table read again each step, a
second UPDATE of the case, a projection rewritten whole)."""

from __future__ import annotations

import pytest

from bench import case_life

# The count this code reaches (on SQLite, BEGIN IMMEDIATE is a statement of its own, and the timers
# that left and those that came are two statements: one on PostgreSQL); the target is
# lower, see below.
CEILING = {"sqlite": 114, "postgresql": 98}
REFERENCE_TABLES = ("agencies", "categories", "qr_teams")  # cities: its geometry hash keys the polygons (workflow.areas)


def _life(services) -> case_life.AppLife:
    app = case_life.AppLife.with_cast(services)
    app.life()  # warm: the process's caches (reference data, parsed versions) are filled once
    return app


def _breakdown(counts) -> str:
    return "\n".join(f"{n:4} {kind}" for kind, n in counts.most_common())


def test_a_case_life_stays_within_its_statement_budget(services):
    app = _life(services)
    counts = app.statements()
    total = sum(counts.values())
    backend = services.engine.dialect.name
    assert total <= CEILING[backend], (
        f"{total} statements per case life on {backend} (at most {CEILING[backend]}):\n{_breakdown(counts)}")
    # each command updates the case row once, and once only
    assert counts["UPDATE cases"] == 9, _breakdown(counts)


def test_reference_data_is_not_read_again_while_it_has_not_changed(services):
    app = _life(services)
    counts = app.statements()
    reads = {t: counts[f"SELECT {t}"] for t in REFERENCE_TABLES if counts[f"SELECT {t}"]}
    assert reads == {}, f"reference data read again in a case life: {reads}\n{_breakdown(counts)}"


@pytest.mark.xfail(strict=True, reason="the issue's target of 60 statements is not reached yet (see CEILING)")
def test_a_case_life_sends_at_most_60_statements(services):
    counts = _life(services).statements()
    assert sum(counts.values()) <= case_life.STATEMENT_TARGET, _breakdown(counts)
