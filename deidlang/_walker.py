"""Which element walker runs: the compiled one, or the pure-Python reference it is built from.

The fast path's hot modules (`COMPILED`: the element reader, the structure check, the value checks
and the rewriter) are compiled by Cython from these very ``.py`` files when the package is built
where a C compiler exists (``hatch_build.py``); each extension sits beside its source. There is one
source, so there are no twins to keep in step: the ``.py`` is the reference, the extension is that
file compiled, and the tests run both on the same bytes (``tests/test_walker.py``).

Python would load an extension in preference to the source beside it. This module's import hook
decides instead, once per module:

- ``DEIDLANG_PURE=1`` in the environment loads every ``.py`` source, even with extensions present;
- an extension is used only if the build recorded the sha256 of exactly the source beside it
  (``_compiled.json``, with its ``.pxd``), so an edited ``.py`` never runs stale compiled code (the source runs, and
  `describe` says to rebuild);
- otherwise (no compiler at install time, or a pure wheel) the source runs.

Only the standard library is imported here: the hook is installed before anything else of the
package is imported.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

#: The modules compiled, in import order (dependencies first).
COMPILED = ("deidlang.valuecheck", "deidlang.engine.reader", "deidlang.engine.structure",
            "deidlang.engine.valuewriter", "deidlang.engine.levels", "deidlang.engine.stream")
#: Set to 1 to run the pure-Python walker whatever is installed.
PURE_ENV = "DEIDLANG_PURE"
#: Written by the build beside the package's ``__init__.py``: {"cython": version, "sources": {module: sha256}}.
MANIFEST = "_compiled.json"

_PACKAGE = Path(__file__).resolve().parent
_decided: dict[str, bool] = {}


def forced_pure() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def source_of(name: str) -> Path:
    """The ``.py`` file of a module of this package."""
    return _PACKAGE.parent.joinpath(*name.split(".")).with_suffix(".py")


def extension_of(name: str) -> Path | None:
    """The compiled extension beside a module's source, if one is there."""
    source = source_of(name)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def sha256_of(path: Path) -> str:
    """The sha256 of a module's source: its ``.py`` and, when there is one, the ``.pxd`` beside it
    (the C types it is compiled with)."""
    digest = hashlib.sha256(path.read_bytes())
    types = path.with_suffix(".pxd")
    if types.is_file():
        digest.update(types.read_bytes())
    return digest.hexdigest()


def _manifest() -> dict:
    try:
        return json.loads((_PACKAGE / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _state(name: str) -> str:
    """``compiled``, ``forced`` (pure by request), ``absent`` (no extension) or ``stale``."""
    if forced_pure():
        return "forced"
    if extension_of(name) is None:
        return "absent"
    recorded = _manifest().get("sources", {}).get(name)
    return "compiled" if recorded is not None and recorded == sha256_of(source_of(name)) else "stale"


def uses_compiled(name: str) -> bool:
    """Whether ``name`` is (or will be) imported from its extension; decided once per process."""
    if name not in _decided:
        _decided[name] = _state(name) == "compiled"
    return _decided[name]


class _SourceUnlessCompiled:
    """Loads the ``.py`` of a compiled module unless its extension is to be used. A finder on
    ``sys.meta_path`` needs only `find_spec` (importlib.abc.MetaPathFinder adds nothing more, and
    importing importlib.abc costs a run's start several milliseconds: importlib.resources, tempfile)."""

    def find_spec(self, name, path=None, target=None):
        if name not in COMPILED or uses_compiled(name):
            return None
        return importlib.util.spec_from_file_location(name, source_of(name))


def install() -> None:
    """Put the hook first on the import path (once)."""
    if not any(isinstance(finder, _SourceUnlessCompiled) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceUnlessCompiled())


def describe() -> str:
    """Which walker this process runs, in words (for ``--version`` and the run banner)."""
    states = {name: ("compiled" if uses_compiled(name) else _state(name)) for name in COMPILED}
    if all(state == "compiled" for state in states.values()):
        return f"compiled walker (Cython {_manifest().get('cython', '?')})"
    if "forced" in states.values():
        return f"pure-Python walker ({PURE_ENV}=1)"
    stale = [name for name, state in states.items() if state == "stale"]
    if stale:
        return (f"pure-Python walker (the compiled {', '.join(n.rsplit('.', 1)[1] for n in stale)} is older than "
                "its source: rebuild with `python hatch_build.py`)")
    return ("pure-Python walker (no compiled extension beside these sources: installed without a C compiler, "
            "or a checkout not built with `python hatch_build.py`)")
