"""Burned-in text found by OCR (Tesseract through pytesseract, the optional ``ocr`` extra).

Used at run time by `blackout detected-text` and by `deidlang scan`. Text is searched on one frame,
rendered as 8-bit grey (windowed to its own range; MONOCHROME1 inverted), enlarged for small images,
with Tesseract's sparse-text mode. Boxes are returned padded by a few pixels, in image coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EngineError

MIN_CONFIDENCE = 70  # speckle reads as "words" up to ~60; rendered text scores 90+
PAD = 2


@dataclass(frozen=True)
class TextBox:
    x: int
    y: int
    w: int
    h: int
    text: str
    confidence: float

    def region(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h


def available() -> bool:
    try:
        import pytesseract

        pytesseract.get_tesseract_version()
    except Exception:
        return False
    return True


def to_grey(frame: np.ndarray, photometric: str) -> np.ndarray:
    """One frame as 8-bit grey, stretched to its own range."""
    grey = frame.astype(np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=-1)
    low, high = grey.min(), grey.max()
    grey = (grey - low) * (255.0 / (high - low)) if high > low else np.zeros_like(grey)
    if photometric == "MONOCHROME1":
        grey = 255.0 - grey
    return grey.astype(np.uint8)


def find_boxes(frame: np.ndarray, photometric: str) -> list[TextBox]:
    """Words Tesseract reads on the frame with at least `MIN_CONFIDENCE`."""
    try:
        import pytesseract
        from PIL import Image
    except ImportError:
        raise EngineError("`blackout detected-text` needs OCR: pip install 'deidlang[ocr]' and the "
                          "tesseract-ocr package") from None
    grey = to_grey(frame, photometric)
    scale = 2 if max(grey.shape) < 1000 else 1
    image = Image.fromarray(grey).resize((grey.shape[1] * scale, grey.shape[0] * scale))
    try:
        data = pytesseract.image_to_data(image, config="--psm 11", output_type=pytesseract.Output.DICT)
    except Exception as err:  # tesseract missing or failing: never pass the text through
        raise EngineError(f"OCR failed ({type(err).__name__}): is tesseract-ocr installed?") from None
    boxes = []
    for i, text in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if text.strip() and any(c.isalnum() for c in text) and conf >= MIN_CONFIDENCE:
            x, y = data["left"][i] // scale - PAD, data["top"][i] // scale - PAD
            w, h = data["width"][i] // scale + 2 * PAD + 1, data["height"][i] // scale + 2 * PAD + 1
            boxes.append(TextBox(max(x, 0), max(y, 0), w, h, text.strip(), conf))
    return boxes


def find_text(frame: np.ndarray, photometric: str) -> list[tuple[int, int, int, int]]:
    """The regions to black out: every box OCR finds."""
    return [box.region() for box in find_boxes(frame, photometric)]
