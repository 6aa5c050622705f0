"""Generate the collection, de-identify it with RULES through the command line, export the
crosswalks and print the per-check table:

    PYTHONPATH=$PWD python -m tests.midib [-r research] [--patients 4] [--seed 0] [--failures]
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from .run import run_and_score
from .score import failures, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--rules", default="research")
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--failures", action="store_true", help="list failed checks by type and path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_and_score(tmp, args.rules, args.seed, args.patients)
    print(f"rules {args.rules}, seed {args.seed}, {args.patients} patients")
    print(table(results))
    if args.failures:
        print("\n".join(failures(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
