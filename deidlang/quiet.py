"""Library warnings kept out of every output of deidlang.

pydicom warns about the data it reads and writes, and its warnings can quote values (a name, an ID):
they must never reach a terminal or a log. Every place that hands a dataset to pydicom uses `quiet`,
and what deidlang itself has to say goes into its notes, which never hold a value.

Blocks nest: only the outermost one saves and restores the warning filters, so a run can be quiet
once around all its files (a worker process for good: `quiet_for_good`) and each file's own block
costs nothing. The count is shared by threads, so the filters come back only when the last block
of any thread ends (the filters themselves are the process's, not a thread's).
"""

from __future__ import annotations

import threading
import warnings

_lock = threading.Lock()
_depth = 0  # blocks open, in every thread
_saved: warnings.catch_warnings | None = None  # the filters from before the outermost block


class quiet:  # lower case: used as the function it was, `with quiet():`
    """Warnings raised inside the block are dropped (the filters are restored after the outermost)."""

    def __enter__(self) -> None:
        global _depth, _saved
        with _lock:
            if not _depth:
                _saved = warnings.catch_warnings()
                _saved.__enter__()
                warnings.simplefilter("ignore")
            _depth += 1

    def __exit__(self, *exc) -> None:
        global _depth, _saved
        with _lock:
            _depth -= 1
            if not _depth and _saved is not None:
                _saved.__exit__(None, None, None)
                _saved = None


def quiet_for_good() -> None:
    """Drop warnings for the rest of this process (a worker that only de-identifies files)."""
    quiet().__enter__()
