"""Layer 3: AST to `Plan`. Names resolved, includes expanded, actions type-checked against VRs.

Rules keep the order in which they appear once includes are expanded in place; precedence is then
settled by the resolver from the selector kind and that order (later wins among equals), so a site
file that includes a base overrides it line by line. A file included a second time (a diamond) is
skipped; a file that includes itself, directly or not, is an error.

The stage in modules: `files` (finding and reading rule files, the include boundary), `selectors`
(names and type checks), `conditions`, `spans` (where an error points), `shadowing` (rules that never
decide), `statements` (the walk over a program). This module holds the entry points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, overload

from ..errors import CompileError, ErrorLevel, InputError
from ..plan import Plan
from .files import (INCLUDE_PATH_ENV, Reader, display_name, include_roots, read_rule_file, resolve_ruleset,
                    shipped_rulesets)
from .statements import MINIMUMS, Compilation, Compiler

__all__ = ["INCLUDE_PATH_ENV", "MINIMUMS", "Compilation", "Reader", "collect_file", "compile_file",
           "compile_file_with_sources", "compile_text", "display_name", "include_roots", "read_rule_file",
           "resolve_ruleset", "shipped_rulesets"]


@overload
def compile_text(text: str, source: str = ..., base_dir: Path | None = ..., read: Reader = ...,
                 errors: Literal[ErrorLevel.RAISE, ErrorLevel.IMMEDIATE] = ...) -> Plan: ...
@overload
def compile_text(text: str, source: str = ..., base_dir: Path | None = ..., read: Reader = ...,
                 errors: Literal[ErrorLevel.COLLECT] = ...) -> Compilation: ...
def compile_text(text: str, source: str = "<string>", base_dir: Path | None = None, read: Reader = read_rule_file,
                 errors: ErrorLevel = ErrorLevel.RAISE) -> Plan | Compilation:
    """Compile rule text (without the proof obligations; `deidlang.compile` adds those). ``read`` gives
    the text of an included file (resolved path in, text out); ``errors`` says whether to stop at the
    first error, raise them all, or return them all (`Compilation`).

    >>> result = compile_text("remove PatinetName; keep PatientSexx", errors=ErrorLevel.COLLECT)
    >>> [e.message for e in result.errors], result.plan
    (['unknown keyword `PatinetName`', 'unknown keyword `PatientSexx`'], None)
    """
    compiler = Compiler(read=read, level=errors)
    return compiler.finish(compiler.run(text, source, base_dir or Path.cwd()))


def compile_file(path: str | Path) -> Plan:
    """Compile a rule file given by path or shipped name (without the proof obligations)."""
    return compile_file_with_sources(path)[0]


def compile_file_with_sources(path: str | Path, errors: ErrorLevel = ErrorLevel.RAISE) -> tuple[Plan, tuple[Path, ...]]:
    """`compile_file`, and every rule file it read (resolved): what the plan depends on."""
    found = resolve_ruleset(path)
    if found is None:  # a usage error (exit 2), not a verdict on rules
        raise InputError(f"no rule file `{path}`", None,
                         f"give a path to a .deid file or a shipped ruleset: {', '.join(shipped_rulesets())}")
    text = read_rule_file(found)
    compiler = Compiler(found.resolve(), level=errors)
    plan = compiler.finish(compiler.run(text, display_name(found), found.resolve().parent))
    return plan, tuple(sorted(compiler.seen))


def collect_file(path: str | Path) -> Compilation:
    """Every error of a rule file and what it includes, or its plan (`ErrorLevel.COLLECT` for files)."""
    found = resolve_ruleset(path)
    if found is None:
        return Compilation(None, (CompileError(f"no rule file `{path}`", None, "give a path to a .deid file"),))
    compiler = Compiler(found.resolve(), level=ErrorLevel.COLLECT)
    try:
        text = read_rule_file(found)
    except CompileError as err:
        return Compilation(None, (err,))
    result = compiler.finish(compiler.run(text, display_name(found),
                                          found.resolve().parent))
    return Compilation(result.plan, result.errors, tuple(sorted(compiler.seen)))
