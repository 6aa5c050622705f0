"""Lark's parse errors as `DeidSyntaxError`: where, what was found and what was expected, in words."""

from __future__ import annotations

import re

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..actions import terminal_texts
from ..errors import DeidSyntaxError, Span
from .parser import _parser

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


def syntax_error(err: UnexpectedInput, text: str, source: str) -> DeidSyntaxError:
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
        line, col = end_position(text)
    else:
        assert isinstance(err, UnexpectedToken)
        token = err.token
        if token.type == "$END":
            message = "unexpected end of file"
            line, col = end_position(text)
        elif token.type == "_SEP":
            message = "statement ends too early" if token.value == "\n" else "unexpected `;`"
        else:
            message = f"unexpected `{token.value}`"
            width = max(1, len(token.value))
        expected = set(err.expected)
    if line > text.count("\n") + 1:
        line, col = end_position(text)
    span = Span(source, pos, pos + width, line, col, line, col + width)
    return DeidSyntaxError(message, span, f"expected {_describe(expected)}")


_BAD_TAG = re.compile(r"\(?[0-9A-Za-z]{4},[0-9A-Za-z]{4}\)?")
_GOOD_TAG = re.compile(r"\(?[0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}\)?")


def end_position(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1
