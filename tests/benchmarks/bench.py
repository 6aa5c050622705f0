"""Archive-scale benchmark (opt-in; not part of the test run).

    python tests/benchmarks/bench.py                    # the two corpora of the README, 3 repeats
    python tests/benchmarks/bench.py --ct 200 --small 1000 --repeat 1   # a quicker look

Generates, deterministically, a CT corpus (512x512 uint16 slices in 10 studies) and a small-file corpus
(16x16), each file with a realistic header of about 120 elements including private blocks and
sequences. Then reports the median wall time of: `cp -r`, a no-op pydicom read + write, deidlang with
the basic profile on 1 and 2 workers (fast path) and with the reference engine, and peer tools that are
installed (dicognito, dicom-anonymizer), with ratios to `cp` and to pydicom, the peak RSS of the
deidlang runs, and the time to compile the basic profile. Every figure is measured in the run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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
from pathlib import Path
from pydicom import dcmread
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for path in src.rglob("*.dcm"):
    out = dst / path.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    dcmread(path).save_as(out)
"""


def timed(command: list[str], out: Path, repeat: int) -> tuple[float, int]:
    """Median seconds over ``repeat`` runs into a fresh ``out``, and the peak RSS (KiB) of the command's
    main process as GNU time reports it (worker processes are not counted; 0 without GNU time)."""
    times, peak = [], 0
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        with tempfile.NamedTemporaryFile("r") as rss:
            wrapped = ["/usr/bin/time", "-o", rss.name, "-f", "%M", *command] if gnu_time else command
            start = time.perf_counter()
            code = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            times.append(time.perf_counter() - start)
            if code not in (0, 1):
                raise SystemExit(f"failed: {' '.join(command)}")
            text = rss.read().strip().splitlines()
            peak = max(peak, int(text[-1]) if text and text[-1].isdigit() else 0)
    return statistics.median(times), peak


def bench(name: str, corpus: Path, work: Path, repeat: int) -> list[tuple[str, float, int]]:
    out = work / "out"
    py = sys.executable
    rows = [("cp -r", *timed(["cp", "-r", str(corpus), str(out)], out, repeat)),
            ("pydicom read+write (no change)", *timed([py, "-c", NOOP, str(corpus), str(out)], out, repeat))]
    for label, extra in (("deidlang, 1 worker", ["--workers", "1"]), ("deidlang, 2 workers", ["--workers", "2"])):
        rows.append((label, *timed([py, "-m", "deidlang", "run", str(corpus), "-o", str(out), "-q", *extra], out,
                                   repeat)))
    reference = f"""
import sys
import deidlang
from deidlang.runner import deidentify_file, plan_outputs
plan, key = deidlang.compile("basic-profile"), deidlang.Key.random()
for src, dst in plan_outputs([sys.argv[1]], sys.argv[2]):
    deidentify_file(src, dst, plan, key, engine="reference")
"""
    rows.append(("deidlang reference engine, 1 worker", *timed([py, "-c", reference, str(corpus), str(out)], out,
                                                                repeat)))
    if shutil.which("dicognito"):
        rows.append(("dicognito", *timed(["sh", "-c", f"cp -r {corpus} {out} && dicognito {out}"], out, repeat)))
    if shutil.which("dicom-anonymizer"):
        rows.append(("dicom-anonymizer", *timed(["dicom-anonymizer", str(corpus), str(out)], out, repeat)))
    cp, noop = rows[0][1], rows[1][1]
    print(f"\n{name}")
    print(f"{'tool':<40}{'median s':>10}{'x cp':>8}{'x pydicom':>11}{'peak RSS MiB':>14}")
    for label, seconds, rss in rows:
        print(f"{label:<40}{seconds:>10.2f}{seconds / cp:>8.2f}{seconds / noop:>11.2f}{rss / 1024:>14.0f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct", type=int, default=1000, help="CT slices (512x512)")
    parser.add_argument("--small", type=int, default=5000, help="small files (16x16)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import deidlang.compiler as compiler

    start = time.perf_counter()
    compiler.compile_file("basic-profile")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    compiler.compile_file("basic-profile")
    warm = time.perf_counter() - start
    print(f"compile basic-profile: {cold * 1000:.0f} ms cold (grammar load included), {warm * 1000:.0f} ms warm")
    with tempfile.TemporaryDirectory(prefix="deidlang-bench-") as tmp:
        work = Path(tmp)
        for name, files, size in (("CT corpus", args.ct, 512), ("small-file corpus", args.small, 16)):
            if not files:
                continue
            corpus = work / name.split()[0]
            make_corpus(corpus, files, size)
            mb = sum(p.stat().st_size for p in corpus.rglob("*.dcm")) / 1e6
            bench(f"{name}: {files} files, {mb:.0f} MB", corpus, work, args.repeat)
            shutil.rmtree(corpus)


if __name__ == "__main__":
    main()
