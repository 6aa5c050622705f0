"""`deidlang-test-hook`: the pre-commit hook that runs every rule file's tests.

For each ``DIR/NAME.deid`` with a ``DIR/tests/NAME.yaml`` beside it, run `deidlang test` on the pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import main


def entrypoint() -> None:
    code = 0
    for rules in sorted(Path(".").rglob("*.deid")):
        cases = rules.parent / "tests" / f"{rules.stem}.yaml"
        if cases.is_file():
            code = max(code, main(["test", str(rules), str(cases)]))
    sys.exit(code)
