"""What someone with the database's rights but without the audit key could try on the log's
worker itself (make it sign what they wrote, jam it, or make verification hang), and what the
worker and ``merkle_log.verify`` do instead. Most of these need only the app role's rights."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from tests import actions
from tests.helpers import insider
from workflow import tanggap_verify as tv
from workflow.store import audit, merkle_log
from workflow.store.models import CaseEvent, LogEntry, LogPending, LogState, TreeHead


@pytest.fixture
def logged(world):
    """A case with a few events, logged under a signed head."""
    sub = world.report()
    world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    merkle_log.LogKeeper(world.services).run_once(publish=True)
    return sub.case_id


def forge(conn, case_id: int) -> dict:
    """An event appended to the case's chain with a correct hash, as the key's absence allows."""
    last = dict(conn.execute(select(*CaseEvent.__table__.columns).where(CaseEvent.case_id == case_id)
                             .order_by(CaseEvent.seq.desc()).limit(1)).mappings().one())
    forged = {**last, "seq": last["seq"] + 1, "action": "case_closed", "actor_name": "citizen",
              "prev_hash": last["hash"]}
    del forged["id"]
    forged["hash"] = audit.compute_hash(last["hash"], audit.row_payload(forged))
    forged["id"] = conn.execute(CaseEvent.__table__.insert().values(forged).returning(CaseEvent.id)).scalar_one()
    conn.execute(text("UPDATE cases SET event_count = event_count + 1 WHERE id = :c"), {"c": case_id})
    return forged


def report(world):
    with world.services.reading() as session:
        return merkle_log.verify(session, world.services.audit_keys)


def test_the_worker_signs_no_unsigned_row_once_signed_events_are_logged(world, logged):
    with insider(world.services.engine) as conn:
        forged = forge(conn, logged)
        conn.execute(text("INSERT INTO log_pending (case_event_id) VALUES (:e)"), {"e": forged["id"]})
        # as if it were from before the log: the bound raised, the flag turned back
        conn.execute(text("UPDATE log_state SET legacy_pending_max = 10000000, backfill_closed = false"))
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert taken.logged == 0 and taken.backfilled == 0
    assert taken.rejected and "not one of the events from before the log" in taken.rejected[0]
    problems = [str(p) for p in report(world).problems]
    assert any(f"case {logged}, seq {forged['seq']}" in p and "inserted without the audit key" in p
               for p in problems), problems


def test_a_backfilled_entry_after_signed_ones_is_named(world, logged):
    with world.services.reading() as session:
        last = session.scalar(select(func.max(LogEntry.idx)))
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE log_entries SET backfilled = :t WHERE idx = :i"), {"t": True, "i": last})
    problems = [str(p) for p in report(world).problems]
    assert any(f"logged at index {last}, is marked as written before the log" in p for p in problems), problems


def test_the_worker_signs_no_head_over_an_entry_it_did_not_write(world, logged):
    """An entry put at the log's end with the leaf of a forged event (and a made-up signature)
    and the state moved on: the worker refuses to sign a head over it."""
    keeper = merkle_log.LogKeeper(world.services)
    world.do(actions.accept, world.dlh, logged)
    keeper.run_once()  # this worker now trusts the log as it wrote it
    with world.services.reading() as session:
        state = session.get(LogState, 1)
        size, roots = state.size, state.frontier
        heads = session.scalar(select(func.count()).select_from(TreeHead))
    with insider(world.services.engine) as conn:
        forged = forge(conn, logged)
        leaf = audit.case_leaf(audit.row_payload(forged), forged["prev_hash"], forged["hash"])
        frontier = tv.Frontier(size, [bytes.fromhex(roots[i:i + 64]) for i in range(0, len(roots), 64)])
        frontier.add(tv.leaf_hash(leaf))
        conn.execute(text("INSERT INTO log_entries (idx, case_event_id, case_id, seq, leaf_hash, key_id, signature, "
                          "backfilled, logged_at) VALUES (:i, :e, :c, :s, :h, :k, :sig, :b, :at)"),
                     {"i": size, "e": forged["id"], "c": logged, "s": forged["seq"], "h": tv.leaf_hash(leaf),
                      "k": world.services.audit_keys.key_id, "sig": b"\x00" * 64, "b": False,
                      "at": forged["occurred_at"]})
        conn.execute(text("UPDATE log_state SET size = :s, frontier = :f"),
                     {"s": frontier.size, "f": "".join(h.hex() for h in frontier.roots)})
    with pytest.raises(merkle_log.LogError, match=f"log entry {size} is not the signed leaf of its event"):
        keeper.run_once(publish=True)  # the worker that wrote the log before: it notices the state moved
    with pytest.raises(merkle_log.LogError, match=f"log entry {size} is not the signed leaf of its event"):
        merkle_log.LogKeeper(world.services).run_once(publish=True)  # a worker started afresh
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(TreeHead)) == heads
    problems = [str(p) for p in report(world).problems]
    assert any(f"case {logged}, seq {forged['seq']}" in p and "signature does not match" in p for p in problems)


def test_a_queued_row_for_an_event_already_logged_does_not_jam_the_worker(world, logged):
    with world.services.reading() as session:
        event_id = session.scalar(select(LogEntry.case_event_id).where(LogEntry.case_id == logged).limit(1))
        key_id, signature = session.execute(select(LogEntry.key_id, LogEntry.signature)
                                            .where(LogEntry.case_event_id == event_id)).one()
    with world.services.engine.begin() as conn:  # the app role's rights suffice
        conn.execute(text("INSERT INTO log_pending (case_event_id, key_id, signature) VALUES (:e, :k, :s)"),
                     {"e": event_id, "k": key_id, "s": signature})
    world.do(actions.accept, world.dlh, logged)  # a real event behind it
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert taken.logged >= 1 and any("in the log already" in r for r in taken.rejected)
    assert report(world).problems == []


def test_a_queued_row_whose_event_is_gone_is_refused(world, logged):
    world.do(actions.accept, world.dlh, logged)
    with insider(world.services.engine) as conn:
        gone = conn.execute(text("SELECT case_event_id FROM log_pending WHERE case_event_id IS NOT NULL "
                                 "ORDER BY id DESC LIMIT 1")).scalar()
        conn.execute(text("DELETE FROM case_events WHERE id = :e"), {"e": gone})
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert any("its event is gone" in r for r in taken.rejected)
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(LogPending).where(LogPending.case_event_id == gone)) == 0


def test_an_event_signed_with_a_key_the_worker_does_not_know_waits(world, logged):
    """A host with a newer key than the worker's: its events are neither logged nor thrown away."""
    world.do(actions.accept, world.dlh, logged)
    with world.services.engine.begin() as conn:
        conn.execute(text("UPDATE log_pending SET key_id = 'ffffffffffffffff'"))
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert taken.logged == 0 and taken.rejected == []
    with world.services.reading() as session:
        assert session.scalar(select(func.count()).select_from(LogPending)) > 0
    problems = [str(p) for p in report(world).problems]
    assert problems and all("not trusted (ffffffffffffffff)" in p for p in problems)


def test_a_state_that_is_not_the_log_s_stops_the_worker_and_is_named(world, logged):
    with world.services.engine.begin() as conn:
        conn.execute(text("UPDATE log_state SET size = size - 1"))
    world.do(actions.accept, world.dlh, logged)
    with pytest.raises(merkle_log.LogError, match="the log's state says"):
        merkle_log.LogKeeper(world.services).run_once()
    assert any("the log's state" in str(p) for p in report(world).problems)


def test_a_far_index_does_not_make_verification_hang(world, logged):
    with world.services.reading() as session:
        last = session.execute(select(LogEntry).order_by(LogEntry.idx.desc()).limit(1)).scalar_one()
        size = session.get(LogState, 1).size
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE log_entries SET idx = :far WHERE idx = :i"), {"far": 10**12, "i": last.idx})
    started = time.monotonic()
    problems = [str(p) for p in report(world).problems]
    assert time.monotonic() - started < 10
    assert any(f"log entries from {last.idx} on are missing or out of place" in p for p in problems), problems
    assert any(f"covers {size} entries" in p for p in problems)


def test_a_changed_or_missing_kept_subtree_is_named(world):
    for i in range(4):  # more than 16 events: a kept subtree
        sub = world.report(description=f"Sampah menumpuk di gang {i + 1} sejak Senin.")
        world.do(actions.triage, world.triage, sub.case_id, decision="valid")
    merkle_log.LogKeeper(world.services).run_once(publish=True)
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE log_nodes SET hash = :h WHERE level = 4 AND idx = 0"), {"h": b"\x00" * 32})
    problems = [str(p) for p in report(world).problems]
    assert any("the kept subtree of level 4 at 0 does not match its leaves" in p for p in problems), problems
    with insider(world.services.engine) as conn:
        conn.execute(text("DELETE FROM log_nodes WHERE level = 4 AND idx = 0"))
    problems = [str(p) for p in report(world).problems]
    assert any("the kept subtree of level 4 at 0 is missing" in p for p in problems), problems


def test_every_signature_checked_in_worker_processes(world, logged, monkeypatch):
    monkeypatch.setattr(merkle_log._Signatures, "CHUNK", 3)  # several chunks, so the pool is used
    with world.services.reading() as session:
        result = merkle_log.verify(session, world.services.audit_keys, each_signature=True, processes=2)
        assert result.problems == [] and result.signatures_checked == result.size > 3
    with world.services.reading() as session:
        idx = session.scalar(select(LogEntry.idx).where(LogEntry.case_id == logged).order_by(LogEntry.idx.desc()))
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE log_entries SET signature = :s WHERE idx = :i"), {"s": b"\x01" * 64, "i": idx})
    with world.services.reading() as session:
        problems = [str(p) for p in merkle_log.verify(session, world.services.audit_keys, each_signature=True,
                                                       processes=2).problems]
    assert any(f"logged at index {idx}: its signature does not match" in p for p in problems), problems


def test_a_host_with_a_key_of_its_own_refuses_to_start(world, settings, tmp_path):
    """Two hosts that each made their own embedded key: the second is stopped at start."""
    import dataclasses

    from web import create_app
    from workflow import signing
    from workflow.services import build_services

    create_app(services=world.services)  # the first host records its key
    other = build_services(dataclasses.replace(settings, audit_key=signing.generate_pem()),
                           clock=world.services.clock, definition=world.services.definition)
    try:
        with pytest.raises(merkle_log.WrongAuditKey, match="give every host the same TANGGAP_AUDIT_KEY_FILE"):
            create_app(services=other)
        with pytest.raises(merkle_log.WrongAuditKey):
            merkle_log.LogKeeper(other).run_once()
    finally:
        other.dispose()
    rotated = build_services(dataclasses.replace(settings, audit_key=signing.generate_pem(),
                                                 audit_public_keys=world.services.audit_keys.public_pems()),
                             clock=world.services.clock, definition=world.services.definition)
    try:
        create_app(services=rotated)  # a rotated key that trusts the old one starts
    finally:
        rotated.dispose()
