"""The idle-sweep benchmark (bench/sweeper_idle.py) keeps working: a tiny run inserts the open
cases of each size, finds nothing due (it checks both, and raises otherwise) and prints a row of
timings per size."""

from __future__ import annotations

import tempfile

import pytest

from bench import sweeper_idle
from tests.bench_output import table_rows
from tests.conftest import PG_URL

SIZES = (50, 200)


def _tiny_run(capsys, database_url: str | None = None) -> None:
    sweeper_idle.main(["--sizes", ",".join(map(str, SIZES)), "--rounds", "1"]
                      + (["--database-url", database_url] if database_url else []))
    out = capsys.readouterr().out
    assert f"database: {'postgresql' if database_url else 'sqlite'}" in out, out
    rows = table_rows(out, 5)  # open cases, sweep ms, ratio, naive scan ms, ratio
    assert [int(r[0]) for r in rows] == list(SIZES), out
    assert all(value > 0 for row in rows for value in row[1:]), out
    assert rows[0][2] == rows[0][4] == 1.0, out  # the smallest size is the baseline


@pytest.mark.timeout(120)
def test_a_tiny_run_prints_a_row_per_size(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's database goes here
    _tiny_run(capsys)


@pytest.mark.timeout(120)
def test_a_tiny_run_on_postgresql(capsys, monkeypatch, tmp_path, pg_database):
    """``pg_database`` only for its check that a server is there (skip, or fail under CI): the
    benchmark makes its own scratch database on the server, through the server's URL."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _tiny_run(capsys, PG_URL)
