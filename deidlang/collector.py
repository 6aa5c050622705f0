"""The cyclic garbage collector paused while rule text becomes a proved, hashed plan (or a cached plan
is read), and while the package and a subcommand's modules are imported.

Parsing, compiling, proving and hashing allocate hundreds of thousands of small objects that all
live as long as the plan (or die by reference counting), and none of them form reference cycles.
The collector would only walk them again and again as the heap grows: on a 100,000-line rule file
it spent about 2 of 8.5 CPU seconds finding nothing, even with its youngest generation's threshold
raised (docs/benchmarks.md). Nothing is lost by collecting later: the collector is switched back on
when the last such step in any thread ends (and stays off if it was off before).

Switched back on, it would at once walk every object made while it was off, as they are all in its
youngest generation (0.34 of 3.8 CPU s on 100,000 lines). So they are handed to the oldest
generation first (`gc.freeze` then `gc.unfreeze`, which move lists, not objects), where the next
full collection looks at them with everything else that lives long; when the program has frozen
objects of its own, that would unfreeze them, so then the walk is paid instead.
"""

from __future__ import annotations

import gc
from _thread import allocate_lock  # not `threading`, nor `contextlib`: imported before the collector is
# paused, this module imports nothing that allocates much (in a bare virtual environment they are not
# loaded yet, and importing them set the collector off: `tests/test_startup.py`)

_lock = allocate_lock()
_active = 0
_was_enabled = False


class collector_paused:  # lower case: used as the function it was, `with collector_paused():`
    """Run the body with the cyclic collector off (nestable, thread-safe; reference counting still
    frees everything that is not in a cycle)."""

    def __enter__(self) -> None:
        global _active, _was_enabled
        with _lock:
            if _active == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _active += 1

    def __exit__(self, *exc) -> None:
        global _active
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()  # INVARIANT: moves every tracked object to the oldest generation
                gc.enable()
