"""Library warnings kept out of every output of deidlang.

pydicom warns about the data it reads and writes, and its warnings can quote values (a name, an ID):
they must never reach a terminal or a log. Every place that hands a dataset to pydicom uses `quiet`,
and what deidlang itself has to say goes into its notes, which never hold a value.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Warnings raised inside the block are dropped (the filters are restored afterwards)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
