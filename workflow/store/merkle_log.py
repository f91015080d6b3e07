"""The Merkle log over every audit event, its signed tree heads, proofs, and its verification.

Every audit event (a case's trail, the security log) is signed in its own transaction and
queued in ``log_pending`` (``audit.sign_leaf``). :func:`take` moves the queue into the log in
the order it was queued (``log_pending`` ids; a case's events in their chain's order, since
appending to a chain holds its case's row): each event becomes leaf ``idx`` of an RFC 9162 Merkle tree
(``tanggap_verify``: the one definition of every hash), the hashes of the complete subtrees it
finishes at every fourth level go to ``log_nodes``, and ``log_state`` keeps the log's right edge.
:func:`sign_head` signs the tree's size and root at a time (``tree_heads``), timestamped by an
RFC 3161 authority when one is configured. :class:`LogKeeper` is the worker doing both.

Who may rewrite the database but does not hold the key cannot sign, nor make the worker sign
for them: the worker checks every pending signature against its event before logging it, signs
unsigned rows (events from before the log) only while the log holds nothing else, and signs a
head only over entries it checked (:func:`checked_head`). So an event inserted without the key
has no valid signature, an event changed no longer matches its leaf, and a log rewritten or cut
short no longer matches the tree heads signed before (kept in the database, or better, outside
it: ``tanggap audit verify --heads``). :func:`verify` checks all of that.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from workflow import tanggap_verify as tv
from workflow.signing import AuditKeys
from workflow.store import audit, security_log
from workflow.store.db import WRITE_OPTION
from workflow.store.models import CaseEvent, LogEntry, LogNode, LogPending, LogState, SecurityEvent, TreeHead
from workflow.store.types import utc_iso

log = logging.getLogger("tanggap.log")

AFTER_THE_LOG = 2**62  # where problems with events outside the log sort
NODE_LEVELS = 4  # subtree hashes are kept at levels 4, 8, 12 ...: at most 16 rows read per proof step

_CASE_COLUMNS = [c.label(f"c_{c.name}") for c in CaseEvent.__table__.columns]
_SECURITY_COLUMNS = [c.label(f"s_{c.name}") for c in SecurityEvent.__table__.columns]


class LogError(Exception):
    """The log cannot answer (a subtree it should hold is missing)."""


# -- the leaf of an event, from its row --------------------------------------------------------

def _fields(row, prefix: str, names: Iterable[str]) -> dict:
    return {name: row[f"{prefix}{name}"] for name in names}


def leaf_of(row) -> tuple[bytes, int | None, int] | None:
    """The leaf, case id and seq of the event a joined row (``_CASE_COLUMNS``,
    ``_SECURITY_COLUMNS``) holds; None when neither event is there."""
    if row["c_id"] is not None:
        payload = audit.row_payload(_fields(row, "c_", audit.HASHED_FIELDS))
        return audit.case_leaf(payload, row["c_prev_hash"], row["c_hash"]), payload["case_id"], payload["seq"]
    if row["s_id"] is not None:
        values = security_log.payload(_fields(row, "s_", security_log.HASHED_FIELDS))
        return security_log.security_leaf(values, row["s_prev_hash"], row["s_hash"]), None, values["seq"]
    return None


def _with_events(query, table):
    return (query.outerjoin(CaseEvent.__table__, CaseEvent.id == table.c.case_event_id)
            .outerjoin(SecurityEvent.__table__, SecurityEvent.id == table.c.security_event_id))


# -- the deployment's key ----------------------------------------------------------------------

class WrongAuditKey(RuntimeError):
    """This host signs with a key the deployment's other hosts would not trust."""


def check_audit_key(session: Session, keys: AuditKeys) -> None:
    """Refuse to run when the key the first host recorded (``key_checks``, by key id) is not one
    this host trusts: two hosts that each made their own ``audit_key.pem`` would sign events the
    other's log worker leaves queued. A sanity check, not a defence (the row is the database's):
    the defence is that signatures are checked with configured keys only."""
    from sqlalchemy.exc import IntegrityError

    from workflow.store.models import KeyCheck

    stored = session.get(KeyCheck, "audit")
    if stored is None:  # record it in a write transaction (SQLite: queued behind another host's)
        session.rollback()
        session.connection(execution_options={WRITE_OPTION: True})
        stored = session.get(KeyCheck, "audit")
    if stored is None:
        session.add(KeyCheck(name="audit", check_value=keys.key_id))
        try:
            session.commit()
        except IntegrityError:  # another host recorded its key at the same moment
            session.rollback()
        stored = session.get(KeyCheck, "audit")
    if stored.check_value not in keys.trusted:
        raise WrongAuditKey(f"this host's audit key ({keys.key_id}) does not trust the key this deployment "
                            f"signs with ({stored.check_value}): give every host the same "
                            "TANGGAP_AUDIT_KEY_FILE (after a rotation, the old public key in "
                            "TANGGAP_AUDIT_PUBLIC_KEYS)")


# -- kept subtrees -----------------------------------------------------------------------------

def stored_perfect(session: Session) -> tv.Perfect:
    """``perfect(level, index)`` read from ``log_entries`` and ``log_nodes``: a subtree at a kept
    level is one row; any other is folded from at most 16 rows of the kept level below it."""
    def perfect(level: int, index: int) -> bytes:
        base = level - level % NODE_LEVELS
        count, first = 1 << (level - base), index << (level - base)
        if base == 0:
            query = select(LogEntry.leaf_hash).where(LogEntry.idx >= first, LogEntry.idx < first + count)
            query = query.order_by(LogEntry.idx)
        else:
            query = select(LogNode.hash).where(LogNode.level == base, LogNode.idx >= first,
                                               LogNode.idx < first + count).order_by(LogNode.idx)
        hashes = session.scalars(query).all()
        if len(hashes) != count:
            raise LogError(f"the log lacks the subtree of level {level} at {index}")
        return tv.merkle_root(hashes)
    return perfect


def _frontier(state: LogState) -> tv.Frontier:
    text = state.frontier
    return tv.Frontier(state.size, [bytes.fromhex(text[i:i + 64]) for i in range(0, len(text), 64)])


# -- the worker's two steps --------------------------------------------------------------------

@dataclass
class Taken:
    logged: int = 0
    backfilled: int = 0
    rejected: list[str] = field(default_factory=list)
    size: int = 0
    started: tuple[int, str] | None = None  # the log's state (size, frontier) before, and after
    ended: tuple[int, str] | None = None


def take(session: Session, keys: AuditKeys, now: datetime, *, batch: int = 2000) -> Taken:
    """Move up to ``batch`` pending events into the log, oldest queued first, in the caller's
    transaction. The state row is updated first: a second worker waits for this one to commit.

    What the database says is checked before it is signed or logged: a pending event whose
    signature does not verify against the event as it is now, or whose event is gone or already
    logged, is refused (it stays out of the log, and ``verify`` names the event as unsigned);
    one signed with a key this worker does not trust stays queued (a host with a newer key).
    Unsigned rows, the events from before the log (migration 0023), are signed only while the
    log holds nothing else: once a signed event is logged, no unsigned row ever is."""
    state_row = session.execute(update(LogState).where(LogState.id == 1).values(size=LogState.size)
                                .returning(LogState.id)).scalar_one_or_none()
    if state_row is None:
        raise LogError("log_state has no row: is the database migrated (tanggap db upgrade)?")
    state = session.get(LogState, 1, populate_existing=True)
    logged = session.scalar(select(func.max(LogEntry.idx)))
    if (logged + 1 if logged is not None else 0) != state.size:
        raise LogError(f"the log's state says {state.size} entries but the log holds "
                       f"{0 if logged is None else logged + 1}: not adding to it (tanggap audit verify)")
    backfill_open = _backfill_open(session, state)
    pending = LogPending.__table__
    rows = session.execute(_with_events(
        select(pending.c.id, pending.c.case_event_id, pending.c.security_event_id, pending.c.key_id,
               pending.c.signature, *_CASE_COLUMNS, *_SECURITY_COLUMNS).select_from(pending), pending)
        .where(or_(pending.c.key_id.is_(None), pending.c.key_id.in_(sorted(keys.trusted))))
        .order_by(pending.c.id).limit(batch)).mappings().all()
    in_log = _already_logged(session, rows)
    result, frontier = Taken(started=(state.size, state.frontier)), _frontier(state)
    entries, nodes, done = [], [], []
    for row in rows:
        done.append(row["id"])
        found = leaf_of(row)
        label = f"pending {row['id']} (case event {row['case_event_id']}, security event {row['security_event_id']})"
        if found is None:
            result.rejected.append(f"{label}: its event is gone")
            continue
        if (row["case_event_id"], row["security_event_id"]) in in_log:
            result.rejected.append(f"{label}: its event is in the log already")
            continue
        leaf, case_id, seq = found
        message = tv.event_message(leaf)
        backfilled = row["key_id"] is None
        if backfilled and not (backfill_open and row["id"] <= state.legacy_pending_max):
            result.rejected.append(f"{label}: unsigned, and not one of the events from before the log")
            continue
        if backfilled:
            key_id, signature = keys.key_id, keys.sign(message)
        elif keys.verify(row["key_id"], row["signature"], message):
            key_id, signature = row["key_id"], row["signature"]
            backfill_open = False
        else:
            result.rejected.append(f"{label}: its signature does not match the event")
            continue
        leaf_hash = tv.leaf_hash(leaf)
        entries.append({"idx": frontier.size, "case_event_id": row["case_event_id"],
                        "security_event_id": row["security_event_id"], "case_id": case_id, "seq": seq,
                        "leaf_hash": leaf_hash, "key_id": key_id, "signature": signature,
                        "backfilled": backfilled, "logged_at": now})
        nodes += [{"level": level, "idx": index, "hash": h} for level, index, h in frontier.add(leaf_hash)
                  if level % NODE_LEVELS == 0]
        result.backfilled += backfilled
    if entries:
        session.execute(insert(LogEntry), entries)
    if nodes:
        session.execute(insert(LogNode), nodes)
    if done:
        session.execute(delete(LogPending).where(LogPending.id.in_(done)))
    for problem in result.rejected:
        log.warning("refused from the audit log: %s", problem)
    edge = "".join(h.hex() for h in frontier.roots)
    session.execute(update(LogState).where(LogState.id == 1).values(
        size=frontier.size, frontier=edge, backfill_closed=state.backfill_closed or not backfill_open,
        rejected=LogState.rejected + len(result.rejected)))
    result.logged, result.size, result.ended = len(entries), frontier.size, (frontier.size, edge)
    return result


def _backfill_open(session: Session, state: LogState) -> bool:
    """Whether the log holds only events from before it (so more of them may still be signed).
    The flag saves the look; a flag turned back is not believed: the log itself is asked."""
    if state.backfill_closed:
        return False
    return session.scalar(select(LogEntry.idx).where(~LogEntry.backfilled).limit(1)) is None


def _already_logged(session: Session, rows) -> set[tuple[int | None, int | None]]:
    case_ids = [r["case_event_id"] for r in rows if r["case_event_id"] is not None]
    security_ids = [r["security_event_id"] for r in rows if r["security_event_id"] is not None]
    found = set()
    if case_ids:
        found |= {(e, None) for e in session.scalars(select(LogEntry.case_event_id)
                                                      .where(LogEntry.case_event_id.in_(case_ids)))}
    if security_ids:
        found |= {(None, e) for e in session.scalars(select(LogEntry.security_event_id)
                                                      .where(LogEntry.security_event_id.in_(security_ids)))}
    return found


def checked_head(session: Session, keys: AuditKeys) -> tuple[int, bytes]:
    """The size and root to sign, as this worker checked them rather than as ``log_state`` says:
    the newest tree head whose signature holds must still be the root of the log's first leaves
    (read through the kept subtrees), and every entry after it must be the leaf of its event as
    it is now, signed by a trusted key. Otherwise nothing is signed (``LogError``): a row put in
    the log by someone without the key never gets a signed head over it."""
    state = session.get(LogState, 1)
    if state is None:
        raise LogError("log_state has no row: is the database migrated (tanggap db upgrade)?")
    last = None
    for head in session.scalars(select(TreeHead).where(TreeHead.size <= state.size)
                                .order_by(TreeHead.size.desc(), TreeHead.id.desc())):
        if keys.verify(head.key_id, head.signature, tv.head_message(head.size, head.root, head.time)):
            last = head
            break
    frontier = tv.Frontier.of(last.size, stored_perfect(session)) if last is not None else tv.Frontier()
    if last is not None and frontier.root() != last.root:
        raise LogError(f"the log no longer matches tree head {last.id} (size {last.size}): not signing "
                       "(tanggap audit verify)")
    entries = LogEntry.__table__
    rows = session.execute(_with_events(select(*entries.columns, *_CASE_COLUMNS, *_SECURITY_COLUMNS)
                                        .select_from(entries), entries)
                           .where(entries.c.idx >= frontier.size).order_by(entries.c.idx)
                           .execution_options(yield_per=2000)).mappings()
    try:
        for row in rows:
            found = leaf_of(row)
            if row["idx"] != frontier.size or found is None or tv.leaf_hash(found[0]) != row["leaf_hash"] \
                    or not keys.verify(row["key_id"], row["signature"], tv.event_message(found[0])):
                raise LogError(f"log entry {row['idx']} is not the signed leaf of its event: not signing "
                               "(tanggap audit verify)")
            frontier.add(row["leaf_hash"])
    finally:
        rows.close()  # a refusal leaves the server-side cursor open otherwise
    if frontier.size != state.size or frontier.root() != _frontier(state).root():
        raise LogError(f"the log's state (size {state.size}) is not the log's right edge: not signing "
                       "(tanggap audit verify)")
    return frontier.size, frontier.root()


def sign_head(keys: AuditKeys, size: int, root: bytes, now: datetime, tsa=None) -> dict:
    """A tree head's row: signed, and timestamped when ``tsa`` (``config.TsaSettings``) is given.
    No transaction is open here: the authority may take seconds to answer."""
    time = utc_iso(now)
    message = tv.head_message(size, root, time)
    values = {"size": size, "root": root, "time": time, "issued_at": now, "key_id": keys.key_id,
              "signature": keys.sign(message), "tsa_token": None, "tsa_time": None, "tsa_error": None}
    if tsa is not None:
        from workflow import timestamp

        try:
            trusted = timestamp.load_trusted(tsa.ca_file) if tsa.ca_file else None
            token = timestamp.request(tsa.url, hashlib.sha256(message).digest(), timeout=tsa.timeout,
                                      trusted=trusted)
        except (timestamp.TimestampError, ValueError) as exc:
            values["tsa_error"] = str(exc).replace(tsa.url, _shown_url(tsa.url))[:1000]  # /transparansi shows it
            log.warning("tree head %d not timestamped: %s", size, exc)
        else:
            values["tsa_token"], values["tsa_time"] = token.der, token.time
    return values


def _shown_url(url: str) -> str:
    """The authority's address without what may be a credential (user, password, query)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))


class LogKeeper:
    """The log's worker: every round moves the pending events into the log, then signs a tree
    head when the log grew (or always, when asked to publish).

    It remembers the log's state as it last wrote or checked it: when the state is still that
    (no other worker, and nobody else, wrote since), the head is signed over what it wrote itself,
    each signature checked once, on the way in; otherwise :func:`checked_head` checks the log
    since the newest valid head first."""

    def __init__(self, services, *, batch: int = 2000):
        self.services = services
        self.batch = batch
        self.last_head: TreeHead | None = None  # the head the last round signed
        self._key_checked = False
        self._vouched: tuple[int, str] | None = None  # (size, frontier) this worker wrote or checked

    def run_once(self, *, publish: bool = False) -> Taken:
        if not self._key_checked:
            with self.services.sessions() as session:
                check_audit_key(session, self.services.audit_keys)
            self._key_checked = True
        total = Taken()
        while True:  # bounded: each round takes at least one pending row or stops
            with self.services.sessions() as session:
                session.connection(execution_options={WRITE_OPTION: True})
                taken = take(session, self.services.audit_keys, self.services.clock.now(), batch=self.batch)
                session.commit()
            self._vouched = taken.ended if taken.started == self._vouched else None
            total.logged += taken.logged
            total.backfilled += taken.backfilled
            total.rejected += taken.rejected
            total.size = taken.size
            if taken.logged + len(taken.rejected) < self.batch:
                break
        self.last_head = self.head(force=publish)
        return total

    def head(self, *, force: bool = False) -> TreeHead | None:
        with self.services.reading() as session:
            state = session.get(LogState, 1)
            if state is not None and (state.size, state.frontier) == self._vouched:
                size, root = state.size, _frontier(state).root()
            else:
                size, root = checked_head(session, self.services.audit_keys)
                self._vouched = (state.size, state.frontier)
            last = session.scalar(select(func.max(TreeHead.size)))
        if not force and last is not None and last >= size:
            return None
        values = sign_head(self.services.audit_keys, size, root, self.services.clock.now(),
                           self.services.settings.tsa)
        with self.services.sessions() as session:
            session.connection(execution_options={WRITE_OPTION: True})
            head = TreeHead(**values)
            session.add(head)
            session.commit()
        return head

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        from workflow.rounds import run_rounds

        run_rounds(self.run_once, claimed=lambda t: t.logged, batch=self.batch, interval=interval, stop=stop,
                   log=log, describe=lambda t: f"{t.logged} events logged, the log holds {t.size}", empty=Taken())


def start_in_background(services) -> tuple[threading.Thread, threading.Event]:
    """The embedded mode's log worker (``tanggap serve``)."""
    stop = threading.Event()
    thread = threading.Thread(target=LogKeeper(services).run_forever,
                              args=(services.settings.log_interval, stop), name="tanggap-log", daemon=True)
    thread.start()
    return thread, stop


# -- proofs ------------------------------------------------------------------------------------

def latest_head(session: Session) -> TreeHead | None:
    return session.scalars(select(TreeHead).order_by(TreeHead.size.desc(), TreeHead.id.desc()).limit(1)).first()


def inclusion(session: Session, idx: int, size: int) -> list[bytes]:
    return tv.inclusion_proof(idx, size, stored_perfect(session))


def consistency(session: Session, old_size: int, new_size: int) -> list[bytes]:
    return tv.consistency_proof(old_size, new_size, stored_perfect(session))


def head_document(head: TreeHead) -> dict:
    """A tree head as published (``/transparansi``) and as ``tanggap_verify`` reads it."""
    import base64

    return {"size": head.size, "root": head.root.hex(), "time": head.time, "key_id": head.key_id,
            "signature": base64.b64encode(head.signature).decode(),
            "timestamp_token": base64.b64encode(head.tsa_token).decode() if head.tsa_token else None}


# -- verification ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log; ``idx`` the first leaf it concerns, for ordering."""

    idx: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class LogReport:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    size: int = 0
    heads_checked: int = 0
    signatures_checked: int = 0

    def add(self, idx: int, text: str) -> None:
        self.problems.append(Problem(idx, text))


def _event_name(case_id: int | None, seq: int, event_id: int | None) -> str:
    chain = f"case {case_id}" if case_id is not None else "security log"
    return f"{chain}, seq {seq}" + (f" (event id {event_id})" if event_id is not None else "")


def _check_signatures(trusted: dict[str, bytes], jobs: Sequence[tuple[int, str, str, bytes, bytes]]) -> list:
    """(idx, name, key_id, signature, message) → the failing ones as (idx, text): run in a worker
    process (Ed25519 verification is what verifying a large log mostly costs)."""
    failed = []
    for idx, name, key_id, signature, message in jobs:
        public = trusted.get(key_id)
        if public is None:
            failed.append((idx, f"{name}: signed with a key that is not trusted ({key_id})"))
        elif not tv.ed25519_verify(public, signature, message):
            failed.append((idx, f"{name}: its signature does not match (the event was inserted or changed "
                                "without the audit key)"))
    return failed


class _Signatures:
    """Signature checks in chunks, in worker processes when there are many."""

    CHUNK = 4000

    def __init__(self, trusted: dict[str, bytes], processes: int | None):
        self.trusted, self.processes = trusted, processes
        self.jobs: list = []
        self.futures: list = []
        self.failed: list = []
        self.count = 0
        self._pool: ProcessPoolExecutor | None = None

    def add(self, job) -> None:
        self.jobs.append(job)
        self.count += 1
        if len(self.jobs) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        jobs, self.jobs = self.jobs, []
        if not jobs:
            return
        if self.processes == 1:
            self.failed += _check_signatures(self.trusted, jobs)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=get_context("spawn"))
        self.futures.append(self._pool.submit(_check_signatures, self.trusted, jobs))
        while len(self.futures) > 2 * (self.processes or 2):  # bounded memory: wait for the oldest
            self.failed += self.futures.pop(0).result()

    def finish(self) -> list:
        if self.futures or self.count > self.CHUNK:
            self._flush()
        else:  # a few: not worth starting processes
            self.failed += _check_signatures(self.trusted, self.jobs)
            self.jobs = []
        for future in self.futures:
            self.failed += future.result()
        self.futures = []
        return self.failed

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def verify(session: Session, keys: AuditKeys, *, heads: Sequence[dict] = (), each_signature: bool = False,
           processes: int | None = None, batch: int = 5000) -> LogReport:
    """Check the log against the events and the tree heads, all read as of one moment
    (``audit.one_snapshot``: a worker committing meanwhile changes nothing seen).

    * every leaf, recomputed from its event as it is now, matches the leaf logged (a changed,
      swapped or deleted event is named);
    * leaf indexes run 0, 1, 2 ..., the kept subtree hashes and the log's state match the leaves,
      and events from before the log come before every signed one;
    * every tree head of the database, and ``heads`` (kept outside, as published), is signed by a
      trusted key and is the root of the log's first ``size`` leaves: a log rewritten or cut
      short since any of them is found, with the range of leaves concerned;
    * every event is in the log or queued with a valid signature (one inserted without the key
      is named).

    The signatures of leaves under the latest tree head that matches are vouched for by that
    head's one signature (the worker signs a head only over leaves whose signatures it checked:
    ``checked_head``); the leaves after it are checked one by one (``each_signature``: all of
    them, in ``processes`` worker processes).
    """
    with audit.one_snapshot(session) as conn:
        snapshot = Session(bind=conn)
        try:
            return _verify(snapshot, keys, heads, each_signature, processes, batch)
        finally:
            snapshot.close()


def _verify(session: Session, keys: AuditKeys, heads: Sequence[dict], each_signature: bool,
            processes: int | None, batch: int) -> LogReport:
    report = LogReport()
    all_heads = _heads(session, keys, heads, report)
    by_size: dict[int, list[dict]] = {}
    for head in all_heads:
        by_size.setdefault(head["size"], []).append(head)
    covered = max((h["size"] for h in all_heads if h["signed"]), default=0)
    stored_nodes = {(n.level, n.idx): n.hash for n in session.execute(select(LogNode.level, LogNode.idx, LogNode.hash))}
    frontier = tv.Frontier()
    matched_sizes: set[int] = set()
    if 0 in by_size:
        _compare_root(by_size.pop(0), frontier, report, matched_sizes)
    gap = None  # the first missing index: past it the tree cannot be recomputed
    signed_seen = False
    signatures = _Signatures(keys.trusted, processes if processes is not None else (None if each_signature else 1))
    entries = LogEntry.__table__
    query = _with_events(select(*entries.columns, *_CASE_COLUMNS, *_SECURITY_COLUMNS).select_from(entries), entries)
    result = session.execute(query.order_by(entries.c.idx).execution_options(yield_per=batch)).mappings()
    try:
        for row in result:
            idx = row["idx"]
            event_id = row["case_event_id"] or row["security_event_id"]
            name = _event_name(row["case_id"], row["seq"], event_id)
            if gap is None and idx != frontier.size:
                gap = frontier.size
                report.add(gap, f"log entries from {gap} on are missing or out of place (the next entry is "
                                f"numbered {idx}): the log was changed")
            if row["backfilled"] and signed_seen:
                report.add(idx, f"{name}, logged at index {idx}, is marked as written before the log but "
                                "comes after signed events (the worker was made to sign it)")
            signed_seen = signed_seen or not row["backfilled"]
            found = leaf_of(row)
            if found is None:
                report.add(idx, f"{name}, logged at index {idx}, is missing: the event was deleted")
            else:
                leaf, case_id, seq = found
                if tv.leaf_hash(leaf) != row["leaf_hash"] or (case_id, seq) != (row["case_id"], row["seq"]):
                    report.add(idx, f"{name}, logged at index {idx}, was changed after it was logged (now "
                                    f"{_event_name(case_id, seq, None)}; its leaf no longer matches)")
                elif each_signature or idx >= covered or gap is not None:
                    signatures.add((idx, f"{name}, logged at index {idx}", row["key_id"], row["signature"],
                                    tv.event_message(leaf)))
            if gap is not None:
                continue
            for level, index, h in frontier.add(row["leaf_hash"]):
                if level % NODE_LEVELS == 0:
                    stored = stored_nodes.pop((level, index), None)
                    if stored != h:
                        report.add(index << level, f"the kept subtree of level {level} at {index} "
                                                   + ("is missing" if stored is None else "does not match its leaves")
                                                   + " (log_nodes was changed)")
            if frontier.size in by_size:
                _compare_root(by_size.pop(frontier.size), frontier, report, matched_sizes)
        _unlogged(session, report, signatures)
        failed = signatures.finish()
    finally:
        result.close()
        signatures.close()
    for idx, text in failed:
        report.add(idx, text)
    report.size = frontier.size
    for (level, index), _ in sorted(stored_nodes.items()):
        if gap is None:
            report.add(index << level, f"a kept subtree of level {level} at {index} lies beyond the log's "
                                       f"{frontier.size} entries (entries were removed)")
    for size, group in sorted(by_size.items()):  # heads larger than the log (or past a gap)
        for head in group:
            report.add(frontier.size, f"{head['name']} covers {size} entries, the log holds only {frontier.size}"
                                      + (" in order" if gap is not None else "")
                                      + f": entries {frontier.size} to {size - 1} were removed")
    if covered and covered not in matched_sizes:  # the vouching head failed: check every signature
        report.notes.append("the latest signed tree head does not match: run with --each-signature to check "
                            "every event's own signature")
    state = session.get(LogState, 1)
    if state is None:
        report.add(0, "log_state has no row (the log's state was deleted)")
    elif state.size != frontier.size or (gap is None and _frontier(state).root() != frontier.root()):
        report.add(min(state.size, frontier.size), f"the log's state (size {state.size}) is not the right edge of "
                                                   f"the log's {frontier.size} entries (log_state was changed)")
    report.signatures_checked = signatures.count
    report.problems.sort(key=lambda p: p.idx)
    return report


def verify_anchors(session: Session, tsa) -> tuple[int, list[str], int]:
    """Verify the RFC 3161 token of every tree head that has one, against the authority's
    certificates (``TANGGAP_TSA_CA_FILE``): how many verify, the problems, and how many heads
    have no token (anchoring was off or failed then: their ``tsa_error`` says why)."""
    from workflow import timestamp

    if tsa is None or tsa.ca_file is None:
        return 0, ["--anchors: no time-stamp authority certificate is configured (TANGGAP_TSA_CA_FILE)"], 0
    try:
        trusted = timestamp.load_trusted(tsa.ca_file)
    except ValueError as exc:
        return 0, [f"--anchors: {exc}"], 0
    unstamped = session.scalar(select(func.count()).select_from(TreeHead).where(TreeHead.tsa_token.is_(None)))
    verified, problems = 0, []
    for head in session.scalars(select(TreeHead).where(TreeHead.tsa_token.is_not(None)).order_by(TreeHead.id)):
        digest = hashlib.sha256(tv.head_message(head.size, head.root, head.time)).digest()
        try:
            timestamp.verify(head.tsa_token, digest, trusted)
        except timestamp.TimestampError as exc:
            problems.append(f"tree head {head.id} ({head.time}, size {head.size}): its timestamp does not "
                            f"verify: {exc}")
        else:
            verified += 1
    return verified, problems, unstamped


def _heads(session: Session, keys: AuditKeys, external: Sequence[dict], report: LogReport) -> list[dict]:
    """The tree heads to check, the database's and the given ones, each with its signature checked."""
    import base64
    import binascii

    heads = []
    for head in session.scalars(select(TreeHead).order_by(TreeHead.id)):
        heads.append({"size": head.size, "root": head.root, "time": head.time, "key_id": head.key_id,
                      "signature": head.signature, "name": f"tree head {head.id} ({head.time}, size {head.size})"})
    for n, doc in enumerate(external, 1):
        try:
            heads.append({"size": int(doc["size"]), "root": bytes.fromhex(doc["root"]), "time": str(doc["time"]),
                          "key_id": str(doc["key_id"]), "signature": base64.b64decode(doc["signature"], validate=True),
                          "name": f"kept tree head {n} ({doc['time']}, size {doc['size']})"})
        except (KeyError, TypeError, ValueError, OverflowError, binascii.Error) as exc:
            report.add(0, f"kept tree head {n} is not a tree head ({exc})")
    for head in heads:
        ok = keys.verify(head["key_id"], head["signature"], tv.head_message(head["size"], head["root"], head["time"]))
        head["signed"] = bool(ok)
        if ok is None:
            report.add(0, f"{head['name']}: signed with a key that is not trusted ({head['key_id']})")
        elif not ok:
            report.add(0, f"{head['name']}: its signature does not match (the head was forged or changed)")
    report.heads_checked = len(heads)
    return heads


def _compare_root(group: list[dict], frontier: tv.Frontier, report: LogReport, matched: set[int]) -> None:
    root = frontier.root()
    for head in group:
        if head["root"] == root:
            if head["signed"]:
                matched.add(head["size"])
        else:
            report.add(max(head["size"] - 1, 0), f"{head['name']} does not match the log's first {head['size']} "
                                                 "entries: the log was rewritten at or before that point")


def _unlogged(session: Session, report: LogReport, signatures: _Signatures) -> None:
    """Events neither in the log nor queued with a signature, and the queued ones' signatures."""
    state = session.get(LogState, 1)
    legacy = state.legacy_pending_max if state else 0
    for model, column, kind in ((CaseEvent, LogEntry.case_event_id, "case"),
                                (SecurityEvent, LogEntry.security_event_id, "security")):
        pending_column = getattr(LogPending, column.key)
        stray = select(model).where(~exists().where(column == model.id), ~exists().where(pending_column == model.id))
        for event in session.scalars(stray.order_by(model.id).limit(1000)):
            report.add(AFTER_THE_LOG, f"{_event_name(getattr(event, 'case_id', None), event.seq, event.id)}: not signed "
                               "and not in the log (inserted without the audit key)")
    pending = LogPending.__table__
    rows = session.execute(_with_events(
        select(pending.c.id, pending.c.key_id, pending.c.signature, pending.c.case_event_id,
               pending.c.security_event_id, *_CASE_COLUMNS, *_SECURITY_COLUMNS).select_from(pending), pending)
        .order_by(pending.c.id).execution_options(yield_per=5000)).mappings()
    waiting = backfill = 0
    for row in rows:
        found = leaf_of(row)
        if found is None:
            continue  # a queued row whose event is gone: the worker refuses it; the event's absence is
            # named by its chain
        leaf, case_id, seq = found
        name = _event_name(case_id, seq, row["case_event_id"] or row["security_event_id"])
        if row["key_id"] is None and row["id"] <= legacy:
            backfill += 1
        elif row["key_id"] is None:
            report.add(AFTER_THE_LOG, f"{name}: queued for the log without a signature (inserted without the audit key)")
        else:
            waiting += 1
            signatures.add((AFTER_THE_LOG, f"{name}, not yet in the log", row["key_id"], row["signature"],
                            tv.event_message(leaf)))
    if waiting:
        report.notes.append(f"{waiting} events are signed and wait for the log's worker")
    if backfill:
        report.notes.append(f"{backfill} events from before the log wait to be added to it")


def events_of(session: Session, case_id: int) -> Iterator:
    """A case's events with their log entries (or None while queued), in chain order."""
    return iter(session.execute(select(CaseEvent, LogEntry, LogPending)
                                .outerjoin(LogEntry, LogEntry.case_event_id == CaseEvent.id)
                                .outerjoin(LogPending, LogPending.case_event_id == CaseEvent.id)
                                .where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).all())

