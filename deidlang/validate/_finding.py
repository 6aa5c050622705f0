"""A finding of a proof obligation, with the statement that caused it."""

from __future__ import annotations

from dataclasses import dataclass

from ..plan import Origin


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    message: str
    origin: Origin | None = None
    help: str | None = None
    #: the element the finding is about, and whether a `waive` of it would answer the finding (the minimum's)
    tag: int | None = None
    waivable: bool = False

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self) -> str:
        head = f"{self.origin.source}:{self.origin.line}:{self.origin.col}: " if self.origin else ""
        out = [f"{head}{self.severity}: {self.message}"]
        if self.origin and self.origin.text:
            out.append(f"  {self.origin.line:>4} | {self.origin.text}")
        if self.help:
            out.append(f"  help: {self.help}")
        return "\n".join(out)
