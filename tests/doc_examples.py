"""The shell and Python examples of README.md and docs/*.md, as `tests/test_docs.py` runs them.

Convention (CONTRIBUTING.md, "Examples in the docs"):

- A block fenced ```sh or ```python runs, in a new temporary folder that holds a copy of
  `examples/` and `rulesets/tests/`, with `deidlang` and `python` the checkout's. The blocks of one
  page run in order in the same folder, so a page can make a key in one block and use it in the next.
- A command line may end with ``# -> EXPECTED``: ``exit N`` (its exit code; else it must be 0) and/or
  ``"TEXT"`` (its output, stdout and stderr, contains TEXT), e.g. ``# -> exit 1, "WEAKER"``.
- ```sh no-run (or ```python no-run) marks a block that cannot run here (a cluster, a hospital PACS,
  systemd, an editor); ```sh setup marks the set-up commands, which make a virtual environment and
  install (checked on a clean clone, not in every test run).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.S | re.M)
_EXPECT = re.compile(r"\s#\s->\s(.*)$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    marks: frozenset[str]
    body: str

    @property
    def runs(self) -> bool:
        return self.language in ("sh", "python") and not self.marks & {"no-run", "setup"}

    def __str__(self) -> str:
        return self.at(0)

    def at(self, line: int) -> str:
        """``page:line`` of a line of the block (0: its opening fence)."""
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line + line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page, text.count("\n", 0, m.start()) + 1, m[1], frozenset(m[2].split()), m[3])
            for m in _FENCE.finditer(text)]


@dataclass(frozen=True)
class Command:
    line: int  # in the block, from 1
    text: str
    exit: int
    output: tuple[str, ...]


def commands(block: Block) -> list[Command]:
    """The block's commands (a line ending in a backslash continues on the next), each with what it
    must give."""
    out, pending, start = [], "", 0
    for number, raw in enumerate(block.body.splitlines(), 1):
        if not pending:
            start = number
        pending += raw
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        line, pending = pending, ""
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        expect = _EXPECT.search(line)
        spec = expect[1] if expect else ""
        code = re.search(r"\bexit (\d+)", spec)
        out.append(Command(start, line[:expect.start()] if expect else line, int(code[1]) if code else 0,
                           tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', spec))))
    return out


def shell_script(block: Block, log: Path) -> str:
    """A bash script that runs each command in the current shell (so `cd`, variables and umask carry
    over), and stops at the first whose exit code or output is not what the text says."""
    lines = []
    for c in commands(block):
        where = f"{block.at(c.line)}: {c.text.strip()}"
        lines.append(f"{{ {c.text}\n}} >{log} 2>&1 </dev/null; rc=$?; cat {log}")
        failed = shlex.quote(f"FAILED {where}: exit code ")
        lines.append(f'[ "$rc" = {c.exit} ] || {{ echo {failed}"$rc, the text says {c.exit}" >&2; exit 99; }}')
        for text in c.output:
            failed = shlex.quote(f"FAILED {where}: the output does not hold {text!r}")
            lines.append(f"grep -qF -- {shlex.quote(text)} {log} || {{ echo {failed} >&2; exit 99; }}")
    return "\n".join(lines) + "\n"
