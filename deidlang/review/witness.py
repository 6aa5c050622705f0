"""`deidlang diff --witness DIR`: a minimal DICOM file per EXPOSES MORE finding, as evidence.

Each `diff.Witness` names a dataset of the comparison's space on which the new plan lets more
through. Here it becomes a file: the tested elements with their representative values, SOP class and
instance, and the element the finding is about planted with a synthetic value of its VR (never real
data), at its place in sequences; for pixels a small image; for a reject nothing more. The file is
run through both plans, and written only when the new output reveals what the old one did not: the
element present where it was removed, or more of its value (a longer common start with the planted
value: a month as well as a year, an age to the year); a pixel the old plan blacked out left as it
was; a file the old plan turned away written. Findings whose new output reveals nothing of the kind
(a shorter pseudonym, a narrower shift window) get no file and are listed as such.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from ..engine import engine_for
from ..errors import EngineError, Rejected
from ..plan import Plan
from .diff import PlanDiff, Witness
from ..quiet import quiet

KEY = b"deidlang diff witness: a fixed, public key"
_SOP_INSTANCE = "1.2.826.0.1.3680043.10.1234.77"
#: A synthetic value per VR, recognisable in an output; never a real person's data.
_PLANTED = {"PN": "WITNESS^JANE", "DA": "19470613", "DT": "19470613101500", "TM": "101500", "AS": "047Y",
            "UI": "1.2.826.0.1.3680043.10.1234.4711", "CS": "WITNESS", "AE": "WITNESS", "DS": "47.11",
            "IS": "4711", "US": 4711, "UL": 4711, "SS": 4711, "SL": 4711, "FL": 47.11, "FD": 47.11,
            "UR": "http://witness.invalid/4711", "LO": "WITNESS 4711", "SH": "WITNESS 4711"}


@dataclass(frozen=True)
class Written:
    change: int  # index into the diff's changes
    path: Path | None  # None: the new output reveals nothing the old one did not
    reason: str


def dataset(witness: Witness) -> Dataset:
    """The witness as a dataset (an instance: SOP class and instance UIDs included)."""
    ds = witness.point.dataset()
    ds.SOPClassUID = ds.get("SOPClassUID", CTImageStorage)  # a class whose pixels need no pixel rule
    ds.SOPInstanceUID = ds.get("SOPInstanceUID", _SOP_INSTANCE)
    if witness.kind == "element" and witness.tag not in ds:
        _plant(ds, witness)
    if witness.kind == "pixels":  # an image the size the tested Rows and Columns say, else one the regions fit in
        rows, columns = (int(ds.get(k) or 0) or size for k, size in zip(("Rows", "Columns"), witness.size))
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, columns, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.BurnedInAnnotation = "YES"
        ds.PixelData = np.full((rows, columns), 200, np.uint8).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    return ds


def _plant(ds: Dataset, witness: Witness) -> None:
    holder = ds
    for seq, index in witness.position:
        items = Sequence([Dataset() for _ in range(index + 1)])
        holder.add_new(seq, "SQ", items)
        holder = items[index]
    value = _value(witness.vr)
    if witness.creator is not None and (witness.tag >> 16) & 1:
        block = holder.private_block(witness.tag >> 16, witness.creator, create=True)
        block.add_new(witness.tag & 0xFF, witness.vr, value)
    elif witness.vr == "SQ":
        holder.add_new(witness.tag, "SQ", Sequence([Dataset()]))
        holder[witness.tag].value[0].PatientName = _PLANTED["PN"]
    else:
        holder.add_new(witness.tag, witness.vr, value)


def _value(vr: str):
    return _PLANTED.get(vr, "WITNESS 4711" if vr not in ("OB", "OW", "UN", "OF", "OD", "OL", "OV") else b"WITNESS4711\x00")


def reveals(witness: Witness, ds: Dataset, old: Plan, new: Plan) -> str:
    """Why the new plan's output shows more than the old one's on this dataset ('' when it does not)."""
    outputs = []
    for plan in (old, new):
        try:
            with quiet():
                outputs.append(engine_for(plan).apply(ds, KEY).dataset)
        except Rejected:
            outputs.append(None)
        except EngineError:
            outputs.append(None)
    before, after = outputs
    if witness.kind == "reject":
        return "the old rules reject this file; the new ones write it" if before is None and after is not None else ""
    if before is None or after is None:
        return "the new rules write this file; the old ones reject it" if before is None and after is not None else ""
    if witness.kind == "pixels":
        if witness.pixel is None:  # no region lost: a claim the old output did not make
            said = [o.get("BurnedInAnnotation") for o in (before, after)]
            return "the new output says BurnedInAnnotation NO" if said[1] == "NO" and said[0] != "NO" else ""
        x, y = witness.pixel
        if y >= int(ds.Rows) or x >= int(ds.Columns):
            return ""  # the datasets where it shows have images too small to hold that pixel
        old_value, new_value = (int(np.asarray(o.pixel_array)[y, x]) for o in (before, after))
        if old_value != 200 and new_value == 200:
            return f"pixel ({x}, {y}) is blacked out by the old rules and left by the new ones"
        return ""
    original = _find(ds, witness)
    old_seen, new_seen = _revealed(original, _find(before, witness)), _revealed(original, _find(after, witness))
    if new_seen > old_seen:
        return ("the element is written where the old rules removed it" if old_seen == -math.inf else
                "the new output is closer to the planted value than the old one")
    return ""


def _find(ds: Dataset, witness: Witness):
    holder = ds
    for seq, index in witness.position:
        if seq not in holder or index >= len(holder[seq].value):
            return None
        holder = holder[seq].value[index]
    if witness.creator is not None and (witness.tag >> 16) & 1:
        try:
            return holder.private_block(witness.tag >> 16, witness.creator)[witness.tag & 0xFF]
        except KeyError:
            return None
    return holder.get(witness.tag)


def _revealed(original, elem) -> float:
    """How much of the original value an output element shows: -inf when absent; for a date or an
    age, minus how far it is from the original (in days); else the length of the common start of
    their texts (a sequence: its items' count)."""
    if elem is None:
        return -math.inf
    if elem.VR == "SQ":
        return len(elem.value)
    text, want = str(elem.value), str(original.value) if original is not None else ""
    if elem.VR in ("DA", "DT", "AS") and text and want:
        distance = _days(want, elem.VR) - _days(text, elem.VR) if None not in (
            _days(want, elem.VR), _days(text, elem.VR)) else None
        if distance is not None:
            return -abs(distance)
    n = 0
    while n < min(len(text), len(want)) and text[n] == want[n]:
        n += 1
    return n


def _days(text: str, vr: str) -> float | None:
    """A date (days since year 1) or an age (in days), for telling how close an output is."""
    try:
        if vr == "AS":
            return int(text[:3]) * {"D": 1, "W": 7, "M": 30.44, "Y": 365.25}[text[3]]
        return dt.datetime.strptime(text[:8], "%Y%m%d").toordinal()
    except (ValueError, KeyError, IndexError):
        return None


def write(diff: PlanDiff, old: Plan, new: Plan, folder: str | Path) -> list[Written]:
    """Write a witness file per EXPOSES MORE finding that has one, each checked on both plans."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, witness in sorted(diff.witnesses.items()):
        ds = dataset(witness)
        reason = reveals(witness, ds, old, new)
        path = None
        if reason:
            slug = re.sub(r"[^A-Za-z0-9]+", "-", diff.changes[index].subject).strip("-")[:60]
            path = out / f"{index + 1:03d}-{slug}.dcm"
            ds.save_as(path, enforce_file_format=True)
        written.append(Written(index, path, reason))
    return written
