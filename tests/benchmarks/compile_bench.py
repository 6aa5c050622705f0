"""How long a long rule file takes to compile, phase by phase (opt-in; not part of the test run).

    python -m tests.benchmarks.compile_bench                  # 100,000 lines
    python -m tests.benchmarks.compile_bench --lines 10000 20000 50000 100000

The rule text is a mix of the shipped rulesets' rule forms (every rule, waiver, reject and pixel line
of `rulesets/*.deid` and of the every-action fixture, in order, repeated until the size is reached)
under a header, with basic-profile included at the end (so the minimum is proved whatever the size).
Repeats are kept as they are: a line repeated later overrides the earlier one, so the shadowing check
has work to do. Printed per size: lines, bytes, and CPU seconds of this process (less disturbed than
wall time on a shared machine) for parse (text to AST), compile (AST to plan, the parse already done),
prove (the obligations), hash (canonical JSON and its sha256) and the whole of what `deidlang check`
does (`deidlang.compile` and the plan hash) from a cold parse cache, plus the total time per line
relative to the first size (1.0 = linear). The first line says which engine runs lark's tables
(lark-cython's where installed, else lark's own; ``DEIDLANG_PURE=1`` forces lark's own).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SKIP = re.compile(r"\s*(ruleset|include|require|default|code)\b")


def rule_lines() -> list[str]:
    """Every statement line of the shipped rulesets and the every-action fixture that a site file
    could repeat (no headers, includes, requirements, defaults or codes)."""
    files = [*sorted((ROOT / "rulesets").glob("*.deid")), ROOT / "tests/fixtures/plans/every-action.deid"]
    return [line for path in files for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#") and not _SKIP.match(line)]


def rule_text(lines: int) -> str:
    """A rule file of ``lines`` lines (at least 2) made of the shipped rule forms."""
    forms = rule_lines()
    body = [forms[i % len(forms)] for i in range(max(lines - 2, 0))]
    return "\n".join(['ruleset "bench" version "1.0.0"', *body, 'include "basic-profile"']) + "\n"


def phases(text: str) -> dict[str, float]:
    """Seconds of each phase for one rule text (compiled from the working directory)."""
    import deidlang
    from deidlang.compiler import compile_text
    from deidlang.syntax import parse, parse_cached
    from deidlang.validate import validate

    def timed(step: Callable[[], object]) -> tuple[float, object]:
        start = time.process_time()
        result = step()
        return time.process_time() - start, result

    out = {}
    parse_cached.cache_clear()
    out["parse"], _ = timed(lambda: parse(text, "bench.deid"))
    parse_cached(text, "<string>")  # warm: the next phase is the compiler alone
    out["compile"], plan = timed(lambda: compile_text(text))
    out["prove"], _ = timed(lambda: validate(plan))
    out["hash"], _ = timed(lambda: hashlib.sha256(plan.canonical_json().encode()).hexdigest())
    parse_cached.cache_clear()
    out["total"], _ = timed(lambda: deidlang.compile(text).plan_hash)
    return out


def engine() -> str:
    """Which engine runs lark's tables in this process."""
    try:
        from deidlang.syntax.engines import compiled_by_default
    except ImportError:  # a version from before the choice existed
        return "lark's own Python engine"
    return "lark-cython's compiled engine" if compiled_by_default() else "lark's own Python engine"



def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--lines", type=int, nargs="+", default=[100_000])
    sizes = args.parse_args(argv).lines
    print(f"parser: {engine()}; CPU seconds")
    print(f"{'lines':>8} {'bytes':>10} {'parse':>7} {'compile':>7} {'prove':>7} {'hash':>7} {'total':>7}  "
          "per-line vs first")
    first = None
    for size in sizes:
        text = rule_text(size)
        t = phases(text)
        per_line = t["total"] / size
        first = first or per_line
        print(f"{size:>8} {len(text.encode()):>10} {t['parse']:>7.2f} {t['compile']:>7.2f} {t['prove']:>7.2f} "
              f"{t['hash']:>7.2f} {t['total']:>7.2f}  {per_line / first:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
