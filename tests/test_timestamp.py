"""RFC 3161 time-stamps (workflow.timestamp) against a real TSA on loopback (tests/tsa.py: OpenSSL's
``openssl ts -reply``), and every way a token can fail to hold."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import cms, tsp
from cryptography.hazmat.primitives.serialization import Encoding

from tests.tsa import (
    CA_NAME,
    OPENSSL,
    POLICY,
    TSA_NAME,
    LocalTSA,
    make_ca,
    make_tsa_cert,
    sign_token,
    tst_info,
)
from workflow.timestamp import TimestampError, load_trusted, request, token_info, verify

DIGEST = hashlib.sha256(b"tree head 42").digest()
OTHER_DIGEST = hashlib.sha256(b"tree head 43").digest()


@pytest.fixture
def tsa(openssl):
    with LocalTSA() as running:
        yield running


def _reason(exc_info) -> str:
    return exc_info.value.reason


# --- a token from a real TSA, and back ------------------------------------------------------------


@pytest.mark.parametrize(
    "options", [{}, {"key": "rsa"}, {"intermediate": True}], ids=["ecdsa", "rsa", "chain"])
def test_round_trip(openssl, options):
    with LocalTSA(**options) as local:
        trusted = load_trusted(local.ca_pem_path)
        before = datetime.now(timezone.utc)
        token = request(local.url, DIGEST, timeout=5)
        second = request(local.url, OTHER_DIGEST, timeout=5, trusted=trusted)
    assert token.digest == DIGEST
    assert before - timedelta(seconds=2) <= token.time <= datetime.now(timezone.utc) + timedelta(seconds=2)
    assert token.time.tzinfo is not None and token.time.utcoffset() == timedelta(0)
    assert second.serial == token.serial + 1  # OpenSSL counts in its serial file
    assert token.tsa == TSA_NAME
    assert token.policy == POLICY
    assert verify(token.der, DIGEST, trusted) == token
    assert token_info(token.der) == token
    assert second.digest == OTHER_DIGEST


def test_the_trusted_certificate_may_be_the_tsa_s_own(tsa):
    token = request(tsa.url, DIGEST, timeout=5)
    assert verify(token.der, DIGEST, [tsa.tsa_cert]) == token


def test_an_intermediate_ca_may_be_the_trusted_one(openssl):
    with LocalTSA(intermediate=True) as local:
        token = request(local.url, DIGEST, timeout=5)
    intermediate = local.chain[0]
    assert verify(token.der, DIGEST, [intermediate]).serial == token.serial


def test_rsa_pss_signatures_verify():
    with LocalTSA(key="rsa", pss=True) as local:
        token = request(local.url, DIGEST, timeout=5, trusted=[local.ca_cert])
    assert token.digest == DIGEST


def test_the_test_tsa_s_own_tokens_satisfy_openssl(openssl, tmp_path):
    """Tokens the tests make in Python (tests/tsa.py, sign_token) are ones OpenSSL accepts, so what
    the verifier refuses in them is the fault put in, not a malformed token. ``openssl ts -verify``
    checks the RFC 3161 parts but verifies signatures with its PKCS #7 code, which knows no RSA-PSS;
    ``openssl cms -verify`` checks the CMS signature of all three."""
    token = tmp_path / "t.tsr"
    for options in ({"key": "rsa"}, {"key": "ec"}, {"key": "rsa", "pss": True}):
        with LocalTSA(**options) as local:
            token.write_bytes(local.issue(DIGEST))
            ca = tmp_path / "ca.pem"
            ca.write_bytes(local.ca_pem_path.read_bytes())
        commands = [[OPENSSL, "cms", "-verify", "-inform", "DER", "-in", str(token), "-binary",
                     "-purpose", "timestampsign", "-CAfile", str(ca), "-out", os.devnull]]
        if not options.get("pss"):
            commands.append([OPENSSL, "ts", "-verify", "-digest", DIGEST.hex(), "-in", str(token),
                             "-token_in", "-CAfile", str(ca)])
        for command in commands:
            done = subprocess.run(command, capture_output=True, timeout=10)
            assert done.returncode == 0, (options, command[1], done.stdout, done.stderr)


# --- tokens that do not hold -------------------------------------------------------------------------


def test_a_token_for_another_hash_is_refused(tsa):
    token = request(tsa.url, DIGEST, timeout=5)
    with pytest.raises(TimestampError) as caught:
        verify(token.der, OTHER_DIGEST, [tsa.ca_cert])
    assert _reason(caught) == "wrong_digest"
    assert "the token is for a different hash" in str(caught.value)


def test_a_token_over_another_hash_algorithm_is_refused():
    with LocalTSA() as local:
        pass
    der = local.issue(hashlib.sha512(b"tree head 42").digest(), hash_algorithm="sha512")
    with pytest.raises(TimestampError) as caught:
        verify(der, DIGEST, [local.ca_cert])
    assert _reason(caught) == "wrong_digest"
    assert "sha512" in str(caught.value)


def test_a_tsa_of_another_ca_with_the_same_name_is_untrusted(openssl):
    with LocalTSA(other_ca=True) as local:
        token = request(local.url, DIGEST, timeout=5)
        with pytest.raises(TimestampError) as on_request:
            request(local.url, DIGEST, timeout=5, trusted=[local.ca_cert])
    assert local.chain[0].subject == local.ca_cert.subject  # the impostor CA has the trusted one's name
    with pytest.raises(TimestampError) as caught:
        verify(token.der, DIGEST, [local.ca_cert])
    assert _reason(caught) == _reason(on_request) == "untrusted"
    assert f"chains to {CA_NAME}, but the trusted certificate of that name did not sign it" in str(
        caught.value)


def test_a_tsa_of_an_unknown_ca_is_untrusted(tsa):
    token = request(tsa.url, DIGEST, timeout=5)
    stranger, _ = make_ca("CN=Some Other CA")
    with pytest.raises(TimestampError) as caught:
        verify(token.der, DIGEST, [stranger])
    assert _reason(caught) == "untrusted"
    assert f"issued by {CA_NAME}, which is not among the 1 trusted certificate" in str(caught.value)
    with pytest.raises(TimestampError) as nothing:
        verify(token.der, DIGEST, [])
    assert _reason(nothing) == "untrusted"


def test_a_certificate_that_is_no_ca_cannot_issue_a_tsa_certificate():
    """A leaf certificate of the trusted CA (here: a TSA's) signing a TSA certificate of its own
    does not make that one trusted."""
    with LocalTSA() as local:
        pass
    forged_cert, forged_key = make_tsa_cert((local.tsa_cert, local.tsa_key), name="CN=Forged TSA")
    der = sign_token(tst_info(DIGEST, 7), forged_cert, forged_key, [forged_cert, local.tsa_cert])
    with pytest.raises(TimestampError) as caught:
        verify(der, DIGEST, [local.ca_cert])
    assert _reason(caught) == "untrusted"


def test_a_token_made_after_the_tsa_certificate_expired_is_refused(openssl):
    with LocalTSA(expired=True) as local:
        token = request(local.url, DIGEST, timeout=5)  # OpenSSL signs with an expired certificate
    with pytest.raises(TimestampError) as caught:
        verify(token.der, DIGEST, [local.ca_cert])
    assert _reason(caught) == "expired"
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert f"the TSA certificate {TSA_NAME} expired on 2021-01-01 (token time {today}" in str(caught.value)


def test_a_token_dated_before_the_tsa_certificate_is_refused():
    with LocalTSA() as local:
        pass
    start = local.tsa_cert.not_valid_before_utc
    der = local.issue(DIGEST, gen_time=start - timedelta(days=3))
    with pytest.raises(TimestampError) as caught:
        verify(der, DIGEST, [local.ca_cert])
    assert _reason(caught) == "expired"
    assert f"is valid only from {start:%Y-%m-%d}" in str(caught.value)
    # Within its validity the same certificate's token holds: the date made the difference.
    assert verify(local.issue(DIGEST, gen_time=start + timedelta(hours=1)), DIGEST, [local.ca_cert])


@pytest.mark.parametrize(
    "options", [{}, {"key": "rsa"}, {"key": "rsa", "pss": True}], ids=["ecdsa", "rsa", "pss"])
def test_one_flipped_byte_of_the_signature_is_refused(openssl, options):
    with LocalTSA(**options) as tsa:
        token = request(tsa.url, DIGEST, timeout=5)
    signature = cms.ContentInfo.load(token.der)["content"]["signer_infos"][0]["signature"].native
    at = token.der.index(signature) + len(signature) // 2
    flipped = token.der[:at] + bytes([token.der[at] ^ 0x01]) + token.der[at + 1:]
    with pytest.raises(TimestampError) as caught:
        verify(flipped, DIGEST, [tsa.ca_cert])
    assert _reason(caught) == "bad_signature"
    assert "signature does not verify" in str(caught.value)


def test_a_changed_tstinfo_is_refused(tsa):
    """Another serial number in the signed content: the signed message digest no longer fits."""
    token = request(tsa.url, DIGEST, timeout=5)
    content = cms.ContentInfo.load(token.der)["content"]["encap_content_info"]["content"]
    original = bytes(content)
    changed = tsp.TSTInfo.load(original)
    changed["serial_number"] = token.serial ^ 1  # as many bytes as before
    changed_der = changed.dump(force=True)
    assert len(changed_der) == len(original)
    forged = token.der.replace(original, changed_der)
    assert token_info(forged).serial == token.serial ^ 1
    with pytest.raises(TimestampError) as caught:
        verify(forged, DIGEST, [tsa.ca_cert])
    assert _reason(caught) == "bad_signature"
    assert "does not match the hash its TSA signed" in str(caught.value)


def test_signed_attributes_must_name_the_tstinfo_and_the_signer():
    with LocalTSA() as local:
        other, _ = make_ca("CN=Another Certificate")
        wrong_type = sign_token(tst_info(DIGEST, 5), local.tsa_cert, local.tsa_key, [local.tsa_cert],
                                content_type="data")
        wrong_cert = sign_token(tst_info(DIGEST, 6), local.tsa_cert, local.tsa_key, [local.tsa_cert],
                                ess_cert=other)
        right = sign_token(tst_info(DIGEST, 7), local.tsa_cert, local.tsa_key, [local.tsa_cert])
    with pytest.raises(TimestampError) as caught:
        verify(wrong_type, DIGEST, [local.ca_cert])
    assert _reason(caught) == "bad_signature"
    assert "do not name a TSTInfo" in str(caught.value)
    with pytest.raises(TimestampError) as caught:
        verify(wrong_cert, DIGEST, [local.ca_cert])
    assert _reason(caught) == "bad_signature"
    assert "name another signing certificate" in str(caught.value)
    assert verify(right, DIGEST, [local.ca_cert]).serial == 7


@pytest.mark.parametrize("eku", ["none", "noncritical", "server"])
def test_a_certificate_not_for_time_stamping_is_refused(eku):
    with LocalTSA(eku=eku) as local:
        token = request(local.url, DIGEST, timeout=5)
        with pytest.raises(TimestampError) as on_request:
            request(local.url, DIGEST, timeout=5, trusted=[local.ca_cert])
    with pytest.raises(TimestampError) as caught:
        verify(token.der, DIGEST, [local.ca_cert])
    assert _reason(caught) == _reason(on_request) == "not_timestamping"
    expected = {"none": "has no extended key usage", "noncritical": "not in a critical extension",
                "server": "is not for time-stamping"}[eku]
    assert expected in str(caught.value)


def test_a_token_without_certificates_needs_the_tsa_certificate_trusted():
    with LocalTSA() as local:
        pass
    der = sign_token(tst_info(DIGEST, 9), local.tsa_cert, local.tsa_key, [])
    assert token_info(der).tsa == ""
    assert verify(der, DIGEST, [local.tsa_cert]).tsa == TSA_NAME
    with pytest.raises(TimestampError) as caught:
        verify(der, DIGEST, [local.ca_cert])
    assert _reason(caught) == "untrusted"
    assert "neither in the token nor among the trusted certificates" in str(caught.value)


@pytest.mark.parametrize(
    "der", [b"", b"not a token", b"\x30\x03\x02\x01\x01"], ids=["empty", "text", "sequence"])
def test_what_is_no_token_is_a_bad_response(der):
    with pytest.raises(TimestampError) as caught:
        token_info(der)
    assert _reason(caught) == "bad_response"
    assert "not an RFC 3161 time-stamp token" in str(caught.value)
    with pytest.raises(TimestampError) as verifying:
        verify(der, DIGEST, [])
    assert _reason(verifying) == "bad_response"


# --- the TSA does not give a token ---------------------------------------------------------------------


def test_a_refusal_names_the_status_and_its_text():
    with LocalTSA(reject=True) as local:
        with pytest.raises(TimestampError) as caught:
            request(local.url, DIGEST, timeout=5)
    assert _reason(caught) == "refused"
    assert str(caught.value) == (
        "the TSA refused the request: status 2 (rejection): request for unsupported policy; "
        "failure: unaccepted_policy"
    )


def test_an_answer_that_is_no_reply_is_a_bad_response():
    with LocalTSA(garbage=True) as local:
        with pytest.raises(TimestampError) as caught:
            request(local.url, DIGEST, timeout=5)
    assert _reason(caught) == "bad_response"
    assert f"the TSA at {local.url} did not answer with a time-stamp reply (Content-Type text/html" in str(
        caught.value)


def test_an_http_error_is_a_bad_response():
    with LocalTSA() as local:
        local.reply = lambda query: (503, "text/plain", b"maintenance")
        with pytest.raises(TimestampError) as caught:
            request(local.url, DIGEST, timeout=5)
    assert _reason(caught) == "bad_response"
    assert "answered HTTP 503" in str(caught.value)


def test_a_replayed_reply_is_refused(tsa):
    """A reply to an earlier request (another nonce) does not answer this one."""
    first = {}
    answer = tsa.reply

    def keep_first(query):
        first.setdefault("reply", answer(query))
        return first["reply"]

    tsa.reply = keep_first
    request(tsa.url, DIGEST, timeout=5)
    with pytest.raises(TimestampError) as caught:
        request(tsa.url, DIGEST, timeout=5)
    assert _reason(caught) == "bad_response"
    assert "nonce differs" in str(caught.value)


def test_a_closed_port_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(TimestampError) as caught:
        request(f"http://127.0.0.1:{port}/tsa", DIGEST, timeout=2)
    assert time.monotonic() - started < 2
    assert _reason(caught) == "unreachable"
    assert f"the TSA at http://127.0.0.1:{port}/tsa could not be reached" in str(caught.value)


def test_a_silent_tsa_times_out():
    """The connection is accepted (by the kernel's backlog) but nothing ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/tsa"
        started = time.monotonic()
        with pytest.raises(TimestampError) as caught:
            request(url, DIGEST, timeout=0.3)
        elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 2
    assert _reason(caught) == "unreachable"
    assert str(caught.value) == f"the TSA at {url} did not answer within 0.3 s"


def test_only_http_addresses_are_asked():
    with pytest.raises(TimestampError) as caught:
        request("file:///etc/passwd", DIGEST)
    assert _reason(caught) == "unreachable"


def test_the_digest_must_be_a_sha256_hash():
    with pytest.raises(ValueError, match="32-byte SHA-256"):
        request("http://127.0.0.1:9/tsa", b"tree head 42")
    with pytest.raises(ValueError, match="32-byte SHA-256"):
        verify(b"", hashlib.sha1(b"x").digest(), [])


# --- trusted certificates --------------------------------------------------------------------------------


def test_load_trusted_reads_a_bundle(tmp_path):
    first, _ = make_ca("CN=First")
    second, _ = make_ca("CN=Second")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        b"# TSA roots\n" + first.public_bytes(Encoding.PEM) + second.public_bytes(Encoding.PEM))
    assert load_trusted(bundle) == [first, second]
    assert load_trusted(str(bundle)) == [first, second]


def test_load_trusted_names_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_trusted(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="is a directory"):
        load_trusted(tmp_path)
    (tmp_path / "empty.pem").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        load_trusted(tmp_path / "empty.pem")
    (tmp_path / "bad.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="holds no valid PEM certificate"):
        load_trusted(tmp_path / "bad.pem")
    (tmp_path / "text.pem").write_text("hello")
    with pytest.raises(ValueError, match="holds no valid PEM certificate"):
        load_trusted(tmp_path / "text.pem")
