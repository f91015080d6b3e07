"""The embedded server's process keeps at most two malloc arenas: with glibc's default (one per
thread that allocates, up to eight per core) its RSS grew under load with a thread per request,
though no Python object was kept (bench/memory.py)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tanggap import cli

pytestmark = pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallopt"), reason="glibc's malloc only")

THREADS = 8
PROGRAM = f"""
import ctypes, sys, threading
from tanggap.console import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas()
together = threading.Barrier({THREADS})
def work():
    kept = [bytearray(4096) for _ in range(64)]  # past Python's small-object allocator: malloc's
    together.wait()  # every thread alive, each with its arena, at once
threads = [threading.Thread(target=work) for _ in range({THREADS})]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def test_threads_that_allocate_share_two_arenas_once_limited():
    assert arenas("default") > 2  # what the limit is for: glibc gave each thread its own
    assert arenas("limited") <= 2


def test_tanggap_serve_limits_them_before_it_starts_anything(monkeypatch):
    calls = []

    def services(_ctx):  # the first thing serve builds: stop there
        calls.append("services")
        raise SystemExit(0)

    monkeypatch.setattr(cli, "limit_malloc_arenas", lambda: calls.append("limit"))
    monkeypatch.setattr(cli, "_services", services)
    CliRunner().invoke(cli.main, ["serve", "--no-worker"])
    assert calls == ["limit", "services"]
