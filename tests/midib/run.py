"""One scored run: generate, de-identify with `deidlang run`, export the crosswalks, score."""

from __future__ import annotations

import os
from pathlib import Path

from deidlang.cli import main as deidlang

from .generate import collection, write
from .score import Result, score_folder

KEY = b"midib-style-scoring-key-0123456789"


def run_and_score(folder: str | Path, rules: str, seed: int = 0, patients: int = 4,
                  workers: int = 1) -> list[Result]:
    folder = Path(folder)
    instances = collection(seed, patients)
    write(instances, folder / "in")
    key = folder / "site.key"
    key.write_bytes(KEY)
    os.chmod(key, 0o600)
    mapped = folder / "study.map"
    code = deidlang(["run", "-q", "-r", rules, str(folder / "in"), "-o", str(folder / "out"), "--key-file", str(key),
                     "--map", str(mapped), "--workers", str(workers)])
    if code not in (0, 1):  # 1: some files rejected or failed, which the score counts
        raise RuntimeError(f"deidlang run exited {code}")
    uids, patids = folder / "uids.csv", folder / "patids.csv"
    export = ["map", "export", "--map", str(mapped), "--key-file", str(key), "-r", rules, "--uids", str(uids)]
    if deidlang([*export, "--patient-ids", str(patids)]) != 0:  # rules that do not key PatientID
        if deidlang(export) != 0:
            raise RuntimeError("deidlang map export failed")
        patids.write_text("id_old,id_new\n")
    return score_folder(instances, folder / "out", uids, patids)
