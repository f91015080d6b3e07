"""bench/engine_step.py runs: its cases start as a submitted report's does and reach the end."""

from __future__ import annotations

from bench import engine_step


def test_a_tiny_run_measures_every_stage(capsys):
    rows = engine_step.main(["--rounds", "1"])
    assert [r[0] for r in rows][:2] == ["triage", "disposition"] and len(rows) == len(engine_step.STEPS) + 1
    assert all(ours > 0 and theirs > 0 and state < full for _s, ours, theirs, state, full in rows)
    assert "median speed-up" in capsys.readouterr().out
