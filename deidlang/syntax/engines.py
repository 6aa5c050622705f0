"""Which engine runs lark's LALR tables: lark-cython's compiled one where it is installed (the
``fast`` extra), else lark's own Python.

Both are lark: the same grammar, the same tables, the same lexer rules and exceptions; lark-cython
only runs them in C (its tokens are its own class, not `str`). The AST and every error are the same
either way (``tests/test_syntax.py`` parses with both and compares). ``DEIDLANG_PURE=1`` runs
lark's own, as it runs the pure-Python walker.
"""

from __future__ import annotations

from lark import Token

from .._walker import forced_pure

try:
    import lark_cython
except ImportError:  # not installed: lark's own Python engine
    lark_cython = None

#: the classes a token can have, whichever engine made it
TOKENS: tuple[type, ...] = (Token,) if lark_cython is None else (Token, lark_cython.lark_cython.Token)


def compiled_by_default() -> bool:
    """Whether parsers use the compiled engine unless told otherwise."""
    return lark_cython is not None and not forced_pure()


def plugins(compiled: bool) -> dict:
    """lark's options that select the engine."""
    if not compiled:
        return {}
    if lark_cython is None:
        raise RuntimeError("lark-cython is not installed (pip install 'deidlang[fast]')")
    return {"_plugins": lark_cython.plugins}
