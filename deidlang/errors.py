"""Errors and source spans shared by every layer.

The library raises these; only the command line prints them. Every error about a rule file carries a
`Span` so that it renders as ``file:line:col: message`` followed by the source line and a caret.
Messages follow one style: lowercase, one line, no final period, user input in backticks, advice in
``help``. No message ever contains a DICOM value or a key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Where a piece of rule text came from: a file (or `<string>`), offsets, 1-based line/column."""

    source: str
    start: int
    end: int
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}"


class DeidError(Exception):
    """Base of every error deidlang raises on purpose."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, help: str | None = None,
                 suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.help = help
        #: texts that could replace the one under ``span`` to fix the error, best first (an editor offers them)
        self.suggestions = suggestions
        self.text: str | None = None  # the source text the span points into, attached by the loader

    def with_text(self, text: str | None) -> "DeidError":
        """Attach the source text so that `render` can draw the offending line."""
        if self.text is None:
            self.text = text
        return self

    def render(self) -> str:
        """``file:line:col: error: message``, the source line, a caret under the span, then help."""
        head = f"{self.span}: " if self.span else ""
        out = [f"{head}{self.kind}: {self.message}"]
        if self.span and self.text is not None:
            lines = self.text.splitlines() or [""]
            if 1 <= self.span.line <= len(lines):
                line = lines[self.span.line - 1].rstrip("\n")
                width = 1
                if self.span.end_line == self.span.line:
                    width = max(1, self.span.end_col - self.span.col)
                out.append(f"  {self.span.line:>4} | {line}")
                out.append("       | " + " " * (self.span.col - 1) + "^" + "~" * (width - 1))
        if self.help:
            out.append(f"  help: {self.help}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class ErrorLevel(enum.Enum):
    """What the compiler does with errors (as sqlglot's ``ErrorLevel``).

    ``IMMEDIATE`` raises the first; ``RAISE`` (the default) reads the whole file and raises every
    error together (`RuleErrors`); ``COLLECT`` raises nothing and returns them with the result.
    """

    IMMEDIATE = "immediate"
    RAISE = "raise"
    COLLECT = "collect"


class RuleError(DeidError):
    """Anything wrong with a rule file: the one error type the parser and compiler raise."""


class DeidSyntaxError(RuleError):
    """The text does not follow the grammar."""


class CompileError(RuleError):
    """The text parses but does not make a valid plan (unknown keyword, bad VR, include cycle...)."""


class RuleErrors(RuleError):
    """Several errors of one compilation, in file order; it reads as the first of them."""

    def __init__(self, errors: list[RuleError]) -> None:
        first = errors[0]
        super().__init__(f"{first.message} (and {len(errors) - 1} more)", first.span, first.help)
        self.errors = errors

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


class ObligationError(RuleError):
    """A proof obligation failed: a validated plan would let a protected element through."""

    def __init__(self, findings: list) -> None:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(findings[0].message + more, None, findings[0].help)
        self.findings = findings

    def render(self) -> str:
        """Every failed obligation, each with its file:line and source line."""
        return "\n".join(f.render() for f in self.findings)


class EngineError(DeidError):
    """A dataset cannot be de-identified as the plan says; the file is reported, never written."""


class Rejected(EngineError):
    """A `reject` rule matched: the file is quarantined, not written."""


class InputError(DeidError):
    """A file or folder given to the runner cannot be used (unreadable, not DICOM, output clash)."""
