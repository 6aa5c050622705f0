"""The two walkers side by side in one process, for differential tests.

The compiled modules are the ones imported as usual; their pure-Python sources are loaded a second
time under the same names (with `_walker`'s hook told to take the sources) and then the compiled
modules are put back, so the rest of the test session is untouched. Each copy keeps its own
per-process tables; both share the engine, the plan and everything not compiled.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys

import deidlang.engine.stream  # noqa: F401  (imports every compiled module)
from deidlang import _walker

#: Whether this install has the compiled walker (CI builds it: there, its absence is a failure).
COMPILED = all(_walker.uses_compiled(name) for name in _walker.COMPILED)
#: CI must test both walkers; elsewhere (no compiler, or not built in place) the tests are skipped.
REQUIRED = bool(os.environ.get("CI"))


@functools.cache
def pure_modules() -> dict[str, object]:
    """The pure-Python copies of the compiled modules, by name."""
    saved = {name: sys.modules[name] for name in _walker.COMPILED}
    decided = dict(_walker._decided)
    try:
        for name in _walker.COMPILED:
            del sys.modules[name]
            _walker._decided[name] = False
        return {name: importlib.import_module(name) for name in _walker.COMPILED}
    finally:
        for name, module in saved.items():
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)
        _walker._decided.clear()
        _walker._decided.update(decided)


def pure_stream():
    return pure_modules()["deidlang.engine.stream"]


def compiled_stream():
    return sys.modules["deidlang.engine.stream"]


def result(stream, data: bytes, plan, key) -> tuple:
    """Everything a walker gives for one input: the output bytes and what the outcome says, or the
    kind and message of what it raised."""
    try:
        out, outcome = stream.rewrite(data, plan, key)
    except Exception as err:  # the pure and the compiled module each have their own exception classes
        return ("raised", type(err).__name__, str(err))
    return ("written", out, outcome.notes, sorted(outcome.pairs), outcome.uids, outcome.pixel_rules)
