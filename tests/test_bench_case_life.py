"""The case-life benchmark (bench/case_life.py) keeps working: a smoke run on SQLite gives its
two figures, positive, and counts the statements the cost test counts."""

from __future__ import annotations

import tempfile

import pytest

from bench import case_life
from tanggap.demo import placeholder
from tests.test_case_life_cost import _life


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_smoke_run_gives_the_case_life_figures(services, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's database goes here
    notes: list[str] = []
    timed, statements = case_life.figures("smoke", None, notes)
    assert timed.unit == "ms" and timed.value > 0 and timed.baseline_value > 0
    assert timed.ratio_target == case_life.RATIO_TARGET
    assert statements.unit == "statements" and statements.target == case_life.STATEMENT_TARGET
    assert statements.value == sum(_life(services).statements().values())
    assert notes  # a smoke run says its times mean nothing


def test_the_raw_baseline_runs_the_steps_the_app_sent_to_the_end(services):
    app = case_life.AppLife.with_cast(services)
    app.life()  # a step of the demo plan that drifted from the process raises here
    assert [task for task, _values in app.filled] == [task for task, _values in case_life.life_steps()]
    assert not any(placeholder(v) for _task, values in app.filled for v in values.values())
    raw = case_life.RawLife(services, app.filled)
    raw.life()  # and here
