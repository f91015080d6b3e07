"""Engine step cost: Tanggap's state-only serialization against the library's full serializer.

For a case waiting at each stage, time load + save (the part of every command that touches the
serialized workflow) both ways, in the same run, and print the ratio. Also the stored bytes.

    .venv/bin/python -m bench.engine_step [--rounds 200]

The workflows start as a submitted report's case does (``start_variables``, the deployment's
defaults) and each step sends every field of its form, as the form's cleaning does.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timedelta, timezone

from bench.timing import median_ms
from workflow.clock import ManualClock
from workflow.commands.reports import start_variables
from workflow.config import REPO_ROOT, Settings
from workflow.engine.definition import load_definition
from workflow.engine.runtime import ProcessEngine
from workflow.engine.serialization import dump_state, load_state, serializer
from workflow.vocabulary import Channel

STEPS = [
    ("triage", {"decision": "valid", "reason": None, "duplicate_of": None, "corrected_category": None}),
    ("disposition", {"decision": "transfer", "transfer_to": "DPU", "reason": "bukan wewenang"}),
    ("disposition", {"decision": "accept", "transfer_to": None, "reason": None}),
    ("dispatch", {"team": "qr-mariso-1", "instructions": None}),
    ("field_work", None),
    ("verification", {"decision": "approve", "reason": None}),
    ("closure", {"closure_note": "selesai"}),
]


def workflows(engine, clock, settings: Settings):
    """One workflow per stage, each a step further along; started with the variables a
    submitted report starts its case with (``start_variables``), the forms' fields filled."""
    wf = engine.start(start_variables(settings, case_number="2026-000001", category="sampah", area="mariso",
                                      channel=Channel.WEB))
    out = [("triage", dump_state(wf))]
    for form, values in STEPS:
        clock.advance(timedelta(hours=1))
        task = engine.snapshot(wf).main_task
        if values is None:
            values = {"arrived_at": clock.now(), "action_taken": "diangkut", "after_photo": 1}
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
    for stage, state in workflows(engine, clock, Settings.from_env({})):
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
