"""How long a long rule file takes to compile, phase by phase (opt-in; not part of the test run).

    python -m tests.benchmarks.compile_bench                  # 100,000 lines
    python -m tests.benchmarks.compile_bench --lines 10000 20000 50000 100000
    python -m tests.benchmarks.compile_bench --mix shipped    # the earlier tables' file

The rule text (``--mix site``, the default) is what a long site file holds: a header, includes of
two shipped rulesets, then statements taken in rounds from each shipped ruleset and the every-action
fixture (150 lines of each file a round, so no one file's forms dominate), every statement form there is: rules of every action,
waivers, rejects, pixel rules, with their comments. Every tenth rule gets one of a few
conditions (comparisons, `in`, `exists`, `and`/`or`/`not`); private safe-list lines name a new
creator in each round (a site's knowledge base lists many vendors' blocks), while public elements
come round again, so later rules override earlier ones (the shadowing check has work to do).
basic-profile is included at the end, so the minimum is proved whatever the size. ``--mix
shipped`` is the file of the earlier tables: every statement line of the shipped files in order,
repeated as it is (96 % of its rules are overridden: one warning each).

Printed per size: lines, bytes, and CPU seconds of this process (less disturbed than wall time on a
shared machine) for parse (text to AST), compile (AST to plan, the parse already done), prove (the
obligations), hash (canonical JSON and its sha256) and the whole of what `deidlang check` does
(`deidlang.compile` and the plan hash) from a cold parse cache, with its wall time beside it, plus
the total time per line relative to the first size (1.0 = linear). ``--check`` also times
`deidlang check FILE` as a command in a new process (its start and its printed warnings included). The first line says which
engine runs lark's tables (lark-cython's where installed, else lark's own; ``DEIDLANG_PURE=1``
forces lark's own).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SKIP = re.compile(r"\s*(ruleset|include|require|default|code)\b")


def _statement_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#") and not _SKIP.match(line)]


def _files() -> list[Path]:
    return [*sorted((ROOT / "rulesets").glob("*.deid")), ROOT / "tests/fixtures/plans/every-action.deid"]


def rule_lines() -> list[str]:
    """Every statement line of the shipped rulesets and the every-action fixture that a site file
    could repeat (no headers, includes, requirements, defaults or codes)."""
    return [line for path in _files() for line in _statement_lines(path)]


_TURN = 150  # lines of each file per round
_EVERY = 10  # every tenth rule gets a condition
#: conditions a site puts on some of its rules
CONDITIONS = ('Modality == "CT"', 'Modality in ("MR", "CT", "PT") and Manufacturer contains "GE"',
              'not BurnedInAnnotation exists', 'Rows <= 512 or Modality != "US"',
              'StudyDescription startswith "RESEARCH" and not (Modality == "SR")')
_COMMENT = re.compile(r'^((?:[^"#]|"[^"]*")*?)(\s*#.*)?$')  # the statement, then its comment (if any)
_CREATOR = re.compile(r'^(\s*\w[\w-]* )"([^"]*)"')  # a private safe-list line: action, then its creator
_CONDITIONAL = re.compile(r"^\s*(remove|empty|dummy-date|dummy|keep|uid|hash|clean|replace|shift-date|pseudonym|"
                          r"round-age|truncate-date|truncate-time)\b(?!.*\bif\b)")


def _site_lines(count: int) -> list[str]:
    """``count`` statements taken in rounds: each round the next `_TURN` lines of every file (all of
    a shorter one), so that no one file's forms dominate (see the module's text)."""
    files = [_statement_lines(path) for path in _files()]
    out, rules, turn = [], 0, 0
    while len(out) < count:
        for lines in files:
            for at in range(turn * _TURN, turn * _TURN + min(_TURN, len(lines))):
                line, wrapped = lines[at % len(lines)], at // len(lines)
                if wrapped:  # a new creator each time round: private blocks of another vendor or version
                    line = _CREATOR.sub(lambda m: f'{m.group(1)}"{m.group(2)} {wrapped}"', line)
                if _CONDITIONAL.match(line):
                    rules += 1
                    if rules % _EVERY == 0:
                        statement, comment = _COMMENT.match(line).groups()
                        line = f"{statement.rstrip()} if {CONDITIONS[rules // _EVERY % len(CONDITIONS)]}{comment or ''}"
                out.append(line)
        turn += 1
    return out[:count]


def rule_text(lines: int, mix: str = "site") -> str:
    """A rule file of ``lines`` lines (at least 2): ``site`` or ``shipped`` (see the module's text)."""
    if mix == "shipped":
        forms = rule_lines()
        body = [forms[i % len(forms)] for i in range(max(lines - 2, 0))]
        return "\n".join(['ruleset "bench" version "1.0.0"', *body, 'include "basic-profile"']) + "\n"
    head = ['ruleset "bench" version "1.0.0"', 'include "retain-safe-private"', 'include "clean-descriptors"']
    body = _site_lines(max(lines - len(head) - 1, 0))
    return "\n".join([*head, *body, 'include "basic-profile"']) + "\n"


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
    parse("remove PatientName")  # the parser built (its tables loaded) before anything is timed
    # the whole first, in a process that holds nothing of an earlier compilation, as `check` would
    parse_cached.cache_clear()
    wall = time.perf_counter()
    out["total"], _ = timed(lambda: deidlang.compile(text).plan_hash)
    out["wall"] = time.perf_counter() - wall
    parse_cached.cache_clear()
    out["parse"], _ = timed(lambda: parse(text, "bench.deid"))
    parse_cached(text, "<string>")  # warm: the next phase is the compiler alone
    out["compile"], plan = timed(lambda: compile_text(text))
    out["prove"], _ = timed(lambda: validate(plan))
    out["hash"], _ = timed(lambda: hashlib.sha256(plan.canonical_json().encode()).hexdigest())
    parse_cached.cache_clear()
    return out


def check_command(text: str) -> tuple[float, float, int]:
    """CPU and wall seconds of ``deidlang check FILE`` in a new process (start, reading, printing
    every warning to a pipe included), and its exit code."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.deid"
        path.write_text(text, encoding="utf-8")
        before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "deidlang", "check", str(path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
        wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall, code


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
    args.add_argument("--mix", choices=("site", "shipped"), default="site")
    args.add_argument("--check", action="store_true", help="also time `deidlang check FILE` in a new process")
    options = args.parse_args(argv)
    print(f"parser: {engine()}; rule file: {options.mix} mix; CPU seconds (total's wall time beside it)")
    print(f"{'lines':>8} {'bytes':>10} {'parse':>7} {'compile':>7} {'prove':>7} {'hash':>7} {'total':>7} {'wall':>7}  "
          "per-line vs first")
    first = None
    for size in options.lines:
        text = rule_text(size, options.mix)
        t = phases(text)
        per_line = t["total"] / size
        first = first or per_line
        print(f"{size:>8} {len(text.encode()):>10} {t['parse']:>7.2f} {t['compile']:>7.2f} {t['prove']:>7.2f} "
              f"{t['hash']:>7.2f} {t['total']:>7.2f} {t['wall']:>7.2f}  {per_line / first:.2f}")
        if options.check:
            cpu, wall, code = check_command(text)
            print(f"{'':>8} `deidlang check` in a new process: {cpu:.2f} CPU s, {wall:.2f} s wall (exit {code})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
