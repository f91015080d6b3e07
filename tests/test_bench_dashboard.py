"""The dashboard benchmark (bench/dashboard.py) keeps working: a tiny run through its sizes
serves the dashboard and the real case's history page and prints a row of timings per size."""

from __future__ import annotations

import tempfile

import pytest

from bench import dashboard
from tests.bench_output import table_rows
from tests.conftest import PG_URL

SIZES = (20, 60)


def _tiny_run(capsys, database_url: str | None = None) -> list[list[float]]:
    """Rows of (cases, dashboard ms, ratio, history ms, ratio), one per size."""
    dashboard.main(["--sizes", ",".join(map(str, SIZES)), "--rounds", "1"]
                   + (["--database-url", database_url] if database_url else []))
    out = capsys.readouterr().out
    assert f"database: {'postgresql' if database_url else 'sqlite'}" in out, out
    rows = table_rows(out, 5)
    assert [int(r[0]) for r in rows] == list(SIZES), out
    for cases, dashboard_ms, dashboard_ratio, history_ms, history_ratio in rows:
        assert dashboard_ms > 0 and history_ms > 0 and dashboard_ratio > 0 and history_ratio > 0, out
    assert rows[0][2] == rows[0][4] == 1.0, out  # the smallest size is the baseline
    return rows


@pytest.mark.timeout(120)
def test_a_tiny_run_prints_a_row_per_size(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's database goes here
    _tiny_run(capsys)
    # the benchmark's own check: every page it timed answered 200 (it raises otherwise)


@pytest.mark.timeout(120)
def test_a_tiny_run_on_postgresql(capsys, monkeypatch, tmp_path, pg_database):
    """``pg_database`` only for its check that a server is there (skip, or fail under CI): the
    benchmark makes its own scratch database on the server, through the server's URL."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _tiny_run(capsys, PG_URL)
