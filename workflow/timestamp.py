"""RFC 3161 time-stamps for the audit log's signed tree heads: asking a Time-Stamp Authority (TSA)
for a token over a SHA-256 hash, and checking a stored token later, offline, against the TSA
certificates an auditor trusts.

A token proves that the hash existed at the token's time only if all of these hold, and
:func:`verify` checks each (the first that fails names the :class:`TimestampError` reason):

1. the token stamps exactly this SHA-256 hash (``wrong_digest``);
2. its CMS signature is intact: the signed attributes carry the hash of the TSTInfo and its
   content type, and the TSA's key signed them (``bad_signature``);
3. the signing certificate is meant for time-stamping: extended key usage ``timeStamping``,
   marked critical as RFC 3161 section 2.3 requires (``not_timestamping``);
4. the certificate chains, link by verified link, to one of the trusted certificates
   (``untrusted``);
5. the token's time lies within the validity of every certificate of that chain (``expired``):
   a token made after its TSA certificate expired proves nothing, while one made before keeps
   its worth after the certificate ends, which is what lets auditors check old tree heads.

ASN.1 is read and written with asn1crypto; signatures and certificates are checked with
cryptography. Revocation (CRL, OCSP) is not checked: auditors verify offline.
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.client import HTTPException
from pathlib import Path

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

REASONS = frozenset(
    {"unreachable", "refused", "bad_response", "wrong_digest", "bad_signature", "untrusted", "expired",
     "not_timestamping"}
)

# A reply is a few kilobytes (a token with its certificate chain); anything far larger is not one.
MAX_REPLY_BYTES = 1 << 20
# How far a chain may reach from the TSA certificate to a trusted one (intermediates in the token).
MAX_CHAIN = 8

# Hashes a signature may be made with. MD5 and SHA-1 are refused: a collision lets a forger
# reuse a genuine signature over attributes of their choosing.
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}

_DER = Encoding.DER
_PKI_STATUS_NUMBERS = {name: number for number, name in tsp.PKIStatus._map.items()}


class TimestampError(Exception):
    """A time-stamp could not be had or does not hold. ``reason`` is one of :data:`REASONS`; the
    message names the cause in words an operator or auditor can act on."""

    def __init__(self, reason: str, message: str):
        if reason not in REASONS:
            raise ValueError(f"unknown time-stamp error reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Token:
    """A time-stamp token as stored (``der``) and what it says. ``tsa`` is the subject of the
    signing certificate (RFC 4514); ``digest`` is the stamped SHA-256 hash."""

    der: bytes = field(repr=False)
    time: datetime
    serial: int
    tsa: str
    digest: bytes
    policy: str


class _TimeStampResp(tsp.TimeStampResp):
    """TimeStampResp whose token is optional, as RFC 3161 has it: a refusal carries none
    (asn1crypto 1.5 declares the token mandatory and cannot read refusals)."""

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass
class _Parsed:
    """A token taken apart: what the checks need besides the :class:`Token` itself."""

    token: Token
    tst_info: tsp.TSTInfo
    tst_info_der: bytes
    signer_info: cms.SignerInfo
    certs: list[x509.Certificate]
    signer: x509.Certificate | None


# --- asking a TSA -------------------------------------------------------------------------------


def request(url: str, digest: bytes, *, timeout: float = 10.0,
            trusted: list[x509.Certificate] | None = None) -> Token:
    """Ask the TSA at ``url`` to stamp ``digest`` (a SHA-256 hash, stamped as it is).

    The request carries a random nonce and asks for the TSA's certificate in the token, so the
    token can be verified later without contacting anyone. The reply must grant the request and
    answer this very request (nonce and hash). With ``trusted`` the token is also verified
    (:func:`verify`) before it is returned."""
    _check_digest(digest)
    nonce = secrets.randbits(64) | 1  # never 0: an absent nonce must not be mistaken for a match
    query = tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest},
        "nonce": nonce,
        "cert_req": True,
    }).dump()
    body, content_type = _post(url, query, timeout)
    token_der = _granted_token(url, body, content_type)
    parsed = _parse(token_der)
    if parsed.tst_info["nonce"].native != nonce:
        raise TimestampError(
            "bad_response", f"the TSA at {url} answered with a token for another request (nonce differs)"
        )
    _check_imprint(parsed, digest)
    if trusted is not None:
        return verify(token_der, digest, trusted)
    return parsed.token


def _post(url: str, query: bytes, timeout: float) -> tuple[bytes, str]:
    """POST the query; the reply's body and content type. Connecting and each read wait at most
    ``timeout``, and the body must be complete within ``timeout`` of the headers: a TSA that
    trickles its answer does not hold the caller for longer than about twice ``timeout``."""
    if not url.lower().startswith(("http://", "https://")):
        raise TimestampError("unreachable", f"the TSA address {url!r} is not an http:// or https:// URL")
    req = urllib.request.Request(
        url,
        data=query,
        method="POST",
        headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            content_type = resp.headers.get_content_type()
            deadline = time.monotonic() + timeout
            chunks, size = [], 0
            while chunk := resp.read1(65536):
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise TimestampError(
                        "bad_response", f"the TSA at {url} sent more than {MAX_REPLY_BYTES} bytes"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunks.append(chunk)
            return b"".join(chunks), content_type
    except urllib.error.HTTPError as exc:
        exc.close()
        raise TimestampError(
            "bad_response", f"the TSA at {url} answered HTTP {exc.code} {exc.reason}"
        ) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise _timeout(url, timeout) from None
        raise TimestampError("unreachable", f"the TSA at {url} could not be reached: {exc.reason}") from None
    except (TimeoutError, socket.timeout):
        raise _timeout(url, timeout) from None
    except HTTPException as exc:
        raise TimestampError("bad_response", f"the TSA at {url} did not answer in HTTP: {exc!r}") from None
    except OSError as exc:
        raise TimestampError("unreachable", f"the connection to the TSA at {url} failed: {exc}") from None


def _timeout(url: str, timeout: float) -> TimestampError:
    return TimestampError("unreachable", f"the TSA at {url} did not answer within {timeout:g} s")


def _granted_token(url: str, body: bytes, content_type: str) -> bytes:
    """The token of a TimeStampResp that grants the request; a refusal names status and cause."""
    try:
        resp = _TimeStampResp.load(body, strict=True)
        status = resp["status"]["status"].native
        texts = resp["status"]["status_string"].native or []
        failures = resp["status"]["fail_info"].native or set()
        token = resp["time_stamp_token"]
    except (ValueError, TypeError, KeyError):
        raise TimestampError(
            "bad_response",
            f"the TSA at {url} did not answer with a time-stamp reply "
            f"(Content-Type {content_type}, {len(body)} bytes)",
        ) from None
    if status not in ("granted", "granted_with_mods"):
        number = _PKI_STATUS_NUMBERS.get(status, status)
        message = f"the TSA refused the request: status {number} ({status})"
        if texts:
            message += ": " + "; ".join(texts)
        if failures:
            message += "; failure: " + ", ".join(sorted(str(f) for f in failures))
        raise TimestampError("refused", message)
    if token.native is None:
        raise TimestampError("bad_response", f"the TSA at {url} granted the request but sent no token")
    return token.dump()


# --- reading and checking a token ----------------------------------------------------------------


def token_info(token_der: bytes) -> Token:
    """What a stored token says, without checking it (for display)."""
    return _parse(token_der).token


def verify(token_der: bytes, digest: bytes, trusted: list[x509.Certificate]) -> Token:
    """Check that ``token_der`` is a valid time-stamp of ``digest`` by a TSA that chains to one of
    ``trusted`` (see the module docstring for the checks, in order); the token if it is."""
    _check_digest(digest)
    parsed = _parse(token_der, extra_certs=trusted)
    _check_imprint(parsed, digest)
    signer = parsed.signer
    if signer is None:
        raise TimestampError(
            "untrusted",
            "the token's signing certificate is neither in the token nor among the trusted certificates",
        )
    _check_signature(parsed, signer)
    _check_timestamping(signer)
    chain = _chain(signer, parsed.certs, list(trusted))
    _check_validity(chain, parsed.token.time)
    return parsed.token


def _check_digest(digest: bytes) -> None:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise ValueError(f"the digest to time-stamp must be a 32-byte SHA-256 hash, not {digest!r:.80}")


def _malformed(detail: str) -> TimestampError:
    return TimestampError("bad_response", f"the token is not an RFC 3161 time-stamp token: {detail}")


def _parse(der: bytes, extra_certs: Sequence[x509.Certificate] = ()) -> _Parsed:
    """Take the token apart: ContentInfo → SignedData → TSTInfo and the one SignerInfo. The signer
    certificate is looked for in the token, then in ``extra_certs``."""
    try:
        info = cms.ContentInfo.load(bytes(der), strict=True)
        if info["content_type"].native != "signed_data":
            raise _malformed(f"content type {info['content_type'].native}, not signed data")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise _malformed(f"it signs {encap['content_type'].native}, not a TSTInfo")
        if encap["content"].native is None:
            raise _malformed("the TSTInfo is missing")
        tst_der = bytes(encap["content"])
        tst = tsp.TSTInfo.load(tst_der, strict=True)
        _ = tst.native  # read all of it now: asn1crypto parses lazily, and later errors would be raw
        signer_infos = list(signed["signer_infos"])
        if len(signer_infos) != 1:
            raise _malformed(f"{len(signer_infos)} signatures instead of the TSA's one")
        _ = signer_infos[0].native
        certs = [
            x509.load_der_x509_certificate(choice.chosen.dump())
            for choice in (signed["certificates"] if signed["certificates"].native is not None else [])
            if choice.name == "certificate"
        ]
        signer = _find_signer(signer_infos[0]["sid"], [*certs, *extra_certs])
        imprint = tst["message_imprint"]
        token = Token(
            der=bytes(der),
            time=tst["gen_time"].native.astimezone(timezone.utc),
            serial=tst["serial_number"].native,
            tsa=signer.subject.rfc4514_string() if signer else _tsa_field(tst),
            digest=imprint["hashed_message"].native,
            policy=tst["policy"].dotted,
        )
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _malformed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return _Parsed(token, tst, tst_der, signer_infos[0], certs, signer)


def _tsa_field(tst: tsp.TSTInfo) -> str:
    """The TSTInfo's own TSA name, shown when the token carries no certificate."""
    name = tst["tsa"]
    return "" if name.native is None else name.chosen.human_friendly


def _find_signer(sid: cms.SignerIdentifier, certs: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate the SignerInfo names, by issuer and serial number or by key identifier."""
    for cert in certs:
        parsed = asn1_x509.Certificate.load(cert.public_bytes(_DER))
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if parsed.serial_number == wanted["serial_number"].native and parsed.issuer == wanted["issuer"]:
                return cert
        elif sid.name == "subject_key_identifier":
            if parsed.key_identifier is not None and parsed.key_identifier == sid.chosen.native:
                return cert
    return None


def _check_imprint(parsed: _Parsed, digest: bytes) -> None:
    imprint = parsed.tst_info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm != "sha256":
        raise TimestampError("wrong_digest", f"the token stamps a {algorithm} hash, not a SHA-256 one")
    if parsed.token.digest != digest:
        raise TimestampError(
            "wrong_digest",
            f"the token is for a different hash ({parsed.token.digest.hex()[:16]}…, "
            f"expected {digest.hex()[:16]}…)",
        )


def _attribute(signer_info: cms.SignerInfo, name: str):
    """The single value of the signed attribute ``name``; None if absent, an error if repeated."""
    values = [attr["values"] for attr in signer_info["signed_attrs"] if attr["type"].native == name]
    if not values:
        return None
    if len(values) > 1 or len(values[0]) != 1:
        raise TimestampError("bad_signature", f"the token's signed attribute {name} is repeated")
    return values[0][0]


def _check_signature(parsed: _Parsed, signer: x509.Certificate) -> None:
    """The CMS signature (RFC 5652 section 5.4): the signed attributes bind the TSTInfo by its
    hash and type, and the TSA's key signed their DER encoding as a SET."""
    si = parsed.signer_info
    if si["signed_attrs"].native is None:
        raise TimestampError("bad_signature", "the token's signature has no signed attributes")
    digest_name = si["digest_algorithm"]["algorithm"].native
    hash_cls = _hash(digest_name)
    content_type = _attribute(si, "content_type")
    if content_type is None or content_type.native != "tst_info":
        raise TimestampError("bad_signature", "the token's signed attributes do not name a TSTInfo")
    message_digest = _attribute(si, "message_digest")
    if message_digest is None or message_digest.native != _digest(hash_cls, parsed.tst_info_der):
        raise TimestampError("bad_signature", "the token's TSTInfo does not match the hash its TSA signed")
    _check_signing_certificate(si, signer)
    signed_attrs = si["signed_attrs"].dump()
    data = b"\x31" + signed_attrs[1:]  # signed over as SET OF, not as the [0] it is stored under
    try:
        _verify_signature(
            signer.public_key(), si["signature_algorithm"], hash_cls, si["signature"].native, data
        )
    except InvalidSignature:
        raise TimestampError(
            "bad_signature",
            f"the token's signature does not verify with the key of {signer.subject.rfc4514_string()}",
        ) from None


def _hash(name: str) -> type[hashes.HashAlgorithm]:
    if name not in _HASHES:
        raise TimestampError("bad_signature", f"the token is signed with {name}, which is not accepted")
    return _HASHES[name]


def _digest(hash_cls: type[hashes.HashAlgorithm], data: bytes) -> bytes:
    h = hashes.Hash(hash_cls())
    h.update(data)
    return h.finalize()


def _check_signing_certificate(si: cms.SignerInfo, signer: x509.Certificate) -> None:
    """The ESS signing-certificate attribute (RFC 2634/5035), when present, names the signer
    certificate by its hash: another certificate with the same key does not pass for it."""
    der = signer.public_bytes(_DER)
    for name in ("signing_certificate_v2", "signing_certificate"):
        value = _attribute(si, name)
        if value is None:
            continue
        if len(value["certs"]) == 0:
            raise TimestampError("bad_signature", "the token's signing-certificate attribute is empty")
        first = value["certs"][0]
        algorithm = first["hash_algorithm"]["algorithm"].native if name.endswith("v2") else "sha1"
        if algorithm not in hashlib.algorithms_available or hashlib.new(algorithm, der).digest() != \
                first["cert_hash"].native:
            raise TimestampError(
                "bad_signature", "the token's signed attributes name another signing certificate"
            )


def _verify_signature(key, algorithm: cms.SignedDigestAlgorithm, hash_cls: type[hashes.HashAlgorithm],
                      signature: bytes, data: bytes) -> None:
    """Raise InvalidSignature unless ``signature`` over ``data`` verifies with ``key``."""
    try:
        kind = algorithm.signature_algo
    except ValueError:
        raise TimestampError(
            "bad_signature",
            f"the token's signature algorithm {algorithm['algorithm'].dotted} is not supported",
        ) from None
    if kind == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, data, padding.PKCS1v15(), hash_cls())
    elif kind == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
        params = algorithm["parameters"]
        pss_hash = _hash(params["hash_algorithm"]["algorithm"].native)
        mgf_hash = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
        pad = padding.PSS(mgf=padding.MGF1(mgf_hash()), salt_length=params["salt_length"].native)
        key.verify(signature, data, pad, pss_hash())
    elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(hash_cls()))
    elif kind in ("ed25519", "ed448") and isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        key.verify(signature, data)
    else:
        raise TimestampError(
            "bad_signature", f"the token's signature algorithm ({kind}) does not fit the TSA's key"
        )


def _check_timestamping(cert: x509.Certificate) -> None:
    name = cert.subject.rfc4514_string()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError(
            "not_timestamping", f"the certificate {name} has no extended key usage: it is not a TSA's"
        ) from None
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku.value:
        raise TimestampError("not_timestamping", f"the certificate {name} is not for time-stamping")
    if not eku.critical:
        raise TimestampError(
            "not_timestamping",
            f"the certificate {name} allows time-stamping, but not in a critical extension "
            "as RFC 3161 requires",
        )


def _chain(signer: x509.Certificate, intermediates: list[x509.Certificate],
           trusted: list[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates from the signer up to a trusted one, each link's signature verified; the
    intermediates come from the token. Issuers must be CA certificates."""
    chain = [signer]
    current = signer
    for _ in range(MAX_CHAIN):
        if current in trusted:
            return chain
        anchor = _issuer_among(current, trusted)
        if anchor is not None:
            return [*chain, anchor]
        step = _issuer_among(current, [c for c in intermediates if c not in chain])
        if step is None:
            break
        chain.append(step)
        current = step
    else:
        raise TimestampError("untrusted", f"the TSA's certificate chain is longer than {MAX_CHAIN}")
    who = signer.subject.rfc4514_string()
    issuer = current.issuer.rfc4514_string()
    if not trusted:
        raise TimestampError("untrusted", f"no trusted certificates were given to check {who} against")
    if any(t.subject == current.issuer for t in trusted):
        raise TimestampError(
            "untrusted",
            f"the TSA certificate {who} chains to {issuer}, "
            "but the trusted certificate of that name did not sign it",
        )
    raise TimestampError(
        "untrusted",
        f"the TSA certificate {who} was issued by {issuer}, which is not among the {len(trusted)} trusted "
        f"certificate{'s' if len(trusted) != 1 else ''}",
    )


def _issuer_among(cert: x509.Certificate, candidates: list[x509.Certificate]) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != cert.issuer or not _is_ca(candidate):
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_validity(chain: list[x509.Certificate], when: datetime) -> None:
    for position, cert in enumerate(chain):
        which = "the TSA certificate" if position == 0 else "the certificate"
        what = f"{which} {cert.subject.rfc4514_string()}" + (" in the TSA's chain" if position else "")
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        if when > end:
            raise TimestampError(
                "expired", f"{what} expired on {_day(end, when)} (token time {_day(when, end)})"
            )
        if when < start:
            raise TimestampError(
                "expired", f"{what} is valid only from {_day(start, when)} (token time {_day(when, start)})"
            )


def _day(moment: datetime, other: datetime) -> str:
    """A date, or date and time when the other moment falls on the same day."""
    if moment.date() == other.date():
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d")


# --- trusted certificates ----------------------------------------------------------------------


def load_trusted(path: str | Path) -> list[x509.Certificate]:
    """The trusted TSA certificates (roots or the TSA's own) from a PEM file of one or more."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"the trusted TSA certificate file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"the trusted TSA certificate file {path} is a directory") from None
    except OSError as exc:
        raise ValueError(f"the trusted TSA certificate file {path} cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise ValueError(f"the trusted TSA certificate file {path} is empty")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(
            f"the trusted TSA certificate file {path} holds no valid PEM certificate "
            "(expected one or more -----BEGIN CERTIFICATE----- blocks)"
        ) from None
