"""Engine step cost: Tanggap's state-only serialization against the library's full serializer.

For a case waiting at each stage, time load + save (the part of every command that touches the
serialized workflow) both ways, in the same run, and print the ratio. Also the stored bytes.

    .venv/bin/python -m bench.engine_step [--rounds 200]

The workflows start as a submitted report's case does (``start_variables``, the deployment's
defaults) and take the case-life benchmark's steps (``bench.case_life``: the demo plan's), each
sending every field of its form, as the form's cleaning does.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timedelta, timezone

from bench.case_life import REPORT, AppLife
from bench.timing import median_ms
from workflow.clock import ManualClock
from workflow.commands.reports import start_variables
from workflow.config import REPO_ROOT, Settings
from workflow.engine.definition import load_definition
from workflow.engine.runtime import ProcessEngine
from workflow.engine.serialization import dump_state, load_state, serializer
from workflow.vocabulary import Channel


def sent_steps() -> list[tuple[str, dict]]:
    """The case life's steps as the app sends them (``bench.case_life``: the demo plan's, its
    placeholders filled by a case life on a new SQLite database)."""
    app = AppLife.on(None)
    try:
        app.life()
        return app.filled
    finally:
        app.services.dispose()


def workflows(engine, clock, settings: Settings, steps: list[tuple[str, dict]]):
    """One workflow per stage, each a step further along; started with the variables a
    submitted report starts its case with (``start_variables``), each step's form sent with
    every field (as the form's cleaning does)."""
    wf = engine.start(start_variables(settings, case_number="2026-000001", category=REPORT["category"],
                                      area=REPORT["area"], channel=Channel.WEB))
    out = [(engine.snapshot(wf).main_task.name, dump_state(wf))]
    for name, values in steps:
        clock.advance(timedelta(hours=1))
        task = engine.snapshot(wf).main_task
        if task is None or task.name != name:
            raise LookupError(f"engine step: the step completes {name}, the case is at {task.name if task else None}")
        form = engine.definition.task(name).form_key
        engine.complete(wf, task.task_id, {**{f.name: None for f in engine.definition.forms[form].fields}, **values})
        main = engine.snapshot(wf).main_task
        out.append((main.name if main else "closed", dump_state(wf)))
    return out


def measure(rounds: int) -> list[tuple[str, float, float, int, int]]:
    """(stage, state-only ms, full ms, state bytes, full bytes) for a case at each stage."""
    definition = load_definition(REPO_ROOT / "bpmn")
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
    engine = ProcessEngine(definition, clock)
    specs = (definition.spec, definition.subprocess_specs)
    full = serializer()
    rows = []
    for stage, state in workflows(engine, clock, Settings.from_env({}), sent_steps()):
        wf = load_state(specs, state, engine.script_engine)
        full_json = full.serialize_json(wf)

        def state_only(state=state):
            dump_state(load_state(specs, state, engine.script_engine))

        def baseline(full_json=full_json):
            full.serialize_json(full.deserialize_json(full_json))

        rows.append((stage, median_ms(state_only, rounds), median_ms(baseline, rounds), len(state), len(full_json)))
    return rows



def main(argv: list[str] | None = None) -> list[tuple[str, float, float, int, int]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    rows = measure(args.rounds)
    print(f"{'stage':<18}{'state-only ms':>14}{'full ms':>10}{'ratio':>8}{'state KB':>10}{'full KB':>9}")
    for stage, ours, theirs, state_bytes, full_bytes in rows:
        print(f"{stage:<18}{ours:>14.2f}{theirs:>10.2f}{theirs / ours:>8.1f}"
              f"{state_bytes / 1024:>10.1f}{full_bytes / 1024:>9.1f}")
    print(f"median speed-up of load+save over the library's full serializer: "
          f"{statistics.median(theirs / ours for _s, ours, theirs, _a, _b in rows):.1f}x")
    return rows


if __name__ == "__main__":
    main()
