"""Tracking codes: the citizen's only credential (follow, answer, confirm or dispute a report).

A code is shown once, to whoever filed the report, and is never stored: ``reports`` keeps an
HMAC-SHA256 of it under the deployment's tracking key (``TANGGAP_TRACKING_KEY``), which the
database does not hold. Staff therefore cannot read a code anywhere (not in the audit trail, the
API, exports or searches) and cannot act as the citizen; a leaked database does not let anyone
follow or answer reports without the key either. Audit events written before this rule may hold
a code in their data; every read path removes it (:data:`SECRET_KEYS`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_CODE = re.compile(f"^[{ALPHABET}]{{4}}-?[{ALPHABET}]{{4}}$")
SECRET_KEYS = ("tracking_code",)  # event data keys older rows may carry; never shown


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

    def digest(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    def lookup(self, code: str | None) -> str | None:
        """The stored digest a typed code would have, or None for text that is not a code."""
        normal = self.normalize(code)
        return self.digest(normal) if normal else None

    def report_id(self, session: Session, code: str | None) -> int | None:
        from workflow.store.models import Report

        digest = self.lookup(code)
        if digest is None:
            return None
        return session.scalar(select(Report.id).where(Report.tracking_hash == digest))


def without_secrets(data: dict) -> dict:
    """Event data as anyone may read it: tracking codes written by older versions removed."""
    if not isinstance(data, dict) or not any(k in data for k in SECRET_KEYS):
        return data
    return {k: v for k, v in data.items() if k not in SECRET_KEYS}
