"""The HTTP load benchmark (bench/http_load.py) keeps working: a tiny run, one round of the
Locust mix and of its /healthz baseline, gives positive figures, no unexpected answer, every
submission Locust saw accepted a case exactly once, and a database ``tanggap audit verify`` passes.
The embedded server on SQLite; gunicorn on PostgreSQL where a server is reachable (CI)."""

from __future__ import annotations

import importlib.util

import pytest

from bench import http_load
from tests.conftest import PG_URL

# looked up, not imported: Locust patches the standard library (gevent) when imported
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None,
                                reason="Locust, the benchmark's load generator, is not installed (.[test])")


def _check(figures, notes):
    by_name = {f.name.split(": ", 1)[1]: f for f in figures}
    assert by_name["mix, req/s"].value > 0 and by_name["mix, req/s"].baseline_value > 0, notes
    assert by_name["mix, p95"].value > 0 and by_name["mix, p95"].baseline_value > 0, notes
    assert by_name["unexpected errors"].value == 0, notes
    assert by_name["accepted submissions not a case exactly once"].value == 0, notes
    assert by_name["accepted submissions not a case exactly once"].note != "0 accepted", notes
    assert by_name["tanggap audit verify"].value == 0, notes
    assert not [n for n in notes if n.startswith("FAILED")], notes
    return by_name


@pytest.mark.slow
def test_a_tiny_run_on_the_embedded_server(tmp_path, monkeypatch):
    monkeypatch.setattr(http_load.tempfile, "tempdir", str(tmp_path))
    notes: list[str] = []
    figures = http_load.figures("smoke", None, notes)
    by_name = _check([f for f in figures if f.name.startswith("tanggap serve")], notes)
    assert by_name["mix, p99"].value >= by_name["mix, p95"].value


@pytest.mark.slow
def test_a_tiny_run_on_gunicorn_and_postgresql(tmp_path, monkeypatch, pg_database):
    """``pg_database``: skipped without a server (failed on CI); the benchmark makes its own
    scratch database on the server."""
    monkeypatch.setattr(http_load.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(http_load, "WORKER_COUNTS", (2,))  # one configuration is enough to keep it working
    notes: list[str] = []
    figures = http_load.figures("smoke", PG_URL, notes)
    _check(figures, notes)
