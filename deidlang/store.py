"""The re-identification map: every original -> replacement pair of keyed actions, in SQLite.

Only people who hold the map can go back from a pseudonym (or a re-mapped UID, or a hash) to the
original, which is what makes pseudonymisation reversible for authorised staff and for nobody else.

- The file is created readable and writable by its owner only (0600), and an existing file that
  others can read is refused. SQLite's journal files take the same permissions.
- It records the fingerprint of the key that made it; opening it with another key is refused, so two
  keys' pseudonyms never mix and a wrong key is detected before anything is looked up.
- Several worker processes may write at once (WAL journal, busy timeout); a pair is stored once.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterable
from pathlib import Path

from .engine import Key
from . import values
from .errors import DeidError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pairs (
    kind TEXT NOT NULL, original TEXT NOT NULL, replacement TEXT NOT NULL,
    PRIMARY KEY (kind, original)
);
CREATE INDEX IF NOT EXISTS pairs_by_replacement ON pairs (replacement);
"""


class MapError(DeidError):
    """The map cannot be used: missing, readable by others, made with another key, or tampered."""


class PseudonymMap:
    def __init__(self, path: str | Path, key: Key | None, *, create: bool = False) -> None:
        """Open (or with ``create`` make) the map. With a ``key`` its fingerprint must match."""
        self.path = Path(path)
        self.key = key
        if self.path.exists():
            if self.path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise MapError(f"the map `{self.path}` can be read by other users", None,
                               f"it holds original identifiers: chmod 600 {self.path}")
        elif create:
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        else:
            raise MapError(f"no map `{self.path}`")
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_SCHEMA)
            if key is not None:
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (key.fingerprint(),))
                (stored,) = self.db.execute("SELECT value FROM meta WHERE name = 'fingerprint'").fetchone()
                if stored != key.fingerprint():
                    raise MapError(f"the map `{self.path}` was made with another key", None,
                                   "use the key file of the runs that wrote this map")
        except sqlite3.DatabaseError as err:
            raise MapError(f"`{self.path}` is not a deidlang map: {err}") from None

    def record(self, pairs: Iterable[tuple[str, str, str]]) -> None:
        """Store pairs not seen before, in one transaction."""
        rows = list(pairs)
        if rows:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT OR IGNORE INTO pairs VALUES (?, ?, ?)", rows)

    def originals(self, replacement: str) -> list[tuple[str, str]]:
        """(kind, original) for a pseudonym, hash or new UID, checked against the key if given."""
        rows = self.db.execute("SELECT kind, original, replacement FROM pairs WHERE replacement = ?",
                               (replacement,)).fetchall()
        self._check(rows)
        return [(kind, original) for kind, original, _ in rows]

    def replacements(self, original: str) -> list[tuple[str, str]]:
        """(kind, replacement) for an original value."""
        rows = self.db.execute("SELECT kind, original, replacement FROM pairs WHERE original = ?",
                               (original,)).fetchall()
        self._check(rows)
        return [(kind, new) for kind, _, new in rows]

    def pairs(self, kinds: Iterable[str]) -> list[tuple[str, str]]:
        """Every (original, replacement) pair of these kinds, checked against the key if given."""
        kinds = sorted(set(kinds))
        rows = self.db.execute(f"SELECT kind, original, replacement FROM pairs WHERE kind IN "
                               f"({','.join('?' * len(kinds))}) ORDER BY original", kinds).fetchall()
        self._check(rows)
        return [(original, new) for _, original, new in rows]

    def _check(self, rows: list[tuple[str, str, str]]) -> None:
        """With a key, every pair must be what the key makes of the original; one that is not was
        written by something else, and the answer is refused."""
        if self.key is None:
            return
        for kind, original, replacement in rows:
            if recompute(self.key, kind, original) != replacement:
                raise MapError(f"the map `{self.path}` holds a pair this key did not make", None,
                               "the map was altered: restore it from a backup")

    def close(self) -> None:
        self.db.close()


def write_crosswalk(path: str | Path, pairs: Iterable[tuple[str, str]]) -> int:
    """An ``id_old,id_new`` CSV (as consortia exchange them and MIDI-B's scorer reads them), created
    readable by its owner only: it links every pseudonym to its original. Returns the row count."""
    import csv  # only here: a run never writes one

    path = Path(path)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    count = 0
    with os.fdopen(fd, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("id_old", "id_new"))
        for row in pairs:
            writer.writerow(row)
            count += 1
    return count


def recompute(key: Key, kind: str, original: str) -> str:
    """What the keyed action of ``kind`` makes of ``original``."""
    if kind == "uid":
        return values.new_uid(key.secret, original)
    if kind == "hash":
        return values.hash_text(key.secret, original)
    _, length, prefix = kind.split(":", 2)
    return values.pseudonym(key.secret, original, prefix, int(length))
