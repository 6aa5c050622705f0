"""Burned-in text found by OCR, on every frame (the optional ``ocr`` extra).

Used at run time by `blackout detected-text`, by `run --verify-pixels` and by `deidlang scan`. Two
engines: ``rapidocr`` (the default: PP-OCRv4 detection and recognition through onnxruntime, whose
models ship inside the ``rapidocr-onnxruntime`` wheel, so nothing is fetched at run time) and
``tesseract`` (pytesseract and the tesseract-ocr program). ``DEIDLANG_OCR`` names the engine;
``DEIDLANG_OCR_THREADS`` the onnxruntime threads per process (default 1: the runner already runs one
worker per core); ``DEIDLANG_OCR_DETECTOR=float`` runs the enlarged pass with the shipped model
rather than its int8 form (`deidlang.ocrmodel`), to compare.

Frames are rendered as 8-bit images first (`render`): 8-bit data as it is, deeper data windowed to a
robust range, MONOCHROME1 inverted, palette colour through its LUT. Identical frames are read once.
PP-OCR's detector reads each frame enlarged (small text; in 8-bit integers, `deidlang.ocrmodel`) and
turned a quarter round (text written downwards), and skips its flat parts (`regions_to_read`).
Boxes come back axis-aligned and padded, in image coordinates, with the frame they were first seen on.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EngineError

ENGINES = ("rapidocr", "tesseract")
#: per engine, a reading below this confidence (0-1) is reported but, unless it matches an identifying
#: value, not blacked out. Tesseract reads speckle and anatomy as low-confidence "words"; PP-OCR's
#: detector already keeps them out (its box threshold), and a box it finds that reads badly is a
#: hard line (small, faint, turned, a unit like "cm" alone), not no text: all its boxes are blacked out.
MIN_CONFIDENCE = {"rapidocr": 0.0, "tesseract": 0.7}
#: pixels added around every detected box, plus this fraction of its height
PAD, PAD_FRACTION = 2, 0.25
#: PP-OCR detection thresholds, its own defaults: lower ones and local contrast stretching found at
#: most one more of the lines missed (docs/pixels.md, Benchmark)
DETECTION = {"det_thresh": 0.3, "det_box_thresh": 0.5, "det_unclip_ratio": 1.6}
#: the growth of each box around its core for the int8 detector (`DETECTORS`), whose boxes come out a
#: pixel tighter than the shipped model's: at 1.6 the caret of `DOE^JANE` in the shipped example's
#: banner is cut off and not read
INT8_UNCLIP_RATIO = 1.7
#: the detector's passes over each frame, as (scale, turned): enlarged 2.5 times, so that 8 px text
#: (5-6 px of ink) becomes as tall as the text the model learnt from (at PP-OCR's own scale, the
#: shorter side to 736 px, such text gives no response at all); and at its own size turned a quarter
#: round, which finds text written downwards or upwards as lines across (text turned 90 degrees is
#: otherwise found in pieces). The longer side stays within `DETECTION_MAX_SIDE`.
PASSES, DETECTION_MAX_SIDE = ((2.5, False), (1.0, True)), 2000
#: the detector's forms: ``int8`` runs the enlarged pass (most of the time) with the model
#: `deidlang.ocrmodel` derives, about twice as fast at the same recall (docs/pixels.md); the turned
#: pass at the frame's own size, cheap already, keeps the shipped model. ``float``: the shipped one.
DETECTORS = ("int8", "float")
#: two boxes from different passes whose overlap is at least this share of the smaller one are one line
SAME_LINE = 0.5
#: `regions_to_read`: tile side, the contrast below which a tile holds no legible text, and the
#: share of the image above which the whole image is read in one piece
FLAT_TILE, FLAT_LEVELS, WHOLE_IMAGE = 32, 8, 0.7
#: fraction of pixels ignored at each end of the range when deeper-than-8-bit data is windowed
_TAIL = 0.0001


@dataclass(frozen=True)
class TextBox:
    x: int
    y: int
    w: int
    h: int
    text: str
    confidence: float  # 0-1
    frame: int = 0  # the first frame the text was read on

    def region(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h


def engine_name() -> str:
    """The engine ``DEIDLANG_OCR`` names, else the default."""
    name = os.environ.get("DEIDLANG_OCR", "").strip().lower() or ENGINES[0]
    if name not in ENGINES:
        raise EngineError(f"DEIDLANG_OCR names an unknown OCR engine `{name}` (known: {', '.join(ENGINES)})")
    return name


def require(engine: str | None = None) -> None:
    """`EngineError` saying what to install when ``engine`` (default: `engine_name`) cannot run here."""
    _reader(engine or engine_name())


def available(engine: str | None = None) -> bool:
    """Whether ``engine`` (default: `engine_name`) can run here."""
    try:
        require(engine)
    except EngineError:
        return False
    return True


def render(frame: np.ndarray, photometric: str, bits_stored: int = 8) -> np.ndarray:
    """One frame as 8-bit (grey, or RGB for colour), the way a viewer would show it by default.

    Data deeper than 8 bits is windowed between robust extremes (a few stray pixels cannot squash
    the range), so text drawn at any level stays readable against what surrounds it.
    """
    if frame.ndim == 3 and frame.dtype == np.uint8:
        return frame
    data = frame.astype(np.float32)
    if frame.dtype.itemsize == 1 and bits_stored <= 8 and frame.ndim == 2 and frame.dtype.kind == "u":
        grey = data
    else:
        low, high = np.quantile(data, [_TAIL, 1 - _TAIL]) if data.size > 1 / _TAIL else (data.min(), data.max())
        if high <= low:
            low, high = data.min(), data.max()
        grey = np.clip((data - low) * (255.0 / (high - low)), 0, 255) if high > low else np.zeros_like(data)
    if photometric == "MONOCHROME1":
        grey = 255.0 - grey
    return grey.astype(np.uint8)


def read(frames: Iterable[np.ndarray], photometric: str, bits_stored: int = 8,
         engine: str | None = None) -> list[TextBox]:
    """Every reading on every frame; a frame identical to an earlier one is not read again."""
    reader = _reader(engine or engine_name())
    seen: set[bytes] = set()
    boxes: list[TextBox] = []
    for index, frame in enumerate(frames):
        digest = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()
        if digest in seen:
            continue
        seen.add(digest)
        image = render(frame, photometric, bits_stored)
        for x0, y0, x1, y1, text, confidence in reader(image):
            if not any(c.isalnum() for c in text):
                continue
            pad = PAD + int(PAD_FRACTION * min(y1 - y0, x1 - x0))
            x, y = max(int(x0) - pad, 0), max(int(y0) - pad, 0)
            right, bottom = min(int(np.ceil(x1)) + pad, image.shape[1]), min(int(np.ceil(y1)) + pad, image.shape[0])
            boxes.append(TextBox(x, y, right - x, bottom - y, text.strip(), round(float(confidence), 3), index))
    return boxes


def merge(regions: Iterable[tuple[int, int, int, int]], gap: int = 0) -> list[tuple[int, int, int, int]]:
    """Merge rectangles (x, y, w, h) that overlap or lie within ``gap`` pixels, until none do: boxes
    read at one place on several frames become one region.

    >>> merge([(0, 0, 10, 10), (12, 0, 10, 10), (100, 100, 5, 5)], gap=8)
    [(0, 0, 22, 10), (100, 100, 5, 5)]
    """
    boxes = [list(r) for r in regions]
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if (a[0] - gap < b[0] + b[2] and b[0] - gap < a[0] + a[2]
                        and a[1] - gap < b[1] + b[3] and b[1] - gap < a[1] + a[3]):
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    boxes[i] = [x0, y0, x1 - x0, y1 - y0]
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(tuple(b) for b in boxes)


def same_lines(boxes: Iterable[tuple[float, float, float, float]]) -> list[list[int]]:
    """Group boxes (x0, y0, x1, y1) found by several detector passes: boxes whose overlap is at least
    `SAME_LINE` of the smaller one are one line, read once. Each group lists its boxes' indices.

    >>> same_lines([(0, 0, 100, 10), (2, 1, 98, 11), (0, 14, 100, 24), (50, 5, 60, 20)])
    [[0, 1], [2], [3]]
    """
    boxes = list(boxes)
    groups: list[list[int]] = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        for group in groups:
            if any(max(0, min(x1, b[2]) - max(x0, b[0])) * max(0, min(y1, b[3]) - max(y0, b[1]))
                   >= SAME_LINE * min((x1 - x0) * (y1 - y0), (b[2] - b[0]) * (b[3] - b[1]))
                   for b in (boxes[j] for j in group)):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def regions_to_read(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The rectangles (x0, y0, x1, y1) of an 8-bit image the detector reads: every tile of
    `FLAT_TILE` pixels that is not flat, with one tile around it, joined into rectangles; the whole
    image when those cover most of it. A tile is flat when none of its pixels (past the 0.5% at each
    end) stands out from its median by more than `FLAT_LEVELS` grey levels or four times its noise:
    text that does not stand out from its noise cannot be read by anyone. Black borders, air and
    plain screen backgrounds then cost nothing.

    >>> image = np.zeros((256, 256), np.uint8); image[100:110, 40:90] = 255
    >>> regions_to_read(image)
    [(0, 64, 128, 160)]
    """
    rows, cols = image.shape[:2]
    t = FLAT_TILE
    ty, tx = -(-rows // t), -(-cols // t)
    padded = np.pad(image.reshape(rows, cols, -1).astype(np.int16), ((0, ty * t - rows), (0, tx * t - cols), (0, 0)),
                    mode="edge")

    def tiled(a):
        return a.reshape(ty, t, tx, t, -1).transpose(0, 2, 4, 1, 3).reshape(ty, tx, -1, t * t)

    low, mid, high = np.percentile(tiled(padded), [0.5, 50, 99.5], axis=-1)
    # the noise's standard deviation from neighbours' differences, which text (flat strokes, few edges)
    # hardly changes: for Gaussian noise their median magnitude is 0.954 sigma
    steps = np.abs(np.diff(padded, axis=1, append=padded[:, -1:]))
    noise = np.median(tiled(steps), axis=-1) / 0.954
    busy = (np.maximum(high - mid, mid - low) > np.maximum(FLAT_LEVELS, 4 * noise)).any(axis=-1)
    grown = busy.copy()
    grown[1:] |= busy[:-1]
    grown[:-1] |= busy[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    rects = merge([(int(x), int(y), 1, 1) for y, x in zip(*np.nonzero(grown))], gap=1)
    if sum(w * h for _, _, w, h in rects) > WHOLE_IMAGE * ty * tx:
        return [(0, 0, cols, rows)]
    return [(x * t, y * t, min((x + w) * t, cols), min((y + h) * t, rows)) for x, y, w, h in rects]


# A reader takes an 8-bit image and yields (x0, y0, x1, y1, text, confidence 0-1).

def _reader(engine: str):
    if engine == "rapidocr":
        return _rapidocr(_threads(), _detector())
    if engine == "tesseract":
        return _tesseract()
    raise EngineError(f"unknown OCR engine `{engine}` (known: {', '.join(ENGINES)})")


def _detector() -> str:
    name = os.environ.get("DEIDLANG_OCR_DETECTOR", "").strip().lower() or DETECTORS[0]
    if name not in DETECTORS:
        raise EngineError(f"DEIDLANG_OCR_DETECTOR names an unknown detector `{name}` "
                          f"(known: {', '.join(DETECTORS)})")
    return name


def _threads() -> int:
    try:
        return max(1, int(os.environ.get("DEIDLANG_OCR_THREADS", "1")))
    except ValueError:
        return 1


@functools.lru_cache(maxsize=2)
def _rapidocr(threads: int, detector: str = DETECTORS[0]):
    try:
        import cv2
        import onnx  # noqa: F401  (what `ocrmodel` builds the int8 detector with)
        import onnxruntime
        import rapidocr_onnxruntime
        import yaml
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise EngineError("OCR needs the `ocr` extra: pip install 'deidlang[ocr]' (rapidocr-onnxruntime, "
                          "which carries its models, and onnx)") from None
    from .. import ocrmodel

    options = {f"{part}_{kind}_op_num_threads": threads if kind == "intra" else 1
               for part in ("det", "cls", "rec") for kind in ("intra", "inter")}
    # one crop per recognition batch: a batch is padded to its widest crop, and one thread gains
    # nothing from batching, so each crop costs only its own width
    engine = RapidOCR(**options, **DETECTION, rec_batch_num=1)
    home = Path(rapidocr_onnxruntime.__file__).parent
    config = yaml.safe_load((home / "config.yaml").read_text())
    # rapidocr opens its sessions without onnxruntime's memory arena, which costs 15-30% more time
    # per frame at these sizes (allocations in every convolution); the same models, with it
    session = onnxruntime.SessionOptions()
    session.intra_op_num_threads, session.inter_op_num_threads = threads, 1
    session.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session.log_severity_level = 4
    for part, runner in (("Det", engine.text_det.infer), ("Rec", engine.text_rec.session)):
        runner.session = onnxruntime.InferenceSession(str(home / config[part]["model_path"]), session,
                                                      providers=["CPUExecutionProvider"])
    post = engine.text_det.postprocess_op
    shipped = engine.text_det.infer.session
    name = shipped.get_inputs()[0].name
    post_int8 = copy.copy(post)
    post_int8.unclip_ratio = INT8_UNCLIP_RATIO
    models = {}  # per pass, the detector it runs and the post-processing of its map
    for scale, turned in PASSES:
        if detector == "float" or turned:
            models[scale, turned] = shipped, post
            continue
        try:
            int8 = ocrmodel.int8_detector(home / config["Det"]["model_path"], scale)
            models[scale, turned] = (onnxruntime.InferenceSession(int8, session, providers=["CPUExecutionProvider"]),
                                     post_int8)
        except Exception as err:
            raise EngineError(f"the int8 text detector could not be built ({type(err).__name__}); "
                              "DEIDLANG_OCR_DETECTOR=float runs the shipped one") from None

    def detect(colour: np.ndarray, scale: float, model, post) -> list[np.ndarray]:
        """The text quadrilaterals PP-OCR's detector (``model``, its map read by ``post``) finds in
        ``colour`` (BGR) enlarged ``scale`` times."""
        rows, cols = colour.shape[:2]
        size = (max(32, round(cols * scale / 32) * 32), max(32, round(rows * scale / 32) * 32))
        tensor = cv2.resize(colour, size).astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        probability = model.run(None, {name: np.ascontiguousarray(tensor.transpose(2, 0, 1)[None])})[0]
        quads, _ = post(probability, (rows, cols))
        return list(engine.text_det.filter_tag_det_res(quads, (rows, cols)))

    def run(image: np.ndarray):
        colour = np.ascontiguousarray((image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=-1))[..., ::-1])
        rows, cols = image.shape[:2]
        try:
            quads, loose = [], []  # each box, and whether it is the turned pass's box around a line across
            for x0, y0, x1, y1 in regions_to_read(image):
                crop = colour[y0:y1, x0:x1]
                for scale, turned in PASSES:
                    model = models[scale, turned]
                    scale = min(scale, DETECTION_MAX_SIDE / max(crop.shape[:2]))
                    if not turned:
                        found = detect(np.ascontiguousarray(crop), scale, *model)
                    else:  # turned a quarter anticlockwise: (x, y) there is (width - 1 - y, x) here
                        found = [np.stack([crop.shape[1] - 1 - q[:, 1], q[:, 0]], axis=1)
                                 for q in detect(np.ascontiguousarray(np.rot90(crop)), scale, *model)]
                    for q in found:
                        q = np.asarray(q, np.float32) + np.float32([x0, y0])
                        quads.append(q)
                        loose.append(turned and np.ptp(q[:, 0]) > np.ptp(q[:, 1]))
            if not quads:
                return
            # A line more than one pass found is read once, from the box around its boxes; the turned
            # pass's box around a line across (which it sees written downwards) is looser than the
            # enlarged pass's and is left out when that pass found the line too.
            extents = [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]
            lines = []
            for group in same_lines(extents):
                group = [i for i in group if not loose[i]] or group
                if len(group) == 1:
                    lines.append(quads[group[0]])
                else:
                    x0, y0 = min(extents[i][0] for i in group), min(extents[i][1] for i in group)
                    x1, y1 = max(extents[i][2] for i in group), max(extents[i][3] for i in group)
                    lines.append(np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
            quads = lines
            crops = engine.get_crop_img_list(colour, quads)
            readings = list(engine.text_rec(crops)[0])
            # The angle classifier turns text on speckle upside down too often; instead a reading
            # that scores low is tried once more turned half round (text drawn upside down, or
            # turned 90 degrees the other way).
            low = [i for i, (_, score) in enumerate(readings) if score < 0.9]
            if low:
                turned = engine.text_rec([np.ascontiguousarray(np.rot90(crops[i], 2)) for i in low])[0]
                for i, (text, score) in zip(low, turned):
                    if score > readings[i][1]:
                        readings[i] = (text, score)
            for quad, (text, score) in zip(quads, readings):
                yield (float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()),
                       float(quad[:, 1].max()), str(text), float(score))
        except Exception as err:  # never pass text through because the reader failed
            raise EngineError(f"OCR failed ({type(err).__name__})") from None

    return run


@functools.lru_cache(maxsize=1)
def _tesseract():
    try:
        import pytesseract
        from PIL import Image

        pytesseract.get_tesseract_version()
    except Exception:
        raise EngineError("the tesseract OCR engine needs pytesseract and Pillow (pip install pytesseract "
                          "pillow) and the tesseract-ocr program (Debian: apt-get install tesseract-ocr)") from None

    def run(image: np.ndarray):
        grey = image.mean(axis=-1).astype(np.uint8) if image.ndim == 3 else image
        scale = 2 if max(grey.shape) < 1000 else 1
        enlarged = Image.fromarray(grey).resize((grey.shape[1] * scale, grey.shape[0] * scale))
        try:
            data = pytesseract.image_to_data(enlarged, config="--psm 11", output_type=pytesseract.Output.DICT)
        except Exception as err:
            raise EngineError(f"OCR failed ({type(err).__name__}): is tesseract-ocr installed?") from None
        for i, text in enumerate(data["text"]):
            if text.strip() and float(data["conf"][i]) >= 0:
                x, y, w, h = (data[k][i] / scale for k in ("left", "top", "width", "height"))
                yield x, y, x + w, y + h, text, float(data["conf"][i]) / 100

    return run
