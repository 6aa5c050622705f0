"""What `deidlang check` would print about a document, as LSP diagnostics.

Compile errors and proof findings located in this document get their own range; those located in an
included file are shown on the `include` line that brought the file in, naming the place, with a
related location pointing into that file. A diagnostic's ``data`` carries what a quick fix needs: the
replacements the compiler suggests, or the element a `waive` would name.
"""

from __future__ import annotations

from lsprotocol import types

from ..dictionary import keyword_of
from ..errors import Span
from ..plan import Origin
from ..validate import Finding
from .analysis import Analysis, span_range, uri_of

SOURCE = "deidlang"
_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


def diagnostics(analysis: Analysis) -> list[types.Diagnostic]:
    """Every compile error, proof finding and warning of the document, in the order `check` gives them."""
    out = []
    for err in analysis.errors:
        # a replacement fits the error's own span, so it is offered only where the span is in this document
        here = err.suggestions and err.span is not None and err.span.source == analysis.source
        data = {"suggestions": list(err.suggestions)} if here else None
        out.append(_placed(analysis, err.message, err.help, "error", err.span, data))
    for finding in analysis.findings:
        out.append(_finding(analysis, finding))
    return out


def _finding(analysis: Analysis, finding: Finding) -> types.Diagnostic:
    data = None
    if finding.waivable and finding.tag is not None:
        data = {"waive": keyword_of(finding.tag) or f"({finding.tag >> 16:04X},{finding.tag & 0xFFFF:04X})"}
    where: Span | Origin | None = finding.origin
    if finding.origin is not None and finding.columns:  # narrowed to the selector on the statement's line
        line, (start, end) = finding.origin.line, finding.columns
        where = Span(finding.origin.source, 0, 0, line, start, line, end)
    return _placed(analysis, finding.message, finding.help, finding.severity, where, data)


def _placed(analysis: Analysis, message: str, help_: str | None, severity: str, where: Span | Origin | None,
            data: dict | None) -> types.Diagnostic:
    text = message + (f"\nhelp: {help_}" if help_ else "")
    diagnostic = types.Diagnostic(_first_line(analysis.text), text, _SEVERITY[severity], source=SOURCE, data=data)
    if where is None:
        return diagnostic  # about the file as a whole (e.g. what its default lets through)
    if where.source == analysis.source:
        diagnostic.range = _range(analysis, where)
        return diagnostic
    # in an included file: shown on the include line that brought it in, and pointed to exactly
    diagnostic.message = f"{where.source}:{where.line}: {text}"
    path = analysis.path_of(where.source)
    if path is not None:
        diagnostic.related_information = [types.DiagnosticRelatedInformation(
            types.Location(uri_of(path), _range(analysis, where)), message)]
        include = analysis.includer(path)
        if include is not None:
            diagnostic.range = span_range(include.span)
    return diagnostic


def _range(analysis: Analysis, where: Span | Origin) -> types.Range:
    return span_range(where) if isinstance(where, Span) else analysis.origin_range(where)


def _first_line(text: str) -> types.Range:
    first = text.split("\n", 1)[0]
    return types.Range(types.Position(0, 0), types.Position(0, len(first)))

