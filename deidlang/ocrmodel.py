"""PP-OCR's text detector in 8-bit integers, derived here from the model its wheel ships.

The enlarged detector pass is most of OCR's time (docs/pixels.md, Benchmark). The same network with
int8 weights and activations (onnxruntime's static quantisation, in its operator format, per-channel
weights) runs about twice as fast on one core. Its activation ranges are calibrated on images drawn
here, deterministically, like the frames the detector sees: speckle, noise and flat screens with
lines of text of several sizes and colours, enlarged as the detector's pass enlarges them. Nothing
is downloaded: the model is built at first use from the shipped one (about a minute), and kept in
deidlang's cache folder (`_cache`: ``DEIDLANG_CACHE``, else ``$XDG_CACHE_HOME/deidlang``, else
``~/.cache/deidlang``) under a name that changes with the source model, the recipe and the
libraries that build it. A cached model is used only when this user owns it and its folder and no
one else can write them (a planted detector could miss text on purpose); where the folder is off,
cannot be written or is not private, the model is built for the process alone.

The calibration uses percentiles (the 99.999th of each activation), not extremes: with extremes,
the few largest values set the step of every other, and the weak responses to the smallest text
fall below it (measured: lines of 7-9 px lost on XA and cine frames; docs/pixels.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import _cache

#: changes whenever the way the model is built changes, so that a cached model built otherwise is not used
RECIPE = "det-int8-percentile-1"
#: the calibration: this many images of this side, drawn from this seed, enlarged by the detector's scale
CALIBRATION_IMAGES, CALIBRATION_SIDE, CALIBRATION_SEED = 14, 256, 2026
#: the text drawn on them (letters, digits and the separators of names, dates and measurements)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789^.,-/: "


def int8_detector(source: Path, scale: float) -> bytes:
    """The int8 model derived from the detector at ``source`` (calibrated at ``scale``), as bytes
    for `onnxruntime.InferenceSession`: from the cache, else built (and cached where possible)."""
    import onnx
    import onnxruntime

    data = source.read_bytes()
    key = hashlib.sha256(b"\0".join([data, RECIPE.encode(), str(scale).encode(),
                                     onnxruntime.__version__.encode(), onnx.__version__.encode()])).hexdigest()[:20]
    folder = _cache.folder()
    cached = folder / f"{source.stem}-{key}.onnx" if folder else None
    with _building(cached):
        try:
            if cached and _cache.private(cached.parent) and _cache.private(cached):
                return cached.read_bytes()
        except OSError:
            pass  # not there yet
        with tempfile.TemporaryDirectory() as work:
            model = _build(source, Path(work), scale).read_bytes()
        if cached is None:
            return model
        part = None
        try:  # a process that could not take the lock may build the same: each renames its own whole file
            cached.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".part", delete=False) as part:
                part.write(model)  # readable by this user alone, as NamedTemporaryFile makes it
            os.replace(part.name, cached)
        except OSError:  # an unwritable cache costs a rebuild per process, nothing else
            if part is not None:
                Path(part.name).unlink(missing_ok=True)
        return model


@contextlib.contextmanager
def _building(cached: Path | None) -> Iterator[None]:
    """Hold the cache's build lock for ``cached``: the calibration takes gigabytes, so processes
    starting together (test workers, a run's workers) build one at a time, and the later ones find
    the model cached. Without a cache folder to lock in, no lock: the process builds alone anyway."""
    if cached is None:
        yield
        return
    try:
        cached.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(cached.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:  # an unwritable cache folder: built for the process alone
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _build(source: Path, work: Path, scale: float) -> Path:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared, out = work / "prepared.onnx", work / "int8.onnx"

    class Images(CalibrationDataReader):
        def __init__(self) -> None:
            self.tensors = calibration_tensors(scale)

        def get_next(self) -> dict | None:
            tensor = next(self.tensors, None)
            return None if tensor is None else {"x": tensor}  # the detector's one input

    # the quantiser prints its progress and logs warnings about the model's batch norms: neither
    # belongs in deidlang's output (a `--json` report on stdout, for one)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            # the model's shapes follow its input's, which symbolic inference cannot follow: ONNX's
            # own inference only; its opset (12) has no per-channel QDQ nodes: the operator format
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
            quantize_static(str(prepared), str(out), Images(), quant_format=QuantFormat.QOperator,
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.Percentile)
    finally:
        logging.disable(previous)
    return out


def calibration_tensors(scale: float) -> Iterator[np.ndarray]:
    """The detector's inputs the model is calibrated on: `calibration_images`, enlarged ``scale``
    times and normalised as `ocr` feeds the detector (BGR, -1 to 1, channels first)."""
    import cv2

    for image in calibration_images():
        side = round(CALIBRATION_SIDE * scale / 32) * 32
        enlarged = cv2.resize(image, (side, side)).astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        yield np.ascontiguousarray(enlarged.transpose(2, 0, 1)[None])


def calibration_images() -> Iterator[np.ndarray]:
    """Square 8-bit colour images, each a background (ultrasound-like speckle in a sector, a noisy
    smooth X-ray-like field, or a flat screen) with two to four lines of text across or turned,
    8 to 40 px tall, light or dark, some of low contrast.

    >>> images = list(calibration_images())
    >>> len(images), images[0].shape, images[0].dtype
    (14, (256, 256, 3), dtype('uint8'))
    """
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(CALIBRATION_SEED)
    side = CALIBRATION_SIDE
    y, x = np.mgrid[0:side, 0:side]
    for i in range(CALIBRATION_IMAGES):
        kind = i % 3
        if kind == 0:
            sector = np.abs(np.degrees(np.arctan2(x - side / 2, y + side * 0.1))) < 38
            field = np.where(sector, rng.gamma(2.0, 30.0, (side, side)).clip(0, 200), 0)
        elif kind == 1:
            field = 150 + 50 * np.sin(x / 19.0) * np.cos(y / 27.0) + rng.normal(0, 10, (side, side))
        else:
            field = np.full((side, side), float(rng.choice([0, 30, 200, 240]))) + rng.normal(0, 3, (side, side))
        image = Image.fromarray(np.repeat(field.clip(0, 255).astype(np.uint8)[..., None], 3, axis=-1))
        for _ in range(int(rng.integers(2, 5))):
            size = int(rng.choice([8, 10, 12, 16, 24, 40]))
            text = "".join(rng.choice(list(_ALPHABET), int(rng.integers(4, 14))))
            colour = tuple(int(c) for c in [(255, 255, 255), (255, 255, 0), (0, 255, 255), (128, 128, 128),
                                             (0, 0, 0)][rng.integers(5)])
            line = Image.new("L", (side, size + 4), 0)
            ImageDraw.Draw(line).text((0, 0), text, fill=255, font=ImageFont.load_default(size=size))
            if rng.random() < 0.2:
                line = line.rotate(90, expand=True)
            where = (int(rng.integers(0, max(1, side - line.width))), int(rng.integers(0, max(1, side - line.height))))
            image.paste(Image.new("RGB", line.size, colour), where, line)
        yield np.asarray(image)[..., ::-1].copy()
