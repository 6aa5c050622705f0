"""Layer 2: rule text to a typed AST (`deidlang.ast`), or a `DeidSyntaxError` with a location.

The grammar (``grammar/deid.lark``) is loaded once. Lark's own exceptions never escape: every
failure, including errors raised while building nodes, becomes a `DeidSyntaxError` whose span lies
inside the input.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

from lark import Lark, Token, Transformer, Tree, v_args
from lark.tree import Meta
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .collector import collecting_less
from .actions import ACTIONS, rule_alias, terminal_texts
from ._resources import shipped_dir
from .dictionary import ALL_VRS
from .errors import DeidSyntaxError, Span

# What each terminal means to a person reading an error.
_TERMINAL_TEXT = {
    "NAME": "a keyword",
    "TAG": "a tag such as (0010,0010)",
    "HEX4": "a four-digit hex group such as 0010",
    "STRING": 'a quoted string',
    "INT": "a whole number",
    "SIGNED_INT": "a whole number such as -30",
    "SIGNED_NUMBER": "a number",
    "ITEM": "an item index or `*`",
    "DEFAULT_ACTION": "`keep` or `remove`",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=, contains, startswith)",
    "_SEP": "end of statement",
    "$END": "end of file",
    "PATIENT": "`patient`",
    "COMPLETE": "`complete`",
    **terminal_texts(),
}
#: grammar alias of an action's rule line -> the action (those that take an argument)
_RULE_ALIASES = {rule_alias(a.name): a for a in ACTIONS.values() if a.argument is not None}


_COMMENTS = threading.local()


def _collect_comment(token: Token) -> Token:
    _COMMENTS.found.append(token)
    return token


@functools.cache
def _parser(keep_comments: bool = False) -> Lark:
    grammar = (shipped_dir("grammar") / "deid.lark").read_text(encoding="utf-8")
    callbacks = {"COMMENT": _collect_comment} if keep_comments else {}
    # cache=True keeps the built LALR tables in the temp folder (keyed by the grammar's hash): a cold
    # start then loads them instead of building them again
    return Lark(grammar, parser="lalr", propagate_positions=True, strict=True, maybe_placeholders=True,
                lexer_callbacks=callbacks, cache=not keep_comments)


@dataclass(frozen=True)
class Comment:
    line: int
    col: int
    text: str  # with its leading '#'


def parse_with_comments(text: str, source: str = "<string>") -> tuple[ast.Program, list[Comment]]:
    """Parse, and also return the comments (which `parse` drops), for the formatter."""
    _COMMENTS.found = []
    program = parse(text, source, _parser(keep_comments=True))
    return program, [Comment(t.line, t.column, t.value.rstrip()) for t in _COMMENTS.found]


def parse(text: str, source: str = "<string>", parser: Lark | None = None) -> ast.Program:
    """Parse rule text into an `ast.Program`.

    >>> parse("remove PatientName").statements[0].action
    'remove'
    """
    text = text.removeprefix("\ufeff")  # a byte order mark some editors write
    try:
        with collecting_less():
            tree = (parser or _parser()).parse(text)
            _shape(tree, source)
            return _Lower(source).transform(tree)
    except UnexpectedInput as err:
        raise _syntax_error(err, text, source).with_text(text) from None
    except DeidSyntaxError as err:
        raise err.with_text(text) from None
    except VisitError as err:
        orig = err.orig_exc
        if isinstance(orig, DeidSyntaxError):
            raise orig.with_text(text) from None
        raise


#: Chains of `or` / `and` longer than this are rebuilt balanced (shorter ones keep the shape, and the
#: plan hash, they always had); conditions nested deeper than `MAX_NESTING` are refused.
_CHAIN = 16
MAX_NESTING = 64
_LOGIC = frozenset({"or_", "and_", "not_"})


def _shape(tree: Tree, source: str) -> None:
    """Make every condition shallow before anything recurses over it, without changing what it
    means: ``not not x`` is ``x``, a long chain of one operator is balanced (both are associative);
    what is still nested too deep is a located error. Works on lark's tree, iteratively."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.data == "not_":
            while _is(node.children[0], "not_") and isinstance(node.children[0].children[0], Tree):
                inner = node.children[0].children[0]
                node.data, node.children = inner.data, inner.children
                if node.data != "not_":
                    break
        if node.data in ("or_", "and_"):
            operands, todo = [], [node]
            while todo:
                item = todo.pop()
                if item is node or _is(item, node.data):
                    todo.extend(reversed(item.children))
                else:
                    operands.append(item)
            if len(operands) > _CHAIN:
                node.children = _balanced(node.data, operands).children
            stack.extend(c for c in operands if isinstance(c, Tree))  # the chain's own nodes are done
            continue
        stack.extend(c for c in node.children if isinstance(c, Tree))
    depths = [(tree, 0)]
    while depths:
        node, depth = depths.pop()
        if node.data in _LOGIC:
            depth += 1
            if depth > MAX_NESTING:
                meta = node.meta
                span = Span(source, meta.start_pos, meta.end_pos, meta.line, meta.column, meta.end_line,
                            meta.end_column)
                raise DeidSyntaxError(f"this condition nests `and`, `or` and `not` more than {MAX_NESTING} levels "
                                      "deep", span, "split it into several rules, or flatten it")
        depths.extend((c, depth) for c in node.children if isinstance(c, Tree))


def _is(node, data: str) -> bool:
    return isinstance(node, Tree) and node.data == data


def _balanced(data: str, operands: list) -> Tree:
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    left, right = _balanced(data, operands[:middle]), _balanced(data, operands[middle:])
    meta = Meta()
    first, last = left.meta, right.meta
    meta.empty = False
    meta.line, meta.column, meta.start_pos = first.line, first.column, first.start_pos
    meta.end_line, meta.end_column, meta.end_pos = last.end_line, last.end_column, last.end_pos
    return Tree(data, [left, right], meta)


@functools.lru_cache(maxsize=32)
def parse_cached(text: str, source: str = "<string>") -> ast.Program:
    """`parse`, remembered for the last few texts: trees never change once built, and an editor compiles
    the same included files again on every keystroke."""
    return parse(text, source)


def _describe(names: set[str]) -> str:
    parts = []
    for name in sorted(names):
        if name in _TERMINAL_TEXT:
            parts.append(_TERMINAL_TEXT[name])
            continue
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            continue
        parts.append(f"`{pattern.value}`" if pattern.type == "str" else name.lower())
    return ", ".join(dict.fromkeys(parts)) or "something else"


def _syntax_error(err: UnexpectedInput, text: str, source: str) -> DeidSyntaxError:
    line, col = max(err.line, 1), max(err.column, 1)
    pos = err.pos_in_stream if err.pos_in_stream is not None else len(text)
    width = 1
    bad_tag = _BAD_TAG.match(text, pos) if pos < len(text) else None
    if bad_tag and not _GOOD_TAG.fullmatch(bad_tag.group()):
        width = len(bad_tag.group())
        span = Span(source, pos, pos + width, line, col, line, col + width)
        return DeidSyntaxError(f"`{bad_tag.group()}` is not a tag or a mask", span,
                               "a tag is (gggg,eeee) in hex digits; an x in a digit makes a mask, e.g. 60xx,3000")
    if isinstance(err, UnexpectedCharacters):
        if pos < len(text) and text[pos] == '"':
            message, expected = "this string has no closing quote on its line", {"STRING"}
        else:
            found = f"`{text[pos]}`" if pos < len(text) else "end of file"
            message, expected = f"unexpected character {found}", err.allowed or set()
    elif isinstance(err, UnexpectedEOF):
        message, expected = "unexpected end of file", set(err.expected)
        line, col = _end_position(text)
    else:
        assert isinstance(err, UnexpectedToken)
        token = err.token
        if token.type == "$END":
            message = "unexpected end of file"
            line, col = _end_position(text)
        elif token.type == "_SEP":
            message = "statement ends too early" if token.value == "\n" else "unexpected `;`"
        else:
            message = f"unexpected `{token.value}`"
            width = max(1, len(token.value))
        expected = set(err.expected)
    if line > text.count("\n") + 1:
        line, col = _end_position(text)
    span = Span(source, pos, pos + width, line, col, line, col + width)
    return DeidSyntaxError(message, span, f"expected {_describe(expected)}")


_BAD_TAG = re.compile(r"\(?[0-9A-Za-z]{4},[0-9A-Za-z]{4}\)?")
_GOOD_TAG = re.compile(r"\(?[0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}\)?")


def _end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


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
class _Lower(Transformer):
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
