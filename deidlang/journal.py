"""The run journal: which inputs a run finished, so that `--resume` can skip them.

An SQLite file in the output folder (``.deidlang-journal.sqlite``) records, per input path, its size,
its modification time and the plan hash, with the outcome. An input is skipped on resume only if all
three still match and it was written or rejected; a changed plan or a changed input is done again,
and failures are always retried. Only the main process writes it.

Records are committed in batches, at least once a second, so that a long run does not pay for a
transaction per file; a run killed at any moment loses at most its last second of records, and those
files are simply done again on resume (their outputs are replaced atomically).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

NAME = ".deidlang-journal.sqlite"


class Journal:
    def __init__(self, outdir: str | Path) -> None:
        Path(outdir).mkdir(parents=True, exist_ok=True)
        path = Path(outdir) / NAME
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS done (source TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
                        "plan_hash TEXT, status TEXT, output TEXT)")
        self.db.execute("BEGIN")
        self.committed = time.monotonic()

    def finished(self, source: Path, plan_hash: str) -> bool:
        """Whether this input, unchanged, was already written or rejected with this plan."""
        row = self.db.execute("SELECT size, mtime_ns, plan_hash, status FROM done WHERE source = ?",
                              (str(source),)).fetchone()
        if row is None or row[2] != plan_hash or row[3] not in ("written", "rejected"):
            return False
        st = source.stat()
        return (row[0], row[1]) == (st.st_size, st.st_mtime_ns)

    def record(self, source: str, version: tuple[int, int] | None, status: str, output: str | None,
               plan_hash: str) -> None:
        """An input's outcome, with its (size, mtime_ns) as they were when it was read; an input never
        read (version None) is not recorded, and so is tried again on resume."""
        if version is None:
            return
        self.db.execute("INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?, ?, ?)",
                        (source, *version, plan_hash, status, output))
        if time.monotonic() - self.committed >= 1.0:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self.committed = time.monotonic()

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()
