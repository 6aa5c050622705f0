"""The secret behind keyed actions (uid, hash, pseudonym, per-patient date shifts).

A `Key` never shows its secret in a repr, a log or an error. A persistent key (a site's key file)
gives the same output in every run and on every machine: pseudonymisation, reversible through the
map by those who hold it. A random key lives for one run: anonymisation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class Key:
    secret: bytes
    persistent: bool = True

    @classmethod
    def random(cls) -> "Key":
        return cls(secrets.token_bytes(32), persistent=False)

    @classmethod
    def of(cls, key: "Key | bytes") -> "Key":
        return key if isinstance(key, Key) else cls(bytes(key))

    def fingerprint(self) -> str:
        """Identifies the key without revealing it: what a map records to refuse another key."""
        return hmac.new(self.secret, b"deidlang key fingerprint", hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return f"Key(<secret>, persistent={self.persistent})"
