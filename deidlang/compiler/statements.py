"""The compiler's state and its walk over statements: settings, rules, waivers, rejects and pixel
rules gathered in source order with includes expanded in place, errors recorded or raised as the
error level says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import ast, conditions
from ..collector import collector_paused
from ..dictionary import cid7050
from ..errors import CompileError, DeidSyntaxError, ErrorLevel, RuleError, RuleErrors, Span
from ..plan import Origin, PixelRule, PixelWaiver, Plan, PlanRule, RejectRule, Waiver
from .conditions import condition_tree, image_bounds
from .files import Reader, display_name, may_include, read_rule_file, resolve_ruleset, shipped_rulesets
from .selectors import selector_fields, selector_of, type_check
from .shadowing import shadow_warnings
from .spans import argument_span, part

MINIMUMS = ("aryanto50", "none")
#: How many files deep includes may nest: far past any real chain, and well inside Python's stack.
MAX_INCLUDE_DEPTH = 64


@dataclass(frozen=True)
class Compilation:
    """What `ErrorLevel.COLLECT` returns: the plan (None when there are errors) and every error of
    the file and what it includes, in the order found, each able to render itself with its caret."""

    plan: Plan | None
    errors: tuple[RuleError, ...]
    sources: tuple[Path, ...] = ()


@dataclass
class _Settings:
    name: str = "unnamed"
    version: str = "0.0.0"
    default: str = "keep"
    minimum: str = "aryanto50"
    minimum_reason: str | None = None
    codes: list[int] = field(default_factory=list)


class Compiler:
    """One compilation: the state that statements add to, in source order with includes expanded."""

    def __init__(self, top: Path | None = None, read: Reader = read_rule_file,
                 level: ErrorLevel = ErrorLevel.RAISE) -> None:
        self.read = read
        self.level = level
        self.errors: list[RuleError] = []
        self.settings = _Settings()
        self.rules: list[tuple[PlanRule, tuple[int, int]]] = []  # with the columns of its selector
        self.rejects: list[RejectRule] = []
        self.pixel_rules: list[PixelRule] = []
        self.pixel_waiver: PixelWaiver | None = None  # `waive pixels because "..."`; the last one counts
        self.waivers: list[Waiver] = []
        self.origins: list[Origin] = []
        self.warnings: list[tuple] = []
        self.conditions: dict[conditions.Condition, int] = {}
        self.includes: list[str] = []
        self.stack: list[Path] = [top] if top else []
        self.seen: set[Path] = set(self.stack)
        self.texts: dict[str, str] = {}
        self.depth = 0
        self._collector = _Collecting(self.level, self.errors, self.texts)

    def run(self, text: str, source: str, base_dir: Path) -> Plan:
        with collector_paused():
            return self._run(text, source, base_dir)

    def _run(self, text: str, source: str, base_dir: Path) -> Plan:
        try:
            self._program(text, source, base_dir)
        except RuleError as err:
            raise err.with_text(self.texts.get(err.span.source) if err.span else None) from None
        s = self.settings
        self.waivers.sort(key=lambda w: (w.order, w.tag))
        self.warnings += shadow_warnings(self.rules, self.origins)
        self.warnings.sort(key=lambda w: (w[1], w[2:]))
        return Plan(name=s.name, version=s.version, default=s.default, minimum=s.minimum,
                    minimum_reason=s.minimum_reason, codes=tuple(sorted(set(s.codes))),
                    rules=tuple(r for r, _ in self.rules), rejects=tuple(self.rejects),
                    conditions=tuple(sorted(self.conditions, key=self.conditions.get)),
                    waivers=tuple(self.waivers), includes=tuple(self.includes),
                    pixel_rules=tuple(self.pixel_rules), pixel_waiver=self.pixel_waiver,
                    origins=tuple(self.origins),
                    warnings=tuple(self.warnings), columns=tuple(c for _, c in self.rules))

    def finish(self, plan: Plan) -> Plan | Compilation:
        """The plan, or the errors found on the way, as the error level asks."""
        sources = list(self.texts)
        errors = tuple(sorted(self.errors, key=lambda e: (sources.index(e.span.source), e.span.line, e.span.col)
                              if e.span and e.span.source in sources else (len(sources), 0, 0)))
        if self.level is ErrorLevel.COLLECT:
            return Compilation(None if errors else plan, errors)
        if errors:
            raise errors[0] if len(errors) == 1 else RuleErrors(list(errors))
        return plan

    def _collecting(self) -> "_Collecting":
        """Record an error of one statement (or selector) and go on with the next, unless the level
        says stop at the first (one context manager, reused: it keeps no state of its own)."""
        return self._collector

    def _parse(self, text: str, source: str):
        """Parse, and past a syntax error go on with the following lines (statements are one line
        long): the error's line is blanked (offsets kept) and the text parsed again."""
        from ..syntax import parse_cached  # here, not at the top: a cached plan (`plancache`) needs no parser

        while True:
            try:
                return parse_cached(text, source)
            except DeidSyntaxError as err:
                if self.level is ErrorLevel.IMMEDIATE or err.span is None:
                    raise
                self.errors.append(err)
                lines = text.split("\n")
                index = min(err.span.line, len(lines)) - 1
                if not lines[index].strip():
                    return parse_cached("", source)
                lines[index] = " " * len(lines[index])
                text = "\n".join(lines)

    # ------------------------------------------------------------ statements

    def _program(self, text: str, source: str, base_dir: Path) -> None:
        self.texts[source] = text
        program = self._parse(text, source)
        lines = text.splitlines()
        top = self.depth == 0
        origins, collecting = self.origins, self._collecting()
        for stmt in program.statements:
            order = len(origins)
            span = stmt.span
            # the line as written (indentation kept), so that a column points into it
            origins.append(Origin(span, lines[span.line - 1].rstrip() if span.line <= len(lines) else ""))
            with collecting:
                if stmt.__class__ is ast.Rule:  # nearly every statement is one
                    self._rule(stmt, order)
                else:
                    self._statement(stmt, order, top, base_dir, text)

    def _statement(self, stmt: ast.Statement, order: int, top: bool, base_dir: Path, text: str) -> None:
        match stmt:
            case ast.Rule():
                self._rule(stmt, order)
            case ast.Header(name=name, version=version):
                if not _SEMVER.fullmatch(version):
                    raise CompileError(f"`{version}` is not a semantic version", part(stmt.span, text, r'"[^"]*"'),
                                       "write MAJOR.MINOR.PATCH, e.g. version \"1.2.0\": outputs record it")
                if top:
                    self.settings.name, self.settings.version = name, version
            case ast.Include():
                self._include(stmt, base_dir)
            case ast.Require(minimum=minimum, reason=reason):
                self._require(stmt, minimum, reason)
            case ast.Default(action=action):
                self.settings.default = action
            case ast.Code(value=value):
                if value not in cid7050():
                    raise CompileError(f"`{value}` is not a CID 7050 de-identification method code",
                                       part(stmt.span, text, r"[0-9]+"),
                                       "codes run from 113100 to 113112")
                self.settings.codes.append(value)
            case ast.Waive(selectors=(ast.Keyword(name="pixels"),)):
                self.pixel_waiver = PixelWaiver(stmt.reason, order)
            case ast.Waive():
                for sel in stmt.selectors:
                    with self._collecting():
                        selector = selector_of(sel)
                        if selector.kind != "tag":
                            raise CompileError("only single elements can be waived", sel.span,
                                               "name the element by keyword or (gggg,eeee)")
                        self.waivers.append(Waiver(selector.tag, stmt.reason, order))
            case ast.Reject():
                self.rejects.append(RejectRule(self._condition(stmt.condition), stmt.reason or "", order))
            case ast.PixelRule():
                self._pixel_rule(stmt, order)

    def _include(self, stmt: ast.Include, base_dir: Path) -> None:
        path = resolve_ruleset(stmt.target, base_dir)
        if path is None:
            raise CompileError(f"cannot find the included ruleset `{stmt.target}`", stmt.span,
                               f"shipped rulesets: {', '.join(shipped_rulesets())}; a path is relative to this file")
        path = path.resolve()
        may_include(stmt, path, base_dir)
        if path in self.stack:
            chain = " -> ".join(p.name for p in [*self.stack[self.stack.index(path):], path])
            raise CompileError(f"include cycle: {chain}", stmt.span, "remove one of these includes")
        if self.depth >= MAX_INCLUDE_DEPTH:
            raise CompileError(f"includes nest more than {MAX_INCLUDE_DEPTH} files deep here", stmt.span,
                               "include the shared files from one top-level file instead of from each other")
        self.includes.append(stmt.target)
        if path in self.seen:
            return  # already expanded once: including it again must not re-apply its rules
        self.seen.add(path)
        self.stack.append(path)
        self.depth += 1
        self._program(self.read(path), display_name(path), path.parent)
        self.depth -= 1
        self.stack.pop()

    def _require(self, stmt: ast.Require, minimum: str, reason: str | None) -> None:
        if minimum not in MINIMUMS:
            raise CompileError(f"unknown minimum `{minimum}`", self._part(stmt.span, rf"\b{minimum}\b"),
                               "write `require minimum aryanto50`, or `none` with a reason")
        if minimum == "none" and not reason:
            raise CompileError("turning the minimum off needs a written reason", stmt.span,
                               'write `require minimum none because "..."`')
        self.settings.minimum, self.settings.minimum_reason = minimum, reason

    def _rule(self, stmt: ast.Rule, order: int) -> None:
        condition = self._condition(stmt.condition) if stmt.condition else None
        excepts = ()
        if stmt.excepts:
            excepts = tuple(sorted({selector_of(e) for e in stmt.excepts}, key=selector_fields))
            for sel in stmt.excepts:
                if isinstance(sel, ast.Path):
                    raise CompileError("an except list cannot hold a path", sel.span, "use a keyword, tag, mask or VR")
        argument = stmt.argument
        problem = argument.problem() if argument is not None else None
        if problem is not None:
            raise CompileError(problem[0], argument_span(stmt, self.texts.get(stmt.span.source, "")), problem[1])
        rules, action, collecting = self.rules, stmt.action, self._collecting()
        first = len(rules)
        for sel in stmt.selectors:
            with collecting:
                selector = selector_of(sel)
                type_check(stmt, sel, selector)
                span = sel.span
                rules.append((PlanRule(action, selector, excepts, condition, argument, order),
                              (span.col, span.end_col if span.end_line == span.line else span.col + 1)))
        # INVARIANT: the order of selectors within a statement means nothing, so it must not reach
        # the plan (or its hash): `deidlang fmt` sorts them. (Statements reach `rules` in plan order.)
        if len(rules) - first > 1:
            rules[first:] = sorted(rules[first:], key=lambda pair: selector_fields(pair[0].selector))

    def _pixel_rule(self, stmt: ast.PixelRule, order: int) -> None:
        condition = self._condition(stmt.condition) if stmt.condition else None
        bounds = image_bounds(stmt.condition)
        for x, y, w, h in stmt.regions:
            if w <= 0 or h <= 0 or max(x, y, w, h) > 65535:  # Rows and Columns are 16-bit
                raise CompileError("a region needs a width and a height above 0" if w <= 0 or h <= 0 else
                                   "a region's numbers run up to 65535 (the largest Rows or Columns)",
                                   self._part(stmt.span, rf"\b{x}\s*,\s*{y}\s*,\s*{w}\s*,\s*{h}\b"),
                                   "regions are x,y,width,height in pixels from the top-left corner")
            if x >= bounds.get(0x00280011, float("inf")) or y >= bounds.get(0x00280010, float("inf")):
                self.warnings.append((f"the region {x},{y},{w},{h} lies outside every image this rule's "
                                      "condition admits", order))
        self.pixel_rules.append(PixelRule(stmt.kind, stmt.regions, stmt.complete, condition, order))

    def _part(self, span: Span, pattern: str) -> Span:
        return part(span, self.texts.get(span.source, ""), pattern)

    def _condition(self, node: ast.Condition) -> int:
        """The index of the condition in the plan's table (equal conditions share one)."""
        key = condition_tree(node, self._collecting)
        return self.conditions.setdefault(key, len(self.conditions))


class _Collecting:
    """`Compiler._collecting` as a plain context manager: it wraps every statement and selector, and
    a generator-based one cost more than the checks inside it on a long file. It holds the
    compiler's error list and texts, not the compiler: no reference cycle keeps a finished
    compilation alive until the garbage collector finds it."""

    __slots__ = ("level", "errors", "texts")

    def __init__(self, level: ErrorLevel, errors: list[RuleError], texts: dict[str, str]) -> None:
        self.level, self.errors, self.texts = level, errors, texts

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, trace) -> bool:
        if err is None or not isinstance(err, RuleError) or self.level is ErrorLevel.IMMEDIATE:
            return False
        self.errors.append(err.with_text(self.texts.get(err.span.source) if err.span else None))
        return True


_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
