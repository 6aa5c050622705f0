"""A Pygments lexer for deidlang rule files (``*.deid``), for docs and terminals.

    pygmentize -l editors/pygments/deidlang_lexer.py:DeidLexer -x rules.deid

It colours what `grammar/deid.lark` defines: comments, strings, tags and masks, numbers, statement words,
actions and element keywords. It stands alone (it imports nothing of deidlang); `tests/test_editors.py`
checks its word lists against the grammar and that it reads every shipped ruleset with no error token.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["DeidLexer"]

#: The actions of a rule (a hyphenated one before its prefix).
ACTIONS = ("dummy-date", "shift-date", "round-age", "truncate-date", "truncate-time", "remove", "empty", "dummy",
           "keep", "uid", "hash", "clean", "replace", "pseudonym")
#: The other words of the grammar.
KEYWORDS = ("ruleset", "version", "include", "require", "minimum", "waive", "because", "default", "code", "reject",
            "blackout", "detected-text", "burn", "overlays", "curves", "complete", "except", "if", "and", "or", "not",
            "in", "exists", "contains", "startswith", "with", "by", "days", "patient", "within", "prefix", "length",
            "to", "years", "year", "month", "hour", "minute", "group", "vr", "private")
_END = r"(?![A-Za-z0-9_-])"


class DeidLexer(RegexLexer):
    name = "deidlang"
    aliases = ["deid", "deidlang"]
    filenames = ["*.deid"]
    mimetypes = ["text/x-deid"]

    tokens = {
        "root": [
            (r"[ \t\r\f]+", Whitespace),
            (r"\n", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            # a tag or mask, but not the first two numbers of a region such as 1000,2000,300,40
            (r"\([0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}\)|[0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}(?![0-9A-Za-z]|,[0-9])",
             Name.Constant),
            (r"(group)([ \t]+)([0-9A-Fa-f]{4})" + _END, bygroups(Keyword, Whitespace, Number.Hex)),
            (words(ACTIONS, suffix=_END), Name.Builtin),
            (words(KEYWORDS, suffix=_END), Keyword),
            (r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", Number),
            (r"[A-Za-z][A-Za-z0-9_]*", Name.Variable),
            (r"==|!=|<=|>=|<|>", Operator),
            (r"[,;/()*]", Punctuation),
        ],
    }
