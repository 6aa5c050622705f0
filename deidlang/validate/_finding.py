"""A finding of a proof obligation, with the statement that caused it."""

from __future__ import annotations

from dataclasses import dataclass

from ..plan import Origin


@dataclass(frozen=True)
class Finding:
    """``columns`` ([col, end_col) on the origin's line) narrow the finding to one selector."""

    severity: str  # "error" or "warning"
    message: str
    origin: Origin | None = None
    help: str | None = None
    #: the element the finding is about, and whether a `waive` of it would answer the finding (the minimum's)
    tag: int | None = None
    waivable: bool = False
    columns: tuple[int, int] | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def col(self) -> int:
        """The 1-based column the finding points at (its selector's, else its statement's)."""
        return self.columns[0] if self.columns else self.origin.col if self.origin else 1

    def render(self) -> str:
        """``file:line:col: severity: message``, the line, a caret under the selector, then help."""
        head = f"{self.origin.source}:{self.origin.line}:{self.col}: " if self.origin else ""
        out = [f"{head}{self.severity}: {self.message}"]
        if self.origin and self.origin.text:
            out.append(f"  {self.origin.line:>4} | {self.origin.text}")
            start, end = self.columns or (self.origin.col, len(self.origin.text) + 1)
            out.append("       | " + " " * (start - 1) + "^" + "~" * max(0, end - start - 1))
        if self.help:
            out.append(f"  help: {self.help}")
        return "\n".join(out)
