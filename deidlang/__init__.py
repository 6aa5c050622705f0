"""deidlang: DICOM de-identification rules that people can review, prove and run.

    >>> import deidlang
    >>> plan = deidlang.compile("basic-profile")
    >>> plan.name
    'basic-profile'

The library raises (`RuleError`, `EngineError`, ...) and never prints or exits; the command line
(`deidlang.cli`) does both.
"""

from __future__ import annotations

from .collector import collector_paused

# What is imported lives as long as the process, and holds no garbage for the collector to find: it
# is paused meanwhile rather than walking the growing heap again and again (`deidlang.collector`).
with collector_paused():
    import importlib
    import re
    from pathlib import Path
    from typing import TYPE_CHECKING

    from . import _walker

    _walker.install()  # before any module of the fast path is imported: which walker runs is decided here

    from ._version import __version__
    from .errors import (CompileError, DeidError, DeidSyntaxError, EngineError, ErrorLevel, InputError,
                         KeyPolicyError, ObligationError, Rejected, RuleError, RuleErrors)
    # Eager, as the function `validate` must replace the subpackage of that name, which importing it sets here.
    from .validate import Finding, proved, validate

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from .compiler import Compilation, collect_file, compile_text
    from .engine import Key, Outcome
    from .plan import Plan
    from .runner import FileResult, deidentify_file, load_key

__all__ = [
    "Compilation", "CompileError", "DeidError", "DeidSyntaxError", "EngineError", "ErrorLevel", "FileResult", "Finding",
    "Key", "KeyPolicyError", "ObligationError", "Outcome", "Plan", "Rejected", "RuleError", "RuleErrors", "__version__", "apply",
    "collect_file", "compile", "compile_text", "deidentify_file",
    "load_key", "parse", "validate",
]

#: Public names -> the module that defines them, imported on first use: `deidlang run` with a
#: cached plan never loads the compiler, and the parser (lark) is loaded only by what parses.
_LAZY = {
    **dict.fromkeys(("Compilation", "collect_file", "compile_file", "compile_text", "resolve_ruleset",
                     "shipped_rulesets"), "compiler"),
    **dict.fromkeys(("Key", "Outcome", "engine_for"), "engine"),
    "Plan": "plan", "parse": "syntax",
    **dict.fromkeys(("FileResult", "deidentify_file", "load_key"), "runner"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def compile(rules: str | Path, *, profile: str | None = None) -> Plan:
    """Compile rules and discharge their proof obligations.

    ``rules`` is a shipped ruleset name (``basic-profile``), a path to a ``.deid`` file, or rule text.
    Raises `RuleError` (with file:line:col) for bad rules and `ObligationError` listing every failed
    obligation, such as an element of the aryanto50 minimum that could survive.
    """
    from .compiler import compile_file, compile_text, resolve_ruleset, shipped_rulesets

    if isinstance(rules, Path) or "\n" not in rules and (resolve_ruleset(rules) or rules.endswith(".deid")):
        return proved(compile_file(rules), profile)
    if _NAME.fullmatch(rules):  # a name, not rule text: a misspelt shipped ruleset or a missing file
        import difflib  # here, not at the top: a run's start never needs it

        close = difflib.get_close_matches(rules.replace("_", "-"), shipped_rulesets(), n=1, cutoff=0.6)
        raise InputError(f"no such ruleset or rule file `{rules}`", None,
                         f"did you mean `{close[0]}`?" if close else
                         f"shipped rulesets: {', '.join(shipped_rulesets())}; or give a path to a .deid file")
    return proved(compile_text(str(rules)), profile)


_NAME = re.compile(r"[\w.-]+")


def apply(plan: Plan, dataset: Dataset, *, key: Key | bytes) -> Outcome:
    """De-identify one dataset in memory (the input is not modified); see `Outcome`. Bytes are taken
    as a persistent site key; `Key.random()` makes a one-run key (anonymisation). A key shorter than
    16 bytes, or one that is not bytes (a `str`), raises `KeyPolicyError`, as the command line refuses it."""
    from .engine import Key, engine_for
    from .quiet import quiet

    key = Key.of(key)  # the key policy first, before the data is looked at
    with quiet():  # pydicom's warnings can quote values
        return engine_for(plan).apply(dataset, key)
