"""The grammar (``grammar/deid.lark``) as a lark LALR parser that builds the AST as it reduces.

One parser per thread and kind (its `Lowering` keeps the state of the text being parsed). The plain
parser drops comments; the formatter's keeps them (`collected_comments`). The plain parser's LALR
tables are kept in the temporary folder (lark's ``cache``, keyed by the grammar's hash): a cold
start loads them instead of building them again. The formatter's is built from the grammar (a
cached one has no grammar object, which hypothesis's `from_lark` reads).
"""

from __future__ import annotations

import operator
import re
import threading

from lark import Lark, Token
from lark.grammar import Rule

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
        _quicker_reductions(found)
        setattr(_LOCAL, kind, found)
    return found


class _Reduction(Rule):
    """A rule of one parser, equal only to itself. The LALR loop looks a rule up in its callbacks and
    compares it with the end state on every reduction (about six a line); lark's `Rule` hashes and
    compares in Python, this in C. Within one parser every rule is its own object, so identity is
    equality."""

    __slots__ = ()
    __hash__ = object.__hash__
    __eq__ = object.__eq__


#: the value of a one-child reduction that keeps its child (``?statement: header``)
_ONLY_CHILD = operator.itemgetter(0)


def _quicker_reductions(parser: Lark) -> None:
    """Make lark's reductions cheaper without changing what they return: rules compare by identity
    (`_Reduction`), and a ``?rule`` with one child (neither inlined nor optional) passes it up
    through a C function instead of lark's Python wrapper, which returns the child all the same."""
    callbacks = parser._callbacks  # the very dict the LALR parser reads: changed in place
    entries = list(callbacks.items())
    callbacks.clear()
    for rule, callback in entries:
        if isinstance(rule, Rule):
            rule.__class__ = _Reduction
            (symbol,) = rule.expansion if len(rule.expansion) == 1 else (None,)
            if (rule.options.expand1 and not rule.alias and symbol is not None and not rule.options.empty_indices
                    and (symbol.is_term or not symbol.name.startswith("_"))):
                callback = _ONLY_CHILD
        callbacks[rule] = callback


def collected_comments() -> list[Token]:
    """Start collecting the comments the comment-keeping parser reads in this thread; the list fills as it parses."""
    _LOCAL.comments = []
    return _LOCAL.comments
