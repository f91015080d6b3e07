"""The audit key: the Ed25519 key every audit event and every tree head of the log is signed with.

The database never holds it. It comes from ``TANGGAP_AUDIT_KEY_FILE`` (a PEM file, the
production way: one file given to every host), or ``TANGGAP_AUDIT_KEY`` (the PEM itself), or,
for the embedded default, ``<instance>/audit_key.pem`` made on first use (mode 0600), as
``workflow.config`` reads it.

Rotation: make a new key (``tanggap audit keygen``), give it to every host, and add the old key's
public half to the bundle ``TANGGAP_AUDIT_PUBLIC_KEYS`` names (a PEM file of public keys), so the
events and heads it signed keep verifying. Trusted keys come from configuration only, never
from the database (whoever could write there could add their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from workflow import tanggap_verify as tv

KEY_FILE = "audit_key.pem"


class AuditKeyError(ValueError):
    """The configured audit key or public keys cannot be used (the message says why)."""


def generate_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(public_key: bytes) -> str:
    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_keys(pem: str) -> list[bytes]:
    """The raw Ed25519 public keys of a PEM bundle (one or more ``PUBLIC KEY`` blocks), read as
    the offline verifier reads them (``tanggap_verify.load_public_keys``)."""
    try:
        return list(tv.load_public_keys(pem.encode()).values())
    except ValueError as exc:
        raise AuditKeyError(f"not a PEM public key of an Ed25519 key: {exc}") from None


@dataclass(frozen=True)
class AuditKeys:
    """The signing key, and every public key whose signatures count (the signing key's own, and
    the retired ones of the configured bundle), by key id."""

    private: Ed25519PrivateKey = field(repr=False)
    trusted: dict[str, bytes]

    @classmethod
    def from_pem(cls, private_pem: str, public_pems: str = "") -> AuditKeys:
        try:
            private = serialization.load_pem_private_key(private_pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise AuditKeyError(f"the audit key is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise AuditKeyError("the audit key must be an Ed25519 key (tanggap audit keygen makes one)")
        own = raw_public(private.public_key())
        trusted = {tv.key_id(k): k for k in load_public_keys(public_pems)} if public_pems else {}
        trusted[tv.key_id(own)] = own
        return cls(private, trusted)

    @property
    def public_key(self) -> bytes:
        return raw_public(self.private.public_key())

    @property
    def key_id(self) -> str:
        return tv.key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def verify(self, key_id: str | None, signature: bytes | None, message: bytes) -> bool | None:
        """True or False; None when ``key_id`` is not a trusted key."""
        public = self.trusted.get(key_id or "")
        if public is None:
            return None
        return tv.ed25519_verify(public, signature or b"", message)

    def public_pems(self) -> str:
        """Every trusted public key as PEM, the signing key's first: what /transparansi publishes."""
        own = self.key_id
        order = [own] + sorted(k for k in self.trusted if k != own)
        return "".join(public_pem(self.trusted[k]) for k in order)
