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

from ..errors import KeyPolicyError

#: The shortest secret accepted, from a key file, ``DEIDLANG_KEY`` or the API: one policy for all.
MIN_KEY_BYTES = 16


@dataclass(frozen=True, repr=False)
class Key:
    """The secret of the keyed actions: persistent (a site key: pseudonymisation) or made for one run
    (anonymisation). Its repr never shows the secret."""

    secret: bytes
    persistent: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes):
            raise KeyPolicyError(f"a key is bytes, not {type(self.secret).__name__}", None,
                                 "pass bytes (text.encode()), a `Key`, or `deidlang.load_key(path)`")
        if len(self.secret) < MIN_KEY_BYTES:
            raise KeyPolicyError(f"the key holds fewer than {MIN_KEY_BYTES} bytes", None,
                                 "use a long random key: `Key.random()` or 32 bytes of `secrets.token_bytes`")

    @classmethod
    def random(cls) -> "Key":
        return cls(secrets.token_bytes(32), persistent=False)

    @classmethod
    def of(cls, key: "Key | bytes") -> "Key":
        """``key`` as a persistent `Key`; bytes-like values are accepted, anything else (a `str`) is a
        `KeyPolicyError`, never a bare TypeError."""
        if isinstance(key, Key):
            return key
        if isinstance(key, (bytes, bytearray, memoryview)):
            return cls(bytes(key))
        return cls(key)  # type: ignore[arg-type]  # refused by __post_init__ with the policy's message

    def fingerprint(self) -> str:
        """Identifies the key without revealing it: what a map records to refuse another key."""
        return hmac.new(self.secret, b"deidlang key fingerprint", hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return f"Key(<secret>, persistent={self.persistent})"
