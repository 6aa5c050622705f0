"""The lark tree to `deidlang.ast` nodes: one method per grammar rule or alias, each node with its span."""

from __future__ import annotations

import re

from lark import Token, Transformer, v_args

from .. import ast
from ..actions import ACTIONS, rule_alias
from ..dictionary import ALL_VRS
from ..errors import DeidSyntaxError, Span

_RULE_ALIASES = {rule_alias(a.name): a for a in ACTIONS.values() if a.argument is not None}


def _unquote(token: Token) -> str:
    return re.sub(r"\\(.)", r"\1", token.value[1:-1])


def _part(token: Token | None, source: str) -> str | int | None:
    """A token of an argument as its declaration takes it: strings unquoted, whole numbers as int."""
    if token is None:
        return None
    if token.type == "STRING":
        return _unquote(token)
    if token.type in ("INT", "SIGNED_INT"):
        return _int(token, source)
    return token.value


def _int(token: Token, source: str) -> int:
    """A whole number of the text; one too long to mean anything is a located error (and never reaches
    Python's limit on digits)."""
    if len(token.value.lstrip("+-")) > 9:
        span = Span(source, token.start_pos, token.end_pos, token.line, token.column, token.end_line,
                    token.end_column)
        raise DeidSyntaxError("this number is too large", span, "numbers here have at most 9 digits")
    return int(token)


def _tag_pattern(token: Token, span: Span) -> ast.TagPattern:
    digits = token.value.strip("()").replace(",", "")
    value = mask = 0
    for ch in digits:
        value <<= 4
        mask <<= 4
        if ch not in "xX":
            value |= int(ch, 16)
            mask |= 0xF
    return ast.TagPattern(span, value, mask)


@v_args(meta=True)
class Lower(Transformer):
    """Builds `ast` nodes from the lark tree; one method per grammar rule or alias."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.source, 0, 0, 1, 1, 1, 1)
        return Span(self.source, meta.start_pos, meta.end_pos, meta.line, meta.column, meta.end_line, meta.end_column)

    def _token_span(self, tok: Token) -> Span:
        return Span(self.source, tok.start_pos, tok.end_pos, tok.line, tok.column, tok.end_line, tok.end_column)

    def _operand(self, tok: Token) -> ast.Keyword | ast.TagPattern:
        span = self._token_span(tok)
        if tok.type == "NAME":
            return ast.Keyword(span, tok.value)
        pattern = _tag_pattern(tok, span)
        if not pattern.is_exact:
            raise DeidSyntaxError(f"`{tok.value}` is a mask; only an exact tag can be used here", span,
                                  "write every digit, e.g. (0010,0010)")
        return pattern

    # statements
    def start(self, meta, children):
        return ast.Program(self._span(meta), tuple(c for c in children if c is not None))

    def header(self, meta, children):
        name, version = children
        return ast.Header(self._span(meta), _unquote(name) if name.type == "STRING" else name.value,
                          _unquote(version))

    def include(self, meta, children):
        return ast.Include(self._span(meta), _unquote(children[0]))

    def require(self, meta, children):
        name, reason = children
        return ast.Require(self._span(meta), name.value, _unquote(reason) if reason else None)

    def waive(self, meta, children):
        return ast.Waive(self._span(meta), children[0], _unquote(children[1]))

    def default(self, meta, children):
        return ast.Default(self._span(meta), children[0].value)

    def code(self, meta, children):
        return ast.Code(self._span(meta), _int(children[0], self.source))

    def plain_rule(self, meta, children):
        action, selectors, excepts, condition = children
        return ast.Rule(self._span(meta), action.value, selectors, excepts or (), condition)

    def __default__(self, data, children, meta):
        """An action's rule line with an argument: its declaration builds the argument (`actions`)."""
        declared = _RULE_ALIASES.get(data)
        if declared is None:
            return super().__default__(data, children, meta)
        selectors, excepts, *parts, condition = children
        argument = declared.argument.parse(*(_part(p, self.source) for p in parts))
        return ast.Rule(self._span(meta), declared.name, selectors, excepts or (), condition, argument)

    def blackout_rule(self, meta, children):
        *regions, complete, condition = children
        return ast.PixelRule(self._span(meta), "blackout", tuple(regions), complete is not None, condition)

    def detected_text_rule(self, meta, children):
        return ast.PixelRule(self._span(meta), "detected-text", (), False, children[0])

    def burn_overlays_rule(self, meta, children):
        return ast.PixelRule(self._span(meta), "burn-overlays", (), False, children[0])

    def region(self, meta, children):
        return tuple(_int(c, self.source) for c in children)

    def reject(self, meta, children):
        condition, reason = children
        return ast.Reject(self._span(meta), condition, _unquote(reason) if reason else None)

    def excepts(self, meta, children):
        return children[0]

    # selectors
    def selectors(self, meta, children):
        # `vr DA, DT`: after a VR selector, names that are VRs (no keyword is) name VRs too
        out, in_vrs = [], False
        for child in children:
            if in_vrs and isinstance(child, ast.Keyword) and child.name in ALL_VRS:
                child = ast.VRClass(child.span, child.name)
            in_vrs = isinstance(child, ast.VRClass)
            out.append(child)
        return tuple(out)

    def keyword_sel(self, meta, children):
        return ast.Keyword(self._token_span(children[0]), children[0].value)

    def tag_sel(self, meta, children):
        return _tag_pattern(children[0], self._token_span(children[0]))

    def group_sel(self, meta, children):
        return ast.Group(self._span(meta), int(children[0], 16))

    def vr_sel(self, meta, children):
        return ast.VRClass(self._span(meta), children[0].value)

    def private_sel(self, meta, children):
        return ast.AnyPrivate(self._span(meta))

    def overlays_sel(self, meta, children):
        return ast.Named(self._span(meta), "overlays")

    def curves_sel(self, meta, children):
        return ast.Named(self._span(meta), "curves")

    def creator_sel(self, meta, children):
        creator, tag, vr = children
        span = self._span(meta)
        digits = tag.value.strip("()").replace(",", "")
        group, elem = digits[:4], digits[4:]
        if not re.fullmatch(r"[0-9A-Fa-f]{4}", group) or int(group, 16) % 2 == 0:
            raise DeidSyntaxError(f"`{tag.value}` is not in a private group", self._token_span(tag),
                                  "a private element has an odd group number, e.g. 0043,xx39")
        if not re.fullmatch(r"[xX]{2}[0-9A-Fa-f]{2}", elem):
            raise DeidSyntaxError(f"`{tag.value}` must name the element as xxEE", self._token_span(tag),
                                  "the block byte is set by the creator: write e.g. 0043,xx39")
        return ast.CreatorElement(span, _unquote(creator), int(group, 16), int(elem[2:], 16), vr.value if vr else "")

    def path_sel(self, meta, children):
        steps = tuple(self._operand(c) for c in children[0::2])
        return ast.Path(self._span(meta), steps, tuple(c.value for c in children[1::2]))

    # conditions
    def condition(self, meta, children):
        return children[0]

    def or_(self, meta, children):
        return ast.Or(self._span(meta), *children)

    def and_(self, meta, children):
        return ast.And(self._span(meta), *children)

    def not_(self, meta, children):
        return ast.Not(self._span(meta), children[0])

    def compare(self, meta, children):
        operand, op, value = children
        return ast.Compare(self._span(meta), operand, op.value, value)

    def member(self, meta, children):
        return ast.Member(self._span(meta), children[0], tuple(children[1:]))

    def exists(self, meta, children):
        return ast.Exists(self._span(meta), children[0])

    def operand(self, meta, children):
        return self._operand(children[0])

    def value(self, meta, children):
        tok = children[0]
        return _unquote(tok) if tok.type == "STRING" else float(tok.value)
