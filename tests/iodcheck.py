"""dciodvfy (David Clunie's dicom3tools) over de-identified copies: the errors an output has that its
input did not have, after normalising what de-identification changes (values, UIDs, numbers)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

_VALUES = re.compile(r'<[^<>]*>|"[^"]*"|\b\d+(\.\d+)*\b')


def available() -> bool:
    return shutil.which("dciodvfy") is not None


def errors(path: str | Path) -> Counter[str] | None:
    """The file's dciodvfy errors, normalised: attribute names kept, values and numbers dropped;
    None when dciodvfy cannot read the file (deflated, truncated: nothing to compare with)."""
    result = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True, errors="replace",
                            timeout=120)
    lines = (result.stdout + result.stderr).splitlines()
    if any("read failed" in line for line in lines):
        return None
    return Counter(_normalise(line) for line in lines if line.startswith("Error"))


def _normalise(line: str) -> str:
    names = [n for n in re.findall(r"<([^<>]*)>", line) if n.startswith("/")]
    text = _VALUES.sub("#", line)
    return f"{text} [{' / '.join(names)}]"


def new_errors(pairs: list[tuple[Path, Path]]) -> dict[str, Counter[str]]:
    """Per output whose input dciodvfy can read: errors (with counts) beyond those its input had."""
    out = {}
    for source, written in pairs:
        before = errors(source)
        if before is None:
            continue
        after = errors(written)
        extra = (Counter({"Error - dciodvfy cannot read the output": 1}) if after is None else after) - before
        if extra:
            out[source.name] = extra
    return out


def run_and_check(inputs: list[Path], folder: Path, rules: str = "basic-profile") -> tuple[int, dict[str, Counter[str]]]:
    """De-identify ``inputs`` (copied under ``folder``) with ``rules``; (outputs written, new errors)."""
    import json

    from deidlang.cli import main as deidlang

    src = folder / "in"
    src.mkdir(parents=True)
    for n, path in enumerate(inputs):
        shutil.copy(path, src / f"{n:03d}-{path.name}")
    report = folder / "report.jsonl"
    deidlang(["run", "-q", "-r", rules, str(src), "-o", str(folder / "out"), "--workers", "1", "--layout", "mirror",
              "--report", str(report)])
    pairs = []
    for line in report.read_text().splitlines():
        row = json.loads(line)
        if row["outcome"] == "written":
            pairs.append((Path(row["source"]), Path(row["output"])))
    return len(pairs), new_errors(pairs)
