#!/usr/bin/env python3
"""Check Tanggap's audit trail without Tanggap: one file, the Python standard library only.

Tanggap writes every audit event into a per-case hash chain and, in commit order, into one
append-only Merkle log hashed as Certificate Transparency's (RFC 9162, section 2.1): a leaf
hash is ``sha256(0x00 || leaf)``, an inner node ``sha256(0x01 || left || right)``. Every
event's leaf is signed (Ed25519) when it is written; a worker signs the log's tree head (size,
root, time) every few minutes and has it timestamped by an RFC 3161 authority.

This module is both the rule the app uses (the app imports it: there is one definition of
each hash) and the offline verifier a citizen or an inspector downloads from ``/transparansi``
to check a "Bukti riwayat" without trusting the city's server.

The hashing, proofs and messages here are the specification; change nothing in them without a
new format version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()
GENESIS = "0" * 64  # the prev_hash of the first event of a chain
EVENT_CONTEXT = b"tanggap-event/1\x00"  # what an event's signature is over: this, then the leaf
HEAD_CONTEXT = b"tanggap-tree-head/1\x00"  # what a tree head's signature is over: this, then the head
CASE, SECURITY = "case", "security"  # the two kinds of event in the log


# -- the event: canonical JSON, chain hash, leaf --------------------------------------------------

def canonical_json(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the one serialization every hash is over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)


def chain_hash(prev_hash: str, payload: dict) -> str:
    """An event's link in its chain: ``sha256(prev_hash + canonical JSON of its fields)``, hex."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def leaf(kind: str, *, seq: int, hash: str, action: str, occurred_at: str, case_id: int | None = None) -> bytes:
    """The log's leaf for one event: which chain, where in it, its chain hash, and what happened
    when (so a proof of the leaf alone shows the action and its time, not the event's content)."""
    entry: dict[str, Any] = {"kind": kind, "seq": seq, "hash": hash, "action": action, "at": occurred_at}
    if kind == CASE:
        entry["case_id"] = case_id
    elif kind != SECURITY:
        raise ValueError(f"unknown event kind {kind!r}")
    return canonical_json(entry).encode("utf-8")


def event_message(leaf_bytes: bytes) -> bytes:
    return EVENT_CONTEXT + leaf_bytes


def head_message(size: int, root: bytes, time: str) -> bytes:
    """What a signed tree head's signature (and its RFC 3161 timestamp, as sha256) is over."""
    return HEAD_CONTEXT + canonical_json({"size": size, "root": root.hex(), "time": time}).encode("utf-8")


def key_id(public_key: bytes) -> str:
    """A signing key's id: the first 16 hex digits of sha256 over its 32 raw bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


# -- RFC 9162 Merkle tree ------------------------------------------------------------------------

def leaf_hash(leaf_bytes: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 9162 2.1.1)."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:  # pairing level by level, an odd last node rises as is: the same tree
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# ``perfect(level, index)``: the hash of the complete subtree over leaves
# [index * 2**level, (index + 1) * 2**level), however the caller keeps the tree.
Perfect = Callable[[int, int], bytes]


def perfect_from_list(hashes: Sequence[bytes]) -> Perfect:
    def perfect(level: int, index: int) -> bytes:
        return merkle_root(hashes[index << level:(index + 1) << level])
    return perfect


def subtree_hash(start: int, end: int, perfect: Perfect) -> bytes:
    """MTH of leaves [start, end) where ``start`` is a multiple of the largest power of two
    below ``end - start`` (every range RFC 9162's recursion visits is)."""
    n = end - start
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return perfect(level, start >> level)
    k = _split(n)
    return node_hash(subtree_hash(start, start + k, perfect), subtree_hash(start + k, end, perfect))


def inclusion_proof(index: int, size: int, perfect: Perfect) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            proof.append(subtree_hash(start + k, end, perfect))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, perfect))
            start += k
    return proof[::-1]


def verify_inclusion(index: int, size: int, leaf_hash_: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash_
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(old_size: int, new_size: int, perfect: Perfect) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1)."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    m, start, end, complete = old_size, 0, new_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(start + k, end, perfect))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, perfect))
            m, start, complete = m - k, start + k, False
    if not complete:
        proof.append(subtree_hash(start, end, perfect))
    return proof[::-1]


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
    if old_size > new_size or old_size < 0:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class Frontier:
    """The log's right edge: the roots of the complete subtrees that make up its first ``size``
    leaves (one per bit of ``size``). Adding a leaf completes subtrees; :meth:`root` folds them."""

    def __init__(self, size: int = 0, roots: Iterable[bytes] = ()):
        self.size = size
        self._stack = list(roots)  # largest (leftmost) subtree first
        if len(self._stack) != bin(size).count("1"):
            raise ValueError(f"a frontier of {size} leaves has {bin(size).count('1')} subtrees")

    @classmethod
    def of(cls, size: int, perfect: Perfect) -> Frontier:
        """The frontier of a kept tree, read through ``perfect``."""
        roots, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                roots.append(perfect(level, start >> level))
                start += 1 << level
        return cls(size, roots)

    def add(self, leaf_hash_: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf; return the subtrees it completed as ``(level, index, hash)``."""
        completed, h, level = [], leaf_hash_, 0
        self.size += 1
        while self.size >> level & 1 == 0:  # the bit this level's subtree sat on carried over
            h = node_hash(self._stack.pop(), h)
            level += 1
            completed.append((level, (self.size >> level) - 1, h))
        self._stack.append(h)
        return completed

    @property
    def roots(self) -> list[bytes]:
        """The subtree roots, largest first (what :meth:`of` and the constructor take)."""
        return list(self._stack)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h
