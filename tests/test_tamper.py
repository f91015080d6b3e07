"""The nine manipulations an insider with database rights (triggers and foreign keys off) could try
on the audit trail, and what ``tanggap audit verify`` says of each: with a tree head kept outside
the system (``--heads``) every one is found and the first bad event named; an appended forged
event is found by its missing signature alone."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from tanggap.cli import main
from tests import actions
from tests.helpers import insider
from workflow import tanggap_verify as tv
from workflow.store import audit, merkle_log
from workflow.store.models import CaseEvent, LogEntry


@pytest.fixture
def trail(world, tmp_path):
    """Two cases with a few events each, logged, and the tree head an outsider saved."""
    a = world.report()
    world.do(actions.triage, world.triage, a.case_id, decision="valid")
    world.do(actions.transfer, world.dlh, a.case_id, to_agency="DPU", reason="Bukan sampah rumah tangga")
    b = world.report(description="Lampu jalan mati di depan sekolah.")
    world.do(actions.triage, world.triage, b.case_id, decision="valid")
    merkle_log.LogKeeper(world.services).run_once(publish=True)
    with world.services.reading() as session:
        head = merkle_log.head_document(merkle_log.latest_head(session))
    path = tmp_path / "kept-head.json"
    path.write_text(json.dumps({"format": "tanggap-tree-head/1", **head}))
    return a.case_id, b.case_id, path


def verify(settings, *args: str):
    env = {"DATABASE_URL": settings.database_url, "TANGGAP_INSTANCE": str(settings.instance_path)}
    return CliRunner().invoke(main, ["audit", "verify", *args], env=env)


def broken(settings, heads_file, *args: str) -> list[str]:
    result = verify(settings, "--heads", str(heads_file), *args)
    assert result.exit_code == 1, result.output
    return [line.removeprefix("BROKEN: ") for line in result.output.splitlines() if line.startswith("BROKEN: ")]


def events(conn, case_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(select(*CaseEvent.__table__.columns).where(CaseEvent.case_id == case_id)
                                          .order_by(CaseEvent.seq)).mappings()]


def rehash(conn, case_id: int) -> None:
    """Recompute the case's chain from seq 1, as someone covering their tracks would."""
    prev = tv.GENESIS
    for event in events(conn, case_id):
        new = audit.compute_hash(prev, audit.row_payload(event))
        conn.execute(text("UPDATE case_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                     {"p": prev, "h": new, "id": event["id"]})
        prev = new
    conn.execute(text("UPDATE cases SET event_count = (SELECT COUNT(*) FROM case_events WHERE case_id = :c) "
                      "WHERE id = :c"), {"c": case_id})


def first_named(lines: list[str], case_id: int, seq: int) -> None:
    assert any(f"case {case_id}, seq {seq}" in line for line in lines), lines


def test_untouched_trail_verifies_with_the_kept_head(world, settings, trail):
    result = verify(settings, "--heads", str(trail[2]))
    assert result.exit_code == 0, result.output
    assert "log intact" in result.output


def test_edited_event(world, settings, trail):
    a, _, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE case_events SET reason = 'Atas perintah atasan' WHERE case_id = :c AND seq = 2"),
                     {"c": a})
    lines = broken(settings, heads)
    assert f"case {a}, seq 2" in lines[0] and "altered" in lines[0], lines  # its chain hash; its leaf holds the hash


def test_deleted_middle_event(world, settings, trail):
    a, _, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("DELETE FROM case_events WHERE case_id = :c AND seq = 2"), {"c": a})
    lines = broken(settings, heads)
    first_named(lines, a, 2)
    assert any("is missing: the event was deleted" in line for line in lines)


def test_deleted_middle_event_renumbered(world, settings, trail):
    a, _, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("DELETE FROM case_events WHERE case_id = :c AND seq = 2"), {"c": a})
        conn.execute(text("UPDATE case_events SET seq = seq - 1 WHERE case_id = :c AND seq > 2"), {"c": a})
        rehash(conn, a)
    assert world.chain_breaks() == []  # the chains alone no longer show it
    lines = broken(settings, heads)
    assert f"case {a}, seq 2" in lines[0] and "deleted" in lines[0], lines


def test_deleted_last_events(world, settings, trail):
    a, _, heads = trail
    count = len(world.events(a))
    with insider(world.services.engine) as conn:
        conn.execute(text("DELETE FROM case_events WHERE case_id = :c AND seq = :s"), {"c": a, "s": count})
        conn.execute(text("UPDATE cases SET event_count = event_count - 1 WHERE id = :c"), {"c": a})
    assert world.chain_breaks() == []
    lines = broken(settings, heads)
    assert f"case {a}, seq {count}" in lines[0] and "deleted" in lines[0], lines


def test_deleted_last_events_and_their_log(world, settings, trail):
    """Cutting the log short with the events (the last entries, the subtrees and heads that
    cover them, the log's state) leaves the database consistent: only the head kept outside
    shows it, and names where the log was cut."""
    _, b, heads = trail
    with world.services.reading() as session:
        size = merkle_log.latest_head(session).size
        last = session.execute(select(LogEntry.idx, LogEntry.case_event_id).order_by(LogEntry.idx.desc())
                               .limit(2)).all()
        assert all(e is not None for _, e in last)  # the two newest events are case events (of case b)
        cut = last[-1].idx
        kept = session.scalars(select(LogEntry.leaf_hash).where(LogEntry.idx < cut).order_by(LogEntry.idx)).all()
    frontier = tv.Frontier()
    for leaf_hash in kept:
        frontier.add(leaf_hash)
    with insider(world.services.engine) as conn:
        conn.execute(text("DELETE FROM log_entries WHERE idx >= :i"), {"i": cut})
        conn.execute(text("DELETE FROM tree_heads"))
        for level, index in conn.execute(text("SELECT level, idx FROM log_nodes")).all():
            if (index + 1) << level > cut:
                conn.execute(text("DELETE FROM log_nodes WHERE level = :l AND idx = :i"), {"l": level, "i": index})
        for _, event_id in last:
            conn.execute(text("DELETE FROM case_events WHERE id = :e"), {"e": event_id})
        rehash(conn, b)
        conn.execute(text("UPDATE log_state SET size = :s, frontier = :f"),
                     {"s": cut, "f": "".join(h.hex() for h in frontier.roots)})
    assert world.chain_breaks() == []
    assert verify(settings).exit_code == 0  # without the kept head, nothing shows
    lines = broken(settings, heads)
    assert lines == [f"kept tree head 1 ({json.loads(heads.read_text())['time']}, size {size}) covers {size} "
                     f"entries, the log holds only {cut}: entries {cut} to {size - 1} were removed"], lines


def test_deleted_case(world, settings, trail):
    _, b, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("DELETE FROM case_events WHERE case_id = :c"), {"c": b})
    lines = broken(settings, heads)
    first_named(lines, b, 1)
    assert any(f"case {b}, seq 1" in line and "deleted" in line for line in lines)


def test_swapped_chains(world, settings, trail):
    a, b, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE case_events SET case_id = -1 WHERE case_id = :a"), {"a": a})
        conn.execute(text("UPDATE case_events SET case_id = :a WHERE case_id = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE case_events SET case_id = :b WHERE case_id = -1"), {"b": b})
        rehash(conn, a)
        rehash(conn, b)
    assert world.chain_breaks() == []
    lines = broken(settings, heads)
    assert f"case {a}, seq 1" in lines[0] and "changed after it was logged" in lines[0], lines


def test_rewritten_chain_with_recomputed_hashes(world, settings, trail):
    a, _, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE case_events SET to_agency = 'DINSOS' WHERE case_id = :c AND seq = 3"), {"c": a})
        rehash(conn, a)
    assert world.chain_breaks() == []
    lines = broken(settings, heads)
    assert f"case {a}, seq 3" in lines[0] and "changed after it was logged" in lines[0], lines


def test_rewritten_chain_and_log_entries(world, settings, trail):
    """Rewriting the leaves too cannot re-sign them: the heads no longer match, and every
    event's own signature names the changed one."""
    a, _, heads = trail
    with insider(world.services.engine) as conn:
        conn.execute(text("UPDATE case_events SET to_agency = 'DINSOS' WHERE case_id = :c AND seq = 3"), {"c": a})
        rehash(conn, a)
        for event in events(conn, a):
            leaf = audit.case_leaf(audit.row_payload(event), event["prev_hash"], event["hash"])
            conn.execute(text("UPDATE log_entries SET leaf_hash = :h WHERE case_event_id = :e"),
                         {"h": tv.leaf_hash(leaf), "e": event["id"]})
    lines = broken(settings, heads, "--each-signature")
    assert any("does not match the log's first" in line for line in lines), lines
    assert f"case {a}, seq 3" in lines[0] and "signature does not match" in lines[0], lines


def test_forged_append_is_found_by_its_signature_alone(world, settings, trail):
    a, _, _ = trail
    with insider(world.services.engine) as conn:
        last = events(conn, a)[-1]
        forged = {**last, "seq": last["seq"] + 1, "action": "case_closed", "actor_name": "citizen",
                  "actor_role": "citizen", "actor_user_id": None, "reason": "Selesai", "data": "{}",
                  "prev_hash": last["hash"]}
        del forged["id"]
        forged["hash"] = audit.compute_hash(last["hash"], audit.row_payload(forged))
        conn.execute(CaseEvent.__table__.insert().values(forged))
        conn.execute(text("UPDATE cases SET event_count = event_count + 1 WHERE id = :c"), {"c": a})
    assert world.chain_breaks() == []
    result = verify(settings)  # no kept head needed
    assert result.exit_code == 1
    assert f"case {a}, seq {last['seq'] + 1}" in result.output and "inserted without the audit key" in result.output
    # and the log's worker does not take it in
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert taken.logged == 0
    assert verify(settings).exit_code == 1


def test_forged_append_with_a_made_up_signature(world, settings, trail):
    a, _, _ = trail
    with insider(world.services.engine) as conn:
        last = events(conn, a)[-1]
        forged = {**last, "seq": last["seq"] + 1, "action": "case_closed", "prev_hash": last["hash"]}
        del forged["id"]
        forged["hash"] = audit.compute_hash(last["hash"], audit.row_payload(forged))
        event_id = conn.execute(CaseEvent.__table__.insert().values(forged).returning(CaseEvent.id)).scalar_one()
        conn.execute(text("UPDATE cases SET event_count = event_count + 1 WHERE id = :c"), {"c": a})
        conn.execute(text("INSERT INTO log_pending (case_event_id, key_id, signature) VALUES (:e, :k, :s)"),
                     {"e": event_id, "k": world.services.audit_keys.key_id, "s": b"\x01" * 64})
    result = verify(settings)
    assert result.exit_code == 1
    assert f"case {a}, seq {last['seq'] + 1}" in result.output and "signature does not match" in result.output
    taken = merkle_log.LogKeeper(world.services).run_once()
    assert taken.logged == 0 and len(taken.rejected) == 1


def test_replaced_row(world, settings, trail):
    """SQLite's INSERT OR REPLACE (a delete and an insert under the same id); on PostgreSQL the
    same as a delete and an insert in one transaction."""
    a, _, heads = trail
    with insider(world.services.engine) as conn:
        row = events(conn, a)[1]
        replaced = {**row, "reason": "Dipindah atas permintaan warga"}
        replaced["hash"] = audit.compute_hash(row["prev_hash"], audit.row_payload(replaced))
        if world.services.engine.dialect.name == "sqlite":
            conn.execute(CaseEvent.__table__.insert().prefix_with("OR REPLACE").values(replaced))
        else:
            conn.execute(text("DELETE FROM case_events WHERE id = :i"), {"i": row["id"]})
            conn.execute(CaseEvent.__table__.insert().values(replaced))
        rehash(conn, a)
    assert world.chain_breaks() == []
    lines = broken(settings, heads)
    assert f"case {a}, seq 2" in lines[0] and "changed after it was logged" in lines[0], lines
