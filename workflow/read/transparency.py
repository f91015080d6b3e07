"""What the city publishes of its audit log (``/transparansi``), and a reporter's "Bukti riwayat".

Everyone may read the signed tree heads, their RFC 3161 time-stamps, the public keys and the
proofs that each head extends the one before (consistency). The holder of a tracking code may
download the proof of their report's history: each event's action, time and chain hash, its
signature and its inclusion proof under the latest tree head. With those and the public key,
``tanggap_verify`` (one file, the standard library only) shows that the history was written as
it happened and was not changed since, without trusting the city's server.

A bundle discloses what each event's log leaf holds and nothing more: which action, when, and
the hashes. No name, contact, reason, note or form data, and never the tracking code (the file
may be passed on; it names the case by its number).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow import tanggap_verify as tv
from workflow.errors import NotFound, ValidationError
from workflow.messages import msg
from workflow.ranges import MAX_PAGE
from workflow.read.paging import Page, paging_errors
from workflow.read.public import case_of  # the status page's own rule: a code finds its report's case
from workflow.signing import AuditKeys
from workflow.store import audit, merkle_log
from workflow.store.models import TreeHead
from workflow.store.tracking import TrackingCodes
from workflow.store.types import utc_iso

HEAD_FORMAT = "tanggap-tree-head/1"
HEADS_FORMAT = "tanggap-tree-heads/1"
CONSISTENCY_FORMAT = "tanggap-konsistensi/1"
BUNDLE_FORMAT = "tanggap-bukti-riwayat/1"
HISTORY_PAGE = 50  # tree heads a page of /transparansi lists
HEADS_PAGE = 500  # tree heads a page of tree-heads.json holds (a time-stamped head is some 4 KB)
LARGEST_ID = 2**62  # beyond every row id: refused before it reaches the database


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- tree heads ----------------------------------------------------------------------------------

def head_file(head: TreeHead) -> dict:
    """One tree head as a file of its own (``tanggap audit tree-head`` writes the same)."""
    return {"format": HEAD_FORMAT, **merkle_log.head_document(head)}


def tree_head(session: Session, head_id: int) -> TreeHead:
    head = session.get(TreeHead, head_id) if 0 < head_id < LARGEST_ID else None
    if head is None:
        raise NotFound(msg("no tree head has this number"))
    return head


def head_page(session: Session, *, page: int = 1, per_page: int = HISTORY_PAGE) -> Page:
    """The tree heads, the newest first."""
    errors = paging_errors(page, per_page)
    if errors:
        raise ValidationError(errors)
    total = session.scalar(select(func.count()).select_from(TreeHead)) or 0
    rows = session.scalars(select(TreeHead).order_by(TreeHead.id.desc()).limit(per_page)
                           .offset((page - 1) * per_page)).all()
    return Page(rows=list(rows), total=total, page=page, per_page=per_page)


def heads_file(session: Session, *, page: int = 1, per_page: int | None = None) -> dict:
    """Every tree head, the oldest first, ``per_page`` a page: page 1 is always the first heads
    signed, so a page once full never changes (an outside copy only fetches the pages after
    the last one it kept). ``tanggap audit verify --heads`` reads the file as it is."""
    per_page = per_page or HEADS_PAGE  # more than a list's page (paging.MAX_PER_PAGE): they are small
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError({"page": msg("must be between 1 and {limit}", limit=MAX_PAGE)})
    total = session.scalar(select(func.count()).select_from(TreeHead)) or 0
    rows = session.scalars(select(TreeHead).order_by(TreeHead.id).limit(per_page).offset((page - 1) * per_page))
    return {"format": HEADS_FORMAT, "page": page, "pages": max(1, math.ceil(total / per_page)), "total": total,
            "heads": [merkle_log.head_document(h) for h in rows]}


@dataclass(frozen=True)
class Anchor:
    """What a tree head's RFC 3161 token says (read, not verified: ``verify_anchors`` and
    ``openssl ts -verify`` check it against the authority's certificate)."""

    time: datetime | None  # the time the authority certified; None when the token cannot be read
    serial: int | None
    tsa: str


def anchor_of(head: TreeHead) -> Anchor | None:
    """The token's time, serial and authority; None when the head has no token."""
    from workflow import timestamp

    if not head.tsa_token:
        return None
    try:
        token = timestamp.token_info(head.tsa_token)
    except timestamp.TimestampError:
        return Anchor(time=None, serial=None, tsa="")
    return Anchor(time=token.time, serial=token.serial, tsa=token.tsa)


def head_digest(head: TreeHead) -> str:
    """The SHA-256 (hex) a head's time-stamp is over: ``openssl ts -verify -digest`` takes it."""
    return hashlib.sha256(tv.head_message(head.size, head.root, head.time)).hexdigest()


def short_error(text: str | None, limit: int = 200) -> str:
    """Why anchoring failed, as an operator's first line, cut to ``limit`` characters."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def consistency_file(session: Session, old_size: int | None, new_size: int | None) -> dict:
    """The proof that the tree head of ``new_size`` entries extends the one of ``old_size``
    (RFC 9162 2.1.4): both must be sizes of signed tree heads. A size given as None was not
    a whole number. Errors name the query's fields (``dari``, ``ke``)."""
    errors: dict = {}
    heads: dict[str, TreeHead] = {}
    for name, size in (("dari", old_size), ("ke", new_size)):
        if size is None:
            errors[name] = msg("must be the number of events of a tree head (a whole number)")
            continue
        found = session.scalars(select(TreeHead).where(TreeHead.size == size)
                                .order_by(TreeHead.id.desc()).limit(1)).first() if size < LARGEST_ID else None
        if found is None:
            errors[name] = msg("no tree head covers exactly {size} events", size=size)
        else:
            heads[name] = found
    if not errors and old_size > new_size:
        errors["dari"] = msg("must not be larger than ke")
    if errors:
        raise ValidationError(errors)
    proof = merkle_log.consistency(session, old_size, new_size)
    return {"format": CONSISTENCY_FORMAT, "from": merkle_log.head_document(heads["dari"]),
            "to": merkle_log.head_document(heads["ke"]), "proof": [h.hex() for h in proof]}


# -- keys ----------------------------------------------------------------------------------------

def key_order(keys: AuditKeys) -> list[str]:
    """Key ids, the signing key's first, then the retired ones (as ``public_pems``)."""
    return [keys.key_id] + sorted(k for k in keys.trusted if k != keys.key_id)


def public_keys(keys: AuditKeys) -> list[dict]:
    return [{"key_id": k, "public_key": _b64(keys.trusted[k])} for k in key_order(keys)]


# -- a reporter's proof of history -----------------------------------------------------------

def _cached(perfect: tv.Perfect) -> tv.Perfect:
    """One case's proofs share most of their subtrees: each is read once."""
    return functools.lru_cache(maxsize=None)(perfect)


def history_bundle(session: Session, codes: TrackingCodes, keys: AuditKeys, tracking_code: str, *,
                   now: datetime, source: str) -> dict:
    """The "Bukti riwayat" of the report ``tracking_code`` names (``NotFound`` as the status
    page): every event of its case with the leaf's fields, its signature (from the log, or
    from the queue while the log's worker has not taken it) and, for the events the latest tree
    head covers, its index and inclusion proof. ``source``: where the tree heads are published."""
    case = case_of(session, codes, tracking_code)
    head = merkle_log.latest_head(session)
    perfect = _cached(merkle_log.stored_perfect(session))
    events = []
    for event, entry, pending in merkle_log.events_of(session, case.id):
        payload = audit.row_payload(event)
        signed = entry if entry is not None else pending
        index = entry.idx if entry is not None and head is not None and entry.idx < head.size else None
        proof = tv.inclusion_proof(index, head.size, perfect) if index is not None else None
        events.append({
            "seq": event.seq, "action": event.action, "occurred_at": payload["occurred_at"],
            "prev_hash": event.prev_hash, "hash": event.hash,
            "key_id": signed.key_id if signed is not None and signed.signature else None,
            "signature": _b64(signed.signature) if signed is not None and signed.signature else None,
            "log_index": index, "inclusion_proof": [h.hex() for h in proof] if proof is not None else None})
    return {"format": BUNDLE_FORMAT, "case_id": case.id, "case_number": case.number,
            "tree_head": merkle_log.head_document(head) if head is not None else None,
            "public_keys": public_keys(keys), "events": events, "generated_at": utc_iso(now), "source": source}
