"""Code actions and formatting: apply the compiler's suggestion, waive an element of the minimum with
a reason still to write, and format the document exactly as `deidlang fmt` does."""

from __future__ import annotations

from lsprotocol import types

from .. import ast
from ..errors import RuleError
from ..review.fmt import format_text
from .analysis import Analysis

_QUICKFIX = types.CodeActionKind.QuickFix


def code_actions(analysis: Analysis, uri: str, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    out: list[types.CodeAction] = []
    waived: set[str] = set()
    for diagnostic in diagnostics:
        data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        for i, text in enumerate(data.get("suggestions", ())):
            out.append(types.CodeAction(f"Replace with `{text}`", kind=_QUICKFIX, diagnostics=[diagnostic],
                                        is_preferred=i == 0, edit=_edit(uri, types.TextEdit(diagnostic.range, text))))
        keyword = data.get("waive")
        if keyword and keyword not in waived:
            waived.add(keyword)
            out.append(types.CodeAction(f"Waive `{keyword}` (write why)", kind=_QUICKFIX, diagnostics=[diagnostic],
                                        edit=_edit(uri, _waiver(analysis, keyword))))
    edits = formatting(analysis)
    if edits:
        out.append(types.CodeAction("Format document (deidlang fmt)", kind=types.CodeActionKind.Source,
                                    edit=_edit(uri, *edits)))
    return out


def formatting(analysis: Analysis) -> list[types.TextEdit]:
    """One edit replacing the document by its canonical form; none when it is canonical or does not parse."""
    try:
        formatted = format_text(analysis.text, analysis.source)
    except RuleError:
        return []
    if formatted == analysis.text:
        return []
    lines = analysis.text.split("\n")
    whole = types.Range(types.Position(0, 0), types.Position(len(lines) - 1, len(lines[-1])))
    return [types.TextEdit(whole, formatted)]


def _waiver(analysis: Analysis, keyword: str) -> types.TextEdit:
    """``waive KEYWORD because ""`` after the document's last waiver, else at its end."""
    line = f'waive {keyword} because ""'
    waivers = [s for s in analysis.program.statements if isinstance(s, ast.Waive)] if analysis.program else []
    if waivers:
        at = types.Position(waivers[-1].span.end_line, 0)
        return types.TextEdit(types.Range(at, at), line + "\n")
    lines = analysis.text.split("\n")
    end = types.Position(len(lines) - 1, len(lines[-1]))
    return types.TextEdit(types.Range(end, end), ("" if analysis.text.endswith("\n") or not analysis.text else "\n")
                          + line + "\n")


def _edit(uri: str, *edits: types.TextEdit) -> types.WorkspaceEdit:
    return types.WorkspaceEdit(changes={uri: list(edits)})
