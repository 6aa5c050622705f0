"""dciodvfy (David Clunie's dicom3tools) over de-identified copies: the errors an output has that its
input did not have, after normalising what de-identification changes (values, UIDs, numbers)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import warnings
import shutil
import subprocess
from collections import Counter
from pathlib import Path

# a value dciodvfy quotes in <...> (cut at the line's end where it holds a line break), "...", or a number
_VALUES = re.compile(r'<[^<>]*(>|$)|"[^"]*"|\b\d+(\.\d+)*\b')


#: The public corpora the check runs over, where installed (the `corpus` extra): package, folder in it,
#: file patterns. pydicom-data needs no entry: pydicom's own lookup finds its files once installed.
SOURCES = (
    ("deid_data", "data", ("*.dcm",)),  # the two cine ultrasounds are zipped (117 MB): left out
    ("nibabel", "nicom/tests/data", ("*.dcm", "*.dcm.gz")),
    ("pynetdicom", "tests/dicom_files", ("*.dcm",)),
)


def corpus(folder: Path) -> dict[str, list[Path]]:
    """The DICOM files of pydicom's test files (with pydicom-data when installed) and of each installed
    package of `SOURCES`, by source; gzipped files unpacked under ``folder``; identical files once."""
    from pydicom.data import get_testdata_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {"pydicom": [Path(f) for f in get_testdata_files("*") if os.path.isfile(f)]}
    for package, under, patterns in SOURCES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations))) / under
        found = sorted(f for pattern in patterns for f in root.rglob(pattern))
        out[package] = [_unpacked(f, folder) for f in found]
    seen: set[str] = set()
    for source, files in out.items():
        out[source] = [f for f in files if _first(f, seen)]
    return out


def _unpacked(path: Path, folder: Path) -> Path:
    if path.suffix != ".gz":
        return path
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.stem
    target.write_bytes(gzip.decompress(path.read_bytes()))
    return target


def _first(path: Path, seen: set[str]) -> bool:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest in seen:
        return False
    seen.add(digest)
    return True


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
    names = [re.sub(r"\[\d+\]", "[#]", n) for n in re.findall(r"<([^<>]*)>", line) if n.startswith("/")]
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
    pairs = run(inputs, folder, rules)
    return len(pairs), new_errors(pairs)


def run(inputs: list[Path], folder: Path, rules: str) -> list[tuple[Path, Path]]:
    """De-identify ``inputs`` (copied under ``folder``) with ``rules``: (input copy, output) of each written."""
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
    return pairs
