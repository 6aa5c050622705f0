"""Burned-in text detection, measured: every installed OCR engine on the seeded synthetic set.

    PYTHONPATH=$PWD nice python tests/benchmarks/ocr_bench.py [--seed N] [--engine E] [--limit N] [--baseline]

Per engine and image kind: line recall (a line is found when the regions that `blackout
detected-text` would black out cover at least half of its ink), fully-covered recall (all of its ink
covered), ink coverage (of all text ink), false-positive boxes per image (blacked-out boxes that
touch no text) and seconds per distinct frame, CPU time of this process (one onnxruntime thread:
what one core costs) and wall time (which a shared machine inflates). The shipped examples'
names are checked as well. Figures are measured in this run, never written in. ``--baseline`` also
runs PP-OCR with the shipped float detector (``DEIDLANG_OCR_DETECTOR=float``) and prints the int8
detector's CPU time as a ratio of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ocr_synth  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def dataset(image):
    from deidlang.phantom import phantom

    ds, _ = phantom(size=16)
    ds.Modality = {"cine": "US", "SC": "OT"}.get(image.kind, image.kind)
    frames = image.frames if len(image.frames) > 1 else image.frames[0]
    ds.set_pixel_data(frames, image.photometric, image.bits_stored, generate_instance_uid=False)
    return ds


def measure(images, engine: str) -> dict:
    from deidlang.engine import identifying, ocr, pixels

    rows = {}
    for image in images:
        ds = dataset(image)
        start, cpu = time.perf_counter(), time.process_time()
        findings = pixels.examine(ds, pixels.decode(ds), identifying.Terms(), engine)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        distinct = len({f.tobytes() for f in image.frames})
        shape = image.frames.shape[1:3]
        covered = np.zeros(shape, bool)
        redacted = [f.box for f in findings if f.redact]
        for x, y, w, h in ocr.merge(b.region() for b in redacted):
            covered[y:y + h, x:x + w] = True
        text = np.zeros(shape, bool)
        for line in image.lines:
            text |= line.mask
        r = rows.setdefault(image.kind, dict(images=0, lines=0, found=0, full=0, ink=0, ink_covered=0, fp=0,
                                             seconds=0.0, cpu=0.0, frames=0))
        r["images"] += 1
        r["seconds"] += elapsed
        r["cpu"] += cpu
        r["frames"] += distinct
        for line in image.lines:
            ink = int(line.mask.sum())
            hit = int((line.mask & covered).sum())
            r["lines"] += 1
            r["found"] += hit * 2 >= ink
            r["full"] += hit == ink
            r["ink"] += ink
            r["ink_covered"] += hit
        r["fp"] += sum(not text[b.y:b.y + b.h, b.x:b.x + b.w].any() for b in redacted)
    return rows


def examples(engine: str) -> list[tuple[str, bool]]:
    """Each shipped example with burned-in text, and whether its name was read."""
    from pydicom import dcmread

    from deidlang.engine import identifying, pixels

    checks = []
    for path, name in [(ROOT / "examples" / "ultrasound" / "us-banner.dcm", "DOE^JANE")]:
        ds = dcmread(path)
        read = [f.box.text for f in pixels.examine(ds, pixels.decode(ds), identifying.Terms(), engine)]
        checks.append((f"{path.relative_to(ROOT)} {name}", any(name.replace("^", "") in t.replace("^", "")
                                                                   for t in read)))
    return checks


def table(results: dict[str, dict]) -> str:
    head = ("| engine | kind | images | lines | found | fully covered | ink covered | FP / image | CPU s / frame "
            "| wall s / frame |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    out = [head]
    for engine, rows in results.items():
        total = {k: sum(r[k] for r in rows.values()) for k in next(iter(rows.values()))}
        for kind, r in [*rows.items(), ("all", total)]:
            out.append(f"| {engine} | {kind} | {r['images']} | {r['lines']} | {r['found'] / r['lines']:.1%} | "
                       f"{r['full'] / r['lines']:.1%} | {r['ink_covered'] / r['ink']:.1%} | "
                       f"{r['fp'] / r['images']:.2f} | {r['cpu'] / r['frames']:.2f} | {r['seconds'] / r['frames']:.2f} |")
    return "\n".join(out)


def main() -> None:
    from deidlang.engine import ocr

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engine", choices=ocr.ENGINES, action="append")
    parser.add_argument("--limit", type=int, help="only the first N images of each kind (a quick look)")
    parser.add_argument("--baseline", action="store_true", help="rapidocr with the float detector as well")
    args = parser.parse_args()
    images = ocr_synth.images(args.seed)
    if args.limit:
        images = [i for k in ocr_synth.KINDS for i in [j for j in images if j.kind == k][:args.limit]]
    engines = [e for e in (args.engine or ocr.ENGINES) if ocr.available(e)]
    print(f"{len(images)} images, {sum(len(i.lines) for i in images)} lines, "
          f"{sum(len({f.tobytes() for f in i.frames}) for i in images)} distinct frames, seed {args.seed}; "
          f"engines: {', '.join(engines)}; fonts: {len(ocr_synth.fonts())}", flush=True)
    results = {}
    for engine in engines:
        ocr.require(engine)
        results[engine] = measure(images, engine)
        for label, ok in examples(engine):
            print(f"{engine}: {label}: {'found' if ok else 'MISSED'}", flush=True)
        print(table({engine: results[engine]}), flush=True)  # each engine's rows as soon as they are measured
    if args.baseline and "rapidocr" in results:
        os.environ["DEIDLANG_OCR_DETECTOR"] = "float"
        results["rapidocr float"] = measure(images, "rapidocr")
        print(table({"rapidocr float": results["rapidocr float"]}), flush=True)
        cpu = {name: sum(r["cpu"] for r in results[name].values()) for name in ("rapidocr", "rapidocr float")}
        print(f"int8 detector: {cpu['rapidocr'] / cpu['rapidocr float']:.2f}x the float detector's CPU time")
    if len(results) > 1:
        print(table(results))


if __name__ == "__main__":
    main()
