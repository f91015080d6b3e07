"""Reading what a benchmark printed: the smoke tests of bench/ check its figures are there and
plausible (never how fast they are)."""

from __future__ import annotations

import re


def table_rows(text: str, columns: int) -> list[list[float]]:
    """The lines of ``text`` that are a row of numbers, ``columns`` of them (a benchmark's table,
    one row per size)."""
    number = r"-?\d+(?:\.\d+)?"
    pattern = re.compile(rf"^\s*{number}(?:\s+{number}){{{columns - 1}}}\s*(?:\(.*\))?$")
    return [[float(x) for x in re.findall(number, line.split("(")[0])]
            for line in text.splitlines() if pattern.match(line)]

