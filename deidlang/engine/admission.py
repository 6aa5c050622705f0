"""What an input must satisfy before, and while, it is walked: decided from the dictionary and the
plan, never from what the file says of itself. Shared by both engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import limits
from ..dictionary import format_tag, keyword_of
from ..errors import EngineError, Rejected
from ..pixelrisk import READS, classify
from ..plan import Plan
from ..resolve import Position
from ..valuecheck import charset_problem, decided_vr, encoded, kept_problem

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

CHARSET = 0x00080005


def charset(ds: Dataset) -> list[str]:
    """The terms of SpecificCharacterSet, which is carried over as it is: `EngineError` unless each
    is a defined term (a value there could be anything, a name and an address included)."""
    from pydicom.dataelem import RawDataElement

    if CHARSET not in ds:
        return []
    stored = ds.get_item(CHARSET)
    raw = stored.value if isinstance(stored, RawDataElement) else encoded(ds[CHARSET], [])
    why = charset_problem(raw or b"")
    if why:
        raise EngineError(why + ": the file is failed")
    return [t.strip() for t in bytes(raw or b"").decode("latin-1").split("\\")]


def pixels_covered(plan: Plan, ds: Dataset, truths: list[bool]) -> bool:
    """Whether the plan covers the pixels (DESIGN.md, pixels are in the proof): True when they are
    not at risk of burned-in text (`pixelrisk`) or a `complete` blackout applies; False when a
    text pixel rule (not complete) or `waive pixels` lets them out. `Rejected`, naming the rule
    to add, when nothing decides them."""
    return covered(plan, [top_text(ds, tag) for tag in READS], truths)


def covered(plan: Plan, texts: list[str | None], truths: list[bool]) -> bool:
    """`pixels_covered` from the top-level texts of `pixelrisk.READS` (`top_text`'s forms)."""
    risk = classify(*texts)
    if risk is None:
        return True
    active = [r for r in plan.pixel_rules
              if r.kind != "burn-overlays" and (r.condition is None or truths[r.condition])]
    if any(r.kind == "blackout" and r.complete for r in active):
        return True
    if active or plan.pixel_waiver is not None:
        return False
    raise Rejected(f"the pixels may carry burned-in text ({risk}) and no pixel rule decides them: add a "
                   "`blackout` rule for this kind of image (or `blackout detected-text`), or "
                   '`waive pixels because "..."`')


def check_depth(position: Position, most: int | None = None) -> None:
    """Refuse sequences nested deeper than the limit (``most``, else `limits.depth`), naming where: a
    small file can nest items thousands deep to exhaust the stack."""
    most = limits.depth() if most is None else most
    if len(position) > most:
        where = "/".join(f"{format_tag(tag)}[{index}]" for tag, index in position[:4])
        raise EngineError(f"{where}/...: sequences nested more than {most} levels deep (the limit)")


def require_instance(has_class: bool, has_instance: bool) -> None:
    """Only an instance (SOP Class and Instance UIDs with values) can be de-identified into a file."""
    if not (has_class and has_instance):
        raise EngineError("the input has no SOP Class or SOP Instance UID: not an instance (a DICOMDIR?)")


def readable(ds: Dataset, tag: int) -> None:
    """A value a condition compares must be valid for its dictionary VR, else `EngineError`: a value
    written `yes`, ` Y` or `YES\\YES` must neither decide a rule nor escape a `reject` (fail-closed)."""
    from pydicom.dataelem import RawDataElement

    stored = ds.get_item(tag)
    what = f"{keyword_of(tag) or format_tag(tag)} {format_tag(tag)}"
    try:
        elem = ds[tag]
    except Exception:
        raise EngineError(f"{what}, which a condition reads, cannot be decoded: the file is failed") from None
    vr, _ = decided_vr(tag, stored.VR if isinstance(stored, RawDataElement) and stored.VR else elem.VR)
    if vr is None:
        raise EngineError(f"{what}, which a condition reads, has a VR the dictionary does not give it: "
                          "the file is failed")
    if vr == "SQ":
        return
    raw = stored.value if isinstance(stored, RawDataElement) else encoded(elem, ds._character_set)
    if kept_problem(tag, vr, None, len(raw or b""), lambda: raw or b"") is not None:
        raise EngineError(f"{what}, which a condition reads, is not a valid {vr} value: the file is failed")


def top_text(ds: Dataset, tag: int) -> str | None:
    """A top-level value as text (several joined with a backslash); None when absent, ``?`` when it
    cannot be decoded (which `pixelrisk` counts as the worst case)."""
    try:
        elem = ds.get(tag)
        value = None if elem is None else elem.value
    except Exception:
        return "?"
    if value is None:
        return None if elem is None else ""
    if isinstance(value, (bytes, bytearray)):
        return "?"
    from pydicom.multival import MultiValue  # ``ds`` is pydicom's: loaded

    return "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
