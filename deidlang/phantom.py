"""Synthetic DICOM with planted identifying values, for examples, tests and demonstrations.

`phantom` builds a small CT instance in which every element of the aryanto50 minimum holds a
distinctive value (a "canary") at the top level, and again inside sequences, private blocks and an
overlay, so that a byte search of a de-identified file shows whether anything got through. It reads
no files and uses no network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from .dictionary import aryanto50

# Values that are valid for their VR but unlike anything else in a file; {n} makes them unique.
_CANARY_BY_VR = {
    "DA": "19{n:02d}0317",
    "TM": "1317{n:02d}.424242",
    "DT": "19{n:02d}0317131742.424242",
    "PN": "Canaryname{n:02d}^Zebedee{n:02d}",
    "LO": "CANARY-LO-{n:02d}-QXJ",
    "SH": "CANSH{n:02d}QXJ",
    "ST": "CANARY-ST-{n:02d} 12 Quayside Road",
    "AS": "0{n:02d}Y",
    "CS": "O",
}
#: Elements whose legal values are too short to search for in bytes (checked through pydicom).
SHORT_VALUED = frozenset({0x00100040, 0x00101010})


@dataclass(frozen=True)
class Canaries:
    """Planted value per tag of the minimum (sequences hold their canaries in items), and
    ``extras``: identifying text planted outside the 50 (descriptions, private, overlay, curve), which
    a ruleset limited to the minimum may leave but the basic profile must not."""

    values: dict[int, str]
    extras: dict[str, str]

    def searchable(self) -> dict[int, str]:
        return {t: v for t, v in self.values.items() if t not in SHORT_VALUED and v}


def canary_values(seed: int = 0) -> Canaries:
    values = {}
    for n, e in enumerate(aryanto50(), start=1 + seed * 50):
        pattern = _CANARY_BY_VR.get(e.vr)
        # dates and times take two digits; text canaries stay unique for every seed
        values[e.tag] = pattern.format(n=n % 100 if e.vr in ("DA", "TM", "DT", "AS") else n) if pattern else ""
    extras = {place: f"EXTRA-{place.upper()}-{seed:02d}-Wobblebottom" for place in
              ("description", "code", "private", "overlay", "curve")}
    return Canaries(values, extras)


def phantom(seed: int = 0, *, instance: int = 1, study_uid: str = "1.2.826.0.1.3680043.10.1.1",
            series_uid: str = "1.2.826.0.1.3680043.10.1.1.1", size: int = 16) -> tuple[Dataset, Canaries]:
    """A CT instance with every minimum element planted, at the top level and nested.

    >>> ds, canaries = phantom()
    >>> str(ds.PatientName) == canaries.values[0x00100010]
    True
    """
    canaries = canary_values(seed)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"{series_uid}.{instance}"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = f"{study_uid}.9"
    ds.Modality = "CT"
    ds.Manufacturer = "ACME Imaging"
    ds.InstanceNumber = instance
    ds.BodyPartExamined = "CHEST"
    ds.StudyDescription = f"CT {canaries.extras['description']}"
    _plant(ds, canaries)
    # The sequences of the minimum, each with an item that names a person again.
    for e in aryanto50():
        if e.vr == "SQ":
            item = Dataset()
            item.PersonName = canaries.values[0x0040A123]
            item.InstitutionName = canaries.values[0x00080080]
            code = Dataset()
            code.CodeValue = "CANARYCODE"
            code.CodingSchemeDesignator = "L"
            code.CodeMeaning = canaries.extras["code"]
            item.PersonIdentificationCodeSequence = Sequence([code])
            ds[e.tag] = DataElement(e.tag, "SQ", Sequence([item]))
    # Identifying elements three levels down, where a reviewer would not look.
    inner = Dataset()
    _plant(inner, canaries, only_direct=True)
    middle = Dataset()
    middle.RequestedProcedureID = "RPID0001"
    middle.ReferencedStudySequence = Sequence([inner])
    ds.RequestAttributesSequence = Sequence([middle, Dataset()])
    other = Dataset()
    other.PatientID = canaries.values[0x00100020]
    other.IssuerOfPatientID = canaries.values[0x00100021]
    ds.OtherPatientIDsSequence = Sequence([other])
    ref = Dataset()
    ref.ReferencedSOPClassUID = CTImageStorage
    ref.ReferencedSOPInstanceUID = f"{series_uid}.{instance + 1}"
    ds.ReferencedImageSequence = Sequence([ref])
    # A private block that repeats the name, and one the safe-private table lists.
    block = ds.private_block(0x0029, "ACME CANARY 1.0", create=True)
    block.add_new(0x01, "LO", canaries.extras["private"])
    block.add_new(0x02, "PN", canaries.values[0x00100010])
    gems = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
    gems.add_new(0x39, "IS", [1, 2, 3, 4])
    # Overlay with a text description, and curve data.
    ds.add_new(0x60000010, "US", size)
    ds.add_new(0x60000011, "US", size)
    ds.add_new(0x60000022, "LO", canaries.extras["overlay"])
    ds.add_new(0x60003000, "OW", bytes(size * size // 8))
    ds.add_new(0x50003000, "OB", canaries.extras["curve"].encode())
    # Pixels, uncompressed.
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(size * size, dtype=np.uint16) * (instance + 1) % 4096).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds, canaries


def _plant(ds: Dataset, canaries: Canaries, only_direct: bool = False) -> None:
    for e in aryanto50():
        if e.vr == "SQ" or (only_direct and e.kind != "direct"):
            continue
        value = canaries.values[e.tag] or "O"
        ds.add_new(e.tag, e.vr, value)


def ultrasound_frame(banner: str | None, rows: int = 240, cols: int = 320, seed: int = 0) -> np.ndarray:
    """An 8-bit grey ultrasound-like frame: speckle in a fan-shaped sector on black, and, if given,
    a line of text burned into the top banner as scanners draw it (needs Pillow for the text)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    apex_x, apex_y = cols / 2, rows * 0.12
    radius = np.hypot(x - apex_x, y - apex_y)
    angle = np.degrees(np.arctan2(x - apex_x, y - apex_y))
    sector = (np.abs(angle) < 35) & (radius > rows * 0.1) & (radius < rows * 0.95)
    frame = np.where(sector, rng.gamma(2.0, 30.0, (rows, cols)).clip(0, 180), 0).astype(np.uint8)
    if banner:
        from PIL import Image, ImageDraw, ImageFont

        image = Image.fromarray(frame)
        ImageDraw.Draw(image).text((8, 4), banner, fill=255, font=ImageFont.load_default(size=max(rows // 14, 12)))
        frame = np.asarray(image).copy()
    return frame
