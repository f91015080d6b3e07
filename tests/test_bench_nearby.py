"""The place-query benchmark (bench/nearby.py) keeps working: a tiny run grows the reports
through two sizes, times both queries of workflow.read.nearby, finds neighbours (its points lie
where the reports are, so a query that returns nothing is broken), prints the plans of their
statements and a verdict per query."""

from __future__ import annotations

import re
import tempfile

import pytest

from bench import nearby
from tests.bench_output import table_rows
from tests.conftest import PG_URL

SIZES = (300, 900)


def _tiny_run(capsys, database_url: str | None = None) -> None:
    nearby.main(["--sizes", ",".join(map(str, SIZES))]
                + (["--database-url", database_url] if database_url else []))
    out = capsys.readouterr().out
    assert out.startswith(f"database: {'postgresql' if database_url else 'sqlite'};"), out
    rows = table_rows(out, 10)  # reports, days, open, then p50, p95, rows of each query, load s
    assert [int(r[0]) for r in rows] == list(SIZES), out
    for reports, days, open_cases, near_p50, near_p95, near_rows, dup_p50, dup_p95, dup_rows, load_s in rows:
        assert days == round(reports / nearby.PER_DAY), out
        assert open_cases == reports, out  # these sizes are days of reports, all of them still open
        assert 0 < near_p50 <= near_p95 and 0 < dup_p50 <= dup_p95 and load_s >= 0, out
    assert rows[-1][5] > 0 and rows[-1][8] > 0, out  # both queries found neighbours
    for query in ("open_nearby", "duplicate_candidates"):
        assert re.search(rf"^-- plans of {query}\(.+\) \(\w+\)\n\nSELECT ", out, re.MULTILINE), out
        verdict = rf"^{query}: p95 [\d.]+ ms at {SIZES[-1]} .*: (met|NOT met)$"
        assert re.search(verdict, out, re.MULTILINE), out


@pytest.mark.timeout(120)
def test_a_tiny_run_times_both_queries(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's database goes here
    _tiny_run(capsys)


@pytest.mark.timeout(120)
def test_a_tiny_run_on_postgresql(capsys, monkeypatch, tmp_path, pg_database):
    """``pg_database`` only for its check that a server is there (skip, or fail under CI): the
    benchmark makes its own scratch database on the server, through the server's URL."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _tiny_run(capsys, PG_URL)
