"""The upload-memory benchmark (bench/uploads.py) keeps working: a tiny run (two uploads at
once) runs each scenario in its own process, every upload answers (the benchmark raises
otherwise), the pictures the form accepts are accepted and the decompression bombs refused, and
it prints the memory figures of each."""

from __future__ import annotations

import re
import tempfile

import pytest

from bench import uploads

PARALLEL = 2
ANSWERS = {"phone": "[302]", "largest": "[302]", "bombs": "[400]"}  # accepted: redirected to the status page


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_tiny_run_measures_every_scenario(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the pictures go here
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # and each scenario process's database
    uploads.main(["--parallel", str(PARALLEL)])
    out = capsys.readouterr().out
    assert out.startswith(f"{PARALLEL} uploads at once"), out
    rows = {found[0]: found[1:] for found in re.findall(
        r"^(\w+) +([\d.]+) +(\d+) +(\d+) +([\d.]+) +([\d.]+)  (\[[\d, ]+\])$", out, re.MULTILINE)}
    assert list(rows) == list(uploads.SCENARIOS), out
    for name, (file_mib, before, peak, vs_phone, seconds, answers) in rows.items():
        # seconds are printed to a tenth: a refusal of the bombs can take less than 0.05 s
        assert float(file_mib) > 0 and int(before) > 0 and float(seconds) >= 0, out
        assert int(peak) >= int(before) and float(vs_phone) > 0, out
        assert answers == ANSWERS[name], out
    assert rows["phone"][3] == "1.00", out  # the ordinary photos are the baseline
