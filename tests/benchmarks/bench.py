"""Archive-scale benchmark (opt-in; not part of the test run).

    python tests/benchmarks/bench.py                    # the two corpora of the README, 5 repeats
    python tests/benchmarks/bench.py --ct 200 --small 1000 --repeat 1   # a quicker look
    python tests/benchmarks/bench.py --dir /dev/shm     # in memory: the tools' own cost, not the disk's

Generates, deterministically, a CT corpus (512x512 uint16 slices in 10 studies) and a small-file corpus
(16x16), each file with a realistic header of about 120 elements including private blocks and
sequences. Then reports the median wall time of: `cp -r`, a no-op pydicom read + write, deidlang with
the basic profile on 1 and 2 workers (fast path, with the walker this install runs, and forced to the
pure-Python walker) and with the reference engine, and peer tools that are installed (dcmanon,
dicognito and dicom-anonymizer from the `bench` extra, GDCM's gdcmanon from Debian's libgdcm-tools),
with ratios to dcmanon and to `cp` paired round by round, the peak RSS of each, the time to compile
the basic profile and the start of `deidlang run` with a cached plan. Each tool also runs on a tenth
of each corpus, which separates its fixed start from its cost per file, and the fast path is timed
in-process. Last, a table of issue 20's targets against what the run measured. Every figure is
measured in the run (the targets are the issue's). ``--only deidlang,dcmanon,cp`` times only the tools
whose labels start so; ``--rss 10000,200000`` measures deidlang's peak RSS on that many small files
on disk instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

ROOT = Path(__file__).resolve().parents[2]


def header(study: int, series: int, instance: int) -> Dataset:
    """About 120 elements: identity, dates, equipment, geometry, codes, private blocks, sequences."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.7.{study}.{series}.{instance}"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.7.{study}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.7.{study}.{series}"
    ds.FrameOfReferenceUID = f"1.2.826.0.1.3680043.10.7.{study}.9"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = f"Patient^{study}", f"PID{study:05d}", "19470317"
    ds.PatientSex, ds.PatientAge, ds.PatientWeight, ds.PatientSize = "F", "077Y", "61", "1.64"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = "20240105"
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101010.123"
    ds.AccessionNumber, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = f"ACC{study}", "1", series, instance
    ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "CT", "ACME", "Scanner 9000"
    ds.InstitutionName, ds.InstitutionAddress = "St Elsewhere", "1 Hospital Road"
    ds.ReferringPhysicianName, ds.OperatorsName, ds.PerformingPhysicianName = "Ref^Doc", "Op^One", "Perf^Doc"
    ds.StationName, ds.DeviceSerialNumber, ds.SoftwareVersions = "CT01", "SN123", "V1.2"
    ds.StudyDescription, ds.SeriesDescription, ds.ProtocolName = "CT CHEST", "AXIAL 1mm", "CHEST ROUTINE"
    ds.BodyPartExamined, ds.SliceThickness, ds.KVP, ds.ExposureTime = "CHEST", "1.0", "120", "500"
    ds.XRayTubeCurrent, ds.Exposure, ds.ConvolutionKernel, ds.PatientPosition = "200", "100", "B30f", "HFS"
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, -instance], [1, 0, 0, 0, 1, 0]
    ds.SliceLocation, ds.PixelSpacing = str(-instance), [0.7, 0.7]
    ds.RescaleIntercept, ds.RescaleSlope, ds.WindowCenter, ds.WindowWidth = "-1024", "1", "40", "400"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    for n, keyword in enumerate(["DataCollectionDiameter", "ReconstructionDiameter", "DistanceSourceToDetector",
                                 "DistanceSourceToPatient", "GantryDetectorTilt", "TableHeight", "FocalSpots"]):
        setattr(ds, keyword, str(n + 1))
    ds.SpiralPitchFactor, ds.DataCollectionCenterPatient = 0.9, [0.0, 0.0, -100.0]
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "T-D3000", "SRT", "Chest"
    ds.AnatomicRegionSequence = Sequence([code])
    request = Dataset()
    request.RequestedProcedureID, request.ScheduledProcedureStepID = f"RP{study}", f"SPS{study}"
    request.RequestedProcedureDescription = "CT chest"
    ds.RequestAttributesSequence = Sequence([request])
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = CTImageStorage, f"{ds.SeriesInstanceUID}.{instance + 1}"
    ds.ReferencedImageSequence = Sequence([ref])
    for group, creator in ((0x0019, "SIEMENS CT VA0  COAD"), (0x0021, "SIEMENS MED"), (0x0043, "GEMS_PARM_01")):
        block = ds.private_block(group, creator, create=True)
        for offset in range(12):
            block.add_new(offset, "LO", f"private value {offset}")
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def make_corpus(folder: Path, files: int, size: int, studies: int = 10) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 4096, (size, size), dtype=np.uint16).tobytes()
    per_study = max(files // studies, 1)
    for i in range(files):
        study, instance = i // per_study, i % per_study + 1
        ds = header(study, 1, instance)
        ds.Rows = ds.Columns = size
        ds.PixelData = pixels
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"study{study:02d}" / f"{instance:05d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)


NOOP = """
import sys, os
from collections.abc import Callable
from pathlib import Path
from pydicom import dcmread
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for path in src.rglob("*.dcm"):
    out = dst / path.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    dcmread(path).save_as(out)
"""

DCMANON = """
import os, sys
from dcmanon import Anonymizer
src, dst = sys.argv[1], sys.argv[2]
anonymizer = Anonymizer()
for folder, dirs, files in os.walk(src):
    out = os.path.join(dst, os.path.relpath(folder, src))
    os.makedirs(out, exist_ok=True)
    for name in files:
        with open(os.path.join(out, name), "wb") as f:
            f.write(anonymizer.anonymize(os.path.join(folder, name)))
"""

REFERENCE = """
import sys
import deidlang
from deidlang.runner import deidentify_file, plan_outputs
plan, key = deidlang.compile("basic-profile"), deidlang.Key.random()
for src, dst in plan_outputs([sys.argv[1]], sys.argv[2]):
    deidentify_file(src, dst, plan, key, engine="reference")
"""


def tools(work: Path, only: tuple[str, ...] = ()) -> list[tuple[str, Callable[[Path, Path], list[str]]]]:
    """(label, command for an input and a new output folder) of every tool to time; peers only when
    installed (the `bench` extra: dicognito, dicom-anonymizer; Debian's libgdcm-tools: gdcmanon)."""
    py = sys.executable
    found = [
        ("cp -r", lambda src, out: ["cp", "-r", str(src), str(out)]),
        ("pydicom read+write (no change)", lambda src, out: [py, "-c", NOOP, str(src), str(out)]),
        ("deidlang, 1 worker", lambda src, out: [py, "-m", "deidlang", "run", str(src), "-o", str(out), "-q",
                                                "--workers", "1"]),
        ("deidlang, 2 workers", lambda src, out: [py, "-m", "deidlang", "run", str(src), "-o", str(out), "-q",
                                                 "--workers", "2"]),
        ("deidlang, pure-Python walker, 1 worker", lambda src, out: [
            "env", "DEIDLANG_PURE=1", py, "-m", "deidlang", "run", str(src), "-o", str(out), "-q", "--workers", "1"]),
        ("deidlang reference engine, 1 worker", lambda src, out: [py, "-c", REFERENCE, str(src), str(out)]),
    ]
    if importlib.util.find_spec("dcmanon"):  # Rust, with a Python API: its default profile, one file at a time
        found.append(("dcmanon (Rust), 1 process", lambda src, out: [py, "-c", DCMANON, str(src), str(out)]))
    if shutil.which("gdcmanon") and shutil.which("openssl"):  # its basic profile needs a certificate
        key, cert = work / "gdcm-key.pem", work / "gdcm-cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(cert), "-subj", "/CN=bench", "-days", "1"], check=True, capture_output=True)
        found.append(("gdcmanon (GDCM, C++), 1 process", lambda src, out: [
            "sh", "-c", f'mkdir -p "{out}" && gdcmanon -e -c "{cert}" -r --continue -i "{src}" -o "{out}"']))
    if importlib.util.find_spec("dicognito"):
        found.append(("dicognito, 1 process", lambda src, out: [py, "-m", "dicognito", str(src), "-o", str(out),
                                                                "--quiet"]))
    anonymizer = shutil.which("dicom-anonymizer", path=f"{Path(py).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if anonymizer:  # it takes one folder at a time
        found.append(("dicom-anonymizer, 1 process per folder", lambda src, out: [
            "sh", "-c", f'for d in "{src}"/*/; do n=$(basename "$d"); mkdir -p "{out}/$n" && '
                        f'"{anonymizer}" "$d" "{out}/$n" >/dev/null || exit 2; done']))
    return [(label, command) for label, command in found if not only or label.startswith(only)]


def timed(command: list[str], out: Path) -> tuple[float, float, int]:
    """Wall seconds of one run into the new folder ``out``, its CPU seconds (user + system, its
    processes together) and the peak RSS (KiB) of its largest process, as GNU time reports them
    (CPU and RSS 0 without GNU time). Data written by earlier runs is flushed first, and the output
    is deleted after, so that every run starts from the same state of memory and disk."""
    os.sync()
    with tempfile.NamedTemporaryFile("r") as usage:
        gnu = Path("/usr/bin/time").exists()
        wrapped = ["/usr/bin/time", "-o", usage.name, "-f", "%U %S %M", *command] if gnu else command
        start = time.perf_counter()
        code = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        seconds = time.perf_counter() - start
        if code != 0:
            raise SystemExit(f"failed ({code}): {' '.join(command)}")
        fields = (usage.read().strip().splitlines() or [""])[-1].split()
    shutil.rmtree(out, ignore_errors=True)
    if len(fields) == 3:
        return seconds, float(fields[0]) + float(fields[1]), int(fields[2])
    return seconds, 0.0, 0


def fast_path_per_file(corpus: Path, repeat: int) -> tuple[float, float]:
    """Milliseconds per file of the fast path alone, in this process, on files already in memory:
    (first pass, later passes' median). The first pass fills the per-process tables and computes
    each new UID; later passes find those UIDs remembered, so they show the cost without keying."""
    import deidlang
    from deidlang.engine import stream

    plan, key = deidlang.compile("basic-profile"), deidlang.Key.random()
    datas = [path.read_bytes() for path in sorted(corpus.rglob("*.dcm"))]
    passes = []
    for _ in range(max(repeat, 2)):
        start = time.perf_counter()
        for data in datas:
            stream.rewrite_parts(data, plan, key)
        passes.append((time.perf_counter() - start) * 1000 / len(datas))
    return passes[0], statistics.median(passes[1:])


def bench(name: str, corpus: Path, subset: Path, work: Path, repeat: int, walker: str,
          only: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    """Every tool ``repeat`` times on the corpus and on a tenth of it, interleaved, so that drift of
    the machine hits all alike. The difference between the two gives each tool's cost per file
    beyond its fixed start, which is what a run over an archive of millions of files pays. Returns,
    by tool, its paired ratios (``x dcmanon``, ``x cp``), ms per file beyond start and peak RSS (MiB)."""
    found = tools(work, only)
    runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in found}
    small_runs: dict[str, list[float]] = {label: [] for label, _ in found}
    for round_ in range(repeat):
        for n, (label, command) in enumerate(found):
            out = work / f"out-{round_}-{n}"
            runs[label].append(timed(command(corpus, out), out))
            small_runs[label].append(timed(command(subset, out), out)[0])
    median = {label: statistics.median(s for s, _, _ in times) for label, times in runs.items()}
    baselines = [label for label in ("dcmanon (Rust), 1 process", "cp -r") if label in runs]

    def paired(label: str, baseline: str) -> float:
        """The median over rounds of this tool's time over the baseline's in the same round."""
        return statistics.median(a[0] / b[0] for a, b in zip(runs[label], runs[baseline]))

    heads = "".join(f"{'x ' + b.split()[0]:>11}" for b in baselines)
    print(f"\n{name} (median of {repeat}; ratios paired round by round; {walker})")
    print(f"{'tool':<42}{'wall s':>8}{'min s':>7}{heads}{'CPU s':>7}{'peak RSS MiB':>13}")
    for label, seconds in median.items():
        times = runs[label]
        cpu = statistics.median(c for _, c, _ in times)
        rss = max(r for _, _, r in times)
        ratios = "".join(f"{paired(label, b):>11.2f}" for b in baselines)
        print(f"{label:<42}{seconds:>8.2f}{min(s for s, _, _ in times):>7.2f}{ratios}{cpu:>7.2f}{rss / 1024:>13.0f}")
    files, few = (sum(1 for _ in folder.rglob("*.dcm")) for folder in (corpus, subset))
    start = {label: statistics.median(times) for label, times in small_runs.items()}
    per_file = {label: max(median[label] - start[label], 1e-9) / (files - few) * 1000 for label in median}
    print(f"\nper file beyond the fixed start: (median on {files} files - median on {few}) / {files - few}")
    print(f"{'tool':<42}{'ms/file':>8}{'x cp':>7}{'start s':>8}")
    for label, ms in per_file.items():
        fixed = max(start[label] - ms * few / 1000, 0.0)
        print(f"{label:<42}{ms:>8.3f}{ms / per_file['cp -r']:>7.2f}{fixed:>8.2f}")
    return {label: {**{f"x {b.split()[0]}": paired(label, b) for b in baselines}, "ms/file": per_file[label],
                    "rss": max(r for _, _, r in runs[label]) / 1024} for label in runs}


#: Issue 20's targets: (what, corpus, tool, figure, most allowed).
TARGETS = (
    ("start of deidlang run, cached plan (ms)", None, None, "start", 120),
    ("small corpus, 1 worker (x dcmanon)", "small-file", "deidlang, 1 worker", "x dcmanon", 1.0),
    ("small corpus, 2 workers (x dcmanon)", "small-file", "deidlang, 2 workers", "x dcmanon", 0.6),
    ("per small file beyond start, 1 worker (ms)", "small-file", "deidlang, 1 worker", "ms/file", 0.1),
    ("CT corpus, 1 worker (x dcmanon)", "CT", "deidlang, 1 worker", "x dcmanon", 0.8),
    ("CT corpus, 2 workers (x cp -r)", "CT", "deidlang, 2 workers", "x cp", 1.3),
    ("peak RSS of any deidlang run (MiB)", None, None, "rss", 150),
)


def targets(start_ms: float, results: dict[str, dict[str, dict[str, float]]]) -> None:
    """Each target of issue 20 beside what this run measured, and whether it is met."""
    print("\nissue 20's targets, against this run")
    print(f"{'target':<46}{'measured':>10}{'at most':>9}  met")
    rss = [row["rss"] for corpus in results.values() for label, row in corpus.items() if label.startswith("deidlang")]
    for what, corpus, tool, figure, most in TARGETS:
        if figure == "start":
            value = start_ms
        elif figure == "rss":
            value = max(rss, default=None)
        else:
            value = results.get(corpus, {}).get(tool, {}).get(figure)
        if value is None:
            print(f"{what:<46}{'-':>10}{most:>9}  not measured")
            continue
        print(f"{what:<46}{value:>10.3g}{most:>9}  {'yes' if value <= most else 'no'}")


def make_many(folder: Path, files: int, per_folder: int = 1000) -> None:
    """``files`` small files fast: one encoded file, its instance number and UIDs rewritten in place
    (equal lengths), each file its own patient and study (the per-process tables' worst case)."""
    ds = header(0, 1, 1)
    ds.Rows = ds.Columns = 16
    ds.PixelData = bytes(512)
    marker = "9999999"
    ds.PatientID, ds.PatientName = f"PID{marker}", f"Patient^{marker}"
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.7.{marker}.1.1"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.7.{marker}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.7.{marker}.1"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    template = folder / "template.dcm"
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(template, enforce_file_format=True)
    data = template.read_bytes()
    template.unlink()
    for i in range(files):
        sub = folder / f"{i // per_folder:05d}"
        if i % per_folder == 0:
            sub.mkdir()
        (sub / f"{i:07d}.dcm").write_bytes(data.replace(marker.encode(), f"{i:07d}".encode()))


def peak_rss(counts: list[int], work: Path) -> None:
    """Peak RSS of `deidlang run` (1 and 2 workers) on each count of small files on disk."""
    py = sys.executable
    print("\npeak RSS of deidlang run on small files on disk, each its own patient and study (GNU time)")
    print(f"{'files':>9}{'workers':>8}{'wall s':>8}{'peak RSS MiB':>13}")
    for count in counts:
        corpus = work / f"rss-{count}"
        make_many(corpus, count)
        for workers in (1, 2):
            out = work / "rss-out"
            seconds, _, rss = timed([py, "-m", "deidlang", "run", str(corpus), "-o", str(out), "-q",
                                     "--workers", str(workers)], out)
            shutil.rmtree(work / "rss-out.deidlang", ignore_errors=True)
            print(f"{count:>9}{workers:>8}{seconds:>8.1f}{rss / 1024:>13.1f}", flush=True)
        shutil.rmtree(corpus)


def run_start(work: Path, repeat: int) -> float:
    """Median seconds of `deidlang run` on one small file, its plan cached by an earlier run."""
    corpus = work / "one"
    make_many(corpus, 1)
    times = []
    for _ in range(repeat + 1):
        out = work / "one-out"
        times.append(timed([sys.executable, "-m", "deidlang", "run", str(corpus), "-o", str(out), "-q"], out)[0])
        shutil.rmtree(work / "one-out.deidlang", ignore_errors=True)
    shutil.rmtree(corpus)
    return statistics.median(times[1:])  # the first run caches the plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct", type=int, default=1000, help="CT slices (512x512)")
    parser.add_argument("--small", type=int, default=5000, help="small files (16x16)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where corpora and outputs go (default: the system's temporary folder; "
                             "/dev/shm measures without the disk)")
    parser.add_argument("--only", default="", help="comma-separated label prefixes of the tools to time")
    parser.add_argument("--rss", default="", help="comma-separated file counts: peak RSS only")
    args = parser.parse_args()
    only = tuple(p.strip() for p in args.only.split(",") if p.strip())
    if "cp" in only:
        only += ("cp -r",)
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = str(ROOT)  # the tools' deidlang is this checkout's
    # as installed (pip writes the bytecode at install time): not compiled again by every process started
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import deidlang.compiler as compiler
    from deidlang._walker import describe

    walker = describe()
    print(f"deidlang runs the {walker}")

    start = time.perf_counter()
    compiler.compile_file("basic-profile")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    compiler.compile_file("basic-profile")
    warm = time.perf_counter() - start
    print(f"compile basic-profile: {cold * 1000:.0f} ms cold (grammar load included), {warm * 1000:.0f} ms warm")
    with tempfile.TemporaryDirectory(prefix="deidlang-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        if args.rss:
            peak_rss([int(n) for n in args.rss.split(",")], work)
            return
        bare = statistics.median(timed([sys.executable, "-c", "pass"], work / "x")[0] for _ in range(args.repeat))
        start_ms = run_start(work, args.repeat) * 1000
        print(f"start of deidlang run on one file, plan cached: {start_ms:.0f} ms "
              f"(python -c pass: {bare * 1000:.0f} ms)")
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, files, size in (("CT corpus", args.ct, 512), ("small-file corpus", args.small, 16)):
            if not files:
                continue
            corpus, subset = work / name.split()[0], work / f"{name.split()[0]}-tenth"
            make_corpus(corpus, files, size)
            make_corpus(subset, max(files // 10, 1), size, studies=1)
            size_bytes = sum(p.stat().st_size for p in corpus.rglob("*.dcm"))
            first, later = fast_path_per_file(corpus, args.repeat)
            print(f"\n{name}: fast path in-process {first:.3f} ms per file on the first pass "
                  f"(new UIDs keyed), {later:.3f} ms on later passes")
            results[name.split()[0]] = bench(f"{name}: {files} files, {size_bytes / 1e6:.0f} MB", corpus, subset, work,
                                             args.repeat, walker, only)
            shutil.rmtree(corpus)
            shutil.rmtree(subset)
        targets(start_ms, results)


if __name__ == "__main__":
    main()
