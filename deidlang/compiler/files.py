"""Finding and reading rule files: shipped rulesets by name, paths, the include boundary.

A rule file is UTF-8 text (a byte order mark allowed); an include reaches only into the including
file's folder tree, the shipped rulesets and the folders `DEIDLANG_INCLUDE_PATH` names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .. import ast
from .._resources import INCLUDE_PATH_ENV, resolve_ruleset, shipped_dir, shipped_rulesets  # noqa: F401 (re-exported)
from ..errors import CompileError, Span

#: How the compiler reads an included file: from disk unless told otherwise (an editor's unsaved buffers).
Reader = Callable[[Path], str]


def read_rule_file(path: Path) -> str:
    """A rule file's text: UTF-8, a byte order mark allowed; anything else is a located error that
    shows nothing of the file (it may not be a rule file at all)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        span = Span(display_name(path), err.start, err.end, line, col, line, col + 1)
        raise CompileError(f"this file is not valid UTF-8 (byte 0x{data[err.start]:02x})", span,
                           "rule files are UTF-8 text; save it as UTF-8") from None


def include_roots() -> tuple[Path, ...]:
    """The folders `DEIDLANG_INCLUDE_PATH` allows includes from, beside each file's own folder tree."""
    return tuple(Path(p).resolve() for p in os.environ.get(INCLUDE_PATH_ENV, "").split(os.pathsep) if p)


def may_include(stmt: ast.Include, path: Path, base_dir: Path) -> None:
    """An include reaches only into the including file's folder tree, the shipped rulesets and the
    folders `DEIDLANG_INCLUDE_PATH` names, and only files named ``*.deid``: a path such as
    `/etc/shadow` is refused before it is read, so no error can show what it holds."""
    roots = (base_dir.resolve(), shipped_dir("rulesets").resolve(), *include_roots())
    if not any(path == root or root in path.parents for root in roots):
        raise CompileError(f"`{stmt.target}` is outside the folder of the file that includes it", stmt.span,
                           f"move it into this folder's tree, or allow its folder with {INCLUDE_PATH_ENV}=FOLDER")
    if path.suffix != ".deid":
        raise CompileError(f"`{stmt.target}` is not a rule file: included rule files are named *.deid", stmt.span)


def display_name(path: Path) -> str:
    """How a rule file is named in messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
