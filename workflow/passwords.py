"""Hashing and checking passwords: argon2id, one object per process (``Services.passwords``)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """argon2-cffi's default parameters (RFC 9106's second recommendation) unless a hasher is
    given; a stored hash made with other parameters is replaced at the owner's next login."""

    def __init__(self, hasher: PasswordHasher | None = None):
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def matches(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` is the one ``stored`` was made from. Without a stored hash (an
        unknown name) the same work is done against a hash of nothing anyone has, so the answer
        takes as long as for a real account."""
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hash("not a password anyone has")
            stored, password = self._dummy, password + "\x00"  # never matches
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def outdated(self, stored: str) -> bool:
        """Made with other parameters than this hasher's: rehash it while the password is known."""
        return self.hasher.check_needs_rehash(stored)
