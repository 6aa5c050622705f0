"""Layer 3: AST to `Plan`. Names resolved, includes expanded, actions type-checked against VRs.

Rules keep the order in which they appear once includes are expanded in place; precedence is then
settled by the resolver from the selector kind and that order (later wins among equals), so a site
file that includes a base overrides it line by line. A file included a second time (a diamond) is
skipped; a file that includes itself, directly or not, is an error.
"""

from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal, overload

from pydicom import config as pydicom_config
from pydicom.valuerep import validate_value

from . import ast, conditions
from ._resources import shipped_dir
from .actions import ACTIONS
from .collector import collecting_less
from .dictionary import (ALL_VRS, VALUE_CHARS, cid7050, format_tag, keyword_of, suggest_keywords, tag_for_keyword,
                         vrs_of)
from .errors import CompileError, DeidSyntaxError, ErrorLevel, InputError, RuleError, RuleErrors, Span
from .plan import Origin, PixelRule, PixelWaiver, Plan, PlanRule, RejectRule, Selector, Waiver, is_private

MINIMUMS = ("aryanto50", "none")


def shipped_rulesets() -> list[str]:
    return sorted(p.stem for p in shipped_dir("rulesets").glob("*.deid"))


def resolve_ruleset(name_or_path: str | Path, relative_to: Path | None = None) -> Path | None:
    """A shipped ruleset by name (``basic-profile``), else a path (relative to the including file)."""
    text = str(name_or_path)
    if isinstance(name_or_path, str) and "/" not in text and not text.endswith(".deid"):
        shipped = shipped_dir("rulesets") / f"{text}.deid"
        return shipped if shipped.is_file() else None
    path = Path(text)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    try:
        return path if path.is_file() else None
    except OSError:  # a name too long or otherwise impossible is simply not a file
        return None


#: How the compiler reads an included file: from disk unless told otherwise (an editor's unsaved buffers).
Reader = Callable[[Path], str]


def _read_disk(path: Path) -> str:
    return read_rule_file(path)


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


@dataclass(frozen=True)
class Compilation:
    """What `ErrorLevel.COLLECT` returns: the plan (None when there are errors) and every error of
    the file and what it includes, in the order found, each able to render itself with its caret."""

    plan: Plan | None
    errors: tuple[RuleError, ...]
    sources: tuple[Path, ...] = ()


@overload
def compile_text(text: str, source: str = ..., base_dir: Path | None = ..., read: Reader = ...,
                 errors: Literal[ErrorLevel.RAISE, ErrorLevel.IMMEDIATE] = ...) -> Plan: ...
@overload
def compile_text(text: str, source: str = ..., base_dir: Path | None = ..., read: Reader = ...,
                 errors: Literal[ErrorLevel.COLLECT] = ...) -> Compilation: ...
def compile_text(text: str, source: str = "<string>", base_dir: Path | None = None, read: Reader = _read_disk,
                 errors: ErrorLevel = ErrorLevel.RAISE) -> Plan | Compilation:
    """Compile rule text (without the proof obligations; `deidlang.compile` adds those). ``read`` gives
    the text of an included file (resolved path in, text out); ``errors`` says whether to stop at the
    first error, raise them all, or return them all (`Compilation`).

    >>> result = compile_text("remove PatinetName; keep PatientSexx", errors=ErrorLevel.COLLECT)
    >>> [e.message for e in result.errors], result.plan
    (['unknown keyword `PatinetName`', 'unknown keyword `PatientSexx`'], None)
    """
    compiler = _Compiler(read=read, level=errors)
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
    compiler = _Compiler(found.resolve(), level=errors)
    plan = compiler.finish(compiler.run(text, display_name(found), found.resolve().parent))
    return plan, tuple(sorted(compiler.seen))


def collect_file(path: str | Path) -> Compilation:
    """Every error of a rule file and what it includes, or its plan (`ErrorLevel.COLLECT` for files)."""
    found = resolve_ruleset(path)
    if found is None:
        return Compilation(None, (CompileError(f"no rule file `{path}`", None, "give a path to a .deid file"),))
    compiler = _Compiler(found.resolve(), level=ErrorLevel.COLLECT)
    try:
        text = read_rule_file(found)
    except CompileError as err:
        return Compilation(None, (err,))
    result = compiler.finish(compiler.run(text, display_name(found),
                                          found.resolve().parent))
    return Compilation(result.plan, result.errors, tuple(sorted(compiler.seen)))


#: Folders (separated by the system's path separator) whose rule files any rule file may include.
INCLUDE_PATH_ENV = "DEIDLANG_INCLUDE_PATH"


def include_roots() -> tuple[Path, ...]:
    """The folders `DEIDLANG_INCLUDE_PATH` allows includes from, beside each file's own folder tree."""
    return tuple(Path(p).resolve() for p in os.environ.get(INCLUDE_PATH_ENV, "").split(os.pathsep) if p)


def _may_include(stmt: ast.Include, path: Path, base_dir: Path) -> None:
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


@dataclass
class _Settings:
    name: str = "unnamed"
    version: str = "0.0.0"
    default: str = "keep"
    minimum: str = "aryanto50"
    minimum_reason: str | None = None
    codes: list[int] = field(default_factory=list)


class _Compiler:
    def __init__(self, top: Path | None = None, read: Reader = _read_disk,
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

    def run(self, text: str, source: str, base_dir: Path) -> Plan:
        with collecting_less():
            return self._run(text, source, base_dir)

    def _run(self, text: str, source: str, base_dir: Path) -> Plan:
        try:
            self._program(text, source, base_dir)
        except RuleError as err:
            raise err.with_text(self.texts.get(err.span.source) if err.span else None) from None
        s = self.settings
        # INVARIANT: the order of selectors within a statement means nothing, so it must not reach
        # the plan (or its hash): `deidlang fmt` sorts them.
        self.rules.sort(key=lambda pair: (pair[0].order, _fields(pair[0].selector)))
        self.waivers.sort(key=lambda w: (w.order, w.tag))
        self._warn_shadowed()
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
        says stop at the first."""
        return _Collecting(self)

    def _parse(self, text: str, source: str):
        """Parse, and past a syntax error go on with the following lines (statements are one line
        long): the error's line is blanked (offsets kept) and the text parsed again."""
        from .syntax import parse_cached  # here, not at the top: a cached plan (`plancache`) needs no parser

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
        for stmt in program.statements:
            order = len(self.origins)
            # the line as written (indentation kept), so that a column points into it
            line = lines[stmt.span.line - 1].rstrip() if stmt.span.line <= len(lines) else ""
            self.origins.append(Origin(stmt.span, line))
            with self._collecting():
                self._statement(stmt, order, top, base_dir, text)

    def _statement(self, stmt: ast.Statement, order: int, top: bool, base_dir: Path, text: str) -> None:
        match stmt:
            case ast.Header(name=name, version=version):
                if not _SEMVER.fullmatch(version):
                    raise CompileError(f"`{version}` is not a semantic version", _part(stmt.span, text, r'"[^"]*"'),
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
                                       _part(stmt.span, text, r"[0-9]+"),
                                       "codes run from 113100 to 113112")
                self.settings.codes.append(value)
            case ast.Waive(selectors=(ast.Keyword(name="pixels"),)):
                self.pixel_waiver = PixelWaiver(stmt.reason, order)
            case ast.Waive():
                for sel in stmt.selectors:
                    with self._collecting():
                        selector = self._selector(sel)
                        if selector.kind != "tag":
                            raise CompileError("only single elements can be waived", sel.span,
                                               "name the element by keyword or (gggg,eeee)")
                        self.waivers.append(Waiver(selector.tag, stmt.reason, order))
            case ast.Reject():
                self.rejects.append(RejectRule(self._condition(stmt.condition), stmt.reason or "", order))
            case ast.Rule():
                self._rule(stmt, order)
            case ast.PixelRule():
                self._pixel_rule(stmt, order)

    def _include(self, stmt: ast.Include, base_dir: Path) -> None:
        path = resolve_ruleset(stmt.target, base_dir)
        if path is None:
            raise CompileError(f"cannot find the included ruleset `{stmt.target}`", stmt.span,
                               f"shipped rulesets: {', '.join(shipped_rulesets())}; a path is relative to this file")
        path = path.resolve()
        _may_include(stmt, path, base_dir)
        if path in self.stack:
            chain = " -> ".join(p.name for p in [*self.stack[self.stack.index(path):], path])
            raise CompileError(f"include cycle: {chain}", stmt.span, "remove one of these includes")
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
        excepts = tuple(sorted({self._selector(e) for e in stmt.excepts}, key=_fields))
        for e, sel in zip(excepts, stmt.excepts):
            if e.kind == "path":
                raise CompileError("an except list cannot hold a path", sel.span, "use a keyword, tag, mask or VR")
        problem = stmt.argument.problem() if stmt.argument is not None else None
        if problem is not None:
            raise CompileError(problem[0], _argument_span(stmt, self.texts.get(stmt.span.source, "")), problem[1])
        for sel in stmt.selectors:
            with self._collecting():
                selector = self._selector(sel)
                self._type_check(stmt, sel, selector)
                self.rules.append((PlanRule(stmt.action, selector, excepts, condition, stmt.argument, order),
                                   (sel.span.col, sel.span.end_col if sel.span.end_line == sel.span.line
                                    else sel.span.col + 1)))

    def _pixel_rule(self, stmt: ast.PixelRule, order: int) -> None:
        condition = self._condition(stmt.condition) if stmt.condition else None
        bounds = _image_bounds(stmt.condition)
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
        return _part(span, self.texts.get(span.source, ""), pattern)

    # ------------------------------------------------------------ names

    def _tag(self, node: ast.Keyword | ast.TagPattern) -> int:
        if isinstance(node, ast.TagPattern):
            return node.value
        tag = tag_for_keyword(node.name)
        if tag is None:
            close = suggest_keywords(node.name)
            hint = f"did you mean {', '.join(f'`{c}`' for c in close)}?" if close else \
                "keywords are the DICOM dictionary's, e.g. PatientName; or write the tag as (gggg,eeee)"
            raise CompileError(f"unknown keyword `{node.name}`", node.span, hint, suggestions=tuple(close))
        return tag

    def _selector(self, node: ast.Selector) -> Selector:
        match node:
            case ast.Keyword():
                return Selector("tag", tag=self._tag(node))
            case ast.TagPattern(value=value, mask=mask):
                if mask == 0xFFFFFFFF:
                    return Selector("tag", tag=value)
                if mask == 0:
                    raise CompileError("this mask matches every element", node.span, "use `default keep|remove`")
                return Selector("mask", tag=value, mask=mask)
            case ast.Group(group=group):
                return Selector("group", group=group)
            case ast.VRClass(vr=vr):
                if vr not in ALL_VRS:
                    raise CompileError(f"unknown VR `{vr}`", node.span, f"VRs are {', '.join(sorted(ALL_VRS))}",
                                       suggestions=tuple(difflib.get_close_matches(vr.upper(), sorted(ALL_VRS), 3)))
                return Selector("vr", vr=vr)
            case ast.AnyPrivate():
                return Selector("private")
            case ast.Named(name="overlays"):
                return Selector("mask", tag=0x60000000, mask=0xFF000000)
            case ast.Named(name="curves"):
                return Selector("mask", tag=0x50000000, mask=0xFF000000)
            case ast.CreatorElement(creator=creator, group=group, offset=offset, vr=vr):
                if not creator or len(creator) > 64:
                    raise CompileError("a private creator is 1 to 64 characters", node.span,
                                       "write the creator as the file's private creator element holds it")
                if vr and vr not in ALL_VRS:
                    raise CompileError(f"unknown VR `{vr}`", node.span, f"VRs are {', '.join(sorted(ALL_VRS))}")
                return Selector("creator", tag=offset, creator=creator, group=group, vr=vr)
            case ast.Path(steps=steps, items=items):
                tags = [self._tag(s) for s in steps]
                for step, tag in zip(steps[:-1], tags):
                    if "SQ" not in vrs_of(tag) and not is_private(tag):
                        raise CompileError(f"`{_text(step)}` is not a sequence", step.span,
                                           "every step of a path but the last must be a sequence (VR SQ)")
                return Selector("path", tag=tags[-1], path=tuple(zip(tags[:-1], items)))
        raise AssertionError(node)

    def _type_check(self, stmt: ast.Rule, node: ast.Selector, selector: Selector) -> None:
        allowed = ACTIONS[stmt.action].applies_to
        if selector.kind == "vr":
            vrs = frozenset({selector.vr})
        elif selector.kind in ("tag", "path"):
            vrs = vrs_of(selector.tag)
        else:
            return  # masks, groups and private elements: checked per element by the engine
        if allowed is not None and vrs and not vrs & allowed:
            raise CompileError(f"`{stmt.action}` cannot apply to `{_text(node)}` (VR {'/'.join(sorted(vrs))})",
                               node.span, f"`{stmt.action}` applies to VR {', '.join(sorted(allowed))}")
        value = stmt.argument.sample() if stmt.argument is not None else None
        if value is not None:  # the longest value the action can write must be valid for each VR
            for vr in vrs or {"UT"}:
                try:
                    validate_value(vr, value, pydicom_config.RAISE)
                except ValueError as err:
                    raise CompileError(f"`{value}` is not a valid {vr} value", stmt.span,
                                       str(err).split(" Please see")[0]) from None

    # ------------------------------------------------------------ conditions

    def _condition(self, node: ast.Condition) -> int:
        key = self._cond_tree(node)
        return self.conditions.setdefault(key, len(self.conditions))

    def _cond_tree(self, node: ast.Condition) -> conditions.Condition:
        match node:
            case ast.Or(left=left, right=right):
                return conditions.Or(self._cond_tree(left), self._cond_tree(right))
            case ast.And(left=left, right=right):
                return conditions.And(self._cond_tree(left), self._cond_tree(right))
            case ast.Not(operand=operand):
                return conditions.Not(self._cond_tree(operand))
            case ast.Compare(operand=operand, op=op, value=value):
                return conditions.Compare(self._atom_tag(node, operand, op, (value,)), op, value)
            case ast.Member(operand=operand, values=values):
                return conditions.Member(self._atom_tag(node, operand, "in", values), tuple(values))
            case ast.Exists(operand=operand):
                return conditions.Exists(self._atom_tag(node, operand, "exists", ()))
        raise AssertionError(node)

    def _atom_tag(self, node: ast.Condition, operand: ast.Keyword | ast.TagPattern, op: str,
                  values: tuple) -> int:
        """The operand's tag, once the test is known to be able to hold for the element's VR
        (errors are collected: one bad operand does not hide the next)."""
        with self._collecting():
            tag = self._tag(operand)
            why = _never_holds(tag, op, values)
            if why:
                raise CompileError(why, node.span, "compare with a value the element can have, as DICOM encodes "
                                   "it (numbers as digits, dates as YYYYMMDD, code strings in upper case)")
            return tag
        return -1

    # ------------------------------------------------------------ diagnostics

    def _warn_shadowed(self) -> None:
        """A selector of a rule is shadowed when a later, unconditional rule of the same file has the
        same selector and spares nothing: through it the rule can never decide an element. The whole
        statement is said to decide nothing only when every one of its selectors is shadowed."""
        last: dict[tuple[Selector, str], PlanRule] = {}
        shadowed: dict[int, list[tuple[PlanRule, tuple[int, int], int]]] = {}
        for rule, cols in reversed(self.rules):
            key = (rule.selector, self.origins[rule.order].source)
            later = last.get(key)
            if later is not None and later.order != rule.order:
                shadowed.setdefault(rule.order, []).append((rule, cols, self.origins[later.order].line))
            if rule.condition is None and not rule.excepts:
                last.setdefault(key, rule)
        statements = Counter(r.order for r, _ in self.rules)
        for order, found in shadowed.items():
            total = statements[order]
            lines = sorted({line for _, _, line in found})
            by = f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))} override{'' if len(lines) > 1 else 's'}"
            if len(found) == total:
                self.warnings.append((f"this rule never decides anything: {by} it", order))
                continue
            for rule, cols, line in sorted(found, key=lambda f: f[1]):
                name = self.origins[order].text[cols[0] - 1:cols[1] - 1]
                self.warnings.append((f"`{name}` is never decided by this rule: line {line} overrides it",
                                      order, *cols))
        self.warnings.sort(key=lambda w: (w[1], w[2:]))


class _Collecting:
    """`_Compiler._collecting` as a plain context manager: it wraps every statement and selector, and
    a generator-based one cost more than the checks inside it on a long file."""

    __slots__ = ("compiler",)

    def __init__(self, compiler: _Compiler) -> None:
        self.compiler = compiler

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, trace) -> bool:
        if err is None or not isinstance(err, RuleError) or self.compiler.level is ErrorLevel.IMMEDIATE:
            return False
        self.compiler.errors.append(err.with_text(self.compiler.texts.get(err.span.source) if err.span else None))
        return True


_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


def _part(span: Span, text: str, pattern: str) -> Span:
    """The span of the last match of ``pattern`` inside a one-line statement (the statement's own
    span when there is none): errors about an argument point at the argument."""
    found = None
    for found in re.finditer(pattern, text[span.start:span.end]):
        pass
    if found is None or span.line != span.end_line:
        return span
    start, end = span.start + found.start(), span.start + found.end()
    return Span(span.source, start, end, span.line, span.col + found.start(), span.line, span.col + found.end())


_VERBS = {"==": "be", "in": "be", "contains": "contain", "startswith": "start with", "!=": "be"}


def _argument_span(stmt: ast.Rule, text: str) -> Span:
    """Where a rule's argument is written: after its selectors and except list, before its condition."""
    span = stmt.span
    start = max(sel.span.end for sel in (*stmt.selectors, *stmt.excepts))
    end = text.rfind("if", start, stmt.condition.span.start) if stmt.condition is not None else span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if span.line != span.end_line or start >= end:
        return span
    return Span(span.source, start, end, span.line, span.col + start - span.start, span.line,
                span.col + end - span.start)


def _never_holds(tag: int, op: str, values: tuple) -> str:
    """Why a test of this element is decided whatever the dataset ('' when it is not): a text its
    VR cannot hold (`Rows == "480px"`, `Modality == "ct"`), or an order against a word."""
    name = keyword_of(tag) or format_tag(tag)
    if op in ("<", "<=", ">", ">=") and isinstance(values[0], str):
        try:
            float(values[0])
        except ValueError:
            return f"`{values[0]}` is not a number, so `{name} {op}` it never holds"
        return ""
    vrs = vrs_of(tag)
    if op not in _VERBS or not vrs or not all(vr in VALUE_CHARS for vr in vrs):
        return ""
    for value in values:
        if isinstance(value, str) and all(set(value) - VALUE_CHARS[vr] for vr in vrs):
            never = "is never" if op == "!=" else "can never"
            return (f"`{name}` {never} {_VERBS[op]} `{value}`: a {'/'.join(sorted(vrs))} value has no such "
                    "character" + (", so this test always holds" if op == "!=" else ""))
    return ""


_SELECTOR_FIELDS = tuple(f.name for f in fields(Selector))


def _fields(selector: Selector) -> tuple:
    """A selector's fields in order: what `dataclasses.astuple` gives for it, without its deep copy."""
    return tuple(getattr(selector, name) for name in _SELECTOR_FIELDS)


def _image_bounds(cond: ast.Condition | None) -> dict[int, float]:
    """Upper bounds on Rows and Columns that a condition implies through `and` (==, <, <=)."""
    bounds: dict[int, float] = {}
    if isinstance(cond, ast.And):
        for side in (_image_bounds(cond.left), _image_bounds(cond.right)):
            for tag, bound in side.items():
                bounds[tag] = min(bound, bounds.get(tag, bound))
    elif isinstance(cond, ast.Compare) and isinstance(cond.value, float) and cond.op in ("==", "<", "<="):
        tag = tag_for_keyword(cond.operand.name) if isinstance(cond.operand, ast.Keyword) else cond.operand.value
        if tag in (0x00280010, 0x00280011):
            bounds[tag] = cond.value + (0 if cond.op == "<" else 1)
    return bounds


def _text(node: ast.Selector) -> str:
    if isinstance(node, ast.Keyword):
        return node.name
    if isinstance(node, ast.TagPattern):
        return format_tag(node.value)
    if isinstance(node, ast.VRClass):
        return f"vr {node.vr}"
    return type(node).__name__
