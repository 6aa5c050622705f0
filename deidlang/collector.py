"""The cyclic garbage collector paused while rule text becomes a proved, hashed plan.

Parsing, compiling, proving and hashing allocate hundreds of thousands of small objects that all
live as long as the plan (or die by reference counting), and none of them form reference cycles.
The collector would only walk them again and again as the heap grows: on a 100,000-line rule file
it spent about 2 of 8.5 CPU seconds finding nothing, even with its youngest generation's threshold
raised (docs/benchmarks.md). Nothing is lost by collecting later: the collector is switched back on
when the last such step in any thread ends (and stays off if it was off before).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_active = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off (nestable, thread-safe; reference counting still
    frees everything that is not in a cycle)."""
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()
