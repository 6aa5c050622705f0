"""`deidlang fmt`: one canonical layout for rule files.

One statement per line; single spaces; `, ` between list items; trailing comments of consecutive lines
aligned in one column, two spaces after the longest statement (as gofmt does); strings in double quotes; tags as
``(GGGG,EEEE)`` in upper-case hex with a lower-case ``x`` in masks; the selectors of a statement
sorted (their order never changes what a rule does, nor the plan hash); parentheses in conditions only
where precedence needs them; defaults of ``pseudonym`` left out. Comments stay where they were: a
comment after a statement stays at the end of its line, a comment on its own line stays on its own
line before the statement that followed it. Runs of blank lines become one. Formatting is idempotent.
"""

from __future__ import annotations

from .. import ast
from ..printing import condition_text, pixel_text, quote, selector_text
from ..syntax import parse_with_comments

_KIND_ORDER = {ast.Path: 0, ast.Keyword: 1, ast.TagPattern: 1, ast.CreatorElement: 2, ast.Group: 3,
               ast.VRClass: 4, ast.AnyPrivate: 5, ast.Named: 6}


def format_text(text: str, source: str = "<string>") -> str:
    """The canonical form of rule text (raises `RuleError` for text that does not parse).

    >>> format_text('remove  PatientName,(0010,0020);keep vr PN if (Modality=="US")  # why')
    'remove (0010,0020), PatientName\\nkeep vr PN if Modality == "US"  # why\\n'
    """
    program, comments = parse_with_comments(text, source)
    items: list[tuple[int, int, str, str]] = []  # (line, order, code, trailing comment)
    trailing: dict[int, list[str]] = {}
    last_on_line = {s.span.end_line: i for i, s in enumerate(program.statements)}
    for comment in comments:
        index = last_on_line.get(comment.line)
        if index is not None and program.statements[index].span.end_col <= comment.col:
            trailing.setdefault(index, []).append(comment.text)
        else:
            items.append((comment.line, 0, comment.text, ""))
    for i, stmt in enumerate(program.statements):
        items.append((stmt.span.line, 1 + i, statement(stmt), " ".join(trailing.get(i, ()))))
    items.sort()
    lines: list[tuple[str, str]] = []
    previous_line = None
    for line_no, _, code, comment in items:
        if previous_line is not None and line_no > previous_line + 1 and _has_blank(text, previous_line, line_no):
            lines.append(("", ""))
        lines.append((code, comment))
        previous_line = max(line_no, previous_line or 0)
    return "".join(line + "\n" for line in _align(lines))


def _align(lines: list[tuple[str, str]]) -> list[str]:
    """Lines with their trailing comments; consecutive commented lines share one comment column."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and lines[j][1]:
            j += 1
        if j == i:
            out.append(lines[i][0])
            i += 1
            continue
        width = max(len(code) for code, _ in lines[i:j]) + 2
        out += [code.ljust(width) + comment for code, comment in lines[i:j]]
        i = j
    return out


def _has_blank(text: str, after: int, before: int) -> bool:
    lines = text.splitlines()
    return any(not lines[n - 1].strip() for n in range(after + 1, before) if n - 1 < len(lines))


def statement(stmt: ast.Statement) -> str:
    """One statement in canonical form."""
    match stmt:
        case ast.Header(name=name, version=version):
            return f"ruleset {quote(name)} version {quote(version)}"
        case ast.Include(target=target):
            return f"include {quote(target)}"
        case ast.Require(minimum=minimum, reason=reason):
            return f"require minimum {minimum}" + (f" because {quote(reason)}" if reason else "")
        case ast.Waive(selectors=selectors, reason=reason):
            return f"waive {selector_list(selectors)} because {quote(reason)}"
        case ast.Default(action=action):
            return f"default {action}"
        case ast.Code(value=value):
            return f"code {value}"
        case ast.Reject(condition=condition, reason=reason):
            return f"reject if {condition_text(condition)}" + (f" because {quote(reason)}" if reason else "")
        case ast.PixelRule(kind=kind, regions=regions, complete=complete, condition=condition):
            return pixel_text(kind, regions, complete) + _if(condition)
        case ast.Rule():
            return _rule(stmt)
    raise AssertionError(stmt)


def _rule(rule: ast.Rule) -> str:
    head = f"{rule.action} {selector_list(rule.selectors)}"
    if rule.excepts:
        head += f" except {selector_list(rule.excepts)}"
    if rule.argument is not None:
        head += rule.argument.text()
    return head + _if(rule.condition)


def selector_list(selectors: tuple[ast.Selector, ...]) -> str:
    texts = sorted((_KIND_ORDER[type(s)], selector_text(s)) for s in selectors)
    return ", ".join(dict.fromkeys(text for _, text in texts))


def _if(condition: ast.Condition | None) -> str:
    return f" if {condition_text(condition)}" if condition is not None else ""
