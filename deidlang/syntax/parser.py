"""The grammar (``grammar/deid.lark``) as a lark LALR parser that builds the AST as it reduces.

One parser per thread and kind (its `Lowering` keeps the state of the text being parsed). The plain
parser drops comments; the formatter's keeps them (`collected_comments`). The plain parser's LALR
tables are kept in the temporary folder (lark's ``cache``, keyed by the grammar's hash): a cold
start loads them instead of building them again. The formatter's is built from the grammar (a
cached one has no grammar object, which hypothesis's `from_lark` reads).
"""

from __future__ import annotations

import re
import threading

from lark import Lark, Token

from .._resources import shipped_dir
from .engines import compiled_by_default, plugins
from .lower import Lowering, argument_layouts

_LOCAL = threading.local()


def _collect_comment(token: Token) -> Token:
    _LOCAL.comments.append(token)
    return token


def _parser(keep_comments: bool = False, compiled: bool | None = None) -> Lark:
    """This thread's parser (built on first use); ``compiled`` picks the engine (`engines`; None: the
    compiled one where installed)."""
    if compiled is None:
        compiled = compiled_by_default()
    kind = f"{'commented' if keep_comments else 'plain'}_{'compiled' if compiled else 'pure'}"
    found = getattr(_LOCAL, kind, None)
    if found is None:
        grammar = (shipped_dir("grammar") / "deid.lark").read_text(encoding="utf-8")
        # the terminals the grammar names; the others are its quoted keywords and punctuation
        lowering = Lowering(frozenset(re.findall(r"^([A-Z_][A-Z0-9_]*)(?:\.\d+)?\s*:", grammar, re.M)))
        callbacks = {"COMMENT": _collect_comment} if keep_comments else {}
        found = Lark(grammar, parser="lalr", strict=True, maybe_placeholders=True, keep_all_tokens=True,
                     transformer=lowering, lexer_callbacks=callbacks, cache=not keep_comments, **plugins(compiled))
        lowering.layouts = argument_layouts(found.rules, lowering.named)
        setattr(_LOCAL, kind, found)
    return found


def collected_comments() -> list[Token]:
    """Start collecting the comments the comment-keeping parser reads in this thread; the list fills as it parses."""
    _LOCAL.comments = []
    return _LOCAL.comments
