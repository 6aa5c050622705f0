"""Golden files: what the compiler and the formatter produce, pinned so that a change shows as a diff.

`tests/test_golden.py` compares; ``python -m tests.golden`` (from the repository root, with
``PYTHONPATH=.``) writes them again. Regenerate only on purpose, and say why in the commit: a changed
plan hash changes what every output records in DeidentificationMethod.

- ``fixtures/plans/<name>.plan.json``: the canonical plan (what the hash covers), indented, of each
  shipped ruleset and each ``fixtures/plans/*.deid`` (``every-action.deid``: every action and
  argument form); ``fixtures/plans/hashes.txt``:
  their plan hashes.
- ``fixtures/fmt/<name>.deid`` → ``<name>.formatted.deid``: formatter input and its canonical form.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deidlang.compiler import compile_file, shipped_rulesets
from deidlang.review.fmt import format_text

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "tests" / "fixtures" / "plans"
FMT = ROOT / "tests" / "fixtures" / "fmt"


def plan_sources() -> dict[str, str | Path]:
    """Name of each pinned plan -> what compiles to it (a shipped name or a path)."""
    sources: dict[str, str | Path] = {name: name for name in shipped_rulesets()}
    sources |= {f"fixture-{p.stem}": p for p in sorted(PLANS.glob("*.deid"))}
    return sources


def plans() -> dict[str, tuple[str, str]]:
    """Name -> (indented canonical plan JSON, plan hash)."""
    out = {}
    for name, source in plan_sources().items():
        plan = compile_file(source)
        text = _lines(plan.to_dict(with_origins=False))
        out[name] = (text, plan.plan_hash)
    return out


def _lines(data: dict) -> str:
    """Sorted-key JSON with one rule (one list item) per line: small, and a change is a one-line diff."""
    out = ["{"]
    for i, (key, value) in enumerate(sorted(data.items())):
        comma = "," if i < len(data) - 1 else ""
        if isinstance(value, list) and value:
            items = [json.dumps(v, sort_keys=True) for v in value]
            out += [f" {json.dumps(key)}: ["] + [f"  {item}," for item in items[:-1]] + [f"  {items[-1]}", f" ]{comma}"]
        else:
            out.append(f" {json.dumps(key)}: {json.dumps(value, sort_keys=True)}{comma}")
    return "\n".join(out) + "\n}\n"


def hashes_text(pinned: dict[str, tuple[str, str]]) -> str:
    return "".join(f"{digest}  {name}\n" for name, (_, digest) in sorted(pinned.items()))


def formatted() -> dict[Path, str]:
    """Each formatter input's golden output path -> what `format_text` makes of the input now."""
    return {path.with_suffix(".formatted.deid"): format_text(path.read_text(encoding="utf-8"), path.name)
            for path in sorted(FMT.glob("*.deid")) if not path.name.endswith(".formatted.deid")}


def write() -> None:
    pinned = plans()
    for name, (text, _) in pinned.items():
        (PLANS / f"{name}.plan.json").write_text(text, encoding="utf-8")
    (PLANS / "hashes.txt").write_text(hashes_text(pinned), encoding="utf-8")
    for path, text in formatted().items():
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {len(plan_sources())} plans and {len(formatted())} formatter pairs", file=sys.stderr)
