"""bench/engine_step.py runs: its cases start as a submitted report's does and reach the end."""

from __future__ import annotations

import tempfile

from bench import case_life, engine_step


def test_a_tiny_run_measures_every_stage(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the case life's database goes here
    rows = engine_step.main(["--rounds", "1"])
    assert [r[0] for r in rows][:2] == ["triage", "disposition"] and len(rows) == len(case_life.LIFE) + 1
    assert all(ours > 0 and theirs > 0 and state < full for _s, ours, theirs, state, full in rows)
    assert "median speed-up" in capsys.readouterr().out
