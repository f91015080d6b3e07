"""The memory benchmark (bench/memory.py) keeps working: a tiny run samples the RSS of the web
worker under the Locust mix, of the escalation worker firing timers and of the notice worker
sending notices, slice by slice, and every one of them did all its work. The embedded server on
SQLite; one gunicorn worker on PostgreSQL where a server is reachable (CI)."""

from __future__ import annotations

import importlib.util
import math

import pytest

from bench import memory
from tests.conftest import PG_URL

# looked up, not imported: Locust patches the standard library (gevent) when imported
needs_locust = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                  reason="Locust, the benchmark's load generator, is not installed (.[test])")


def _check(figures, notes):
    assert not [n for n in notes if n.startswith("FAILED")], notes
    for f in figures:
        assert not math.isnan(f.value) and f.baseline_value > 0, (f, notes)
        samples = f.note.split(": ", 1)[1].split(" MiB")[0].split(", ")
        assert len(samples) >= 2 and all(float(s) > 0 for s in samples), f.note


@pytest.mark.slow
@needs_locust
def test_a_tiny_run_of_the_embedded_server_and_the_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(memory.http_load.tempfile, "tempdir", str(tmp_path))
    notes: list[str] = []
    figures = memory.figures("smoke", None, notes)
    assert [f.name.split(":")[0] for f in figures] == [
        "tanggap serve (SQLite)", "escalation worker (SQLite)", "notice worker (SQLite)"]
    assert "300 timers fired" in figures[1].name and "300 notices sent" in figures[2].name
    _check(figures, notes)


@pytest.mark.slow
@needs_locust
def test_a_tiny_run_of_one_gunicorn_worker_on_postgresql(tmp_path, monkeypatch, pg_database):
    """``pg_database``: skipped without a server (failed on CI); the benchmark makes its own
    scratch database on the server."""
    monkeypatch.setattr(memory.http_load.tempfile, "tempdir", str(tmp_path))
    notes: list[str] = []
    figures = memory.web_worker("smoke", PG_URL, notes)
    assert figures[0].name.startswith("one gunicorn worker (PostgreSQL)")
    _check(figures, notes)
