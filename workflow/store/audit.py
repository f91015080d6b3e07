"""The audit trail: append events to a per-case hash chain, and verify chains.

``hash = sha256(prev_hash + canonical JSON of the row)``; the first row of a case chains from
:data:`GENESIS`. Rows are append-only: the database refuses UPDATE and DELETE (triggers in the
initial migration), and :func:`verify` finds any row whose content, order or link was changed.

Each event is also signed as it is written (:func:`sign_leaf`, the key from the session's
``info``) and queued in ``log_pending`` for the Merkle log (``workflow.store.merkle_log``); the
hashes themselves are ``workflow.tanggap_verify``'s, the rule the offline verifier shares.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workflow import tanggap_verify as tv
from workflow.store.db import AUDIT_KEYS
from workflow.store.models import Case, CaseEvent, LogPending
from workflow.store.types import utc_iso
from workflow.vocabulary import ASIDE_ACTIONS

GENESIS = tv.GENESIS

HASHED_FIELDS = ("case_id", "seq", "occurred_at", "actor_user_id", "actor_name", "actor_role",
                 "action", "task_name", "from_agency", "to_agency", "from_task", "to_task",
                 "reason", "data")


def _json_default(value: Any):
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"not JSON-serializable in an audit event: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """The serialization every audit hash is over (``tanggap_verify.canonical_json``), taking the
    app's dates and decimals too."""
    return tv.canonical_json(value, default=_json_default)


def row_payload(row: CaseEvent | dict) -> dict:
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    payload = {k: get(k) for k in HASHED_FIELDS}
    occurred = payload["occurred_at"]
    payload["occurred_at"] = utc_iso(occurred) if isinstance(occurred, datetime) else occurred
    payload["data"] = json.loads(payload["data"]) if isinstance(payload["data"], str) else payload["data"]
    return payload


compute_hash = tv.chain_hash


def case_leaf(payload: dict, prev_hash: str, hash_: str) -> bytes:
    """The Merkle log's leaf of a case event (``tanggap_verify.leaf``), from its hashed fields."""
    return tv.leaf(tv.CASE, case_id=payload["case_id"], seq=payload["seq"], prev_hash=prev_hash, hash=hash_,
                   action=payload["action"], occurred_at=payload["occurred_at"])


_PENDING = "audit_pending"  # session.info: (event, key id, signature) of events appended, not yet flushed


@sa_event.listens_for(Session, "after_flush")
def _write_pending(session: Session, _context) -> None:
    """The ``log_pending`` rows of the events this flush wrote, in one statement (their ids are
    known now): as ORM objects they cost more than the events themselves."""
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.connection().execute(insert(LogPending.__table__), [
            {"case_event_id": e.id, "security_event_id": None, "key_id": k, "signature": s} for e, k, s in rows])


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:
    """Rolled back (or closed) before a flush: the events are gone, so are their rows."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def sign_leaf(session: Session, leaf: bytes) -> tuple[str, bytes]:
    """Sign an event's leaf with the audit key the session was made with (``store.db``): in the
    event's own transaction, so an event inserted by anyone without the key stays unsigned."""
    keys = session.info.get(AUDIT_KEYS)
    if keys is None:
        raise RuntimeError("this session has no audit key: make sessions with store.db.make_session_factory")
    return keys.key_id, keys.sign(tv.event_message(leaf))


@dataclass(frozen=True)
class ActorRef:
    """Who acted, as written into the trail."""

    user_id: int | None
    name: str
    role: str


def append(session: Session, *, case_id: int, actor: ActorRef, action: str, occurred_at: datetime,
           task_name: str | None = None, from_agency: str | None = None,
           to_agency: str | None = None, from_task: str | None = None, to_task: str | None = None,
           reason: str | None = None, data: dict | None = None, counted: bool = False) -> CaseEvent:
    """Append one event to the case's chain. ``counted``: the caller has already added it to
    the case's ``event_count`` (in the UPDATE that locked the case, ``CaseChange``).

    Locking: the caller has already bumped the case's ``version`` in this transaction, which
    holds the case row (PostgreSQL) or the write lock (SQLite) until commit, so no other
    transaction appends to this chain concurrently; the unique ``(case_id, seq)`` constraint
    backs that up. The chain head is remembered in the session for the next append, and its
    length is written on the case (``event_count``), which is how ``verify`` notices a chain
    whose last rows were deleted.
    """
    heads = session.info.setdefault("audit_heads", {})
    last_seq, prev_hash = heads[case_id] if case_id in heads else read_head(session, case_id)
    seq = last_seq + 1
    event = CaseEvent(
        case_id=case_id, seq=seq, occurred_at=occurred_at, actor_user_id=actor.user_id,
        actor_name=actor.name, actor_role=actor.role, action=action, task_name=task_name,
        from_agency=from_agency, to_agency=to_agency, from_task=from_task, to_task=to_task,
        reason=reason, data=canonical_json(data or {}), prev_hash=prev_hash)
    payload = row_payload(event)
    event.hash = compute_hash(prev_hash, payload)
    session.add(event)
    key_id, signature = sign_leaf(session, case_leaf(payload, prev_hash, event.hash))
    session.info.setdefault(_PENDING, []).append((event, key_id, signature))  # written at flush
    heads[case_id] = (seq, event.hash)
    if not counted:
        case = session.get(Case, case_id)  # already loaded and locked by the caller
        case.event_count = seq
    return event


def read_head(session: Session, case_id: int) -> tuple[int, str]:
    """The case's chain head (seq, hash), read now and remembered for the next :func:`append`
    of this session: after the caller locked the case, so no other transaction moves it."""
    last = session.execute(
        select(CaseEvent.seq, CaseEvent.hash).where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.seq.desc()).limit(1)).first()
    head = (last.seq, last.hash) if last else (0, GENESIS)
    session.info.setdefault("audit_heads", {})[case_id] = head
    return head


def append_aside(session: Session, *, case_id: int, actor: ActorRef, action: str, occurred_at: datetime,
                 data: dict | None = None) -> None:
    """Append an event that leaves the case itself as it was (a notice went out, was given up
    or stopped): its ``version`` does not move, so nobody editing the case must reload. Three
    statements, for the delivery worker's sake:

    1. ``UPDATE cases SET event_count = event_count + 1 ... RETURNING``: the new event's seq.
       It holds the case row until commit; on PostgreSQL an UPDATE that waited for another
       transaction's lock computes from the row as that transaction left it, so the length is
       the latest (SQLite's write transaction serializes anyway).
    2. The head's hash, read after the lock (a new snapshot under READ COMMITTED).
    3. The insert, hashed and signed like every event (:func:`compute_hash`, :func:`sign_leaf`),
       and its row of ``log_pending``.

    The ORM objects of the session are not told; the session's remembered chain head is dropped
    so that a later :func:`append` in it reads the new one. Only the actions of
    ``vocabulary.ASIDE_ACTIONS`` are written this way (what a conflict reports relies on it).
    """
    if action not in ASIDE_ACTIONS:
        raise ValueError(f"{action} moves the case: append it with append(), or add it to ASIDE_ACTIONS")
    session.flush()  # an append of this session not yet written comes first
    conn = session.connection()
    cases, events = Case.__table__, CaseEvent.__table__
    seq = conn.execute(update(cases).where(cases.c.id == case_id).values(event_count=cases.c.event_count + 1)
                       .returning(cases.c.event_count)).scalar_one()
    prev_hash = GENESIS if seq == 1 else conn.execute(
        select(events.c.hash).where(events.c.case_id == case_id, events.c.seq == seq - 1)).scalar_one()
    values = {"case_id": case_id, "seq": seq, "occurred_at": occurred_at, "actor_user_id": actor.user_id,
              "actor_name": actor.name, "actor_role": actor.role, "action": action, "task_name": None,
              "from_agency": None, "to_agency": None, "from_task": None, "to_task": None, "reason": None,
              "data": canonical_json(data or {}), "prev_hash": prev_hash}
    payload = row_payload(values)
    values["hash"] = compute_hash(prev_hash, payload)
    key_id, signature = sign_leaf(session, case_leaf(payload, prev_hash, values["hash"]))
    event_id = conn.execute(insert(events).values(values).returning(events.c.id)).scalar_one()
    conn.execute(insert(LogPending.__table__).values(case_event_id=event_id, key_id=key_id, signature=signature))
    session.info.get("audit_heads", {}).pop(case_id, None)


@dataclass(frozen=True)
class ChainBreak:
    case_id: int
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        ref = f"event id {self.event_id}" if self.event_id is not None else "missing event"
        return f"case {self.case_id}, seq {self.seq} ({ref}): {self.problem}"


def verify_rows(rows: Iterable[dict | CaseEvent]) -> Iterator[ChainBreak]:
    """Check rows ordered by (case_id, seq); yield the first break of each broken chain."""
    current_case, expected_seq, prev_hash, broken = None, 1, GENESIS, False
    for row in rows:
        get = row.get if isinstance(row, dict) else (lambda k, r=row: getattr(r, k))
        case_id = get("case_id")
        if case_id != current_case:
            current_case, expected_seq, prev_hash, broken = case_id, 1, GENESIS, False
        if broken:
            continue
        problem = None
        if get("seq") != expected_seq:
            problem = f"expected seq {expected_seq}, found {get('seq')} (rows missing or reordered)"
        elif get("prev_hash") != prev_hash:
            problem = "prev_hash does not match the previous row's hash"
        elif get("hash") is None:  # withheld from an export (tracking.withheld_links)
            problem = ("its content and hash are withheld (it held a tracking code): the chain "
                       "from here on can only be checked in the database (tanggap audit verify)")
        elif compute_hash(prev_hash, row_payload(row)) != get("hash"):
            problem = "content does not match its hash (row was altered)"
        if problem:
            broken = True
            yield ChainBreak(case_id, expected_seq, get("id"), problem)
            continue
        expected_seq += 1
        prev_hash = get("hash")


def verify(session: Session, case_id: int | None = None, batch: int = 5000) -> list[ChainBreak]:
    """Recompute every chain (or one case's) from the database, and check that every case has a
    chain exactly as long as its row says (``cases.event_count``), so that a chain whose last
    rows, or all rows, were deleted is named too. Reads both tables once, side by side in case
    order, so memory does not grow with the number of cases."""
    events = select(*CaseEvent.__table__.columns).order_by(CaseEvent.case_id, CaseEvent.seq)
    lengths = select(Case.id, Case.event_count).order_by(Case.id)
    if case_id is not None:
        events, lengths = events.where(CaseEvent.case_id == case_id), lengths.where(Case.id == case_id)
    with one_snapshot(session) as conn:  # both tables as of one moment, on a live system too
        check = _LengthCheck(conn.execute(lengths.execution_options(yield_per=batch)))
        inner = {b.case_id: b for b in verify_rows(check.watch(
            conn.execute(events.execution_options(yield_per=batch))))}
        check.finish()
    # a chain broken inside is named by its first broken row; the length check adds the rest
    found = {**{b.case_id: b for b in check.breaks}, **inner}
    return [found[c] for c in sorted(found)]


class _LengthCheck:
    """Compares the chains seen (events in case order) with the cases' ``event_count``."""

    def __init__(self, lengths):
        self._lengths = iter(lengths)
        self._next = next(self._lengths, None)
        self.breaks: list[ChainBreak] = []

    def watch(self, rows):
        current, last_seq = None, 0
        for row in rows:
            if row.case_id != current:
                if current is not None:
                    self._ended(current, last_seq)
                current = row.case_id
            last_seq = row.seq
            yield row
        if current is not None:
            self._ended(current, last_seq)

    def _ended(self, case_id: int, length: int) -> None:
        self._skip_to(case_id)
        if self._next is not None and self._next[0] == case_id:
            want = self._next[1]
            if length < want:
                self.breaks.append(ChainBreak(case_id, length + 1, None,
                                              f"the chain ends at seq {length} but the case has "
                                              f"{want} events (rows deleted)"))
            elif length > want:
                self.breaks.append(ChainBreak(case_id, want + 1, None,
                                              f"the chain has {length} events but the case only {want}"))
            self._next = next(self._lengths, None)

    def _skip_to(self, case_id: int | None) -> None:
        """Cases before ``case_id`` (all, when None) have no events at all."""
        while self._next is not None and (case_id is None or self._next[0] < case_id):
            if self._next[1] > 0:
                self.breaks.append(ChainBreak(self._next[0], 1, None,
                                              f"all {self._next[1]} events of the case are missing"))
            self._next = next(self._lengths, None)

    def finish(self) -> None:
        self._skip_to(None)


@contextmanager
def one_snapshot(session: Session):
    """A connection of its own whose reads all see the same moment (REPEATABLE READ on
    PostgreSQL; a SQLite read transaction is one snapshot already)."""
    engine = session.get_bind()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn
