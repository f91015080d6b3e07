"""Engine step cost: Tanggap's state-only serialization against the library's full serializer.

For a case waiting at each stage, time load + save (the part of every command that touches the
serialized workflow) both ways, in the same run, and print the ratio. Also the stored bytes.

    .venv/bin/python -m bench.engine_step [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timedelta, timezone

from bench.timing import median_ms
from workflow.clock import ManualClock
from workflow.config import REPO_ROOT
from workflow.engine.definition import load_definition
from workflow.engine.runtime import ProcessEngine
from workflow.engine.serialization import dump_state, load_state, serializer

STEPS = [
    ("triage", {"decision": "valid", "reason": None, "duplicate_of": None, "corrected_category": None}),
    ("disposition", {"decision": "transfer", "transfer_to": "DPU", "reason": "bukan wewenang"}),
    ("disposition", {"decision": "accept", "transfer_to": None, "reason": None}),
    ("dispatch", {"team": "qr-mariso-1", "instructions": None}),
    ("field_work", None),
    ("verification", {"decision": "approve", "reason": None}),
    ("closure", {"closure_note": "selesai"}),
]


def workflows(engine, clock):
    """One workflow per stage, each a step further along."""
    wf = engine.start({"case_number": "2026-000001", "category": "sampah", "area": "mariso",
                       "channel": "web", "transfer_count": 0, "rework_count": 0,
                       "reopen_count": 0, "dispute_window": "P7D", "closure_note": None})
    out = [("triage", dump_state(wf))]
    for _name, values in STEPS:
        clock.advance(timedelta(hours=1))
        task = engine.snapshot(wf).main_task
        if values is None:
            values = {"arrived_at": clock.now(), "action_taken": "diangkut", "after_photo": 1}
        engine.complete(wf, task.task_id, values)
        out.append((engine.snapshot(wf).main_task.name, dump_state(wf)))
    return out



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    definition = load_definition(REPO_ROOT / "bpmn")
    clock = ManualClock(datetime(2026, 11, 23, tzinfo=timezone.utc))
    engine = ProcessEngine(definition, clock)
    specs = (definition.spec, definition.subprocess_specs)
    full = serializer()

    print(f"{'stage':<18}{'state-only ms':>14}{'full ms':>10}{'ratio':>8}{'state KB':>10}{'full KB':>9}")
    ratios = []
    for stage, state in workflows(engine, clock):
        wf = load_state(specs, state, engine.script_engine)
        full_json = full.serialize_json(wf)

        def state_only():
            dump_state(load_state(specs, state, engine.script_engine))

        def baseline():
            full.serialize_json(full.deserialize_json(full_json))

        ours, theirs = median_ms(state_only, args.rounds), median_ms(baseline, args.rounds)
        ratios.append(theirs / ours)
        print(f"{stage:<18}{ours:>14.2f}{theirs:>10.2f}{theirs / ours:>8.1f}"
              f"{len(state) / 1024:>10.1f}{len(full_json) / 1024:>9.1f}")
    print(f"median speed-up of load+save over the library's full serializer: "
          f"{statistics.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
