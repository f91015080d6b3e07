#!/usr/bin/env python3
"""Check Tanggap's audit trail without Tanggap: one file, the Python standard library only
(Python 3.9 or newer).

Tanggap writes every audit event into a per-case hash chain and, in the order written, into one
append-only Merkle log hashed as Certificate Transparency's (RFC 9162, section 2.1): a leaf
hash is ``sha256(0x00 || leaf)``, an inner node ``sha256(0x01 || left || right)``. Every
event's leaf is signed (Ed25519) when it is written; a worker signs the log's tree head (size,
root, time) every few minutes and has it timestamped by an RFC 3161 authority.

This module is both the rule the app uses (the app imports it: there is one definition of
each hash) and the offline verifier a citizen or an inspector downloads from ``/transparansi``
to check a "Bukti riwayat" without trusting the city's server.

The hashing, proofs and messages here are the specification; change nothing in them without a
new format version.

Usage (messages are in Indonesian, for the citizens who run it)::

    python3 tanggap_verify.py bukti.json [--key kunci-kota.pem ...] [--tsa-ca ca-tsa.pem]
                              [--token-out token.tsr] [--json]

``--token-out FILE`` writes the head's RFC 3161 token (DER) to FILE, to check it by hand (for a
consistency document FILE-lama and FILE-baru, the older and the newer head's).

Exit status 0: the proof holds (keys given with ``--key``, every event signed and under the
tree head); 1: it does not (each failure is named: which event, by seq, action and time); 2: the
input cannot be read (not JSON, unknown ``format``, unreadable key); 3: nothing is wrong but
the proof is not complete yet (the keys came with the file, or events wait for the next tree
head: the report says which).
Ed25519 signatures are checked with the ``cryptography`` package when it is importable, else in
pure Python (:data:`ED25519_IMPLEMENTATION` says which; the report's first line too).

Without ``--key`` the public keys the document carries are used, with a warning: they prove
only that the document is self-consistent, not that the city signed it; ``--key`` (PEM
SubjectPublicKeyInfo, several blocks or files allowed) trusts exactly those keys. The RFC 3161
token cannot be checked with the standard library: with ``--tsa-ca`` and ``openssl`` on the
PATH it is checked by ``openssl ts -verify -digest <sha256 of head_message> -in <token>
-token_in -CAfile <ca>``; otherwise the report says it was not checked and prints that command.

A "Bukti riwayat" (one case's history, produced by the app) is JSON::

    {"format": "tanggap-bukti-riwayat/1",
     "case_id": 12,                        # int: the leaf's case_id
     "case_number": "TGP-2026-000012",     # shown to the reader
     "tree_head": {"size": 1234,           # leaves under the head
                   "root": "<64 hex>",     # merkle_root of the first `size` leaf hashes
                   "time": "2026-12-04T01:02:03.000000+00:00",
                   "key_id": "<16 hex>",   # key_id() of the signing key
                   "signature": "<base64 Ed25519 over head_message(size, root, time)>",
                   "timestamp_token": "<base64 DER RFC 3161 TimeStampToken over
                                        sha256(head_message(size, root, time))>" | null},
     "public_keys": [{"key_id": "<16 hex>", "public_key": "<base64, raw 32 bytes>"}],
     "events": [{"seq": 1,                 # 1..n in order, none missing
                 "action": "case_created",
                 "occurred_at": "...",     # exactly the text the leaf was made with
                 "prev_hash": "<64 hex>",  # GENESIS for seq 1, else the previous event's hash
                 "hash": "<64 hex>",       # the event's chain hash (chain_hash)
                 "key_id": "<16 hex>",
                 "signature": "<base64 Ed25519 over event_message(leaf("case", case_id=...,
                                seq=..., prev_hash=..., hash=..., action=..., occurred_at=...))>",
                 "log_index": 17 | null,   # the leaf's index in the log; null: not yet under
                                           # the head (signed, waits for the next one)
                 "inclusion_proof": ["<64 hex>", ...] | null}],   # RFC 9162 PATH(log_index, size)
     "generated_at": "...", "source": "https://.../lacak/..."}    # informational only

A consistency document shows that a newer tree head extends an older one (a citizen who kept an
old bukti checks that nothing under its head was rewritten since)::

    {"format": "tanggap-konsistensi/1",
     "from": <tree_head as above>, "to": <tree_head as above>,
     "proof": ["<64 hex>", ...],            # RFC 9162 PROOF(from.size, to.size)
     "public_keys": [...]}                  # optional, as in a bukti; else --key is needed

What a bukti proves: each listed event was signed, as leaf, by a key of the city; the logged
ones are in the log under the signed head; seqs 1..n are all there and each event chains from
the one before. It carries no event's content (only its chain hash), and it cannot show that no
event came after the last one listed. Only ``case_id`` is signed (in every leaf); the report
names the case by ``case_number`` and that id.

The checks are functions the app's tests call too: :func:`check_bundle`,
:func:`check_consistency` (each returns a :class:`Result`), :func:`check_timestamps`,
:func:`load_public_keys`, :func:`ed25519_verify`, and :func:`main` for the command line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()
GENESIS = "0" * 64  # the prev_hash of the first event of a chain
EVENT_CONTEXT = b"tanggap-event/1\x00"  # what an event's signature is over: this, then the leaf
HEAD_CONTEXT = b"tanggap-tree-head/1\x00"  # what a tree head's signature is over: this, then the head
CASE, SECURITY = "case", "security"  # the two kinds of event in the log
EXIT_UNPROVEN = 3  # the CLI's exit status when nothing is wrong but the proof is not complete


# -- the event: canonical JSON, chain hash, leaf --------------------------------------------------

def canonical_json(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the one serialization every hash is over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)


def chain_hash(prev_hash: str, payload: dict) -> str:
    """An event's link in its chain: ``sha256(prev_hash + canonical JSON of its fields)``, hex."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def leaf(kind: str, *, seq: int, prev_hash: str, hash: str, action: str, occurred_at: str,
         case_id: int | None = None) -> bytes:
    """The log's leaf for one event: which chain, where in it, the chain hash before it and its
    own (so signed leaves chain to each other), and what happened when (so a proof of the leaf
    alone shows the action and its time, not the event's content)."""
    entry: dict[str, Any] = {"kind": kind, "seq": seq, "prev": prev_hash, "hash": hash, "action": action,
                             "at": occurred_at}
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


# -- Ed25519 verification (RFC 8032) ---------------------------------------------------------------
#
# With the ``cryptography`` package installed (the app always has it) its OpenSSL-backed verifier is
# used; without it -- a citizen's bare Python -- the pure-Python verifier of RFC 8032 section 5.1.7
# below. Both are cofactorless ([S]B = R + [k]A) and reject S >= L; only signature verification is
# here, so nothing in it handles a secret and constant time does not matter.

try:
    from cryptography.exceptions import InvalidSignature as _InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey as _Ed25519PublicKey
except ImportError:  # the verifier on a citizen's machine: the standard library only
    _Ed25519PublicKey = None

ED25519_IMPLEMENTATION = "cryptography" if _Ed25519PublicKey is not None else "python"
"""Which verifier :func:`ed25519_verify` uses: ``"cryptography"`` or ``"python"`` (pure Python)."""

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493  # the order of the base point
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, x*y = T/Z
_IDENTITY: _Point = (0, 1, 1, 0)


def _point_add(p: _Point, q: _Point) -> _Point:
    """RFC 8032 5.1.4: the complete addition formula (also right for p == q)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _point_double(p: _Point) -> _Point:
    x1, y1, z1, _ = p
    a, b, c = x1 * x1 % _P, y1 * y1 % _P, 2 * z1 * z1 % _P
    h = a + b
    e, g = h - (x1 + y1) * (x1 + y1), a - b
    f = c + g
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _point_multiply(scalar: int, p: _Point) -> _Point:
    q = _IDENTITY
    for bit in bin(scalar)[2:]:
        q = _point_double(q)
        if bit == "1":
            q = _point_add(q, p)
    return q


def _point_encode(p: _Point) -> bytes:
    x, y, z, _ = p
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _point_decode(s: bytes) -> _Point | None:
    """RFC 8032 5.1.3; ``None`` for a non-canonical y (≥ p), no square root, or -0."""
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return None
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx == (-u) % _P:
        x = x * _SQRT_M1 % _P
    elif vxx != u:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y, 1, x * y % _P


_BASE = _point_decode((4 * pow(5, _P - 2, _P) % _P).to_bytes(32, "little"))
_BASE_DOUBLINGS: list[_Point] = []  # 2**i * B for i < 253, filled on first use


def _base_multiply(scalar: int) -> _Point:
    """[scalar]B by adding precomputed doublings of B: a third of the work of the ladder."""
    if not _BASE_DOUBLINGS:
        p = _BASE
        for _ in range(253):
            _BASE_DOUBLINGS.append(p)
            p = _point_double(p)
    q, i = _IDENTITY, 0
    while scalar:
        if scalar & 1:
            q = _point_add(q, _BASE_DOUBLINGS[i])
        scalar >>= 1
        i += 1
    return q


def ed25519_verify_python(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """RFC 8032 5.1.7 in pure Python: decode A and R, reject S ≥ L, check [S]B = R + [k]A."""
    if not all(isinstance(v, (bytes, bytearray, memoryview)) for v in (public_key, signature, message)):
        return False
    public_key, signature, message = bytes(public_key), bytes(signature), bytes(message)
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a, r = _point_decode(public_key), _point_decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    return _point_encode(_base_multiply(s)) == _point_encode(_point_add(r, _point_multiply(k, a)))


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s Ed25519 signature of ``message`` (raw 32-byte key,
    64-byte signature). False for anything malformed; never raises."""
    if _Ed25519PublicKey is None:
        return ed25519_verify_python(public_key, signature, message)
    if not all(isinstance(v, (bytes, bytearray, memoryview)) for v in (public_key, signature, message)):
        return False
    try:
        _Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature), bytes(message))
    except _InvalidSignature:
        return False
    except Exception:  # a malformed key or signature, or an OpenSSL without Ed25519: the same rule in Python
        return ed25519_verify_python(public_key, signature, message)
    return True


# -- the documents a citizen checks ----------------------------------------------------------------

BUKTI_FORMAT = "tanggap-bukti-riwayat/1"
CONSISTENCY_FORMAT = "tanggap-konsistensi/1"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")  # an Ed25519 SubjectPublicKeyInfo up to the key
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.DOTALL)
OPENSSL_TIMEOUT = 30  # seconds for one ``openssl ts`` run


class FormatError(ValueError):
    """A document without the shape its format names; the message says where, in Indonesian."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    time: str
    key_id: str
    signature: bytes
    timestamp_token: bytes | None

    def message(self) -> bytes:
        return head_message(self.size, self.root, self.time)

    def imprint(self) -> str:
        """What the RFC 3161 authority stamped: sha256 of :meth:`message`, hex."""
        return hashlib.sha256(self.message()).hexdigest()

    def describe(self) -> str:
        return f"{self.size} entri, {self.time}"


@dataclass(frozen=True)
class Event:
    seq: int
    action: str
    occurred_at: str
    prev_hash: str
    hash: str
    key_id: str | None  # None, with the signature: written before the log, not signed yet
    signature: bytes | None
    log_index: int | None
    inclusion_proof: tuple[bytes, ...] | None

    def label(self) -> str:
        return f"Peristiwa #{self.seq} ({self.action}, {self.occurred_at})"


@dataclass
class Result:
    """What one check found. ``lines`` keeps every finding in order as ``(mark, text)`` for the
    report (mark ``ok``, ``bad``, ``warn``, ``info`` or ``wait``); ``problems`` are the ``bad``
    ones, ``notes`` the ``warn``/``info``/``wait`` ones, ``pending`` the seqs of events signed but
    not yet under the tree head."""

    kind: str  # "bukti" or "konsistensi"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    heads: list[tuple[str, TreeHead, str]] = field(default_factory=list)  # timestamped: (label, head, role)
    valid_text: str = ""  # the final line's text when nothing is wrong
    unproven: list[str] = field(default_factory=list)  # why nothing wrong is not yet proof enough

    @property
    def ok(self) -> bool:
        """Nothing wrong was found."""
        return not self.problems

    @property
    def proven(self) -> bool:
        """Nothing wrong, with the city's keys given (``--key``), every event signed and in the log."""
        return self.ok and not self.unproven

    @property
    def summary(self) -> str:
        if self.proven:
            return f"BUKTI SAH: {self.valid_text}"
        if self.ok:
            return f"BELUM TERBUKTI PENUH: {self.valid_text} Yang kurang: {'; '.join(self.unproven)}."
        first = self.problems[0]
        others = len(self.problems) - 1
        more = f" (dan {others} masalah lain, lihat ✗ di atas)" if others else ""
        return f"BUKTI TIDAK SAH: {first}{more}"

    def good(self, text: str) -> None:
        self.passed.append(text)
        self.lines.append(("ok", text))

    def bad(self, text: str) -> None:
        self.problems.append(text)
        self.lines.append(("bad", text))

    def note(self, text: str, mark: str = "info") -> None:
        self.notes.append(text)
        self.lines.append((mark, text))

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "proven": self.proven, "unproven": self.unproven, "kind": self.kind,
                "summary": self.summary, "problems": self.problems,
                "notes": self.notes, "passed": self.passed, "pending_seqs": self.pending,
                "ed25519": ED25519_IMPLEMENTATION,
                "lines": [{"mark": mark, "text": text} for mark, text in self.lines]}


def _get(obj: Any, name: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise FormatError(f"{where} bukan objek JSON")
    if name not in obj:
        raise FormatError(f"{where}: kolom '{name}' tidak ada")
    return obj[name]


def _int(obj: Any, name: str, where: str, *, nullable: bool = False) -> int | None:
    value = _get(obj, name, where)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FormatError(f"{where}: '{name}' harus bilangan bulat ≥ 0, bukan {value!r}")
    return value


def _str(obj: Any, name: str, where: str, pattern: re.Pattern | None = None) -> str:
    value = _get(obj, name, where)
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise FormatError(f"{where}: '{name}' tidak berbentuk yang benar: {value!r}")
    return value


def _base64(obj: Any, name: str, where: str, length: int | None = None) -> bytes:
    text = _str(obj, name, where)
    try:
        value = base64.b64decode(text, validate=True)
    except ValueError:
        raise FormatError(f"{where}: '{name}' bukan base64") from None
    if length is not None and len(value) != length:
        raise FormatError(f"{where}: '{name}' harus {length} byte, bukan {len(value)}")
    return value


def _hashes(values: Any, where: str) -> tuple[bytes, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and _HEX32.fullmatch(v) for v in values):
        raise FormatError(f"{where} harus daftar hash (64 digit heksadesimal)")
    return tuple(bytes.fromhex(v) for v in values)


def parse_tree_head(obj: Any, where: str = "tree_head") -> TreeHead:
    token = _get(obj, "timestamp_token", where)
    return TreeHead(size=_int(obj, "size", where), root=bytes.fromhex(_str(obj, "root", where, _HEX32)),
                    time=_str(obj, "time", where), key_id=_str(obj, "key_id", where, _KEY_ID),
                    signature=_base64(obj, "signature", where, 64),
                    timestamp_token=None if token is None else _base64(obj, "timestamp_token", where))


def parse_event(obj: Any, where: str) -> Event:
    log_index = _int(obj, "log_index", where, nullable=True)
    proof = _get(obj, "inclusion_proof", where)
    if log_index is not None and proof is None:
        raise FormatError(f"{where}: ada 'log_index' tetapi tidak ada 'inclusion_proof'")
    unsigned = _get(obj, "signature", where) is None and _get(obj, "key_id", where) is None
    if unsigned and log_index is not None:
        raise FormatError(f"{where}: tercatat di log tetapi tanpa tanda tangan")
    return Event(seq=_int(obj, "seq", where), action=_str(obj, "action", where),
                 occurred_at=_str(obj, "occurred_at", where), prev_hash=_str(obj, "prev_hash", where, _HEX32),
                 hash=_str(obj, "hash", where, _HEX32),
                 key_id=None if unsigned else _str(obj, "key_id", where, _KEY_ID),
                 signature=None if unsigned else _base64(obj, "signature", where, 64), log_index=log_index,
                 inclusion_proof=None if log_index is None else _hashes(proof, f"{where}: 'inclusion_proof'"))


def load_public_keys(data: bytes) -> dict[str, bytes]:
    """Ed25519 public keys, by :func:`key_id`, from PEM ``PUBLIC KEY`` blocks (any number, as
    ``openssl pkey -pubout`` writes them) or one DER SubjectPublicKeyInfo. Parsed by hand: the
    SubjectPublicKeyInfo of an Ed25519 key is 44 bytes, a fixed 12-byte prefix naming the
    algorithm (OID 1.3.101.112), then the raw 32-byte key."""
    blocks = _PEM_BLOCK.findall(data)
    ders = []
    for body in blocks:
        try:
            ders.append(base64.b64decode(b"".join(body.split()), validate=True))
        except ValueError:
            raise ValueError("blok PEM yang isinya bukan base64") from None
    if not blocks:
        ders.append(data)
    keys = {}
    for der in ders:
        if len(der) != 44 or not der.startswith(_SPKI_ED25519):
            raise ValueError("bukan kunci publik Ed25519 (SubjectPublicKeyInfo PEM atau DER)")
        keys[key_id(der[12:])] = der[12:]
    return keys


def _bundle_keys(doc: dict, result: Result) -> dict[str, bytes]:
    """The keys a document carries, each checked against its stated id."""
    entries = _get(doc, "public_keys", "berkas")
    if not isinstance(entries, list):
        raise FormatError("berkas: 'public_keys' harus daftar")
    keys = {}
    for i, entry in enumerate(entries):
        where = f"public_keys[{i}]"
        stated, raw = _str(entry, "key_id", where, _KEY_ID), _base64(entry, "public_key", where, 32)
        if key_id(raw) != stated:
            result.bad(f"Kunci publik {stated} dalam berkas tidak cocok dengan key_id-nya ({key_id(raw)})")
            continue
        keys[stated] = raw
    result.unproven.append("kunci publik diambil dari berkas itu sendiri (jalankan ulang dengan --key "
                           "kunci-publik.pem dari halaman /transparansi kota)")
    result.note("Kunci publik yang dipakai ikut di dalam berkas ini sendiri, jadi belum membuktikan bahwa "
                f"kunci itu milik kota. Bandingkan key_id ({', '.join(sorted(keys)) or '-'}) dengan yang "
                "tercantum di halaman /transparansi kota, atau periksa ulang dengan --key kunci-kota.pem.",
                "warn")
    return keys


def _trusted_keys(keys: Mapping[str, bytes], result: Result) -> dict[str, bytes]:
    result.note(f"Hanya kunci dari --key yang dipercaya: {', '.join(sorted(keys))}.")
    return dict(keys)


def _check_head(head: TreeHead, keys: Mapping[str, bytes], result: Result, label: str,
                role: str = "") -> None:
    key = keys.get(head.key_id)
    if key is None:
        result.bad(f"Tanda tangan {label} dibuat dengan kunci {head.key_id}, yang tidak dikenal")
    elif ed25519_verify(key, head.signature, head.message()):
        result.good(f"Tanda tangan {label} sah (kunci {head.key_id})")
    else:
        result.bad(f"Tanda tangan {label} TIDAK sah (kunci {head.key_id}): ukuran, akar atau waktunya "
                   "tidak sama dengan yang ditandatangani")
    if head.size == 0 and head.root != EMPTY_ROOT:
        result.bad(f"{label[0].upper()}{label[1:]} berukuran 0 tetapi akarnya bukan akar log kosong")
    if head.timestamp_token is not None:
        result.heads.append((label, head, role))
    else:
        result.note(f"{label[0].upper()}{label[1:]} tidak membawa stempel waktu RFC 3161.")


def check_bundle(doc: Any, keys: Mapping[str, bytes] | None = None) -> Result:
    """Check a "Bukti riwayat" (format ``tanggap-bukti-riwayat/1``, see the module docstring).

    ``keys`` maps key ids to raw Ed25519 public keys and is then the only keys trusted; ``None``
    uses the keys the bundle carries (with a warning that they prove nothing on their own). The
    RFC 3161 timestamp is not checked here (see :func:`check_timestamps`)."""
    result = Result("bukti")
    try:
        if _get(doc, "format", "bukti") != BUKTI_FORMAT:
            raise FormatError(f"format bukan {BUKTI_FORMAT}")
        case_id = _int(doc, "case_id", "bukti")
        number = doc["case_number"] if isinstance(doc.get("case_number"), str) else f"id {case_id}"
        raw_head = _get(doc, "tree_head", "bukti")
        head = None if raw_head is None else parse_tree_head(raw_head)
        raw_events = _get(doc, "events", "bukti")
        if not isinstance(raw_events, list) or not raw_events:
            raise FormatError("bukti: 'events' harus daftar yang tidak kosong")
        result.note(f"Bukti riwayat perkara {number} (id {case_id}): {len(raw_events)} peristiwa; "
                    + (f"tree head {head.describe()}." if head else "belum ada tree head."))
        trusted = _bundle_keys(doc, result) if keys is None else _trusted_keys(keys, result)
    except FormatError as error:
        result.bad(f"Berkas bukti tidak berbentuk yang benar: {error}")
        return result
    if head is None:
        result.unproven.append("kota belum menandatangani tree head apa pun, jadi belum ada peristiwa yang "
                               "terbukti tercatat di log (unduh lagi bukti ini nanti)")
    else:
        _check_head(head, trusted, result, "tree head")
    events: list[Event | None] = []
    for i, raw in enumerate(raw_events):
        try:
            events.append(parse_event(raw, f"events[{i}]"))
        except FormatError as error:
            seq = raw.get("seq") if isinstance(raw, dict) else None
            result.bad(f"Peristiwa #{seq} (urutan ke-{i + 1} dalam berkas) tidak berbentuk yang benar: "
                       f"{error}")
            events.append(None)
    logged = 0
    for event in events:
        if event is not None:
            logged += _check_event(event, case_id, number, head, trusted, result)
    _check_chain(events, result)
    _check_log_order([e for e in events if e is not None and e.log_index is not None], result)
    waiting = len(result.pending)
    if waiting and head is not None:
        result.unproven.append(f"{waiting} peristiwa belum masuk tree head ini (unduh lagi bukti ini nanti)")
    under = f"; {logged} tercatat di log tree head {head.describe()}" if head else ""
    result.valid_text = (f"{len(events)} peristiwa perkara {number} tersambung berurutan sejak awal{under}.")
    return result


def _check_log_order(logged: Sequence[Event], result: Result) -> None:
    """A case's events enter the log in the order they were written: their indexes rise with seq."""
    for before, after in zip(logged, logged[1:]):
        if after.log_index <= before.log_index:
            result.bad(f"{after.label()}: tercatat di log pada indeks {after.log_index}, tidak sesudah "
                       f"peristiwa #{before.seq} (indeks {before.log_index})")


def _check_event(event: Event, case_id: int, number: str, head: TreeHead | None, keys: Mapping[str, bytes],
                 result: Result) -> bool:
    """Signature and inclusion of one event; whether it was proven in the log."""
    label = event.label()
    entry = leaf(CASE, case_id=case_id, seq=event.seq, prev_hash=event.prev_hash, hash=event.hash,
                 action=event.action, occurred_at=event.occurred_at)
    if event.signature is None:
        result.pending.append(event.seq)
        result.unproven.append(f"{label} dicatat sebelum log ada dan belum ditandatangani")
        result.note(f"{label}: dicatat sebelum log ada; ditandatangani saat pekerja log mengambilnya.", "wait")
        return False
    key = keys.get(event.key_id)
    signed = key is not None and ed25519_verify(key, event.signature, event_message(entry))
    if key is None:
        result.bad(f"{label}: ditandatangani dengan kunci {event.key_id}, yang tidak dikenal")
    elif not signed:
        result.bad(f"{label}: tanda tangan tidak sah (isinya diubah, atau peristiwa ini bukan milik perkara "
                   f"{number})")
    if event.log_index is None or head is None:
        result.pending.append(event.seq)
        if signed:
            result.note(f"{label}: tanda tangan sah; belum masuk log, menunggu tree head berikutnya.", "wait")
        return False
    if event.log_index >= head.size:
        result.bad(f"{label}: indeks log {event.log_index} di luar tree head ({head.size} entri)")
        return False
    if not verify_inclusion(event.log_index, head.size, leaf_hash(entry), event.inclusion_proof, head.root):
        result.bad(f"{label}: tidak terbukti tercatat di log pada indeks {event.log_index} (bukti inklusi "
                   "tidak cocok dengan akar tree head)")
        return False
    if signed:
        result.good(f"{label}: tanda tangan sah, tercatat di log (indeks {event.log_index})")
    return True


def _check_chain(events: Sequence[Event | None], result: Result) -> None:
    """Seqs 1..n without a gap, the first chained from GENESIS, each from the one before."""
    before = len(result.problems)
    expected, previous = 1, None
    for position, event in enumerate(events):
        if event is None:
            expected, previous = expected + 1, None
            continue
        if event.seq > expected:
            missing = f"#{expected}" if event.seq == expected + 1 else f"#{expected}–#{event.seq - 1}"
            result.bad(f"Peristiwa {missing} tidak ada dalam bukti: sesudah "
                       f"{previous.label() if previous else 'awal rantai'} langsung {event.label()}")
        elif event.seq < expected:
            result.bad(f"{event.label()}: nomor urutnya tidak berurutan (seharusnya #{expected})")
        if position == 0 and event.prev_hash != GENESIS:
            result.bad(f"{event.label()}: bukan awal rantai (prev_hash bukan {GENESIS[:8]}…)")
        elif previous is not None and event.prev_hash != previous.hash:
            result.bad(f"{event.label()}: tidak tersambung ke peristiwa sebelumnya #{previous.seq} "
                       f"(prev_hash-nya bukan hash #{previous.seq})")
        expected, previous = event.seq + 1, event
    if len(result.problems) == before:
        result.good(f"Rantai peristiwa #1–#{len(events)} utuh: nomor urut lengkap, tiap peristiwa tersambung "
                    "ke peristiwa sebelumnya")


def check_consistency(doc: Any, keys: Mapping[str, bytes] | None = None) -> Result:
    """Check a consistency document (format ``tanggap-konsistensi/1``): both tree heads signed,
    and the newer log an extension of the older one (nothing in it changed or removed)."""
    result = Result("konsistensi")
    try:
        if _get(doc, "format", "dokumen") != CONSISTENCY_FORMAT:
            raise FormatError(f"format bukan {CONSISTENCY_FORMAT}")
        old = parse_tree_head(_get(doc, "from", "dokumen"), "from")
        new = parse_tree_head(_get(doc, "to", "dokumen"), "to")
        proof = _hashes(_get(doc, "proof", "dokumen"), "dokumen: 'proof'")
        if keys is None and "public_keys" not in doc:
            raise FormatError("tidak ada 'public_keys'; periksa dengan --key kunci-kota.pem")
        trusted = _bundle_keys(doc, result) if keys is None else _trusted_keys(keys, result)
    except FormatError as error:
        result.bad(f"Berkas konsistensi tidak berbentuk yang benar: {error}")
        return result
    old_label, new_label = f"tree head lama ({old.describe()})", f"tree head baru ({new.describe()})"
    _check_head(old, trusted, result, old_label, "lama")
    _check_head(new, trusted, result, new_label, "baru")
    if old.size > new.size:
        result.bad(f"Tree head lama ({old.size} entri) lebih besar daripada tree head baru "
                   f"({new.size} entri)")
    elif verify_consistency(old.size, new.size, old.root, new.root, proof):
        result.good(f"Log pada {new.time} ({new.size} entri) adalah kelanjutan log pada {old.time} "
                    f"({old.size} entri): tidak ada entri lama yang diubah atau dihapus")
    else:
        result.bad(f"Bukti konsistensi tidak cocok: log {new.describe()} tidak terbukti sebagai kelanjutan "
                   f"log {old.describe()}")
    result.valid_text = (f"log Tanggap {new.describe()} adalah kelanjutan log {old.describe()}, "
                         "keduanya ditandatangani.")
    return result


# -- RFC 3161 timestamps: checked by openssl when it is there -------------------------------------

def timestamp_command(head: TreeHead, token_path: str, ca_path: str = "SERTIFIKAT-CA-TSA.pem") -> list[str]:
    """The command that checks a head's RFC 3161 token (the stdlib cannot read CMS)."""
    return ["openssl", "ts", "-verify", "-digest", head.imprint(), "-in", token_path, "-token_in",
            "-CAfile", ca_path]


def verify_timestamp(head: TreeHead, ca_path: str, openssl: str | None = None,
                     timeout: float = OPENSSL_TIMEOUT) -> tuple[bool | None, str]:
    """Run ``openssl ts -verify`` on the head's token: ``(True, detail)`` verified, ``(False,
    detail)`` refused, ``(None, why)`` not checked (no openssl, or it did not finish)."""
    openssl = openssl or shutil.which("openssl")
    if openssl is None:
        return None, "openssl tidak ditemukan di PATH"
    fd, token_path = tempfile.mkstemp(suffix=".tsr")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head.timestamp_token or b"")
        command = [openssl, *timestamp_command(head, token_path, ca_path)[1:]]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"openssl tidak selesai dalam {timeout:g} detik"
        except OSError as error:
            return None, f"openssl tidak dapat dijalankan: {error}"
        if run.returncode == 0 and "Verification: OK" in run.stdout:
            return True, _timestamp_time(openssl, token_path, timeout)
        reasons = _openssl_reasons(run.stdout + "\n" + run.stderr)
        return False, reasons or f"openssl keluar dengan kode {run.returncode}"
    finally:
        os.unlink(token_path)


def _openssl_reasons(output: str) -> str:
    """openssl's verdict line, then the reasons of its error lines
    (``<thread>:error:<code>:<library>:<function>:<reason>:<file>:...``)."""
    verdict = [line.strip() for line in output.splitlines() if line.startswith("Verification:")]
    reasons = []
    for line in output.splitlines():
        parts = line.split(":")
        if len(parts) > 5 and parts[1] == "error" and parts[5] not in reasons:
            reasons.append(parts[5])
    return "; ".join(verdict + reasons)[:400]


def _timestamp_time(openssl: str, token_path: str, timeout: float) -> str:
    """The authority's time in the token, as ``openssl ts -reply -text`` prints it ('' if not)."""
    try:
        run = subprocess.run([openssl, "ts", "-reply", "-in", token_path, "-token_in", "-token_out", "-text"],
                             capture_output=True, text=True, timeout=timeout)
    except (subprocess.TimeoutExpired, OSError):
        return ""
    for line in run.stdout.splitlines():
        if line.startswith("Time stamp:"):
            return line.partition(":")[2].strip()
    return ""


def check_timestamps(result: Result, ca_path: str | None, token_out: str = "token.tsr", saved: bool = False,
                     openssl: str | None = None) -> None:
    """Check (or, without ``ca_path``, say how to check) the RFC 3161 token of every head
    ``result`` found one on. ``token_out`` is the ``--token-out`` the instructions name (``saved``:
    the tokens were written there already)."""
    token_paths = _token_paths(result, token_out)
    for label, head, _ in result.heads:
        name = f"{label[0].upper()}{label[1:]}"
        token_path = token_paths[label]
        how = " ".join(timestamp_command(head, token_path))
        if ca_path is None:
            verdict, why = None, "tanpa --tsa-ca"
        else:
            verdict, why = verify_timestamp(head, ca_path, openssl)
        if verdict is True:
            when = f" pada {why}" if why else ""
            result.good(f"Stempel waktu RFC 3161 {label} sah: TSA mencatat tree head ini{when} (diperiksa "
                        "dengan openssl)")
        elif verdict is False:
            result.bad(f"Stempel waktu RFC 3161 {label} TIDAK sah: {why}")
        else:
            save = "" if saved else f"simpan tokennya ke {token_path} dengan --token-out {token_out}, lalu "
            result.note(f"{name} membawa stempel waktu RFC 3161, tetapi stempel itu TIDAK diperiksa ({why}). "
                        "Untuk memeriksanya, jalankan ulang dengan --tsa-ca SERTIFIKAT-CA-TSA.pem (perlu "
                        f"openssl), atau {save}jalankan:\n    {how}", "warn")


# -- the command line ------------------------------------------------------------------------------

_MARKS = {"ok": "✓", "bad": "✗", "warn": "!", "info": "•", "wait": "…"}
_ASCII = str.maketrans({"✓": "OK", "✗": "X", "•": "-", "…": "...", "–": "-", "≥": ">=", "≠": "!="})


def _say(text: str, stream: Any = None) -> None:
    """Print, falling back to ASCII on a console that cannot show the marks."""
    stream = stream or sys.stdout
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        stream.write(text.translate(_ASCII).encode("ascii", "replace").decode("ascii") + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tanggap_verify.py",
        description="Periksa bukti riwayat Tanggap (atau bukti konsistensi log) tanpa bergantung pada "
                    "server kota.",
        epilog="Kode keluar: 0 bukti sah, 1 bukti tidak sah, 2 berkas tidak dapat dibaca, 3 tidak ada yang "
               "salah tetapi bukti belum lengkap (kunci dari berkas itu sendiri, atau peristiwa menunggu "
               "tree head berikutnya).")
    parser.add_argument("file", help="berkas bukti (JSON) dari halaman lacak, atau - untuk stdin")
    parser.add_argument("--key", action="append", metavar="FILE",
                        help="kunci publik kota (PEM, boleh beberapa); hanya kunci ini yang dipercaya")
    parser.add_argument("--tsa-ca", metavar="FILE",
                        help="sertifikat CA penerbit stempel waktu (perlu openssl)")
    parser.add_argument("--token-out", metavar="FILE", help="simpan token stempel waktu (DER) ke berkas ini")
    parser.add_argument("--json", action="store_true", help="keluaran JSON untuk mesin")
    return parser


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        _say(json.dumps({"ok": False, "error": message}, ensure_ascii=False))
    else:
        _say(f"BERKAS TIDAK DAPAT DIPERIKSA: {message}", sys.stderr)
    return 2


def _token_paths(result: Result, base: str) -> dict[str, str]:
    """One file per timestamped head: ``base`` itself for a bukti's head; for a consistency
    document's two, ``base`` with ``-lama`` / ``-baru`` before the extension."""
    stem, dot, ext = base.rpartition(".") if "." in os.path.basename(base) else (base, "", "")
    return {label: f"{stem}-{role}{dot}{ext}" if role else base for label, _, role in result.heads}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.file == "-":
            doc = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        else:
            with open(args.file, "rb") as f:
                doc = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        return _fail(f"{args.file}: {error}", args.json)
    kind = doc.get("format") if isinstance(doc, dict) else None
    if kind not in (BUKTI_FORMAT, CONSISTENCY_FORMAT):
        return _fail(f"{args.file} bukan berkas {BUKTI_FORMAT} atau {CONSISTENCY_FORMAT} (format: {kind!r})",
                     args.json)
    keys = None
    if args.key:
        keys = {}
        for path in args.key:
            try:
                with open(path, "rb") as f:
                    keys.update(load_public_keys(f.read()))
            except (OSError, ValueError) as error:
                return _fail(f"kunci {path}: {error}", args.json)
    if keys is None and kind == CONSISTENCY_FORMAT and "public_keys" not in doc:
        return _fail(f"{args.file} tidak membawa kunci publik: periksa dengan --key kunci-kota.pem",
                     args.json)
    if args.tsa_ca is not None and not os.path.isfile(args.tsa_ca):
        return _fail(f"sertifikat CA TSA {args.tsa_ca} tidak ada", args.json)
    result = check_bundle(doc, keys) if kind == BUKTI_FORMAT else check_consistency(doc, keys)
    token_out = args.token_out or "token.tsr"
    if args.token_out:
        token_paths = _token_paths(result, token_out)
        for label, head, _ in result.heads:
            try:
                with open(token_paths[label], "wb") as f:
                    f.write(head.timestamp_token)
            except OSError as error:
                return _fail(f"token {token_paths[label]}: {error}", args.json)
            result.note(f"Token stempel waktu {label} disimpan ke {token_paths[label]}.")
    check_timestamps(result, args.tsa_ca, token_out, saved=bool(args.token_out))
    if args.json:
        _say(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        engine = "pustaka cryptography" if ED25519_IMPLEMENTATION == "cryptography" else "Python murni"
        _say(f"Pemeriksa bukti Tanggap: {args.file} (tanda tangan Ed25519 diperiksa dengan {engine})")
        for mark, text in result.lines:
            _say(f"{_MARKS[mark]} {text}")
        _say(result.summary)
    return 0 if result.proven else (EXIT_UNPROVEN if result.ok else 1)


if __name__ == "__main__":
    sys.exit(main())
