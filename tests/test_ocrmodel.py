"""The int8 text detector: derived once from the shipped model, kept in the cache, the same each time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deidlang import ocrmodel
from deidlang.engine import ocr
from deidlang.errors import EngineError


@pytest.fixture
def fake_build(monkeypatch, tmp_path):
    """`ocrmodel._build` replaced by one that writes a small file and counts its calls."""
    calls = []

    def build(source: Path, work: Path, scale: float) -> Path:
        calls.append(scale)
        out = work / "int8.onnx"
        out.write_bytes(b"int8 of " + source.read_bytes())
        return out

    monkeypatch.setattr(ocrmodel, "_build", build)
    source = tmp_path / "det.onnx"
    source.write_bytes(b"shipped")
    return source, calls


def test_the_derived_model_is_built_once_and_then_read_from_the_cache(monkeypatch, tmp_path, fake_build):
    source, calls = fake_build
    monkeypatch.setenv("DEIDLANG_CACHE", str(tmp_path / "cache"))
    assert ocrmodel.int8_detector(source, 2.5) == b"int8 of shipped"
    assert ocrmodel.int8_detector(source, 2.5) == b"int8 of shipped" and calls == [2.5]
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".lock", ".onnx"]  # no part file left
    source.write_bytes(b"another")  # another shipped model (or scale, recipe, library) is another file
    assert ocrmodel.int8_detector(source, 2.5) == b"int8 of another" and calls == [2.5, 2.5]
    ocrmodel.int8_detector(source, 2.0)
    assert calls == [2.5, 2.5, 2.0] and len(list((tmp_path / "cache").glob("*.onnx"))) == 3


def test_processes_starting_together_build_the_model_once(monkeypatch, tmp_path):
    """The calibration takes gigabytes: processes that need the model at the same time (test workers,
    a run's workers) take turns, and those after the first read what it cached."""
    import multiprocessing
    import time

    log = tmp_path / "builds.log"

    def build(source: Path, work: Path, scale: float) -> Path:
        with open(log, "a") as f:
            f.write("built\n")
        time.sleep(0.5)  # long enough for the others to be waiting
        out = work / "int8.onnx"
        out.write_bytes(b"int8 of " + source.read_bytes())
        return out

    monkeypatch.setattr(ocrmodel, "_build", build)
    monkeypatch.setenv("DEIDLANG_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "det.onnx"
    source.write_bytes(b"shipped")
    context = multiprocessing.get_context("fork")  # the children keep the replaced `_build`
    children = [context.Process(target=ocrmodel.int8_detector, args=(source, 2.5)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert log.read_text() == "built\n"
    assert ocrmodel.int8_detector(source, 2.5) == b"int8 of shipped"


def test_an_unwritable_cache_costs_a_rebuild_not_a_failure(monkeypatch, tmp_path, fake_build):
    source, calls = fake_build
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("DEIDLANG_CACHE", str(blocked / "cache"))  # a folder under a file: cannot be made
    assert ocrmodel.int8_detector(source, 2.5) == ocrmodel.int8_detector(source, 2.5) == b"int8 of shipped"
    assert calls == [2.5, 2.5]


def test_a_cached_model_others_could_write_is_not_used(monkeypatch, tmp_path, fake_build):
    source, calls = fake_build
    monkeypatch.setenv("DEIDLANG_CACHE", str(tmp_path / "cache"))
    ocrmodel.int8_detector(source, 2.5)
    (cached,) = (tmp_path / "cache").glob("*.onnx")
    cached.write_bytes(b"planted")
    cached.chmod(0o666)
    assert ocrmodel.int8_detector(source, 2.5) == b"int8 of shipped" and calls == [2.5, 2.5]
    assert cached.read_bytes() == b"int8 of shipped" and not cached.stat().st_mode & 0o077  # replaced, private


def test_with_the_cache_off_the_model_is_built_for_the_process(monkeypatch, tmp_path, fake_build):
    source, calls = fake_build
    monkeypatch.setenv("DEIDLANG_CACHE", "off")
    monkeypatch.chdir(tmp_path)
    assert ocrmodel.int8_detector(source, 2.5) == b"int8 of shipped" and calls == [2.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["det.onnx"]  # nothing written, not here either


def test_the_calibration_is_the_same_each_time_at_the_detectors_scale():
    first, again = list(ocrmodel.calibration_images()), list(ocrmodel.calibration_images())
    assert len(first) == ocrmodel.CALIBRATION_IMAGES and all((a == b).all() for a, b in zip(first, again))
    tensor = next(ocrmodel.calibration_tensors(2.5))
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32 and -1 <= tensor.min() < tensor.max() <= 1


def test_an_unknown_detector_is_named(monkeypatch):
    monkeypatch.setenv("DEIDLANG_OCR_DETECTOR", "fp16")
    with pytest.raises(EngineError, match="unknown detector `fp16`"):
        ocr.require("rapidocr")


@pytest.mark.integration
@pytest.mark.skipif(not ocr.available(), reason="the ocr extra (rapidocr-onnxruntime) is not installed")
def test_both_detectors_read_the_shipped_examples_name(monkeypatch):
    from pydicom import dcmread

    from deidlang.engine import identifying, pixels

    ds = dcmread(Path(__file__).parent.parent / "examples" / "ultrasound" / "us-banner.dcm")
    for detector in ocr.DETECTORS:
        monkeypatch.setenv("DEIDLANG_OCR_DETECTOR", detector)
        read = [f.box.text for f in pixels.examine(ds, pixels.decode(ds), identifying.Terms())]
        assert any("DOE^JANE" in text for text in read), detector
