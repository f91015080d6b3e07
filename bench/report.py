"""What every benchmark reports to ``python -m bench``: figures, each with the baseline measured in
the same run and the target it must meet, and the table and ``bench/RESULTS.md`` made of them."""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# How big a run is: "smoke" (tiny, one round: the test suite runs it so no benchmark breaks
# unnoticed), "quick" (a few minutes), "full" (the 1M-case sizes; most of an hour).
PROFILES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``baseline``/``baseline_value``: what it was measured against in the
    same run (ratio = value / baseline_value). ``target``: the value must be at most (``at_most``)
    or at least this; ``ratio_target``: the same for the ratio. None: no target, for information."""

    group: str  # e.g. "queries (PostgreSQL)"
    name: str  # e.g. "inbox, coordinator, p95 at 1M"
    value: float
    unit: str  # "ms", "req/s", "statements", "MiB", "x"
    baseline: str | None = None
    baseline_value: float | None = None
    target: float | None = None
    ratio_target: float | None = None
    at_most: bool = True  # the targets are upper bounds (False: lower bounds, e.g. req/s)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value

    def _meets(self, value: float | None, bound: float | None) -> bool | None:
        if bound is None or value is None:
            return None
        return value <= bound if self.at_most else value >= bound

    @property
    def met(self) -> bool | None:
        """True/False against the targets it has, None when it has none."""
        checks = [c for c in (self._meets(self.value, self.target), self._meets(self.ratio, self.ratio_target))
                  if c is not None]
        return all(checks) if checks else None


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``samples``, interpolated between ranks."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[min(98, max(0, round(q) - 1))]


def interleaved(measured: Callable[[], object], baseline: Callable[[], object], rounds: int,
                warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time ``measured`` and ``baseline`` alternately, ``rounds`` times each (after ``warmup``
    untimed calls of each), so that a noisy neighbour on the shared machine slows both alike.
    Milliseconds per call."""
    for _ in range(warmup):
        measured()
        baseline()
    ours, theirs = [], []
    for i in range(rounds):
        pair = ((ours, measured), (theirs, baseline)) if i % 2 == 0 else ((theirs, baseline), (ours, measured))
        for samples, fn in pair:
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
    return ours, theirs


def machine() -> str:
    """The machine the figures come from, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    import sqlite3

    return (f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def _target(f: Figure) -> str:
    sign = "≤" if f.at_most else "≥"
    parts = []
    if f.target is not None:
        parts.append(f"{sign} {_number(f.target, f.unit)}")
    if f.ratio_target is not None:
        parts.append(f"ratio {sign} {f.ratio_target:g}")
    return ", ".join(parts)


def _verdict(f: Figure) -> str:
    return {True: "met", False: "NOT met", None: ""}[f.met]


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table, grouped."""
    lines = []
    group = None
    for f in figures:
        if f.group != group:
            group = f.group
            lines += ["", f"### {group}", "",
                      "| figure | value | baseline (same run) | ratio | target | |",
                      "|---|---:|---|---:|---|---|"]
        base = f"{f.baseline}: {_number(f.baseline_value, f.unit)}" if f.baseline else ""
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
        name = f"{f.name} ({f.note})" if f.note else f.name
        lines.append(f"| {name} | {_number(f.value, f.unit)} | {base} | {ratio} | {_target(f)} | {_verdict(f)} |")
    return "\n".join(lines).lstrip("\n")


HEADER = """# Benchmark results

Written by `python -m bench`. Every ratio is against a baseline measured in the same run,
interleaved with the figure it divides (raw SpiffWorkflow for a case life, the 10k-case database
for growth, a trivial route under the same server settings for HTTP), on the machine named in
each section: a shared machine, so absolute times vary from run to run more than the ratios do.
A run of some of the benchmarks (`--only`) rewrites their sections and keeps the others.
"""
_SECTION = re.compile(r"<!-- suite: (\w+) -->\n.*?<!-- end: \1 -->\n", re.DOTALL)


def section(suite: str, figures: list[Figure], command: str, started: float, notes: list[str]) -> str:
    """One benchmark's part of ``bench/RESULTS.md``."""
    minutes = (time.time() - started) / 60
    lines = [f"<!-- suite: {suite} -->", f"## {suite}", "",
             f"- machine: {machine()}",
             f"- command: `{command}`",
             f"- run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {minutes:.0f} min", "",
             table(figures), ""]
    if notes:
        lines += [f"- {n}" for n in notes] + [""]
    return "\n".join(lines) + f"<!-- end: {suite} -->\n"


def write_results(path: Path, sections: dict[str, str], order: tuple[str, ...]) -> None:
    """``path`` with the ``sections`` (suite -> text) written and the other suites' kept, in ``order``."""
    kept = {m.group(1): m.group(0) for m in _SECTION.finditer(path.read_text())} if path.exists() else {}
    kept.update(sections)
    path.write_text(HEADER + "\n" + "\n".join(kept[s] for s in order if s in kept))


def command_line(argv: list[str] | None = None) -> str:
    """The command that ran, as a reader would type it."""
    return " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
