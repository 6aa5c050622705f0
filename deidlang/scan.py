"""`deidlang scan`: find burned-in text in files, and turn what is found into blackout rules.

Triage first: a file is read by OCR only when its risk class says its pixels may carry text (its SOP
class, modality or BurnedInAnnotation), or when a pixel rule of the plan applies to it; a CT or MR
series costs nothing beyond reading its header. Every distinct frame of a file is read
(`deidlang.engine.pixels.examine`), and each reading is judged against the header: text that repeats
a value the plan removes or changes is identifying; other text is reported with its confidence.

Suggestions: files are grouped by what a rule's condition can name (Manufacturer,
ManufacturerModelName, Rows, Columns; an element a file lacks becomes `not X exists`); within a group,
the places where text was read are merged into a few tight regions, each reported with the fraction
of the image it covers, for a reviewer to check.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread

from . import pixelrisk
from .engine import dataset as reference
from .engine import identifying, ocr, pixels
from .engine.keys import Key
from .errors import EngineError, Rejected
from .plan import Plan
from .quiet import quiet

#: what a device rule's condition names, in order
GROUP_BY = ("Manufacturer", "ManufacturerModelName", "Rows", "Columns")
MERGE_GAP = 4  # pixels between boxes that still belong to one region
_KEY = Key.random()  # values the plan would compute are only compared, never shown


@dataclass
class FileScan:
    path: str
    group: tuple  # the GROUP_BY values, None where the file lacks the element
    why: str = ""  # why the pixels were read; "" when they were not
    findings: list[pixels.Finding] = field(default_factory=list)
    error: str = ""

    @property
    def looked(self) -> bool:
        return bool(self.why) and not self.error

    @property
    def redacted(self) -> list[pixels.Finding]:
        return [f for f in self.findings if f.redact]


def may_carry_text(ds, plan: Plan | None = None) -> str:
    """Why ``ds``'s pixels may carry text (a reason in words), or "" when nothing says so: its risk
    class (`pixelrisk.classify`), else its kind whatever BurnedInAnnotation says (the file does not vote
    on whether it is looked at), including the kinds `pixelrisk.OFTEN_LABELLED`, else a pixel rule."""
    said = ds.get("BurnedInAnnotation")
    sop_class, modality = (str(ds.get(k, "")) for k in ("SOPClassUID", "Modality"))
    risk = pixelrisk.classify(sop_class, modality, None if said is None else str(said))
    if risk:
        return risk
    named = pixelrisk.kind(sop_class, modality, pixelrisk.CLASSES + pixelrisk.OFTEN_LABELLED)
    if named:
        return named
    if plan is not None and plan.pixel_rules:
        try:
            truths = reference.Engine(plan).judge(ds)
        except Rejected:
            return ""
        if any(r.condition is None or truths[r.condition] for r in plan.pixel_rules):
            return "a pixel rule applies"
    return ""


def scan_files(paths: Iterable[Path], plan: Plan | None = None, everything: bool = False,
               engine: str | None = None) -> Iterator[FileScan]:
    """Triage and OCR every file that has pixel data; unreadable ones are reported, not raised.
    ``plan`` decides which header values are identifying (without one: every name, ID and date)."""
    engine = engine or ocr.engine_name()
    ocr.require(engine)  # a missing engine is said once, before any file
    for path in paths:
        with quiet():
            try:
                ds = dcmread(path)
            except Exception as err:
                yield FileScan(str(path), (None,) * len(GROUP_BY), error=f"cannot read ({type(err).__name__})")
                continue
            if "PixelData" not in ds:
                continue
            scan = FileScan(str(path), tuple(ds.get(k) if k in ds else None for k in GROUP_BY))
            scan.group = tuple(None if v is None else (int(v) if k in ("Rows", "Columns") else str(v))
                               for k, v in zip(GROUP_BY, scan.group))
            scan.why = "asked for (--all)" if everything else may_carry_text(ds, plan)
            if not scan.why:
                yield scan
                continue
            try:
                scan.findings = pixels.examine(ds, pixels.decode(ds), _terms(ds, plan), engine)
            except EngineError as err:
                if "OCR" in err.message and "decoded" not in err.message:
                    raise  # OCR itself is missing or broken: say so rather than report every file
                scan.error = "pixels cannot be decoded"
            except Exception as err:
                scan.error = f"pixels cannot be decoded ({type(err).__name__})"
            yield scan


def _terms(ds, plan: Plan | None) -> identifying.Terms:
    if plan is None:
        return identifying.removed_or_changed(ds, None)
    try:
        out = reference.Engine(plan).apply(ds, _KEY, trace=[]).dataset
    except (Rejected, EngineError):
        out = None
    return identifying.removed_or_changed(ds, out)


@dataclass(frozen=True)
class Suggestion:
    group: tuple
    regions: list[tuple[int, int, int, int]]
    files: int  # files of the group that were read
    with_text: int  # of which text was found in
    area: float  # fraction of the image the regions cover

    def condition(self) -> str:
        parts = []
        for keyword, value in zip(GROUP_BY, self.group):
            if value is None:
                parts.append(f"not {keyword} exists")
            elif isinstance(value, int):
                parts.append(f"{keyword} == {value}")
            else:
                parts.append(f'{keyword} == "{_quote(value)}"')
        return " and ".join(parts)

    def rule(self) -> str:
        return "blackout " + ", ".join(",".join(map(str, r)) for r in self.regions) + f" if {self.condition()}"


def suggestions(scans: Iterable[FileScan]) -> list[Suggestion]:
    """One suggestion per device and image size whose files showed text worth blacking out."""
    boxes: dict[tuple, list] = {}
    files: dict[tuple, int] = {}
    with_text: dict[tuple, int] = {}
    for s in scans:
        if not s.looked:
            continue
        files[s.group] = files.get(s.group, 0) + 1
        found = s.redacted
        with_text[s.group] = with_text.get(s.group, 0) + bool(found)
        boxes.setdefault(s.group, []).extend(f.box.region() for f in found)
    out = []
    for group in sorted(boxes, key=lambda g: tuple("" if v is None else str(v) for v in g)):
        if not boxes[group]:
            continue
        regions = ocr.merge(boxes[group], gap=MERGE_GAP)
        rows, cols = group[2], group[3]
        area = sum(w * h for _, _, w, h in regions) / (rows * cols) if rows and cols else 0.0
        out.append(Suggestion(group, regions, files[group], with_text[group], area))
    return out


def suggest(scans: Iterable[FileScan]) -> list[str]:
    """The suggestions as commented rules, ready to paste into a rule file after review."""
    lines = []
    for s in suggestions(scans):
        manufacturer, model, rows, cols = s.group
        lines.append(f"# {manufacturer or '?'} {model or '?'} {cols}x{rows}: text in {s.with_text} of {s.files} "
                     f"file(s); the regions cover {s.area:.1%} of the image; review")
        lines.append(s.rule())
    return lines


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
