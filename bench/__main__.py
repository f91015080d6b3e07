"""All the benchmarks in one run: ``python -m bench [--quick | --full]``.

Each benchmark module in ``SUITES`` has ``figures(profile, database_url, notes)``: it measures on
the database of ``database_url`` (None: a new SQLite file), each figure with the baseline measured
in the same run, and returns the figures (appending to ``notes`` what a reader of the results needs
to know). The run prints the table and writes ``bench/RESULTS.md``.

    python -m bench --quick                  a few minutes: small sizes, few rounds
    python -m bench --full                   the 1M-case sizes (most of an hour)
    python -m bench --smoke                  tiny sizes, one round (the test suite runs this)
    python -m bench --only queries,case_life
    python -m bench --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

PostgreSQL: the server of ``--database-url``, else of ``TANGGAP_BENCH_POSTGRES`` (default the local
test server); each benchmark makes its own scratch database there and drops it afterwards.
``--sqlite-only`` skips it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from pathlib import Path

from bench.report import PROFILES, Figure, command_line, section, table, write_results

# The benchmark modules, in the order of the results (each a module of this package).
SUITES = ("queries", "case_life", "http_load", "memory")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).with_name("RESULTS.md")


def postgres_reachable(url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure to connect means: no PostgreSQL here
        return False
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="profile", action="store_const", const="quick")
    size.add_argument("--full", dest="profile", action="store_const", const="full")
    size.add_argument("--smoke", dest="profile", action="store_const", const="smoke")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(SUITES)}")
    parser.add_argument("--database-url", help="the PostgreSQL server to measure on")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--results", type=Path, default=None,
                        help="where to write the results (default bench/RESULTS.md; --smoke writes none)")
    args = parser.parse_args(argv)
    profile = args.profile or "quick"
    assert profile in PROFILES
    suites = SUITES if not args.only else tuple(s.strip() for s in args.only.split(","))
    unknown = set(suites) - set(SUITES)
    if unknown:
        parser.error(f"--only: no benchmark {', '.join(sorted(unknown))} (there are {', '.join(SUITES)})")

    notes: list[str] = []  # for every suite's section
    databases: list[str | None] = [None]
    postgres = args.database_url or os.environ.get("TANGGAP_BENCH_POSTGRES") or DEFAULT_POSTGRES
    if args.sqlite_only:
        notes.append("PostgreSQL not measured (--sqlite-only).")
    elif postgres_reachable(postgres):
        databases.append(postgres)
    else:
        notes.append(f"PostgreSQL not measured: no server at {postgres.split('@')[-1]}.")

    figures: list[Figure] = []
    sections: dict[str, str] = {}
    for name in suites:
        module = importlib.import_module(f"bench.{name}")
        started, got, noted = time.time(), [], list(notes)
        for url in databases:
            begun = time.perf_counter()
            measured = module.figures(profile, url, noted)
            got += measured
            print(f"-- {name} on {'PostgreSQL' if url else 'SQLite'}: {len(measured)} figures, "
                  f"{time.perf_counter() - begun:.0f} s", flush=True)
        figures += got
        sections[name] = section(name, got, command_line(argv), started, noted)
    print(table(figures))
    for note in notes:
        print(f"note: {note}")
    target = args.results or (None if profile == "smoke" else RESULTS)
    if target is not None:
        write_results(target, sections, SUITES)
        print(f"written: {target}")
    return figures


if __name__ == "__main__":
    main()
