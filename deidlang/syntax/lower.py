"""Grammar rules to `deidlang.ast` nodes, as lark's LALR parser reduces them: no parse tree is built.

lark calls one method per grammar rule or alias with that rule's children (`Token` in annotations
stands for either engine's token, `engines.TOKENS`), every token kept
(``keep_all_tokens``), so a node's span runs from its first token to its last, keywords and
parentheses included, as lark's own position propagation would place it. Parentheses and the ``if``
of a condition are not nodes: they come up wrapped (`_Extent`) only so that the node around them
ends where the text does.

A problem a node finds (a number too large, a mask where a tag must be) is recorded, not raised,
and the parse goes on: a syntax error later in the text still comes first, then a condition nested
too deep (`shape`), then the first recorded problem (`Lowering.problem`).
"""

from __future__ import annotations

import re

from lark import Token, Tree

from .. import ast
from ..actions import ACTIONS, rule_alias
from ..dictionary import ALL_VRS
from ..errors import DeidSyntaxError, Span
from .engines import TOKENS
from .shape import shaped, too_deep

_RULE_ALIASES = {rule_alias(a.name): a for a in ACTIONS.values() if a.argument is not None}
_ESCAPE = re.compile(r"\\(.)")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_BLOCK_ELEMENT = re.compile(r"[xX]{2}[0-9A-Fa-f]{2}")  # xxEE: the element of a creator's block
_VALUE_DIGITS = str.maketrans("xX", "00")
_MASK_DIGITS = str.maketrans({**{c: "f" for c in "0123456789abcdefABCDEF"}, "x": "0", "X": "0"})


def _unquote(token: Token) -> str:
    value = token.value[1:-1]
    return _ESCAPE.sub(r"\1", value) if "\\" in value else value


def _token_span(source: str, tok: Token) -> Span:
    return Span(source, tok.start_pos, tok.end_pos, tok.line, tok.column, tok.end_line, tok.end_column)


def _begin(child) -> tuple[int, int, int]:
    """(offset, line, column) where a child starts: a token, a node, a wrapped node or a selector list."""
    while not isinstance(child, TOKENS):
        if isinstance(child, _Extent):
            child = child.first
        elif isinstance(child, tuple):
            child = child[0]
        else:
            span = child.span
            return span.start, span.line, span.col
    return child.start_pos, child.line, child.column


def _end(child) -> tuple[int, int, int]:
    """(offset, line, column) where a child ends."""
    while not isinstance(child, TOKENS):
        if isinstance(child, _Extent):
            child = child.last
        elif isinstance(child, tuple):
            child = child[-1]
        else:
            span = child.span
            return span.end, span.end_line, span.end_col
    return child.end_pos, child.end_line, child.end_column


class _Extent:
    """A node with the text around it that is not a node: ``( ... )``, ``if ...``, a region's numbers."""

    __slots__ = ("node", "first", "last")

    def __init__(self, node, first, last) -> None:
        self.node, self.first, self.last = node, first, last


def _bare(child):
    return child.node if isinstance(child, _Extent) else child


class _Failed:
    """Stands where a node could not be built; the problem is recorded and the parse fails after it."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span


def argument_layouts(rules, named: frozenset[str]) -> dict[str, tuple[bool, ...]]:
    """For each action's rule line with an argument: which places after its except list hold a value
    of the argument (a named terminal) rather than a keyword, read from the line with every optional
    part present. The declaration is given the values, None for each one absent."""
    layouts = {}
    for rule in rules:
        if rule.alias in _RULE_ALIASES and not rule.options.empty_indices:
            middle = rule.expansion[3:-1]
            if any(not sym.is_term for sym in middle) and any(
                    True in r.options.empty_indices[3:-1] for r in rules if r.alias == rule.alias):
                raise ValueError(f"`{rule.alias}`: an optional part beside an inlined rule is not supported")
            layouts[rule.alias] = tuple(sym.is_term and sym.name in named for sym in middle)
    return layouts


class Lowering:
    """lark's inline transformer for one parser (one per thread: `begin` resets it for each text)."""

    def __init__(self, named: frozenset[str]) -> None:
        self.named = named  # the terminals the grammar names (the others are its keywords)
        self.layouts: dict[str, tuple[bool, ...]] = {}
        self.begin("<string>")

    def begin(self, source: str) -> None:
        self.source = source
        self.problem: DeidSyntaxError | None = None  # the first problem found while building nodes
        self.nesting: DeidSyntaxError | None = None  # the last condition found nested too deep

    def _record(self, err: DeidSyntaxError) -> None:
        if self.problem is None:
            self.problem = err

    def _span(self, first, last) -> Span:
        start, line, col = _begin(first)
        end, end_line, end_col = _end(last)
        return Span(self.source, start, end, line, col, end_line, end_col)

    def _statement_span(self, children: list) -> Span:
        """From the statement's keyword (a token) to its last part present."""
        last = len(children) - 1
        while children[last] is None:
            last -= 1
        first = children[0]
        end, end_line, end_col = _end(children[last])
        return Span(self.source, first.start_pos, end, first.line, first.column, end_line, end_col)

    def _int(self, token: Token) -> int:
        """A whole number of the text; one too long to mean anything is a located error (and never
        reaches Python's limit on digits)."""
        if len(token.value.lstrip("+-")) > 9:
            raise DeidSyntaxError("this number is too large", _token_span(self.source, token),
                                  "numbers here have at most 9 digits")
        return int(token.value)

    def _part(self, token: Token | None) -> str | int | None:
        """A token of an argument as its declaration takes it: strings unquoted, whole numbers as int."""
        if token is None:
            return None
        if token.type == "STRING":
            return _unquote(token)
        if token.type in ("INT", "SIGNED_INT"):
            return self._int(token)
        return token.value

    def _operand(self, tok: Token) -> ast.Keyword | ast.TagPattern:
        span = _token_span(self.source, tok)
        if tok.type == "NAME":
            return ast.Keyword(span, tok.value)
        pattern = _tag_pattern(tok, span)
        if not pattern.is_exact:
            raise DeidSyntaxError(f"`{tok.value}` is a mask; only an exact tag can be used here", span,
                                  "write every digit, e.g. (0010,0010)")
        return pattern

    # statements
    def start(self, children):
        if not children:
            return ast.Program(Span(self.source, 0, 0, 1, 1, 1, 1), ())
        return ast.Program(self._span(children[0], children[-1]),
                           tuple([c for c in children if not isinstance(c, TOKENS)]))

    def header(self, children):
        _, name, _, version = children
        return ast.Header(self._span(children[0], version), _unquote(name) if name.type == "STRING" else name.value,
                          _unquote(version))

    def include(self, children):
        return ast.Include(self._span(children[0], children[1]), _unquote(children[1]))

    def require(self, children):
        name, reason = children[2], children[4]
        return ast.Require(self._statement_span(children), name.value, _unquote(reason) if reason else None)

    def waive(self, children):
        return ast.Waive(self._span(children[0], children[3]), children[1], _unquote(children[3]))

    def default(self, children):
        return ast.Default(self._span(children[0], children[1]), children[1].value)

    def code(self, children):
        span = self._span(children[0], children[1])
        try:
            return ast.Code(span, self._int(children[1]))
        except DeidSyntaxError as err:
            self._record(err)
            return _Failed(span)

    def plain_rule(self, children):
        action, selectors, excepts, condition = children
        return ast.Rule(self._statement_span(children), action.value, selectors, excepts or (), _bare(condition))

    def __default__(self, data, children, meta):
        """An action's rule line with an argument: its declaration builds the argument (`actions`);
        any other rule lark inlines (a ``_name``) stays a tree for lark to take apart."""
        declared = _RULE_ALIASES.get(data)
        if declared is None:
            return Tree(data, children)
        span = self._statement_span(children)
        layout = self.layouts[data]
        parts = [c for i, c in enumerate(children[3:-1])
                 if (layout[i] if c is None else c.type in self.named)]
        try:
            argument = declared.argument.parse(*(self._part(p) for p in parts))
        except DeidSyntaxError as err:
            self._record(err)
            return _Failed(span)
        return ast.Rule(span, declared.name, children[1], children[2] or (), _bare(children[-1]), argument)

    def blackout_rule(self, children):
        regions = tuple(c.node for c in children[1:-2] if isinstance(c, _Extent))
        complete, condition = children[-2:]
        return ast.PixelRule(self._statement_span(children), "blackout", regions, complete is not None,
                             _bare(condition))

    def detected_text_rule(self, children):
        return ast.PixelRule(self._statement_span(children), "detected-text", (), False, _bare(children[2]))

    def burn_overlays_rule(self, children):
        return ast.PixelRule(self._statement_span(children), "burn-overlays", (), False, _bare(children[2]))

    def region(self, children):
        try:
            values = tuple(self._int(c) for c in children[0::2])
        except DeidSyntaxError as err:
            self._record(err)
            values = (0, 0, 0, 0)
        return _Extent(values, children[0], children[-1])

    def reject(self, children):
        reason = children[3]
        return ast.Reject(self._statement_span(children), _bare(children[1]), _unquote(reason) if reason else None)

    def excepts(self, children):
        return children[1]

    # selectors
    def selectors(self, children):
        # `vr DA, DT`: after a VR selector, names that are VRs (no keyword is) name VRs too
        out, in_vrs = [], False
        for child in children[0::2]:
            if in_vrs and isinstance(child, ast.Keyword) and child.name in ALL_VRS:
                child = ast.VRClass(child.span, child.name)
            in_vrs = isinstance(child, ast.VRClass)
            out.append(child)
        return tuple(out)

    def keyword_sel(self, children):
        return ast.Keyword(_token_span(self.source, children[0]), children[0].value)

    def tag_sel(self, children):
        return _tag_pattern(children[0], _token_span(self.source, children[0]))

    def group_sel(self, children):
        return ast.Group(self._span(children[0], children[1]), int(children[1].value, 16))

    def vr_sel(self, children):
        return ast.VRClass(self._span(children[0], children[1]), children[1].value)

    def private_sel(self, children):
        return ast.AnyPrivate(_token_span(self.source, children[0]))

    def overlays_sel(self, children):
        return ast.Named(_token_span(self.source, children[0]), "overlays")

    def curves_sel(self, children):
        return ast.Named(_token_span(self.source, children[0]), "curves")

    def creator_sel(self, children):
        creator, tag, _, vr = children
        last = vr or tag
        span = Span(self.source, creator.start_pos, last.end_pos, creator.line, creator.column, last.end_line,
                    last.end_column)
        digits = tag.value.strip("()").replace(",", "")
        group, elem = digits[:4], digits[4:]
        try:
            if not _HEX4.fullmatch(group) or int(group, 16) % 2 == 0:
                raise DeidSyntaxError(f"`{tag.value}` is not in a private group", _token_span(self.source, tag),
                                      "a private element has an odd group number, e.g. 0043,xx39")
            if not _BLOCK_ELEMENT.fullmatch(elem):
                raise DeidSyntaxError(f"`{tag.value}` must name the element as xxEE", _token_span(self.source, tag),
                                      "the block byte is set by the creator: write e.g. 0043,xx39")
        except DeidSyntaxError as err:
            self._record(err)
            return _Failed(span)
        return ast.CreatorElement(span, _unquote(creator), int(group, 16), int(elem[2:], 16), vr.value if vr else "")

    def path_sel(self, children):
        span = self._span(children[0], children[-1])
        try:
            steps = tuple(self._operand(c) for c in children[0::4])
        except DeidSyntaxError as err:
            self._record(err)
            return _Failed(span)
        return ast.Path(span, steps, tuple(c.value for c in children[2::4]))

    # conditions
    def condition(self, children):
        node = shaped(_bare(children[1]))
        deep = too_deep(node)
        if deep is not None:
            self.nesting = deep  # the last one in the text is reported, as a walk from the end finds it
        return _Extent(node, children[0], children[1])

    def term(self, children):
        return _Extent(_bare(children[1]), children[0], children[2])

    def or_(self, children):
        left, _, right = children
        return ast.Or(self._span(left, right), _bare(left), _bare(right))

    def and_(self, children):
        left, _, right = children
        return ast.And(self._span(left, right), _bare(left), _bare(right))

    def not_(self, children):
        return ast.Not(self._span(children[0], children[1]), _bare(children[1]))

    def compare(self, children):
        operand, op, value = children
        return ast.Compare(self._span(operand, value), operand, op.value, _value(value))

    def member(self, children):
        return ast.Member(self._span(children[0], children[-1]), children[0],
                          tuple(_value(c) for c in children[3:-1:2]))

    def exists(self, children):
        return ast.Exists(self._span(children[0], children[1]), children[0])

    def operand(self, children):
        try:
            return self._operand(children[0])
        except DeidSyntaxError as err:
            self._record(err)
            return _Failed(_token_span(self.source, children[0]))

    def value(self, children):
        return children[0]  # its token: the comparison around it needs where it ends


def _value(tok: Token) -> str | float:
    return _unquote(tok) if tok.type == "STRING" else float(tok.value)


def _tag_pattern(token: Token, span: Span) -> ast.TagPattern:
    """``value``/``mask`` bit patterns of a tag or mask: an ``x`` digit is 0 in both."""
    digits = token.value.strip("()").replace(",", "")
    return ast.TagPattern(span, int(digits.translate(_VALUE_DIGITS), 16), int(digits.translate(_MASK_DIGITS), 16))
