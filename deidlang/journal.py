"""The run journal: which inputs a run finished, so that `--resume` can skip them.

An SQLite file in the run's state folder (beside the output folder, never inside it: the delivered
folder holds de-identified DICOM only) records, per input path, its size and modification time as
read, the plan hash, the outcome, and the output's name (relative to the output folder), size and
digest, which names its algorithm (``blake3:<hex>``, `fileio.DIGEST`). A journal of an earlier
deidlang, whose column held a bare sha256, is brought to this form when opened (each such digest
becomes ``sha256:<hex>``, and is checked with sha256). An input is skipped on resume only if it is
unchanged, the plan is the same, and it was rejected, or written and its output is still that file;
anything else is done again, and failures are always retried. Only the main process writes it.

Records are kept in memory and written and committed in batches, at least once a second, so that a
long run does not pay for a statement and a transaction per file; a run killed at any moment loses at
most its last second of records, and those files are simply done again on resume (an output already
there with the same bytes is kept).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path


class Journal:
    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600))
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS done (source TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
                        "plan_hash TEXT, status TEXT, output TEXT, output_size INTEGER, output_digest TEXT)")
        self._upgrade()
        self.pending: list[tuple] = []  # rows recorded and not yet written (`_write`)
        self.committed = time.monotonic()

    def _upgrade(self) -> None:
        """Bring a journal of an earlier deidlang to today's columns, in one transaction."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(done)")}
        if {"output_size", "output_digest"} <= columns:
            return
        self.db.execute("BEGIN IMMEDIATE")
        for name, kind in (("output_size", "INTEGER"), ("output_digest", "TEXT")):
            if name not in columns:  # a journal of a deidlang that did not record outputs, or their algorithm
                self.db.execute(f"ALTER TABLE done ADD COLUMN {name} {kind}")
        if "output_sha256" in columns:  # bare sha256 digests: named as such, checked as such
            self.db.execute("UPDATE done SET output_digest = 'sha256:' || output_sha256 "
                            "WHERE output_sha256 IS NOT NULL")
            self.db.execute("ALTER TABLE done DROP COLUMN output_sha256")
        self.db.execute("COMMIT")

    def entry(self, source: str | Path) -> dict | None:
        """What the journal holds for an input: its version as read, plan hash, status, output (relative
        to the output folder) and the output's (size, digest)."""
        self._write()
        row = self.db.execute("SELECT size, mtime_ns, plan_hash, status, output, output_size, output_digest "
                              "FROM done WHERE source = ?", (str(source),)).fetchone()
        if row is None:
            return None
        return {"version": (row[0], row[1]), "plan_hash": row[2], "status": row[3], "output": row[4],
                "written": (row[5], row[6]) if row[5] is not None else None}

    def unrecorded_outputs(self) -> list[tuple[str, str | None]]:
        """(source, output) of every written input whose output has no size and hash recorded (rows of
        a journal from before they were)."""
        self._write()
        return self.db.execute("SELECT source, output FROM done WHERE status = 'written' AND output_size IS NULL"
                               ).fetchall()

    def set_output(self, source: str, output: str | None, written: tuple[int, str] | None) -> None:
        """Record an input's output anew: its name relative to the output folder, its size and digest."""
        self._write()
        self.db.execute("UPDATE done SET output = ?, output_size = ?, output_digest = ? WHERE source = ?",
                        (output, *(written or (None, None)), source))

    def record(self, source: str, version: tuple[int, int] | None, status: str, output: str | None,
               written: tuple[int, str] | None, plan_hash: str) -> None:
        """An input's outcome, with its (size, mtime_ns) as they were when it was read; an input never
        read (version None) is not recorded, and so is tried again on resume."""
        if version is None:
            return
        self.pending.append((source, *version, plan_hash, status, output, *(written or (None, None))))
        if time.monotonic() - self.committed >= 1.0:
            self._write()
            self.committed = time.monotonic()

    def _write(self) -> None:
        """Write and commit the rows recorded since the last time, in one transaction."""
        if self.pending:
            rows, self.pending = self.pending, []
            with self.db:  # BEGIN ... COMMIT, or ROLLBACK when the disk is full
                self.db.execute("BEGIN")
                self.db.executemany("INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        try:
            self._write()
        finally:
            self.db.close()
