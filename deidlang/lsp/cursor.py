"""What lies under the editor's cursor: a word, a tag, a string or a comment on the current line.

Hover and completion are asked about text being typed, which often does not parse yet (an unclosed
string, half a keyword), so this looks at the one line only. It decides nothing about meaning: the
compiler's analysis does that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

_TAG = re.compile(r"\([0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}\)|[0-9A-Fa-fxX]{4},[0-9A-Fa-fxX]{4}(?![0-9A-Za-z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"?')


@dataclass(frozen=True)
class Token:
    kind: str  # word | tag | string | comment | other
    text: str
    line: int  # from 0
    start: int  # columns from 0, end exclusive
    end: int

    @property
    def range(self) -> types.Range:
        return types.Range(types.Position(self.line, self.start), types.Position(self.line, self.end))

    @property
    def closed(self) -> bool:
        """A string has its closing quote."""
        return self.kind != "string" or (len(self.text) > 1 and self.text.endswith('"'))


def tokens(line: str, number: int = 0) -> list[Token]:
    """The line's tokens, left to right (spaces dropped)."""
    out, pos = [], 0
    while pos < len(line):
        ch = line[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch == "#":
            out.append(Token("comment", line[pos:], number, pos, len(line)))
            break
        for kind, pattern in (("string", _STRING), ("tag", _TAG), ("word", _WORD)):
            m = pattern.match(line, pos)
            if m and (kind != "string" or ch == '"'):
                out.append(Token(kind, m.group(), number, pos, m.end()))
                pos = m.end()
                break
        else:
            out.append(Token("other", ch, number, pos, pos + 1))
            pos += 1
    return out


def line_of(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line] if 0 <= line < len(lines) else ""


def token_at(text: str, position: types.Position) -> Token | None:
    """The token the cursor is in or touches at its end (a word being typed)."""
    found = None
    for token in tokens(line_of(text, position.line), position.line):
        if token.start <= position.character <= token.end:
            if token.start < position.character or found is None:
                found = token
        if token.start > position.character:
            break
    return found


def before(text: str, position: types.Position) -> list[Token]:
    """The tokens of the current statement before the cursor (a `;` starts a new statement)."""
    line = line_of(text, position.line)[: position.character]
    found = tokens(line, position.line)
    starts = [i for i, t in enumerate(found) if t.text == ";"]
    return found[starts[-1] + 1:] if starts else found
