"""Layer 2: rule text to a typed AST (`deidlang.ast`), or a `DeidSyntaxError` with a location.

The grammar (``grammar/deid.lark``) is loaded once (`parser`). Lark's own exceptions never escape:
every failure (`messages`), including problems found while building nodes (`lower`) or shaping
conditions (`shape`), becomes a `DeidSyntaxError` whose span lies inside the input. No parse tree
is built: the parser's reductions build the AST directly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lark import Lark
from lark.exceptions import UnexpectedInput

from .. import ast
from ..collector import collector_paused
from .messages import syntax_error
from .parser import _parser, collected_comments
from .shape import MAX_NESTING

__all__ = ["MAX_NESTING", "Comment", "parse", "parse_cached", "parse_with_comments"]


@dataclass(frozen=True)
class Comment:
    line: int
    col: int
    text: str  # with its leading '#'


def parse_with_comments(text: str, source: str = "<string>") -> tuple[ast.Program, list[Comment]]:
    """Parse, and also return the comments (which `parse` drops), for the formatter."""
    found = collected_comments()
    program = parse(text, source, _parser(keep_comments=True))
    return program, [Comment(t.line, t.column, t.value.rstrip()) for t in found]


def parse(text: str, source: str = "<string>", parser: Lark | None = None) -> ast.Program:
    """Parse rule text into an `ast.Program`.

    >>> parse("remove PatientName").statements[0].action
    'remove'
    """
    text = text.removeprefix("\ufeff")  # a byte order mark some editors write
    parser = parser or _parser()
    lowering = parser.options.transformer
    lowering.begin(source)
    try:
        with collector_paused():
            program = parser.parse(text)
    except UnexpectedInput as err:
        raise syntax_error(err, text, source).with_text(text) from None
    problem = lowering.nesting or lowering.problem
    if problem is not None:
        raise problem.with_text(text)
    return program


@functools.lru_cache(maxsize=32)
def parse_cached(text: str, source: str = "<string>") -> ast.Program:
    """`parse`, remembered for the last few texts: trees never change once built, and an editor compiles
    the same included files again on every keystroke."""
    return parse(text, source)
