"""Byte-flip and length mutants of real files through both engines: how many are written, failed or
rejected, and how many written outputs still hold the original's PatientName or PatientID.

    PYTHONPATH=$PWD python tools/mutants.py -n 2000 [--seed 13] [--rules basic-profile]

Run it with another checkout first on PYTHONPATH to measure that code the same way (the baseline).
Mutants come from five files of pydicom's test data; a leak is an identifying value of the original
(PatientName, PatientID, at least 4 bytes) found in a written output's bytes.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import pydicom
from pydicom import dcmread

import deidlang
from deidlang.runner import deidentify_file

CORPUS = Path(pydicom.__file__).parent / "data" / "test_files"
FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "rtdose.dcm", "liver_1frame.dcm")


def identifying(path: Path) -> list[bytes]:
    ds = dcmread(path)
    return [str(ds.get(k, "")).encode() for k in ("PatientName", "PatientID") if len(str(ds.get(k, ""))) >= 4]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One mutation: a byte changed anywhere after the preamble, or a length field enlarged."""
    out = bytearray(data)
    if rng.random() < 0.5:
        position = rng.randrange(132, len(out))
        out[position] = rng.randrange(256)
        return bytes(out)
    # a short explicit-VR length (2 bytes after a VR) grown by a few to a few hundred bytes
    starts = [i for i in range(136, len(out) - 8) if out[i:i + 2].isalpha() and out[i:i + 2].isupper()]
    i = rng.choice(starts)
    (length,) = struct.unpack_from("<H", out, i + 2)
    struct.pack_into("<H", out, i + 2, min(0xFFFF, length + rng.choice((2, 8, 16, 24, 64, 256))))
    return bytes(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rules", default="basic-profile")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    plan = deidlang.compile(args.rules)
    rng = random.Random(args.seed)
    sources = [(CORPUS / name, (CORPUS / name).read_bytes(), identifying(CORPUS / name)) for name in FILES]
    counts: Counter = Counter()
    leaks: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in range(args.n):
            _, data, values = sources[n % len(sources)]
            source = tmp / "in.dcm"
            source.write_bytes(mutate(data, rng))
            for engine in ("auto", "reference"):
                out = tmp / f"out-{engine}.dcm"
                result = deidentify_file(source, out, plan, b"mutants-key-0123456789", engine=engine)
                counts[(engine, result.status)] += 1
                if result.status == "written":
                    written = out.read_bytes()
                    leaks[engine] += any(v in written for v in values)
                    out.unlink()
    print(f"deidlang from {Path(deidlang.__file__).parent}, rules {args.rules}, seed {args.seed}")
    for engine in ("auto", "reference"):
        row = {status: counts[(engine, status)] for status in ("written", "failed", "rejected")}
        print(f"{engine:9} of {args.n} mutants: {row['written']} written, {row['failed']} failed, "
              f"{row['rejected']} rejected; {leaks[engine]} written with PatientName or PatientID")
    return 0


if __name__ == "__main__":
    sys.exit(main())
