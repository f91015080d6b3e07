"""The security log: one append-only hash chain of logins, administration and contact views.

``hash = sha256(prev_hash + canonical JSON of the row)``, as for the case trail
(``workflow.store.audit``); the first row chains from :data:`GENESIS`. The chain's head
(``security_chain``, one row) holds its length and last hash: appending moves it first, in the
caller's transaction, so concurrent writers queue behind its row lock (PostgreSQL) or the write
lock (SQLite) and the chain never forks, and :func:`verify` notices trailing rows deleted.

Administrative changes are written with their old and new values (:func:`changes` keeps only
the fields that moved), so the log is also the admin log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow import tanggap_verify as tv
from workflow.store.audit import GENESIS, canonical_json, compute_hash, sign_leaf
from workflow.store.models import LogPending, SecurityChain, SecurityEvent
from workflow.store.types import utc_iso
from workflow.vocabulary import SecurityAction

HASHED_FIELDS = ("seq", "occurred_at", "action", "actor_user_id", "actor_name", "subject_user_id",
                 "subject", "client_ip", "details")
SYSTEM = "system"


@dataclass(frozen=True)
class Who:
    """Who acted: a known user, or a name as typed (a failed login), with the client's address."""

    user_id: int | None
    name: str
    client_ip: str | None = None


def payload(row: SecurityEvent | Mapping) -> dict:
    get = row.get if isinstance(row, Mapping) else (lambda k: getattr(row, k))
    values = {k: get(k) for k in HASHED_FIELDS}
    occurred = values["occurred_at"]
    values["occurred_at"] = utc_iso(occurred) if isinstance(occurred, datetime) else occurred
    details = values["details"]
    values["details"] = json.loads(details) if isinstance(details, str) else details
    return values


def security_leaf(values: Mapping, prev_hash: str, hash_: str) -> bytes:
    """The Merkle log's leaf of a security event (``tanggap_verify.leaf``), from its hashed fields."""
    return tv.leaf(tv.SECURITY, seq=values["seq"], prev_hash=prev_hash, hash=hash_, action=values["action"],
                   occurred_at=values["occurred_at"])


def record(session: Session, *, action: SecurityAction, who: Who, occurred_at: datetime,
           subject_user_id: int | None = None, subject: str | None = None,
           details: Mapping[str, Any] | None = None) -> SecurityEvent:
    """Append one event in the caller's transaction (it commits with the change it records)."""
    head = session.execute(
        update(SecurityChain).where(SecurityChain.id == 1).values(seq=SecurityChain.seq + 1)
        .returning(SecurityChain.seq, SecurityChain.hash)).one()
    event = SecurityEvent(seq=head.seq, occurred_at=occurred_at, action=str(action),
                          actor_user_id=who.user_id, actor_name=(who.name or SYSTEM)[:200],
                          subject_user_id=subject_user_id, subject=subject[:200] if subject else None,
                          client_ip=(who.client_ip or None) and who.client_ip[:64],
                          details=canonical_json(dict(details or {})), prev_hash=head.hash)
    values = payload(event)
    event.hash = compute_hash(head.hash, values)
    key_id, signature = sign_leaf(session, security_leaf(values, head.hash, event.hash))
    session.add(event)
    session.add(LogPending(security_event=event, key_id=key_id, signature=signature))
    session.flush()
    session.execute(update(SecurityChain).where(SecurityChain.id == 1).values(hash=event.hash))
    return event


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields whose value moved: ``{field: {"old": ..., "new": ...}}`` (a field only one side
    has counts as moved from or to None)."""
    return {key: {"old": old.get(key), "new": new.get(key)}
            for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)}


def admin_change(session: Session, *, who: Who, occurred_at: datetime, entity: str, key: str,
                 old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
                 subject_user_id: int | None = None) -> SecurityEvent | None:
    """An administrator's change of one object (``entity`` "agency", ``key`` its code): created
    (``old`` None), changed, or removed (``new`` None). Nothing is written when nothing moved."""
    moved = changes(old or {}, new or {})
    if old is not None and new is not None and not moved:
        return None
    kind = "created" if old is None else ("removed" if new is None else "changed")
    return record(session, action=SecurityAction.ADMIN_CHANGED, who=who, occurred_at=occurred_at,
                  subject_user_id=subject_user_id, subject=f"{entity}:{key}",
                  details={"entity": entity, "key": key, "change": kind, "fields": moved})


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: int | None
    problem: str


def verify_rows(rows: Iterable[SecurityEvent | Mapping], length: int | None = None) -> Iterator[ChainBreak]:
    """Check rows in seq order; yield the first break (and a length mismatch with the head)."""
    expected, prev_hash = 1, GENESIS
    for row in rows:
        get = row.get if isinstance(row, Mapping) else (lambda k, r=row: getattr(r, k))
        problem = None
        if get("seq") != expected:
            problem = f"expected seq {expected}, found {get('seq')} (rows missing or reordered)"
        elif get("prev_hash") != prev_hash:
            problem = "prev_hash does not match the previous row's hash"
        elif compute_hash(prev_hash, payload(row)) != get("hash"):
            problem = "content does not match its hash (row was altered)"
        if problem:
            yield ChainBreak(expected, get("id"), problem)
            return
        expected += 1
        prev_hash = get("hash")
    if length is not None and expected - 1 != length:
        yield ChainBreak(expected, None, f"the chain has {expected - 1} events, its head says {length} "
                                         "(the last rows were deleted)")


def verify(session: Session, batch: int = 5000) -> list[ChainBreak]:
    """Recompute the whole chain from the database and compare its length with the head's."""
    head = session.get(SecurityChain, 1)
    result = session.execute(select(*SecurityEvent.__table__.columns).order_by(SecurityEvent.seq)
                             .execution_options(yield_per=batch))
    try:
        return list(verify_rows(result.mappings(), head.seq if head else 0))
    finally:
        result.close()  # a break stops the walk early: the server-side cursor goes with it


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SecurityEvent)) or 0
