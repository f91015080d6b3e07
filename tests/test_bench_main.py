"""``python -m bench``: runs the benchmarks asked for, prints their table and writes their
sections of the results, keeping the sections of the benchmarks it did not run."""

from __future__ import annotations

import tempfile

import pytest

from bench import __main__ as bench_main
from bench.report import Figure, section, write_results


def test_a_run_rewrites_its_sections_and_keeps_the_others(tmp_path):
    results = tmp_path / "RESULTS.md"
    figure = Figure(group="g", name="a figure", value=12.0, unit="ms", baseline="base", baseline_value=10.0,
                    target=20.0, ratio_target=1.1)
    write_results(results, {"queries": section("queries", [figure], "python -m bench --only queries", 0.0, []),
                            "memory": section("memory", [figure], "python -m bench --only memory", 0.0, ["n"])},
                  bench_main.SUITES)
    first = results.read_text()
    assert first.index("## queries") < first.index("## memory")
    assert "| a figure | 12.0 ms | base: 10.0 ms | 1.20× | ≤ 20.0 ms, ratio ≤ 1.1 | NOT met |" in first
    write_results(results, {"queries": section("queries", [], "python -m bench --only queries --full", 0.0, [])},
                  bench_main.SUITES)
    second = results.read_text()
    assert "--only queries --full" in second and "--only memory`" in second and second.count("## queries") == 1
    assert "a figure" in second.split("## memory")[1]  # the memory section as it was


def test_an_unknown_benchmark_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench_main.main(["--smoke", "--only", "nothing"])
    assert "no benchmark nothing" in capsys.readouterr().err


@pytest.mark.timeout(300)
def test_a_smoke_run_writes_the_results_of_what_it_ran(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    results = tmp_path / "RESULTS.md"
    figures = bench_main.main(["--smoke", "--only", "case_life", "--sqlite-only", "--results", str(results)])
    text = results.read_text()
    assert figures and all(f.value > 0 for f in figures)
    assert "## case_life" in text and "PostgreSQL not measured (--sqlite-only)." in text
    assert "machine: " in text
    assert "command: `python -m bench --smoke --only case_life --sqlite-only --results" in text
