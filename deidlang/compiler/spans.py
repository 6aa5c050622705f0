"""Where inside a statement an error points: at the argument or the word that is wrong, not the line."""

from __future__ import annotations

import re

from .. import ast
from ..errors import Span


def part(span: Span, text: str, pattern: str) -> Span:
    """The span of the last match of ``pattern`` inside a one-line statement (the statement's own
    span when there is none): errors about an argument point at the argument."""
    found = None
    for found in re.finditer(pattern, text[span.start:span.end]):
        pass
    if found is None or span.line != span.end_line:
        return span
    start, end = span.start + found.start(), span.start + found.end()
    return Span(span.source, start, end, span.line, span.col + found.start(), span.line, span.col + found.end())


def argument_span(stmt: ast.Rule, text: str) -> Span:
    """Where a rule's argument is written: after its selectors and except list, before its condition."""
    span = stmt.span
    start = max(sel.span.end for sel in (*stmt.selectors, *stmt.excepts))
    end = text.rfind("if", start, stmt.condition.span.start) if stmt.condition is not None else span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if span.line != span.end_line or start >= end:
        return span
    return Span(span.source, start, end, span.line, span.col + start - span.start, span.line,
                span.col + end - span.start)
