"""Opt-in throughput benchmark of the gateway on loopback with DCMTK's storescu and Orthanc:

    PYTHONPATH=$PWD python -m tests.benchmarks.gateway_bench [N] [--no-sync]

1. Orthanc direct: storescu sends N instances to an Orthanc (the baseline);
2. receive: storescu sends them to `deidlang serve --store`;
3. end to end: storescu sends them to `deidlang serve --forward` an Orthanc, timed until that Orthanc
   holds all N.
Rates and the ratios to the baseline, all measured in this run, are printed. Orthanc syncs every
instance to disk by default (`SyncStorageArea`); `--no-sync` turns that off in both Orthancs, so
that the figures show more of the node's own cost.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.orthanc import Orthanc, free_port
from tests.test_node import study


def storescu(port: int, called: str, files: list[Path]) -> float:
    started = time.monotonic()
    subprocess.run(["storescu", "-aet", "MODALITY", "-aec", called, "127.0.0.1", str(port), *map(str, files)],
                   check=True, capture_output=True, timeout=900)
    return time.monotonic() - started


def count(orthanc: Orthanc) -> int:
    return orthanc.get("/statistics")["CountInstances"]


def serve(port: int, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "deidlang", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--allow", "MODALITY", *args], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while subprocess.run(["echoscu", "-aet", "MODALITY", "-aec", "DEID", "127.0.0.1", str(port)],
                         capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("deidlang serve did not start")
        time.sleep(0.2)
    return proc


def main(n: int, sync: bool = True) -> None:
    if not (shutil.which("storescu") and shutil.which("Orthanc")):
        sys.exit("needs DCMTK (storescu) and Orthanc")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = []
        for ds in study(n):
            files.append(root / f"{ds.InstanceNumber:05d}.dcm")
            ds.save_as(files[-1], enforce_file_format=True)
        size = sum(f.stat().st_size for f in files) / n
        print(f"{n} instances of {size / 1024:.1f} KiB (CT phantoms with planted PHI), one association each run, "
              f"Orthanc SyncStorageArea={sync}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        direct = Orthanc(root / "direct", "DIRECT", SyncStorageArea=sync).start()
        try:
            seconds = storescu(direct.dicom_port, "DIRECT", files)
            assert count(direct) == n
        finally:
            direct.stop()
        baseline = n / seconds
        print(f"Orthanc direct:        {baseline:7.1f} instances/s")

        port = free_port()
        proc = serve(port, "--store", str(root / "store"))
        try:
            seconds = storescu(port, "DEID", files)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        assert len(list((root / "store").rglob("*.dcm"))) == n
        print(f"deidlang receive:      {n / seconds:7.1f} instances/s  ({n / seconds / baseline:.0%} of Orthanc direct)")

        research = Orthanc(root / "research", "RESEARCH", SyncStorageArea=sync).start()
        port = free_port()
        proc = serve(port, "--forward", f"RESEARCH@127.0.0.1:{research.dicom_port}", "--outbox", str(root / "out"))
        try:
            started = time.monotonic()
            received = storescu(port, "DEID", files)
            while count(research) < n and time.monotonic() - started < 900:
                time.sleep(0.05)
            seconds = time.monotonic() - started
            assert count(research) == n
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            research.stop()
        print(f"deidlang end to end:   {n / seconds:7.1f} instances/s  ({n / seconds / baseline:.0%} of Orthanc direct;"
              f" receive part {n / received:.1f}/s)")


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    main(int(numbers[0]) if numbers else 500, sync="--no-sync" not in sys.argv)
