"""Tracking codes: the citizen's only credential (follow, answer, confirm or dispute a report).

A code is shown once, to whoever filed the report, and is never stored: ``reports`` keeps an
HMAC-SHA256 of it under the deployment's tracking key (``TANGGAP_TRACKING_KEY``), which the
database does not hold. Staff therefore cannot read a code anywhere (not in the audit trail, the
API, exports or searches) and cannot act as the citizen; a leaked database does not let anyone
follow or answer reports without the key either. Audit events written before this rule may hold
a code in their data; every read path removes it (:data:`SECRET_KEYS`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.store.models import KeyCheck, Report

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_CODE = re.compile(f"^[{ALPHABET}]{{4}}-?[{ALPHABET}]{{4}}$")
SECRET_KEYS = ("tracking_code",)  # event data keys older rows may carry; never shown
CHECKED_TEXT = b"tanggap tracking key check"  # the same text as migration 0011


class TrackingCodes:
    def __init__(self, key: str):
        if not key:
            raise ValueError("a tracking key is required (TANGGAP_TRACKING_KEY)")
        self._key = key.encode()

    @staticmethod
    def new() -> str:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
        return f"{raw[:4]}-{raw[4:]}"

    @staticmethod
    def normalize(code: str | None) -> str | None:
        """``ABCD-EFGH`` from what a person typed (case, spaces, the dash optional); None when
        it cannot be a code at all (nothing to look up)."""
        text = re.sub(r"\s+", "", code or "").upper()
        if not _CODE.match(text):
            return None
        return f"{text[:4]}-{text[-4:]}"

    def check_value(self) -> str:
        return hmac.new(self._key, CHECKED_TEXT, hashlib.sha256).hexdigest()

    def digest(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    def lookup(self, code: str | None) -> str | None:
        """The stored digest a typed code would have, or None for text that is not a code."""
        normal = self.normalize(code)
        return self.digest(normal) if normal else None

    def _derived(self, purpose: bytes) -> bytes:
        return hmac.new(self._key, b"tanggap " + purpose, hashlib.sha256).digest()

    def seal(self, code: str) -> str:
        """The code encrypted and authenticated under a key derived from the tracking key
        (Fernet): the notice worker puts it into the reporter's links; the database alone
        cannot open it."""
        return Fernet(base64.urlsafe_b64encode(self._derived(b"seal"))).encrypt(code.encode()).decode()

    def unseal(self, sealed: str) -> str | None:
        try:
            return Fernet(base64.urlsafe_b64encode(self._derived(b"seal"))).decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    def stop_token(self, subscription_id: int) -> str:
        """The stop link's token for one subscription: its id and a MAC of it."""
        mac = hmac.new(self._derived(b"stop"), str(subscription_id).encode(), hashlib.sha256).digest()
        return f"{subscription_id}.{base64.urlsafe_b64encode(mac[:18]).decode()}"

    def subscription_of(self, token: str | None) -> int | None:
        """The subscription a stop token was made for, or None for any other text."""
        head, _, _mac = (token or "").partition(".")
        if not (head.isascii() and head.isdigit()) or len(head) > 18:
            return None
        expected = self.stop_token(int(head)).encode()
        return int(head) if hmac.compare_digest(expected, token.encode("utf-8", "replace")) else None

    def report_id(self, session: Session, code: str | None) -> int | None:
        digest = self.lookup(code)
        if digest is None:
            return None
        return session.scalar(select(Report.id).where(Report.tracking_hash == digest))


class WrongKey(RuntimeError):
    """This host's tracking key is not the one the database's codes were hashed with."""


def check_key(session: Session, codes: TrackingCodes) -> None:
    """Refuse to run with a tracking key other than the database's: every code would silently
    be unknown. The first host to run records its key's check value."""
    mine = codes.check_value()
    stored = session.get(KeyCheck, "tracking")
    if stored is None:
        session.add(KeyCheck(name="tracking", check_value=mine))
        try:
            session.commit()
        except IntegrityError:  # another host recorded its key at the same moment
            session.rollback()
        stored = session.get(KeyCheck, "tracking")
    if stored.check_value != mine:
        raise WrongKey("TANGGAP_TRACKING_KEY is not the key this database's tracking codes were "
                       "stored with: give every host the same TANGGAP_TRACKING_KEY")


def carried_a_code(data) -> bool:
    return isinstance(data, dict) and any(k in data for k in SECRET_KEYS)


def withheld_links(rows: list[dict]) -> list[dict]:
    """Rows of one chain (oldest first, with ``data``, ``hash`` and ``prev_hash``) as staff may
    read them: an event that carried a tracking code loses it, and its hash is withheld, and so
    is the next event's ``prev_hash`` (the same value). With the other fields, that hash would
    let anyone search the 32^8 possible codes offline in hours."""
    shown, withhold_prev = [], False
    for row in rows:
        row = dict(row)
        if withhold_prev:
            row["prev_hash"] = None
            withhold_prev = False
        if carried_a_code(row.get("data")):
            row["data"] = without_secrets(row["data"])
            row["hash"], row["redacted"] = None, True
            withhold_prev = True
        shown.append(row)
    return shown


def without_secrets(data: dict) -> dict:
    """Event data as anyone may read it: tracking codes written by older versions removed."""
    if not isinstance(data, dict) or not any(k in data for k in SECRET_KEYS):
        return data
    return {k: v for k, v in data.items() if k not in SECRET_KEYS}
