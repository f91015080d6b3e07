"""A real Time-Stamp Authority on loopback for the time-stamp tests: OpenSSL's ``openssl ts -reply``
behind a small HTTP server, with a test CA made by ``cryptography``.

Tokens come from OpenSSL, an independent RFC 3161 implementation, so the client is tested
against what a real TSA sends. Only where OpenSSL will not sign — a certificate without a
critical ``timeStamping`` extended key usage (it checks the purpose, ``ts_rsp_sign.c``), RSA-PSS,
a token time of our choosing — are tokens made in Python (:func:`sign_token`), from the same
certificates, so the verifier's refusal of them is tested and not OpenSSL's.
"""

from __future__ import annotations

import hashlib
import http.server
import shutil
import subprocess
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

OPENSSL = "/usr/bin/openssl"
POLICY = "1.2.3.4.1"
CA_NAME = "CN=Tanggap Test Root CA,O=Tanggap Tests"
TSA_NAME = "CN=Tanggap Test TSA,O=Tanggap Tests"

_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM


def _name(rfc4514: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(rfc4514)


def _key(kind: str):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    names = ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{name: allowed.get(name, False) for name in names})


def make_ca(name: str = CA_NAME, *, parent=None, days: int = 3650):
    """A CA certificate and key: self-signed, or issued by ``parent`` (cert, key)."""
    key = _key("ec")
    now = datetime.now(timezone.utc)
    issuer_cert, issuer_key = parent if parent else (None, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=2000))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert, key


def make_tsa_cert(issuer, *, key_kind: str = "ec", eku: str = "critical", not_before=None, not_after=None,
                  name: str = TSA_NAME):
    """A TSA certificate issued by ``issuer`` (cert, key). ``eku``: "critical" (as RFC 3161 wants),
    "noncritical", "none" or "server" (an extended key usage for TLS servers instead)."""
    key = _key(key_kind)
    now = datetime.now(timezone.utc)
    issuer_cert, issuer_key = issuer
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
    )
    if eku in ("critical", "noncritical"):
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=eku == "critical"
        )
    elif eku == "server":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256()), key


def sign_token(tst_info: tsp.TSTInfo, cert: x509.Certificate, key, certs: list[x509.Certificate], *,
               pss: bool = False, content_type: str = "tst_info",
               ess_cert: x509.Certificate | None = None) -> bytes:
    """A time-stamp token (ContentInfo DER) over ``tst_info``, signed as RFC 3161 and RFC 5652 say:
    signed attributes with content type, message digest and ESS signing-certificate-v2 (naming
    ``ess_cert`` instead of ``cert`` if given, as does a token whose certificate was swapped)."""
    tst_der = tst_info.dump()
    cert_der = cert.public_bytes(_DER)
    asn1_cert = asn1_x509.Certificate.load(cert_der)
    ess_hash = hashlib.sha256((ess_cert or cert).public_bytes(_DER)).digest()
    attrs = cms.CMSAttributes([
        {"type": "content_type", "values": [content_type]},
        {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
        {"type": "signing_certificate_v2", "values": [{"certs": [{"cert_hash": ess_hash}]}]},
    ])
    to_sign = attrs.dump()
    if isinstance(key, rsa.RSAPrivateKey) and pss:
        signature = key.sign(to_sign, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        algorithm = {
            "algorithm": "rsassa_pss",
            "parameters": algos.RSASSAPSSParams({
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                "salt_length": 32,
            }),
        }
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        algorithm = {"algorithm": "sha256_rsa"}
    else:
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        algorithm = {"algorithm": "sha256_ecdsa"}
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier({
            "issuer_and_serial_number": {"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number}
        }),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": attrs,
        "signature_algorithm": algorithm,
        "signature": signature,
    }
    signed_data = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_der)},
        "certificates": [asn1_x509.Certificate.load(c.public_bytes(_DER)) for c in certs],
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


def tst_info(digest: bytes, serial: int, *, gen_time: datetime | None = None, nonce: int | None = None,
             hash_algorithm: str = "sha256") -> tsp.TSTInfo:
    fields = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": digest},
        "serial_number": serial,
        "gen_time": (gen_time or datetime.now(timezone.utc)).replace(microsecond=0),
        "accuracy": {"seconds": 1},
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TSTInfo(fields)


def status_reply(status: str, text: str | None = None, failure: set[str] | None = None) -> bytes:
    """A TimeStampResp without token (a refusal), built by hand: asn1crypto's TimeStampResp insists
    on a token, and OpenSSL answers bad requests only with the failures it chooses itself."""
    info = {"status": status}
    if text:
        info["status_string"] = [text]
    if failure:
        info["fail_info"] = failure
    return core.Sequence(contents=tsp.PKIStatusInfo(info).dump()).dump()


class LocalTSA:
    """An RFC 3161 TSA at ``url`` on 127.0.0.1 (ephemeral port), as a context manager.

    ``ca_cert`` / ``ca_pem_path`` is the CA tests trust. Options:

    - ``expired``: the TSA certificate was valid only in 2020 (OpenSSL signs with it all the same);
    - ``other_ca``: the TSA certificate comes from another CA with the very same name as
      ``ca_cert`` — only checking the signature of the link tells them apart;
    - ``intermediate``: root → intermediate CA → TSA, the intermediate sent in the token;
    - ``eku``: see :func:`make_tsa_cert`; other than "critical", tokens are made in Python;
    - ``key``: "ec" (P-256) or "rsa"; ``pss``: RSA-PSS signatures, made in Python;
    - ``reject``: every request is answered with status rejection;
    - ``garbage``: HTTP 200 with a body that is no ASN.1 at all.
    """

    def __init__(self, *, expired: bool = False, other_ca: bool = False, intermediate: bool = False,
                 eku: str = "critical", key: str = "ec", pss: bool = False, reject: bool = False,
                 garbage: bool = False):
        self.reject, self.garbage = reject, garbage
        self.use_openssl = eku == "critical" and not pss
        self.pss = pss
        self.dir = Path(tempfile.mkdtemp(prefix="tanggap-tsa-"))
        self.ca_cert, ca_key = make_ca()
        issuer = make_ca() if other_ca else (self.ca_cert, ca_key)
        self.chain: list[x509.Certificate] = []  # sent in tokens besides the TSA certificate
        if other_ca:
            self.chain.append(issuer[0])
        if intermediate:
            issuer = make_ca("CN=Tanggap Test Intermediate CA,O=Tanggap Tests", parent=issuer)
            self.chain.append(issuer[0])
        validity = {}
        if expired:
            validity = {"not_before": datetime(2020, 1, 1, tzinfo=timezone.utc),
                        "not_after": datetime(2021, 1, 1, tzinfo=timezone.utc)}
        self.tsa_cert, self.tsa_key = make_tsa_cert(issuer, key_kind=key, eku=eku, **validity)
        self.ca_pem_path = self.dir / "ca.pem"
        self.ca_pem_path.write_bytes(self.ca_cert.public_bytes(_PEM))
        self._write_openssl_files()
        self.serial = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.server: http.server.HTTPServer | None = None
        self.thread: threading.Thread | None = None

    def _write_openssl_files(self) -> None:
        (self.dir / "tsa.pem").write_bytes(self.tsa_cert.public_bytes(_PEM))
        (self.dir / "tsa.key").write_bytes(self.tsa_key.private_bytes(
            _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.dir / "chain.pem").write_bytes(b"".join(c.public_bytes(_PEM) for c in self.chain))
        (self.dir / "serial").write_text("01\n")
        (self.dir / "openssl.cnf").write_text(
            "[tsa]\n"
            "default_tsa = tsa_config\n"
            "[tsa_config]\n"
            f"serial = {self.dir / 'serial'}\n"
            f"signer_cert = {self.dir / 'tsa.pem'}\n"
            f"signer_key = {self.dir / 'tsa.key'}\n"
            + (f"certs = {self.dir / 'chain.pem'}\n" if self.chain else "")
            + "signer_digest = sha256\n"
            f"default_policy = {POLICY}\n"
            "digests = sha256, sha384, sha512\n"
            "accuracy = secs:1, millisecs:500\n"
            "ordering = no\n"
            "tsa_name = yes\n"
            "ess_cert_id_chain = no\n"
            "ess_cert_id_alg = sha256\n"
        )

    @property
    def url(self) -> str:
        assert self.server is not None, "the TSA is not started"
        return f"http://127.0.0.1:{self.server.server_address[1]}/tsa"

    # --- tokens -----------------------------------------------------------------------------

    def issue(self, digest: bytes, *, gen_time: datetime | None = None, nonce: int | None = None,
              hash_algorithm: str = "sha256") -> bytes:
        """A token made in Python with this TSA's certificate and key, without HTTP."""
        with self.lock:
            self.serial += 1
            serial = self.serial
        info = tst_info(digest, serial, gen_time=gen_time, nonce=nonce, hash_algorithm=hash_algorithm)
        return sign_token(info, self.tsa_cert, self.tsa_key, [self.tsa_cert, *self.chain], pss=self.pss)

    def reply(self, query: bytes) -> tuple[int, str, bytes]:
        """HTTP status, content type and body answering one request body."""
        if self.garbage:
            return 200, "text/html", b"<html><body>Service temporarily moved</body></html>"
        if self.reject:
            return 200, "application/timestamp-reply", status_reply(
                "rejection", "request for unsupported policy", {"unaccepted_policy"})
        if not self.use_openssl:
            req = tsp.TimeStampReq.load(query)
            imprint = req["message_imprint"]
            token = self.issue(imprint["hashed_message"].native, nonce=req["nonce"].native,
                               hash_algorithm=imprint["hash_algorithm"]["algorithm"].native)
            body = core.Sequence(contents=tsp.PKIStatusInfo({"status": "granted"}).dump() + token).dump()
            return 200, "application/timestamp-reply", body
        with self.lock:  # one openssl at a time: they share the serial file
            (self.dir / "q.tsq").write_bytes(query)
            done = subprocess.run(
                [OPENSSL, "ts", "-reply", "-config", str(self.dir / "openssl.cnf"),
                 "-queryfile", str(self.dir / "q.tsq"), "-out", str(self.dir / "r.tsr")],
                capture_output=True, timeout=10,
            )
            if done.returncode != 0:
                self.errors.append(done.stderr.decode(errors="replace"))
                return 500, "text/plain", done.stderr
            return 200, "application/timestamp-reply", (self.dir / "r.tsr").read_bytes()

    # --- server -----------------------------------------------------------------------------

    def start(self) -> LocalTSA:
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, content_type, body = tsa.reply(query)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-tsa", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)
            assert not self.thread.is_alive(), "the local TSA's server thread did not stop"
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalTSA:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
