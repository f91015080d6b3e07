"""The offline verifier a citizen downloads: Ed25519 in both implementations against RFC 8032, and
``tanggap_verify.py bukti.json`` run as a program from a directory holding nothing but a copy of
it -- once as ``python -I -S`` (no site-packages: no app, no ``cryptography``, the pure-Python
Ed25519) and once as plain Python (``cryptography``) -- on bundles built here from the module's
own hashes and signed with test keys, valid and tampered with."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow import tanggap_verify as tv

# -- Ed25519 -------------------------------------------------------------------------------------

# RFC 8032 section 7.1: TEST 1, 2, 3 and 1024 (a 1023-byte message) as (secret, public, message,
# signature). The signatures are also what ``cryptography`` makes from the secrets (checked below).
RFC8032 = {
    "TEST 1": ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
               "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
               "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
               "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    "TEST 2": ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
               "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
               "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
               "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    "TEST 3": ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
               "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
               "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
               "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    "TEST 1024": (
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
        "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
        "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
        "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
        "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
        "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
        "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
        "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
        "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
        "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
        "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
        "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
        "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
        "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
        "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
        "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
        "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
        "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
        "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
        "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
        "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
        "c60c905c15fc910840b94c00a0b9d0",
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
        "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
}
VECTORS = [pytest.param(*(bytes.fromhex(h) for h in v), id=name) for name, v in RFC8032.items()]
VERIFIERS = [pytest.param(tv.ed25519_verify_python, id="python"),
             pytest.param(tv.ed25519_verify, id="cryptography")]
L = 2 ** 252 + 27742317777372353535851937790883648493


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def flip_bit(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << bit % 8
    return bytes(out)


def test_the_app_verifies_with_cryptography():
    assert tv.ED25519_IMPLEMENTATION == "cryptography"


@pytest.mark.parametrize(("secret", "public", "message", "signature"), VECTORS)
def test_the_vectors_are_rfc_8032s(secret, public, message, signature):
    key = Ed25519PrivateKey.from_private_bytes(secret)
    assert raw(key) == public and key.sign(message) == signature


def test_the_vectors_messages_have_their_lengths():
    assert [len(bytes.fromhex(v[2])) for v in RFC8032.values()] == [0, 1, 2, 1023]


@pytest.mark.parametrize("verify", VERIFIERS)
@pytest.mark.parametrize(("secret", "public", "message", "signature"), VECTORS)
def test_rfc_8032_signatures_verify_and_a_flipped_bit_does_not(verify, secret, public, message, signature):
    assert verify(public, signature, message) is True
    for bit in (0, 5, 130, 255, 256, 300, 511):  # R, then S
        assert verify(public, flip_bit(signature, bit), message) is False, bit
    for bit in (0, 77, 254, 255):
        assert verify(flip_bit(public, bit), signature, message) is False, bit
    changed = flip_bit(message, 8 * len(message) - 1) if message else b"\x00"
    assert verify(public, signature, changed) is False
    assert verify(public, signature, message + b"\x00") is False


@pytest.mark.parametrize("verify", VERIFIERS)
def test_s_not_below_the_group_order_is_refused(verify):
    _, public, message, signature = (bytes.fromhex(h) for h in RFC8032["TEST 2"])
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + L).to_bytes(32, "little")  # the same point equation, S ≥ L
    assert verify(public, malleated, message) is False


@pytest.mark.parametrize("verify", VERIFIERS)
def test_keys_and_signatures_that_are_no_curve_point_are_refused(verify):
    _, public, message, signature = (bytes.fromhex(h) for h in RFC8032["TEST 1"])
    p = 2 ** 255 - 19
    not_on_curve = (2).to_bytes(32, "little")  # y = 2 has no x on the curve
    non_canonical = (p + 1).to_bytes(32, "little")  # y = 1 written as p + 1
    minus_zero = (1 | 1 << 255).to_bytes(32, "little")  # x = 0 with the sign bit set
    for bad in (not_on_curve, non_canonical, minus_zero):
        assert verify(bad, signature, message) is False
        assert verify(public, bad + signature[32:], message) is False


def test_pure_python_point_decoding_refuses_what_is_no_point():
    # RFC 8032 5.1.3 in the pure-Python verifier: y >= p, no square root for x^2, or x = 0 with the
    # sign bit set decode to nothing (a forged key or R would otherwise reach the group equation)
    p = 2 ** 255 - 19
    for y in (p, p + 1, 2 ** 255 - 1):
        assert tv._point_decode(y.to_bytes(32, "little")) is None, y
    for y in (2, 7, 8, 11):  # (y^2 - 1) / (d y^2 + 1) is no square
        assert tv._point_decode(y.to_bytes(32, "little")) is None, y
    assert tv._point_decode((1 | 1 << 255).to_bytes(32, "little")) is None
    for name, v in RFC8032.items():
        public = bytes.fromhex(v[1])
        assert tv._point_encode(tv._point_decode(public)) == public, name


@pytest.mark.parametrize("verify", VERIFIERS)
def test_malformed_input_is_false_never_an_exception(verify):
    _, public, message, signature = (bytes.fromhex(h) for h in RFC8032["TEST 3"])
    for args in [(public[:31], signature, message), (public + b"\x00", signature, message),
                 (public, signature[:63], message), (public, signature + b"\x00", message),
                 (b"", b"", b""), (public.hex(), signature, message), (public, signature, message.hex()),
                 (None, signature, message), (public, None, message), (32, signature, message),
                 (public, 64, message)]:
        assert verify(*args) is False, args
    assert verify(bytearray(public), memoryview(signature), bytearray(message)) is True


@settings(max_examples=25, deadline=None)
@given(secret=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300),
       bit=st.integers(0, 10 ** 6))
def test_random_keys_signed_by_cryptography_verify_in_both_and_a_flipped_bit_in_neither(secret, message, bit):
    key = Ed25519PrivateKey.from_private_bytes(secret)
    public, signature = raw(key), key.sign(message)
    for verify in (tv.ed25519_verify_python, tv.ed25519_verify):
        assert verify(public, signature, message)
        assert not verify(public, flip_bit(signature, bit % 512), message)
        assert not verify(flip_bit(public, bit % 256), signature, message)
        assert not verify(public, signature, flip_bit(message, bit % (8 * len(message))) if message else b"!")


def test_pure_python_verification_takes_well_under_50_ms():
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"speed").digest())
    message = b"x" * 200
    signature = key.sign(message)
    tv.ed25519_verify_python(raw(key), signature, message)  # the base point's table, once
    start = time.perf_counter()
    for _ in range(10):
        assert tv.ed25519_verify_python(raw(key), signature, message)
    assert (time.perf_counter() - start) / 10 < 0.05


# -- test bundles --------------------------------------------------------------------------------

OLD_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tanggap test: 2025 key").digest())
CITY_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tanggap test: 2026 key").digest())
ATTACKER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tanggap test: not the city").digest())
CASE = 12
HEAD_TIME = "2026-11-23T02:00:00Z"
# The log in commit order: two cases' chains and security events interleaved. The last event of
# case 12 is signed but not yet under the tree head.
PLAN = [(12, "report_submitted"), (13, "report_submitted"), (None, "login"), (12, "triaged"),
        (12, "transferred"), (13, "triaged"), (None, "key_rotated"), (12, "assigned"), (13, "case_closed"),
        (12, "note_added"), (12, "case_closed")]
ROTATED_AT = 6  # leaves before this one are signed with OLD_KEY


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def pem(*keys: Ed25519PrivateKey) -> bytes:
    spki = PublicFormat.SubjectPublicKeyInfo
    return b"".join(k.public_key().public_bytes(Encoding.PEM, spki) for k in keys)


@dataclass
class Entry:
    case_id: int | None
    seq: int
    action: str
    occurred_at: str
    prev_hash: str
    hash: str
    leaf: bytes
    key: Ed25519PrivateKey
    index: int


@dataclass
class Log:
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def build(cls) -> Log:
        log, last = cls(), {}
        for index, (case_id, action) in enumerate(PLAN):
            chain = case_id if case_id is not None else "security"
            seq, prev = (last[chain].seq + 1, last[chain].hash) if chain in last else (1, tv.GENESIS)
            at = f"2026-11-23T01:{index:02d}:00.000000+00:00"
            payload = {"case_id": case_id, "seq": seq, "action": action, "occurred_at": at,
                       "data": {"i": index}}
            h = tv.chain_hash(prev, payload)
            fields = {"seq": seq, "prev_hash": prev, "hash": h, "action": action, "occurred_at": at}
            leaf = (tv.leaf(tv.CASE, case_id=case_id, **fields) if case_id is not None
                    else tv.leaf(tv.SECURITY, **fields))
            key = OLD_KEY if index < ROTATED_AT else CITY_KEY
            entry = Entry(case_id, seq, action, at, prev, h, leaf, key, index)
            log.entries.append(entry)
            last[chain] = entry
        return log

    def hashes(self, size: int) -> list[bytes]:
        return [tv.leaf_hash(e.leaf) for e in self.entries[:size]]

    def head(self, size: int, key: Ed25519PrivateKey = CITY_KEY, at: str = HEAD_TIME,
             token: bytes | None = None) -> dict:
        root = tv.merkle_root(self.hashes(size))
        return {"size": size, "root": root.hex(), "time": at, "key_id": tv.key_id(raw(key)),
                "signature": b64(key.sign(tv.head_message(size, root, at))),
                "timestamp_token": None if token is None else b64(token)}

    def bundle(self, case_id: int = CASE, size: int = len(PLAN) - 1, **head) -> dict:
        perfect = tv.perfect_from_list(self.hashes(size))
        events = []
        for e in self.entries:
            if e.case_id != case_id:
                continue
            logged = e.index < size
            events.append({"seq": e.seq, "action": e.action, "occurred_at": e.occurred_at,
                           "prev_hash": e.prev_hash, "hash": e.hash, "key_id": tv.key_id(raw(e.key)),
                           "signature": b64(e.key.sign(tv.event_message(e.leaf))),
                           "log_index": e.index if logged else None,
                           "inclusion_proof": [p.hex() for p in tv.inclusion_proof(e.index, size, perfect)]
                           if logged else None})
        return {"format": tv.BUKTI_FORMAT, "case_id": case_id, "case_number": f"TGP-2026-{case_id:06d}",
                "tree_head": self.head(size, **head),
                "public_keys": [{"key_id": tv.key_id(raw(k)), "public_key": b64(raw(k))}
                                for k in (OLD_KEY, CITY_KEY)],
                "events": events, "generated_at": HEAD_TIME, "source": f"https://tanggap.example/lacak/{case_id}"}

    def consistency(self, old: int, new: int) -> dict:
        perfect = tv.perfect_from_list(self.hashes(new))
        return {"format": tv.CONSISTENCY_FORMAT, "from": self.head(old, at="2026-11-23T01:30:00Z"),
                "to": self.head(new), "proof": [p.hex() for p in tv.consistency_proof(old, new, perfect)],
                "public_keys": [{"key_id": tv.key_id(raw(CITY_KEY)), "public_key": b64(raw(CITY_KEY))}]}


LOG = Log.build()


def label(bundle: dict, seq: int) -> str:
    event = next(e for e in bundle["events"] if e["seq"] == seq)
    return f"Peristiwa #{seq} ({event['action']}, {event['occurred_at']})"


def flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


# -- the program, run as a citizen runs it -------------------------------------------------------

MODES = [pytest.param(("-I", "-S"), "Python murni", id="stdlib-only"),
         pytest.param((), "pustaka cryptography", id="cryptography")]


@pytest.fixture(scope="module")
def verifier(tmp_path_factory):
    """A directory holding only a copy of tanggap_verify.py, as a citizen downloads it."""
    directory = tmp_path_factory.mktemp("unduhan")
    shutil.copy(Path(tv.__file__), directory / "tanggap_verify.py")
    assert os.listdir(directory) == ["tanggap_verify.py"]
    return directory


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run(verifier, tmp_path):
    """``run(mode, document_or_path, *args) -> Run``: the program on a document written elsewhere."""
    def run(mode: tuple[str, ...], document: dict | str | Path, *args: str, env: dict | None = None) -> Run:
        if isinstance(document, dict):
            path = tmp_path / "bukti.json"
            path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        else:
            path = document
        proc = subprocess.run([sys.executable, *mode, "tanggap_verify.py", str(path), *args], cwd=verifier,
                              capture_output=True, timeout=60, env=env)
        assert os.listdir(verifier) == ["tanggap_verify.py"]
        return Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))
    return run


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "kunci-kota.pem"
    path.write_bytes(pem(OLD_KEY, CITY_KEY))
    return path


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_a_valid_bundle_holds(run, mode, engine):
    bundle = LOG.bundle()
    result = run(mode, bundle)
    assert result.code == tv.EXIT_UNPROVEN, result.out + result.err  # nothing wrong, not yet complete
    lines = result.out.splitlines()
    assert engine in lines[0]
    assert f"✓ Tanda tangan tree head sah (kunci {tv.key_id(raw(CITY_KEY))})" in lines
    for seq in range(1, 6):
        assert f"✓ {label(bundle, seq)}: tanda tangan sah, tercatat di log" in result.out
    assert f"… {label(bundle, 6)}: tanda tangan sah; belum masuk log, menunggu tree head berikutnya." in lines
    assert "✓ Rantai peristiwa #1–#6 utuh" in result.out
    assert "ikut di dalam berkas ini sendiri" in result.out and "/transparansi" in result.out  # a warning
    assert lines[-1].startswith("BELUM TERBUKTI PENUH: 6 peristiwa perkara TGP-2026-000012")
    assert "5 tercatat di log" in lines[-1] and "1 peristiwa belum masuk tree head" in lines[-1]
    assert "kunci publik diambil dari berkas itu sendiri" in lines[-1]


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_a_complete_bundle_with_the_citys_keys_is_proven(run, mode, engine, keys_file):
    result = run(mode, LOG.bundle(size=len(PLAN)), "--key", str(keys_file))
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1].startswith("BUKTI SAH: 6 peristiwa perkara TGP-2026-000012")
    pending = run(mode, LOG.bundle(), "--key", str(keys_file))  # the last event waits for a head
    assert pending.code == tv.EXIT_UNPROVEN and "1 peristiwa belum masuk tree head" in pending.out


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_with_the_citys_keys_given_only_they_are_trusted(run, mode, engine, keys_file):
    result = run(mode, LOG.bundle(size=len(PLAN)), "--key", str(keys_file))
    assert result.code == 0, result.out
    assert "Hanya kunci dari --key yang dipercaya" in result.out
    assert "ikut di dalam berkas ini sendiri" not in result.out


def test_a_console_without_the_marks_gets_ascii(run):
    result = run((), LOG.bundle(), env={**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"})
    assert result.code == tv.EXIT_UNPROVEN
    assert "OK Tanda tangan tree head sah" in result.out and "Rantai peristiwa #1-#6 utuh" in result.out


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_json_output(run, mode, engine):
    result = run(mode, LOG.bundle(), "--json")
    assert result.code == tv.EXIT_UNPROVEN
    report = json.loads(result.out)
    assert report["ok"] is True and report["problems"] == [] and report["pending_seqs"] == [6]
    assert report["proven"] is False and len(report["unproven"]) == 2
    assert report["ed25519"] == ("python" if mode else "cryptography")
    assert report["summary"].startswith("BELUM TERBUKTI PENUH")


def _change_action(b):
    b["events"][2]["action"] = "case_closed"
    return [f"{label(b, 3)}: tanda tangan tidak sah", f"{label(b, 3)}: tidak terbukti tercatat di log"]


def _change_hash(b):
    b["events"][1]["hash"] = flip_hex(b["events"][1]["hash"])
    return [f"{label(b, 2)}: tanda tangan tidak sah",
            f"{label(b, 3)}: tidak tersambung ke peristiwa sebelumnya #2"]


def _signature_of_another_event(b):
    b["events"][1]["signature"] = b["events"][2]["signature"]
    return [f"{label(b, 2)}: tanda tangan tidak sah"]


def _change_proof_element(b):
    event = b["events"][3]
    event["inclusion_proof"][1] = flip_hex(event["inclusion_proof"][1])
    return [f"{label(b, 4)}: tidak terbukti tercatat di log pada indeks {event['log_index']}"]


def _change_head_root(b):
    b["tree_head"]["root"] = flip_hex(b["tree_head"]["root"])
    return ["✗ Tanda tangan tree head TIDAK sah", f"{label(b, 1)}: tidak terbukti tercatat di log"]


def _change_head_size(b):
    b["tree_head"]["size"] += 1
    return ["✗ Tanda tangan tree head TIDAK sah"]


def _remove_an_event(b):
    del b["events"][2]
    return ["Peristiwa #3 tidak ada dalam bukti",
            f"{label(b, 4)}: tidak tersambung ke peristiwa sebelumnya #2"]


def _event_of_another_case(b):
    other = LOG.bundle(case_id=13)["events"][1]  # signed, logged, proven -- for case 13
    b["events"][1] = other
    return [f"{label(b, 2)}: tanda tangan tidak sah (isinya diubah, atau peristiwa ini bukan milik perkara "
            "TGP-2026-000012)", f"{label(b, 2)}: tidak terbukti tercatat di log",
            f"{label(b, 2)}: tidak tersambung ke peristiwa sebelumnya #1"]


def _log_index_beyond_the_head(b):
    b["events"][0]["log_index"] = b["tree_head"]["size"]
    return [f"{label(b, 1)}: indeks log {b['tree_head']['size']} di luar tree head"]


def _swap_two_events(b):
    b["events"][1], b["events"][2] = b["events"][2], b["events"][1]
    return ["Peristiwa #2 tidak ada dalam bukti",
            f"{label(b, 2)}: nomor urutnya tidak berurutan (seharusnya #4)"]


def _not_the_start_of_the_chain(b):
    del b["events"][0]
    return ["Peristiwa #1 tidak ada dalam bukti", f"{label(b, 2)}: bukan awal rantai"]


def _a_key_that_is_not_its_id(b):
    b["public_keys"][1]["public_key"] = b64(raw(ATTACKER))
    return [f"Kunci publik {tv.key_id(raw(CITY_KEY))} dalam berkas tidak cocok dengan key_id-nya",
            f"dibuat dengan kunci {tv.key_id(raw(CITY_KEY))}, yang tidak dikenal"]


def _malformed_signature(b):
    b["events"][4]["signature"] = "bukan base64!"
    return ["Peristiwa #5 (urutan ke-5 dalam berkas) tidak berbentuk yang benar: "
            "events[4]: 'signature' bukan base64"]


TAMPERING = [_change_action, _change_hash, _signature_of_another_event, _change_proof_element,
             _change_head_root, _change_head_size, _remove_an_event, _event_of_another_case,
             _log_index_beyond_the_head, _swap_two_events, _not_the_start_of_the_chain,
             _a_key_that_is_not_its_id, _malformed_signature]


@pytest.mark.parametrize(("mode", "engine"), MODES)
@pytest.mark.parametrize("tamper", TAMPERING, ids=[t.__name__.strip("_") for t in TAMPERING])
def test_a_tampered_bundle_fails_naming_what(run, mode, engine, tamper):
    bundle = copy.deepcopy(LOG.bundle())
    expected = tamper(bundle)
    result = run(mode, bundle)
    assert result.code == 1, result.out + result.err
    for text in expected:
        assert text in result.out, (text, result.out)
    assert result.out.splitlines()[-1].startswith("BUKTI TIDAK SAH: ")


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_a_head_signed_by_a_key_not_the_citys(run, mode, engine, keys_file):
    bundle = LOG.bundle(key=ATTACKER)
    bundle["public_keys"].append({"key_id": tv.key_id(raw(ATTACKER)), "public_key": b64(raw(ATTACKER))})
    # with the keys it carries, the bundle is consistent: hence the warning to compare them
    alone = run(mode, bundle)
    assert alone.code == tv.EXIT_UNPROVEN and "ikut di dalam berkas ini sendiri" in alone.out
    assert "BUKTI SAH" not in alone.out
    assert tv.key_id(raw(ATTACKER)) in alone.out
    trusted = run(mode, bundle, "--key", str(keys_file))
    assert trusted.code == 1
    assert (f"✗ Tanda tangan tree head dibuat dengan kunci {tv.key_id(raw(ATTACKER))}, yang tidak dikenal"
            in trusted.out.splitlines())


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_events_signed_by_a_key_the_reader_does_not_trust(run, mode, engine, tmp_path):
    only_new = tmp_path / "kunci-2026.pem"
    only_new.write_bytes(pem(CITY_KEY))
    bundle = LOG.bundle()
    result = run(mode, bundle, "--key", str(only_new))
    assert result.code == 1
    assert f"{label(bundle, 1)}: ditandatangani dengan kunci {tv.key_id(raw(OLD_KEY))}, yang tidak dikenal" \
        in result.out
    assert f"✓ {label(bundle, 4)}: tanda tangan sah" in result.out  # signed after the rotation


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_unreadable_input_exits_2(run, mode, engine, tmp_path, keys_file):
    garbage = tmp_path / "rusak.json"
    garbage.write_text("{not json", encoding="utf-8")
    assert run(mode, garbage).code == 2
    other = tmp_path / "lain.json"
    other.write_text(json.dumps({"format": "something-else/1"}), encoding="utf-8")
    result = run(mode, other)
    assert result.code == 2 and "something-else/1" in result.err
    assert run(mode, tmp_path / "tidak-ada.json").code == 2
    not_a_key = tmp_path / "bukan-kunci.pem"
    not_a_key.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    result = run(mode, LOG.bundle(), "--key", str(not_a_key))
    assert result.code == 2 and "bukan kunci publik Ed25519" in result.err
    assert run(mode, LOG.bundle(), "--json", "--tsa-ca", str(tmp_path / "tidak-ada.pem")).code == 2


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_a_timestamp_not_checked_is_said_with_the_command_to_check_it(run, mode, engine, tmp_path):
    token = b"\x30\x03\x02\x01\x00"  # not a real token: without --tsa-ca it is not read at all
    bundle = LOG.bundle(token=token)
    result = run(mode, bundle)
    assert result.code == tv.EXIT_UNPROVEN, result.out
    head = tv.parse_tree_head(bundle["tree_head"])
    imprint = hashlib.sha256(tv.head_message(head.size, head.root, head.time)).hexdigest()
    assert "stempel waktu RFC 3161, tetapi stempel itu TIDAK diperiksa" in result.out
    assert f"openssl ts -verify -digest {imprint} -in token.tsr -token_in -CAfile" in result.out
    saved = tmp_path / "token.tsr"
    result = run(mode, bundle, "--token-out", str(saved))
    assert result.code == tv.EXIT_UNPROVEN and saved.read_bytes() == token
    assert f"-in {saved} -token_in" in result.out


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_a_consistency_document(run, mode, engine, keys_file):
    doc = LOG.consistency(4, 10)
    result = run(mode, doc, "--key", str(keys_file))
    assert result.code == 0, result.out
    assert ("✓ Log pada 2026-11-23T02:00:00Z (10 entri) adalah kelanjutan log pada 2026-11-23T01:30:00Z "
            "(4 entri)") in result.out
    assert result.out.splitlines()[-1].startswith("BUKTI SAH: ")
    changed = copy.deepcopy(doc)
    changed["proof"][0] = flip_hex(changed["proof"][0])
    result = run(mode, changed)
    assert result.code == 1 and "✗ Bukti konsistensi tidak cocok" in result.out
    rewritten = LOG.consistency(4, 10)
    reordered = Log([*LOG.entries[:2], LOG.entries[3], LOG.entries[2]])
    rewritten["from"] = reordered.head(4, at="2026-11-23T01:30:00Z")
    result = run(mode, rewritten)  # an old head the city signed, of a log whose order changed since
    assert result.code == 1 and "✗ Bukti konsistensi tidak cocok" in result.out
    del doc["public_keys"]
    assert run(mode, doc).code == 2
    assert run(mode, doc, "--key", str(keys_file)).code == 0


@pytest.mark.parametrize(("mode", "engine"), MODES)
def test_a_consistency_documents_two_timestamps(run, mode, engine, tmp_path):
    doc = LOG.consistency(4, 10)
    doc["from"]["timestamp_token"], doc["to"]["timestamp_token"] = b64(b"old token"), b64(b"new token")
    result = run(mode, doc, "--token-out", str(tmp_path / "token.tsr"))
    assert result.code == tv.EXIT_UNPROVEN, result.out  # its own keys only
    assert (tmp_path / "token-lama.tsr").read_bytes() == b"old token"
    assert (tmp_path / "token-baru.tsr").read_bytes() == b"new token"
    for role, head in (("lama", doc["from"]), ("baru", doc["to"])):
        imprint = tv.parse_tree_head(head).imprint()
        assert f"Tree head {role} (" in result.out
        token = tmp_path / f"token-{role}.tsr"
        assert f"openssl ts -verify -digest {imprint} -in {token} -token_in" in result.out


# -- the functions the app's tests call ----------------------------------------------------------

def test_check_bundle_reports_problems_notes_and_pending_events():
    keys = {tv.key_id(raw(k)): raw(k) for k in (OLD_KEY, CITY_KEY)}
    result = tv.check_bundle(LOG.bundle(), keys)
    assert result.ok and not result.proven and result.problems == [] and result.pending == [6]
    assert any("belum masuk log" in note for note in result.notes)
    assert result.summary.startswith("BELUM TERBUKTI PENUH: ")
    newer = tv.check_bundle(LOG.bundle(size=len(PLAN)), keys)
    assert newer.proven and newer.pending == [] and newer.summary.startswith("BUKTI SAH: ")
    bundle = LOG.bundle()
    bundle["events"][0]["action"] = "case_closed"
    result = tv.check_bundle(bundle, keys)
    assert not result.ok
    assert result.summary.startswith(f"BUKTI TIDAK SAH: {label(bundle, 1)}: tanda tangan tidak sah")
    assert not tv.check_bundle({"format": tv.BUKTI_FORMAT}, keys).ok
    assert not tv.check_bundle([], keys).ok


def test_check_consistency_of_every_pair_of_sizes():
    for old in range(0, 11):
        for new in range(old, 11):
            assert tv.check_consistency(LOG.consistency(old, new)).ok, (old, new)
    result = tv.check_consistency(LOG.consistency(3, 10) | {"to": LOG.head(9)})
    assert not result.ok
    assert result.problems == ["Bukti konsistensi tidak cocok: log 9 entri, 2026-11-23T02:00:00Z tidak "
                               "terbukti sebagai kelanjutan log 3 entri, 2026-11-23T01:30:00Z"]


def test_load_public_keys_reads_concatenated_pem_and_der():
    both = tv.load_public_keys(pem(OLD_KEY, CITY_KEY))
    assert both == {tv.key_id(raw(k)): raw(k) for k in (OLD_KEY, CITY_KEY)}
    der = CITY_KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert tv.load_public_keys(der) == {tv.key_id(raw(CITY_KEY)): raw(CITY_KEY)}
    with pytest.raises(ValueError):
        tv.load_public_keys(b"just text")
    with pytest.raises(ValueError):  # an RSA-sized block, not Ed25519
        tv.load_public_keys(b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(b"\x30" * 294)
                            + b"-----END PUBLIC KEY-----\n")


# -- a real RFC 3161 token, made by a throwaway TSA with openssl -----------------------------------

OPENSSL = shutil.which("openssl")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    """A CA and a time-stamping authority it certified; returns (directory, stamp(imprint) -> DER token)."""
    if OPENSSL is None:
        pytest.skip("openssl is not on PATH")
    d = tmp_path_factory.mktemp("tsa")
    (d / "ext.cnf").write_text("extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n")
    (d / "tsa.cnf").write_text("[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ./serial\nsigner_digest = sha256\n"
                               "default_policy = 1.2.3.4.1\ndigests = sha256\ness_cert_id_alg = sha256\n")
    (d / "serial").write_text("01\n")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Tanggap test TSA CA", "-days", "3",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
             cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tsa.key",
             "-out", "tsa.csr", "-subj", "/CN=Tanggap test TSA", cwd=d)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.pem", "-days", "3", "-extfile", "ext.cnf", cwd=d)

    def stamp(imprint: str) -> bytes:
        _openssl("ts", "-query", "-digest", imprint, "-sha256", "-cert", "-out", "q.tsq", cwd=d)
        _openssl("ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq", "-signer", "tsa.pem",
                 "-inkey", "tsa.key", "-out", "r.tsr", cwd=d)
        _openssl("ts", "-reply", "-in", "r.tsr", "-token_out", "-out", "token.der", cwd=d)
        return (d / "token.der").read_bytes()
    return d, stamp


def test_a_real_timestamp_is_checked_with_openssl(run, tsa):
    directory, stamp = tsa
    head = tv.parse_tree_head(LOG.bundle()["tree_head"])
    token = stamp(head.imprint())
    good = run(("-I", "-S"), LOG.bundle(token=token), "--tsa-ca", str(directory / "ca.pem"))
    assert good.code == tv.EXIT_UNPROVEN, good.out  # nothing wrong; the last event waits for a head
    assert "✓ Stempel waktu RFC 3161 tree head sah: TSA mencatat tree head ini pada" in good.out
    other_head = LOG.bundle(token=token, at="2026-11-23T02:05:00Z")  # the token of another head
    bad = run(("-I", "-S"), other_head, "--tsa-ca", str(directory / "ca.pem"))
    assert bad.code == 1
    assert ("✗ Stempel waktu RFC 3161 tree head TIDAK sah: Verification: FAILED; message imprint mismatch"
            in bad.out)


# -- a proof that is not complete yet, and one whose order is wrong ---------------------------------

def city_keys() -> dict[str, bytes]:
    return {tv.key_id(raw(k)): raw(k) for k in (OLD_KEY, CITY_KEY)}


def test_before_the_first_tree_head_signatures_hold_but_nothing_is_proven_in_the_log():
    bundle = LOG.bundle()
    bundle["tree_head"] = None
    for event in bundle["events"]:
        event["log_index"] = event["inclusion_proof"] = None
    result = tv.check_bundle(bundle, city_keys())
    assert result.ok and not result.proven and result.pending == [1, 2, 3, 4, 5, 6]
    assert "belum menandatangani tree head" in result.summary
    bundle["events"][2]["action"] = "case_closed"  # still checked: its signature no longer holds
    assert not tv.check_bundle(bundle, city_keys()).ok


def test_an_event_from_before_the_log_is_waiting_not_wrong():
    bundle = LOG.bundle(size=len(PLAN))
    last = bundle["events"][-1]
    last.update(key_id=None, signature=None, log_index=None, inclusion_proof=None)
    result = tv.check_bundle(bundle, city_keys())
    assert result.ok and not result.proven and result.pending == [6]
    assert "dicatat sebelum log ada" in result.summary
    logged_unsigned = LOG.bundle(size=len(PLAN))
    logged_unsigned["events"][0].update(key_id=None, signature=None)  # in the log without a signature
    assert not tv.check_bundle(logged_unsigned, city_keys()).ok


def test_the_previous_hash_is_signed_with_the_event():
    bundle = LOG.bundle(size=len(PLAN))
    bundle["events"][3]["prev_hash"] = "ab" * 32
    result = tv.check_bundle(bundle, city_keys())
    assert not result.ok
    assert any(f"{label(bundle, 4)}: tanda tangan tidak sah" in p for p in result.problems)


def test_events_entered_the_log_in_the_order_they_were_written():
    bundle = LOG.bundle(size=len(PLAN))
    events = bundle["events"]
    # two events' log places swapped, each with its own (valid) inclusion proof: the order is wrong
    events[1]["log_index"], events[2]["log_index"] = events[2]["log_index"], events[1]["log_index"]
    events[1]["inclusion_proof"], events[2]["inclusion_proof"] = events[2]["inclusion_proof"], events[1]["inclusion_proof"]
    result = tv.check_bundle(bundle, city_keys())
    assert any("tidak sesudah peristiwa #2" in p for p in result.problems), result.problems
