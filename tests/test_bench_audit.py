"""The audit benchmark (bench/audit.py) keeps working: its bulk fill writes exactly the rows
``audit.append`` writes, and a tiny run prints its figures with a verified log."""

from __future__ import annotations

import re
import tempfile

import pytest
from sqlalchemy import select

from bench import audit as bench_audit
from tests.bulk import clone_case
from workflow.store import audit
from workflow.store.db import WRITE_OPTION
from workflow.store.models import Case, CaseEvent, LogPending


def test_the_fill_writes_the_rows_audit_append_writes(world, services):
    sub = world.report()
    clone_case(services, sub.case_id, 2)
    with services.reading() as session:
        bulk_case, app_case = session.scalars(select(Case.id).where(Case.id != sub.case_id).order_by(Case.id))
    templates = bench_audit.event_templates(services, sub.case_id)
    at = services.clock.now()
    (values, key_id, signature), = bench_audit.chain_rows(services.audit_keys, [(app_case, 1)], templates, at)

    with services.sessions() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        event = audit.append(session, case_id=app_case, occurred_at=at,
                             **bench_audit._as_append_arguments(templates[0]))
        session.commit()
        pending = session.scalar(select(LogPending).where(LogPending.case_event_id == event.id))
        written = {c.key: getattr(event, c.key) for c in CaseEvent.__table__.columns if c.key != "id"}
    assert values == written
    assert (key_id, signature) == (pending.key_id, pending.signature)  # Ed25519 signatures are deterministic
    assert bulk_case != app_case


def _figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"no {pattern!r} in the benchmark's output:\n{text}"
    return float(found.group(1))


@pytest.mark.slow
def test_a_tiny_run_prints_its_figures_and_a_verified_log(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's databases go here
    bench_audit.main(["--events", "200", "--rounds", "1", "--per-transaction", "1,10", "--verify-events", "2000"])
    out = capsys.readouterr().out
    assert re.search(r"machine: \d+ cores, Python [\d.]+, SQLite", out)
    assert _figure(r"ratio \(signed\+log / unsigned\): ([\d.]+) at 1/transaction", out) > 0
    assert _figure(r", ([\d.]+) at 10/transaction", out) > 0
    assert _figure(r"verify, (\d+) events in the log", out) >= 2000
    for check in ("chains", "log, signatures vouched", "log, each signature"):
        line = re.search(rf"^{re.escape(check)}.*?\s([\d.]+)\s+(\d+)\s+(\d+)(  \(|$)", out, re.MULTILINE)
        assert line, f"no figures for {check!r}:\n{out}"
        seconds, rate, problems = float(line.group(1)), int(line.group(2)), int(line.group(3))
        assert seconds >= 0 and rate > 0 and problems == 0, line.group(0)
    assert _figure(r"tanggap audit verify over \d+ events: ([\d.]+) s", out) > 0
    assert "problems: 0" in out and "PROBLEM" not in out
