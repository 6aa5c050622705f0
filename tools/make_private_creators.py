"""Write deidlang/data/tcia_private_creators.txt: the private creator names of the TCIA private tag
knowledge base, one a line, for the language server's completion.

    python tools/make_private_creators.py ../shared/reference/tcia_private_tag_kb_2024-02-01.csv

The KB's `element_sig_pattern` is a path of steps joined by `[<n>]`: a public step `(gggg,eeee)` or a
private one `(gggg,"CREATOR",ee)`, where the quote before the creator is often missing. Every row must
parse; the script stops on one that does not.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

_PUBLIC = re.compile(r"\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)")
_PRIVATE = re.compile(r'\([0-9A-Fa-f]{4},"?(.*?)"?,[0-9A-Fa-f]{2}\)')
OUT = Path(__file__).resolve().parent.parent / "deidlang" / "data" / "tcia_private_creators.txt"


def creators(kb: Path) -> list[str]:
    found: set[str] = set()
    with open(kb, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            for step in re.split(r"\[<\d+>\]", row["element_sig_pattern"]):
                if _PUBLIC.fullmatch(step):
                    continue
                match = _PRIVATE.fullmatch(step)
                if match is None:
                    raise SystemExit(f"cannot read the KB pattern {row['element_sig_pattern']!r}")
                if match.group(1).strip():
                    found.add(match.group(1))
    return sorted(found)


def main(kb: str) -> None:
    names = creators(Path(kb))
    header = ("# Private creator names of the TCIA private tag knowledge base, edition 2024-02-01 (TCIA, as published\n"
              "# formatted in MIC-DKFZ/miccai2024_midi-b-submission, Apache-2.0), one a line; written by\n"
              "# tools/make_private_creators.py. Used for completion only: a name here decides nothing.\n")
    OUT.write_text(header + "".join(n + "\n" for n in names), encoding="utf-8")
    print(f"{len(names)} creators -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
