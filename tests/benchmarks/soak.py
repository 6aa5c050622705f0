"""Opt-in soak test (issue 14): random kill -9 of the main process and of single workers during a
large run, then --resume, and the result must be byte-identical to a clean run with no stray
temporary files.

    nice python -m tests.benchmarks.soak --files 10000 --kills 20 [--workers 2] [--work DIR]

Each round starts `deidlang run` (or `--resume` after the first), waits a random moment, and kills
either the main process (its workers must die with it) or one worker (the run must go on). Once the
kills are spent, a last `--resume` finishes the job. Prints files, kills, failures and time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deidlang.phantom import phantom

ROOT = Path(__file__).resolve().parents[2]


def make_inputs(folder: Path, n: int) -> None:
    """n small files in 10 patients' folders, each its own instance of 100-file series."""
    for i in range(n):
        path = folder / f"patient{i % 10}" / f"i{i:05d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        study = f"1.2.826.0.1.3680043.10.9.{i % 10}"
        ds, _ = phantom(seed=i % 10, instance=i + 1, size=8, study_uid=study, series_uid=f"{study}.{i // 100}")
        ds.save_as(path, enforce_file_format=True)


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def command(src: Path, out: Path, key: Path, workers: int, resume: bool) -> list[str]:
    return [sys.executable, "-m", "deidlang", "run", str(src), "-o", str(out), "--key-file", str(key),
            "--workers", str(workers), "-q", *(["--resume"] if resume else [])]


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--files", type=int, default=10_000)
    args.add_argument("--kills", type=int, default=20)
    args.add_argument("--workers", type=int, default=2)
    args.add_argument("--seed", type=int, default=14)
    args.add_argument("--work", type=Path)
    opts = args.parse_args()
    rng = random.Random(opts.seed)
    work = Path(opts.work or tempfile.mkdtemp(prefix="deidlang-soak-"))
    src, key = work / "in", work / "site.key"
    key.write_bytes(b"soak-test-site-key-0123456789abcdef")
    key.chmod(0o600)
    started = time.monotonic()
    if not src.exists():
        make_inputs(src, opts.files)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    clean_start = time.monotonic()
    subprocess.run(command(src, work / "clean", key, opts.workers, False), env=env, check=False,
                   stdout=subprocess.DEVNULL)
    clean_time = time.monotonic() - clean_start
    clean = digests(work / "clean")
    out = work / "killed"
    kills = {"main": 0, "worker": 0}
    orphans = 0
    killed_start = time.monotonic()
    for round_ in range(opts.kills):
        proc = subprocess.Popen(command(src, out, key, opts.workers, round_ > 0), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, max(1.0, clean_time / 4)))
        workers = children(proc.pid)
        if proc.poll() is not None:
            continue  # finished before the kill
        if rng.random() < 0.5 and workers:
            os.kill(rng.choice(workers), signal.SIGKILL)
            kills["worker"] += 1
            time.sleep(rng.uniform(0.2, 1.0))
            workers = children(proc.pid) or workers
        proc.kill()
        proc.wait()
        kills["main"] += 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.05)
        orphans += sum(alive(w) for w in workers)
    final = subprocess.run(command(src, out, key, opts.workers, True), env=env, capture_output=True, text=True)
    killed_time = time.monotonic() - killed_start
    result = digests(out)
    strays = [p for p in (*out.rglob(".deidlang-*"), *(work / "killed.deidlang").rglob("*.part"))]
    same = result == clean
    print(f"files {opts.files}, outputs {len(clean)} clean / {len(result)} after kills, "
          f"kills: {kills['main']} main + {kills['worker']} worker, orphaned workers {orphans}")
    print(f"last resume: exit {final.returncode}; {final.stdout.strip()}")
    print(f"byte-identical to the clean run: {same}; stray temporary files: {len(strays)}")
    print(f"time: inputs+clean {clean_start - started:.0f}+{clean_time:.0f} s, killed runs and resumes "
          f"{killed_time:.0f} s")
    if not opts.work:
        shutil.rmtree(work)
    return 0 if same and not strays and not orphans and final.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
