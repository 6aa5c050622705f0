"""One rule file as the editor holds it, checked as `deidlang check` checks it.

The document is parsed and compiled by the project's parser and compiler and proved by its validators;
included files are read through a `Reader`, so an open, unsaved buffer stands in for its file on disk.
The analysis remembers which files it read and in what order, which is how a problem found inside an
included file is traced back to the `include` line of this document that brought it in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types

from .. import ast
from ..compiler import compile_text, display_name, resolve_ruleset
from ..dictionary import tag_for_keyword
from ..errors import DeidSyntaxError, ErrorLevel, RuleError, RuleErrors, Span
from ..plan import Origin, Plan
from ..resolve import Resolver
from ..syntax import parse_cached
from ..validate import Finding, validate

Reader = Callable[[Path], str]


def read_disk(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@dataclass
class Analysis:
    path: Path | None  # the document's file; None for a buffer that has none yet
    text: str
    source: str  # the document's name in spans and origins
    program: ast.Program | None = None  # its syntax tree, when it parses
    plan: Plan | None = None  # when it compiles
    errors: list[RuleError] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reads: list[Path] = field(default_factory=list)  # included files, in the order the compiler read them
    texts: dict[Path, str] = field(default_factory=dict)  # what was read for each

    @property
    def depends_on(self) -> frozenset[Path]:
        """Every file whose text this analysis used (an edit to one of them makes it stale)."""
        return frozenset(self.reads)

    def path_of(self, source: str) -> Path | None:
        """The file a span or origin names (None: this document when it has no file)."""
        if source == self.source:
            return self.path
        return next((p for p in self.reads if display_name(p) == source), None)

    def text_of(self, path: Path | None) -> str | None:
        return self.text if path == self.path else self.texts.get(path)

    def program_of(self, path: Path | None) -> ast.Program | None:
        """The syntax tree of this document or of a file it read (the compiler's own, from the parse cache)."""
        if path == self.path:
            return self.program
        text = self.texts.get(path)
        try:
            return parse_cached(text, display_name(path)) if text is not None else None
        except RuleError:
            return None

    def origin_range(self, origin: Origin) -> types.Range:
        """The range of the statement an origin names, in its own file."""
        path = self.path_of(origin.source)
        program = self.program_of(path)
        for stmt in program.statements if program else ():
            if (stmt.span.line, stmt.span.col) == (origin.line, origin.col):
                return span_range(stmt.span)
        return origin_range(origin, self.text_of(path))

    def includer(self, path: Path) -> ast.Include | None:
        """This document's `include` through which ``path`` was expanded: the last of its own includes
        read before ``path`` was (an include is expanded in full before the next statement)."""
        if self.program is None or path not in self.reads:
            return None
        index = self.reads.index(path)
        best: tuple[int, ast.Include] | None = None
        for stmt in self.program.statements:
            if isinstance(stmt, ast.Include):
                target = self.resolve_include(stmt)
                if target in self.reads[: index + 1]:
                    position = self.reads.index(target)
                    if best is None or position > best[0]:
                        best = (position, stmt)
        return best[1] if best else None

    def resolve_include(self, stmt: ast.Include) -> Path | None:
        base = self.path.parent if self.path else Path.cwd()
        found = resolve_ruleset(stmt.target, base)
        return found.resolve() if found else None

    def resolver(self) -> Resolver | None:
        return Resolver(self.plan) if self.plan else None


def analyse(path: Path | None, text: str, read: Reader = read_disk, profile: str | None = None) -> Analysis:
    """Parse, compile and prove a document; every problem is kept, none is raised."""
    source = display_name(path) if path else "<untitled>"
    result = Analysis(path, text, source)

    def reader(included: Path) -> str:
        result.reads.append(included)
        result.texts[included] = read(included)
        return result.texts[included]

    try:
        result.program = parse_cached(text, source)  # the compiler's own parse then finds it
    except DeidSyntaxError:
        pass  # the compiler reports it, and goes on past it to the next lines' errors
    try:
        compiled = compile_text(text, source, path.parent if path else Path.cwd(), read=reader,
                                errors=ErrorLevel.COLLECT)
    except RuleError as err:
        result.errors = _each(err)
        return result
    result.errors = list(compiled.errors)
    if compiled.plan is None:
        return result
    result.plan = compiled.plan
    result.findings = validate(result.plan, profile)
    return result


def _each(err: RuleError) -> list[RuleError]:
    """The errors one failed compile reported (the compiler raises them all together)."""
    return list(err.errors) if isinstance(err, RuleErrors) else [err]


# ---------------------------------------------------------------- positions


def span_range(span: Span) -> types.Range:
    """An error's span as an LSP range (lines and columns from 0; lark counts characters)."""
    return types.Range(types.Position(span.line - 1, span.col - 1), types.Position(span.end_line - 1, span.end_col - 1))


def origin_range(origin: Origin, text: str | None) -> types.Range:
    """A statement's start to the end of its line (an origin has no end of its own)."""
    lines = (text or "").splitlines()
    end = len(lines[origin.line - 1]) if origin.line <= len(lines) else origin.col - 1 + len(origin.text)
    return types.Range(types.Position(origin.line - 1, origin.col - 1), types.Position(origin.line - 1, end))


def offset_at(text: str, position: types.Position) -> int:
    """The character offset of an LSP position in ``text``."""
    lines = text.split("\n")
    line = min(position.line, len(lines) - 1)
    return sum(len(x) + 1 for x in lines[:line]) + min(position.character, len(lines[line]))


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


# ---------------------------------------------------------------- elements named in a file


def named_elements(program: ast.Program) -> Iterator[tuple[ast.Statement, ast.Keyword | ast.TagPattern, int]]:
    """Every keyword or exact tag a file names (selectors, excepts, path steps, conditions, waivers),
    with its statement and the tag it resolves to; unknown keywords are left out."""
    for stmt in program.statements:
        nodes: list = []
        if isinstance(stmt, (ast.Rule, ast.Waive)):
            nodes += stmt.selectors
        if isinstance(stmt, ast.Rule):
            nodes += stmt.excepts
        condition = getattr(stmt, "condition", None)
        if condition is not None:
            nodes += list(_operands(condition))
        for node in nodes:
            for leaf in node.steps if isinstance(node, ast.Path) else (node,):
                tag = _tag_of(leaf)
                if tag is not None:
                    yield stmt, leaf, tag


def _operands(cond: ast.Condition) -> Iterator[ast.Keyword | ast.TagPattern]:
    match cond:
        case ast.And(left=left, right=right) | ast.Or(left=left, right=right):
            yield from _operands(left)
            yield from _operands(right)
        case ast.Not(operand=operand):
            yield from _operands(operand)
        case ast.Compare(operand=operand) | ast.Member(operand=operand) | ast.Exists(operand=operand):
            yield operand


def _tag_of(node) -> int | None:
    if isinstance(node, ast.Keyword):
        return tag_for_keyword(node.name)
    if isinstance(node, ast.TagPattern) and node.is_exact:
        return node.value
    return None
