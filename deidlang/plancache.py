"""Compiled, proved plans kept between runs, so that `deidlang run` starts without parsing its rules.

Parsing the basic profile costs about as much as de-identifying a hundred files; an archive job
started per folder or per study pays it every time. A loaded plan is still proved again (a few
milliseconds) and must have the hash it was stored with: an entry edited into a plan that lets a
minimum element through, or damaged, is never used. A cached plan is used only when
nothing it was made from has changed: the deidlang build (its version, its own files, and the
pydicom and lark it runs with), the working folder (messages name rule files relative to it) and
every rule file read, the included ones too, by content. Anything else compiles and proves the
rules again. An entry holds the plan (rules and their lines, never DICOM data), readable by the
user alone; an entry or folder that another user owns or could write is ignored, since a planted
plan could let identifying data through.

``DEIDLANG_CACHE=off`` turns the cache off; ``DEIDLANG_CACHE=DIR`` puts it in DIR; by default it
is ``$XDG_CACHE_HOME/deidlang`` (``~/.cache/deidlang``), and there is none without a home folder. A
cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import json
import os
from pathlib import Path

from ._cache import folder as _folder
from ._cache import private as _private
from ._resources import INCLUDE_PATH_ENV, resolve_ruleset, shipped_dir
from ._version import __version__
from .collector import collector_paused
from .fileio import write_atomically
from .plan import Plan
from .validate import proved, validate


def compile_cached(rules: str) -> Plan:
    """``deidlang.compile(rules)`` for a rule file or shipped ruleset, from the cache when it is
    current; rule text is compiled as given."""
    folder, path = _folder(), resolve_ruleset(rules)
    if folder is None or path is None:
        from . import compile

        return compile(rules)
    build = _build()
    allowed = os.environ.get(INCLUDE_PATH_ENV, "")  # what includes may reach changes what compiles
    name = hashlib.sha256(json.dumps([build, str(path.resolve()), os.getcwd(), allowed]).encode()).hexdigest()
    entry = folder / f"{name}.json"
    with collector_paused():  # as while rule text becomes a plan: many objects, no garbage
        plan = _load(entry, build)
        if plan is not None and [f for f in validate(plan) if f.is_error]:
            plan = None  # an entry edited (or damaged) into an unproved plan is never used
    if plan is None:
        plan, sources = _compile(path)
        proved(plan)
        _store(entry, build, plan, sources)
    return plan


def _compile(path: Path) -> tuple[Plan, tuple[Path, ...]]:
    from .compiler import compile_file_with_sources  # only here: a run whose plan is cached loads no compiler

    return compile_file_with_sources(path)


@functools.cache
def _build() -> str:
    """What identifies the code that compiles and proves: versions, and the size and time of every
    file of the package and its grammar (so an edited checkout never uses a stale plan)."""
    stamps = [__version__, installed_version("pydicom"), installed_version("lark")]
    for top in (Path(__file__).parent, shipped_dir("grammar")):
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                info = os.stat(os.path.join(folder, name))
                stamps.append(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()


def installed_version(name: str) -> str:
    """A distribution's installed version as `importlib.metadata.version` gives it, read from the name of
    its ``<name>-<version>.dist-info`` folder beside the package, without importing importlib.metadata
    (a fifth of a cached run's start); by importlib.metadata where there is not exactly one such folder.
    The package is looked for on ``sys.path`` itself, not through the import hooks (`quiet_pydicom`'s
    takes any search for pydicom for its import, and would import `logging` then)."""
    spec = importlib.machinery.PathFinder.find_spec(name)
    if spec is not None and spec.origin:
        found = list(Path(spec.origin).parent.parent.glob(f"{name}-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len(name) + 1:-len(".dist-info")]
    from importlib.metadata import version

    return version(name)


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load(entry: Path, build: str) -> Plan | None:
    try:
        if not (_private(entry.parent) and _private(entry)):  # a plan someone else could write is not used
            return None
        head, _, canonical = entry.read_text(encoding="utf-8").partition("\n")
        data = json.loads(head)
        if data["build"] != build or any(_digest(path) != digest for path, digest in data["sources"]):
            return None
        plan = Plan.from_canonical(canonical, data["side_tables"])
        return plan if plan.plan_hash == data["plan_hash"] else None  # the plan as it was stored
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # absent, stale or damaged: compile instead
        return None


def _store(entry: Path, build: str, plan: Plan, sources: tuple[Path, ...]) -> None:
    """One line of JSON (what the plan was made from, its hash and side tables), then the plan's
    canonical JSON as it was hashed, so that a run reads the hash rather than writing the plan again."""
    data = {"build": build, "sources": [[str(p), _digest(str(p))] for p in sources], "plan_hash": plan.plan_hash,
            "side_tables": plan.side_tables()}
    text = f"{json.dumps(data)}\n{plan.canonical_json()}"  # neither holds a newline: JSON escapes them
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(lambda f: f.write(text.encode()), entry)
    except OSError:
        pass
