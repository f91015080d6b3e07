"""The outbox benchmark (bench/outbox.py) keeps working: a tiny run queues its notices, the
delivery worker sends every one of them (the benchmark checks the SMTP server received each
twice, once from smtplib and once from the worker, and raises otherwise) and it prints both rates
and their ratio."""

from __future__ import annotations

import re
import tempfile

import pytest

from bench import outbox
from tests.conftest import PG_URL

NOTICES = 100  # two copies of each of the benchmark's 50 reports' notices


def _tiny_run(capsys, database_url: str | None = None) -> None:
    outbox.main(["--notices", str(NOTICES)] + (["--database-url", database_url] if database_url else []))
    out = capsys.readouterr().out
    found = re.search(r"^(\w+), (\d+) notices: smtplib loop (\d+)/s, delivery worker (\d+)/s, "
                      r"ratio ([\d.]+)$", out, re.MULTILINE)
    assert found, out
    dialect, notices, baseline, worker, ratio = found.groups()
    assert dialect == ("postgresql" if database_url else "sqlite")
    assert int(notices) == NOTICES
    assert int(baseline) > 0 and int(worker) > 0 and float(ratio) > 0, out


@pytest.mark.timeout(120)
def test_a_tiny_run_delivers_every_notice(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's database goes here
    _tiny_run(capsys)


@pytest.mark.timeout(120)
def test_a_tiny_run_on_postgresql(capsys, monkeypatch, tmp_path, pg_database):
    """``pg_database`` only for its check that a server is there (skip, or fail under CI): the
    benchmark makes its own scratch database on the server, through the server's URL."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _tiny_run(capsys, PG_URL)
