"""The cost of the signed audit log: events appended per second with signing and the Merkle
log's worker, against the unsigned append of before (commit 579df51), in the same run; and the
time ``tanggap audit verify`` takes over a large log (1M events by default).

Append. Both sides write the same events (the fields of a real case's events, cycled) through
the same transactions: lock the case (its ``version`` moves, as every command does), append one
event or several, commit; each side to cases of its own, so that every chain is whole.

* unsigned: :func:`unsigned_append`, ``audit.append`` as it was at commit 579df51, copied here
  (the app has no switch to leave signing out): hash and insert the event, no signature and no
  ``log_pending`` row;
* signed + log: today's ``audit.append`` (hash, Ed25519 signature, ``log_pending`` row), and
  after every slice of events the log's worker (``LogKeeper.run_once``: the slice into the
  Merkle log, then a signed tree head), its time included.

The sides alternate (unsigned, signed, unsigned, ...) over the rounds, so that a noisy
neighbour slows both alike; each side's figure is the median over the rounds, and the ratio
signed / unsigned is the figure (target >= 0.7). The spread is the lowest and highest of the
rounds' own ratios; "log worker" the share of the signed side's time ``run_once`` took.

Verify. A second database is filled fast but with exactly what the app writes: case rows (a
real case's report and case row, copied, without its workflow state, which verifying never
reads), their events hash-chained and signed as ``audit.append`` does (in worker processes),
with their ``log_pending`` rows, in bulk inserts; the log's worker (``LogKeeper``, the app's
code) then moves them into the log and signs a tree head every four chunks. Then the three
checks of ``tanggap audit verify`` are timed: the chains (``audit.verify``, the security log),
the log (``merkle_log.verify``: signatures vouched for by the latest matching tree head), and
the log with ``--each-signature`` (every event's signature, in worker processes). Target for 1M
events: <= 60 s. ``--profile`` prints what each check spends its time in (cProfile).

    .venv/bin/python -m bench.audit [--events 2000] [--rounds 5] [--per-transaction 1,10]
        [--verify-events 1000000] [--database-url URL] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bench.dashboard import real_case
from bench.setup import fresh_services
from tests.bulk import clone_case
from workflow import tanggap_verify as tv
from workflow.signing import AuditKeys
from workflow.store import audit, merkle_log, security_log
from workflow.store.audit import GENESIS, ActorRef, canonical_json, compute_hash, row_payload
from workflow.store.db import WRITE_OPTION
from workflow.store.models import Case, CaseEvent, LogPending, Report

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
CASES = 100  # cases per side of the append benchmark: the events go round them
SLICE = 500  # events appended between two rounds of the log's worker
FILL_CASES = 2000  # cases whose events are made and inserted together (their events interleave)
FILL_STEP = timedelta(seconds=30)  # between two events of the filled log
KEEPER_BATCH = 20000  # pending events the log's worker moves per transaction while filling
EVENT_FIELDS = ("actor_user_id", "actor_name", "actor_role", "action", "task_name", "from_agency", "to_agency",
                "from_task", "to_task", "reason", "data")


# -- the unsigned append of before ------------------------------------------------------------

def unsigned_append(session: Session, *, case_id: int, actor: ActorRef, action: str, occurred_at: datetime,
                    task_name: str | None = None, from_agency: str | None = None,
                    to_agency: str | None = None, from_task: str | None = None, to_task: str | None = None,
                    reason: str | None = None, data: dict | None = None) -> CaseEvent:
    """THE BASELINE: ``audit.append`` exactly as it was at commit 579df51, before events were
    signed (no ``sign_leaf``, no ``log_pending`` row); copied, because the app has no switch to
    leave signing out. Only the name and this docstring differ."""
    heads = session.info.setdefault("audit_heads", {})
    if case_id not in heads:
        last = session.execute(
            select(CaseEvent.seq, CaseEvent.hash).where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.seq.desc()).limit(1)).first()
        heads[case_id] = (last.seq, last.hash) if last else (0, GENESIS)
    last_seq, prev_hash = heads[case_id]
    seq = last_seq + 1
    event = CaseEvent(
        case_id=case_id, seq=seq, occurred_at=occurred_at, actor_user_id=actor.user_id,
        actor_name=actor.name, actor_role=actor.role, action=action, task_name=task_name,
        from_agency=from_agency, to_agency=to_agency, from_task=from_task, to_task=to_task,
        reason=reason, data=canonical_json(data or {}), prev_hash=prev_hash)
    event.hash = compute_hash(prev_hash, row_payload(event))
    session.add(event)
    heads[case_id] = (seq, event.hash)
    case = session.get(Case, case_id)  # already loaded and locked by the caller
    case.event_count = seq
    return event


# -- the append benchmark ---------------------------------------------------------------------

def event_templates(services, case_id: int) -> list[dict]:
    """The fields of a real case's events, in chain order: what the benchmark's events carry."""
    with services.reading() as session:
        rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
        return [{name: getattr(e, name) for name in EVENT_FIELDS} for e in rows]


def _as_append_arguments(template: dict) -> dict:
    values = {k: v for k, v in template.items() if k not in ("actor_user_id", "actor_name", "actor_role", "data")}
    values["actor"] = ActorRef(template["actor_user_id"], template["actor_name"], template["actor_role"])
    values["data"] = json.loads(template["data"])
    return values


def _transaction(services, case_id: int, events: list[dict], append: Callable, now: datetime) -> None:
    """One command's shape: the case locked (its version moved), its events appended, commit."""
    with services.sessions() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        case = session.get(Case, case_id)
        case.version = case.version + 1
        case.updated_at = now
        session.flush()
        for event in events:
            append(session, case_id=case_id, occurred_at=now, **event)
        session.commit()


def append_events(services, cases: list[int], count: int, per_transaction: int, templates: list[dict],
                  append: Callable, keeper: merkle_log.LogKeeper | None = None) -> tuple[float, float]:
    """Append ``count`` events, ``per_transaction`` at a time, round the cases; with ``keeper``,
    the log's worker runs after every :data:`SLICE` events. The seconds it took, and the
    seconds of those the worker took."""
    arguments = [_as_append_arguments(t) for t in templates]
    now = services.clock.now()
    started = time.perf_counter()
    done = since_keeper = 0
    in_keeper = 0.0
    for n in range(math.ceil(count / per_transaction)):
        size = min(per_transaction, count - done)
        events = [arguments[(done + k) % len(arguments)] for k in range(size)]
        _transaction(services, cases[n % len(cases)], events, append, now)
        done += size
        since_keeper += size
        if keeper is not None and (since_keeper >= SLICE or done == count):
            began = time.perf_counter()
            keeper.run_once()
            in_keeper += time.perf_counter() - began
            since_keeper = 0
    return time.perf_counter() - started, in_keeper


def append_bench(services, templates: list[dict], case_id: int, events: int, rounds: int,
                 shapes: list[int]) -> list[dict]:
    """Per shape (events per transaction): each side's median rate, the ratio, the spread of
    the rounds' ratios, and the share of the signed side's time its log worker took."""
    clone_case(services, case_id, 2 * CASES)
    with services.reading() as session:
        clones = list(session.scalars(select(Case.id).where(Case.id != case_id).order_by(Case.id)))
    unsigned_cases, signed_cases = clones[:CASES], clones[CASES:]
    keeper = merkle_log.LogKeeper(services)
    keeper.run_once()  # the real case's events: the log starts caught up
    append_events(services, unsigned_cases, 50, 1, templates, unsigned_append)  # warm both paths once
    append_events(services, signed_cases, 50, 1, templates, audit.append, keeper)
    results = []
    for shape in shapes:
        unsigned, signed, worker = [], [], []
        for _ in range(rounds):
            seconds, _ = append_events(services, unsigned_cases, events, shape, templates, unsigned_append)
            unsigned.append(events / seconds)
            seconds, in_keeper = append_events(services, signed_cases, events, shape, templates, audit.append,
                                               keeper)
            signed.append(events / seconds)
            worker.append(in_keeper / seconds)
        ratios = [s / u for s, u in zip(signed, unsigned)]
        results.append({"shape": shape, "unsigned": statistics.median(unsigned), "signed": statistics.median(signed),
                        "ratio": statistics.median(signed) / statistics.median(unsigned),
                        "low": min(ratios), "high": max(ratios), "worker": statistics.median(worker)})
    with services.reading() as session:  # both sides wrote whole chains; the signed side all logged
        breaks = audit.verify(session)
        pending = session.scalar(select(LogPending.id).limit(1))
    if breaks or pending is not None:
        raise SystemExit(f"the append benchmark left broken chains ({breaks[:3]}) or unlogged events")
    return results


# -- filling a large log ----------------------------------------------------------------------

_WORKER_KEYS: AuditKeys | None = None


def _load_key(pem: str) -> None:
    global _WORKER_KEYS
    _WORKER_KEYS = AuditKeys.from_pem(pem)


def chain_rows(keys: AuditKeys, cases: list[tuple[int, int]], templates: list[dict], start: datetime
               ) -> list[tuple[dict, str, bytes]]:
    """The events of ``cases`` (case id, chain length), as ``audit.append`` writes them: hashed
    into each case's chain and signed, with their signature. The cases advance together (seq 1
    of each, then seq 2 ...), one :data:`FILL_STEP` apart, so their events interleave in the
    table and in the log as a city's do."""
    rows, prev, n = [], {}, 0
    for seq in range(1, max(length for _, length in cases) + 1):
        for case_id, length in cases:
            if seq > length:
                continue
            template = templates[(seq - 1) % len(templates)]
            values = {**template, "case_id": case_id, "seq": seq, "occurred_at": start + n * FILL_STEP,
                      "prev_hash": prev.get(case_id, GENESIS)}
            payload = row_payload(values)
            values["hash"] = compute_hash(values["prev_hash"], payload)
            rows.append((values, keys.key_id, keys.sign(tv.event_message(
                audit.case_leaf(payload, values["prev_hash"], values["hash"])))))
            prev[case_id] = values["hash"]
            n += 1
    return rows


def _chain_rows_in_worker(cases, templates, start):
    return chain_rows(_WORKER_KEYS, cases, templates, start)


def _insert_cases(services, case_id: int, lengths: list[int]) -> list[int]:
    """Copies of the real case's report and case row, one per chain length (``event_count``)."""
    with services.sessions() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        case = session.get(Case, case_id)
        report = {c.key: getattr(case.report, c.key) for c in Report.__table__.columns if c.key != "id"}
        row = {c.key: getattr(case, c.key) for c in Case.__table__.columns if c.key not in ("id", "report_id", "number")}
        ids = []
        for first in range(0, len(lengths), FILL_CASES):
            chunk = lengths[first:first + FILL_CASES]
            report_ids = session.scalars(insert(Report).returning(Report.id, sort_by_parameter_order=True),
                                         [{**report, "tracking_hash": f"fill-{first + k:059d}"}
                                          for k in range(len(chunk))]).all()
            ids += session.scalars(insert(Case).returning(Case.id, sort_by_parameter_order=True),
                                   [{**row, "report_id": rid, "number": f"F-{first + k:09d}", "event_count": length}
                                    for k, (rid, length) in enumerate(zip(report_ids, chunk))]).all()
        session.commit()
    return ids


def _insert_events(services, rows: list[tuple[dict, str, bytes]]) -> None:
    with services.sessions() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        event_ids = session.scalars(insert(CaseEvent).returning(CaseEvent.id, sort_by_parameter_order=True),
                                    [values for values, _, _ in rows]).all()
        session.execute(insert(LogPending), [{"case_event_id": event_id, "key_id": key_id, "signature": signature}
                                             for event_id, (_, key_id, signature) in zip(event_ids, rows)])
        session.commit()


def _chunks(cases: list[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    for first in range(0, len(cases), FILL_CASES):
        yield cases[first:first + FILL_CASES]


def fill(services, case_id: int, count: int, templates: list[dict]) -> float:
    """Bring the log to ``count`` events (the real case's and those of new cases of the same
    length): see the module's docstring. The seconds it took."""
    started = time.perf_counter()
    with services.reading() as session:
        have = session.scalar(select(func.count()).select_from(CaseEvent))
    missing = max(0, count - have)
    per_case = len(templates)
    lengths = [per_case] * (missing // per_case) + ([missing % per_case] if missing % per_case else [])
    cases = list(zip(_insert_cases(services, case_id, lengths), lengths))
    keeper = merkle_log.LogKeeper(services, batch=KEEPER_BATCH)
    start = NOW - missing * FILL_STEP
    chunks = list(_chunks(cases))
    starts, offset = [], 0
    for chunk in chunks:
        starts.append(start + offset * FILL_STEP)
        offset += sum(length for _, length in chunk)
    if len(chunks) <= 1:  # small: not worth starting processes
        for chunk, at in zip(chunks, starts):
            _insert_events(services, chain_rows(services.audit_keys, chunk, templates, at))
    else:
        with ProcessPoolExecutor(os.cpu_count(), mp_context=get_context("spawn"), initializer=_load_key,
                                 initargs=(services.settings.audit_key,)) as pool:
            futures = [pool.submit(_chain_rows_in_worker, chunk, templates, at)
                       for chunk, at in zip(chunks[:2], starts[:2])]
            for k in range(len(chunks)):  # two chunks made ahead while one is inserted
                rows = futures[k].result()
                futures[k] = None
                if k + 2 < len(chunks):
                    futures.append(pool.submit(_chain_rows_in_worker, chunks[k + 2], templates, starts[k + 2]))
                _insert_events(services, rows)
                if k % 4 == 3:
                    keeper.run_once()  # a tree head every few chunks, as the worker does every few minutes
    keeper.run_once()
    engine = services.engine
    if engine.dialect.name == "postgresql":  # after a bulk load (autovacuum does it on a live system)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


# -- verifying it -----------------------------------------------------------------------------

def _timed(fn: Callable[[], list[str]], profile: bool) -> tuple[float, list[str], str | None]:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    problems = fn()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    text = None
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        text = out.getvalue()
    return seconds, problems, text


def verify_bench(services, profile: bool) -> tuple[list[dict], int, list[str]]:
    """The checks of ``tanggap audit verify``, each timed: rows of (check, seconds, problems)."""
    keys = services.audit_keys
    sizes = {}

    def chains() -> list[str]:
        with services.reading() as session:
            return ([str(b) for b in audit.verify(session)]
                    + [f"security log: seq {b.seq}: {b.problem}" for b in security_log.verify(session)])

    def log(each_signature: bool) -> Callable[[], list[str]]:
        def run() -> list[str]:
            with services.reading() as session:
                report = merkle_log.verify(session, keys, each_signature=each_signature)
            sizes[each_signature] = report
            return [str(p) for p in report.problems]
        return run

    rows, profiles = [], []
    for name, fn in (("chains (audit.verify, security log)", chains),
                     ("log, signatures vouched by the heads", log(False)),
                     ("log, each signature (process pool)", log(True))):
        seconds, problems, text = _timed(fn, profile)
        rows.append({"check": name, "seconds": seconds, "problems": problems})
        if text:
            profiles.append(f"-- {name}\n{text}")
    vouched, each = sizes[False], sizes[True]
    rows[1]["note"] = f"{vouched.heads_checked} heads, {vouched.signatures_checked} signatures one by one"
    rows[2]["note"] = f"{each.signatures_checked} signatures"
    return rows, vouched.size, profiles


# -- the report -------------------------------------------------------------------------------

def machine(engine) -> str:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            database = "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar_one()
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {database}; load average {load}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per side and round of the append benchmark")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-transaction", default="1,10", help="events per transaction, one figure each")
    parser.add_argument("--verify-events", type=int, default=1_000_000, help="events in the log to verify (0: skip)")
    parser.add_argument("--database-url", help="a PostgreSQL server (a scratch database is made); default: SQLite")
    parser.add_argument("--profile", action="store_true", help="print where each verify check spends its time")
    args = parser.parse_args(argv)
    shapes = [int(x) for x in args.per_transaction.split(",")]

    failed = False
    if args.events > 0:
        services = fresh_services(args.database_url, NOW - timedelta(days=2))
        case_id = real_case(services)
        services.clock.set(NOW)
        templates = event_templates(services, case_id)
        print(machine(services.engine), flush=True)
        results = append_bench(services, templates, case_id, args.events, args.rounds, shapes)
        services.dispose()
        print(f"append, {args.events} events per side and round, {args.rounds} rounds (median events/s)")
        print(f"{'events/transaction':>20}{'unsigned':>10}{'signed+log':>12}{'ratio':>8}{'rounds':>13}"
              f"{'log worker':>12}")
        for r in results:
            print(f"{r['shape']:>20}{r['unsigned']:>10.0f}{r['signed']:>12.0f}{r['ratio']:>8.2f}"
                  f"{r['low']:>8.2f}-{r['high']:.2f}{r['worker']:>11.0%}")
        print("append ratio (signed+log / unsigned): " + ", ".join(
            f"{r['ratio']:.2f} at {r['shape']}/transaction" for r in results) + " (target >= 0.7)", flush=True)
    if args.verify_events > 0:
        services = fresh_services(args.database_url, NOW - timedelta(days=2))
        case_id = real_case(services)
        services.clock.set(NOW)
        templates = event_templates(services, case_id)
        print(machine(services.engine), flush=True)
        filled = fill(services, case_id, args.verify_events, templates)
        rows, size, profiles = verify_bench(services, args.profile)
        services.dispose()
        print(f"verify, {size} events in the log (filled in {filled:.0f} s)")
        print(f"{'check':<44}{'seconds':>9}{'events/s':>10}{'problems':>10}")
        for r in rows:
            print(f"{r['check']:<44}{r['seconds']:>9.1f}{size / r['seconds']:>10.0f}{len(r['problems']):>10}"
                  + (f"  ({r['note']})" if r.get("note") else ""))
        total = rows[0]["seconds"] + rows[1]["seconds"]
        each = rows[0]["seconds"] + rows[2]["seconds"]
        for r in rows:
            for problem in r["problems"][:5]:
                print(f"PROBLEM: {r['check']}: {problem}")
        failed = any(r["problems"] for r in rows)
        print(f"tanggap audit verify over {size} events: {total:.1f} s ({size / total:.0f} events/s), "
              f"with --each-signature {each:.1f} s (target <= 60 s for 1M); "
              f"problems: {sum(len(r['problems']) for r in rows)}")
        for text in profiles:
            print(text)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
