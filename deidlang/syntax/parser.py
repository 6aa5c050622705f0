"""The grammar (``grammar/deid.lark``) as a lark LALR parser, built once per kind.

The plain parser drops comments; the formatter's keeps them (`collected_comments`).
"""

from __future__ import annotations

import functools
import threading

from lark import Lark, Token

from .._resources import shipped_dir

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


def collected_comments() -> list[Token]:
    """Start collecting the comments the comment-keeping parser reads in this thread; the list fills as it parses."""
    _COMMENTS.found = []
    return _COMMENTS.found
