"""Hypothesis strategies: DICOM datasets with planted PHI, and rule programs.

Datasets draw elements from pydicom's dictionary with values valid for their VR, nest sequences,
add private blocks (some with creators of the safe-private table), repeating groups, retired tags,
empty values, undecodable elements and non-ASCII names. Every element of the aryanto50 minimum is
planted with a unique canary at the top level, and the direct ones again inside sequences.

Canaries are chosen so that a byte search of an output cannot be fooled: text canaries start with
``QZX`` and random text never contains a ``Q``; date canaries lie 111 years apart in years that no
random date (2000-2099) and no generated shift (at most 10 years) can reach; time canaries carry a
unique fraction. Two minimum elements have values too short to search (PatientSex, PatientAge) and are
checked through pydicom instead.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from hypothesis import strategies as st
from pydicom import config as pydicom_config
from pydicom.datadict import DicomDictionary
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.tag import Tag
from pydicom.valuerep import validate_value

from deidlang.actions import ACTIONS, DateUnit, Pseudonym, Shift, Text, TimeUnit, Years
from deidlang.dictionary import aryanto50, safe_private

MINIMUM = aryanto50()
MINIMUM_TAGS = {e.tag for e in MINIMUM}
SHORT_VALUED = {0x00100040: "CS", 0x00101010: "AS"}
SQ_POOL = ["RequestAttributesSequence", "ReferencedStudySequence", "ProcedureCodeSequence",
           "AnatomicRegionSequence", "ReferencedImageSequence", "SourceImageSequence"]
SAFE_CREATORS = sorted({row["private_creator"] for row in safe_private()})[:6]
_GENERATABLE = set("AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OW PN SH SL SS ST TM UC UI UL UR US UT".split())
_SKIP_GROUPS = {0x0000, 0x0002, 0x0004, 0x7FE0, 0xFFFE}
_SKIP_TAGS = {0x00080005, 0x00080016, 0x00080018, 0x00280100, 0x00280103}
# (tag, VR) pool: non-minimum, single VR, neither file meta nor structure the writer depends on.
POOL = sorted((tag, entry[0]) for tag, entry in DicomDictionary.items()
              if entry[0] in _GENERATABLE and tag >> 16 not in _SKIP_GROUPS and tag not in MINIMUM_TAGS
              and tag not in _SKIP_TAGS and tag & 0xFFFF)

# Random text never contains Q, so it can never contain a canary.
_LETTERS = "".join(c for c in string.ascii_letters + string.digits if c not in "Qq")
_TEXT = st.text(st.sampled_from(_LETTERS + " -.,"), max_size=12)
_LATIN1 = st.text(st.sampled_from(_LETTERS + "ÄÖÜäöüéèñç"), min_size=1, max_size=10)
_UNICODE = st.text(st.sampled_from(_LETTERS + "ÄöéñЖюψλ山田中"), min_size=1, max_size=10)


def _date(year_lo: int = 2000, year_hi: int = 2099) -> st.SearchStrategy[str]:
    return st.builds(lambda y, m, d: f"{y:04d}{m:02d}{d:02d}", st.integers(year_lo, year_hi),
                     st.integers(1, 12), st.integers(1, 28))


def _time() -> st.SearchStrategy[str]:
    hh = st.integers(0, 23).map("{:02d}".format)
    mm = st.integers(0, 59).map("{:02d}".format)
    fraction = st.one_of(st.just(""), st.integers(0, 999999).map(".{:06d}".format))
    return st.one_of(hh, st.builds(str.__add__, hh, mm),
                     st.builds(lambda h, m, s, f: h + m + s + f, hh, mm, mm, fraction))


def _datetime() -> st.SearchStrategy[str]:
    return st.builds(lambda d, t, z: d + t + z, _date(), st.one_of(st.just(""), _time()),
                     st.sampled_from(["", "+0100", "-0500"]))


def value_for(vr: str, name_text: st.SearchStrategy[str]) -> st.SearchStrategy:
    """A value valid for the VR (PS3.5 6.2), sometimes empty, sometimes multi-valued."""
    single = {
        "AE": st.text(st.sampled_from(string.ascii_uppercase + string.digits + "_"), min_size=1, max_size=16),
        "AS": st.builds("{:03d}{}".format, st.integers(0, 999), st.sampled_from("DWMY")),
        "AT": st.integers(0, 0xFFFFFFFF),
        "CS": st.text(st.sampled_from("ABCDEFGHIJKLMNOPRSTUVWXYZ0123456789_"), min_size=1, max_size=16),
        "DA": _date(),
        "DS": st.integers(-99999, 99999).map(str),
        "DT": _datetime(),
        "FD": st.floats(-1e6, 1e6, allow_nan=False),
        "FL": st.floats(-1e6, 1e6, allow_nan=False, width=32),
        "IS": st.integers(-(2**31), 2**31 - 1).map(str),
        "LO": _TEXT.map(str.strip),
        "LT": _TEXT,
        "PN": st.builds(lambda a, b: f"{a}^{b}", name_text, name_text),
        "SH": _TEXT.map(lambda s: s[:16].strip()),
        "SL": st.integers(-(2**31), 2**31 - 1),
        "SS": st.integers(-(2**15), 2**15 - 1),
        "ST": _TEXT,
        "TM": _time(),
        "UC": _TEXT,
        "UI": st.lists(st.integers(1, 99999), min_size=2, max_size=6).map(lambda p: "1.2." + ".".join(map(str, p))),
        "UL": st.integers(0, 2**32 - 1),
        "UR": st.just("http://example.invalid/x"),
        "US": st.integers(0, 2**16 - 1),
        "UT": _TEXT,
    }
    if vr in ("OB", "OD", "OF", "OL", "OW"):
        return st.binary(max_size=16).map(lambda b: b + b"\0" * (len(b) % 8 and 8 - len(b) % 8))
    base = single[vr]
    empty = st.just(None) if vr in ("AT", "FD", "FL", "SL", "SS", "UL", "US") else st.just("")
    if vr in ("LT", "ST", "UT", "UR"):  # VM 1 only
        return st.one_of(empty, base)
    return st.one_of(empty, base, st.lists(base, min_size=2, max_size=3))


@dataclass
class Planted:
    """A generated dataset and the canary planted for each minimum tag."""

    dataset: Dataset
    canaries: dict[int, str]
    broken: list[int]  # tags of elements planted undecodable

    def with_broken(self) -> Dataset:
        """A copy of the dataset with the broken elements added: 3 bytes that claim to be VR US."""
        ds = Dataset()
        for elem in self.dataset:
            ds.add(elem)
        ds.file_meta = self.dataset.file_meta
        for tag in self.broken:
            ds._dict[Tag(tag)] = RawDataElement(Tag(tag), "US", 3, b"\x01\x02\x03", 0, False, True)
        return ds

    def searchable(self) -> dict[bytes, int]:
        return {v.encode(): t for t, v in self.canaries.items() if v and t not in SHORT_VALUED}


def canaries(seed: int) -> dict[int, str]:
    """Unique canaries for one dataset; ``seed`` (0-99) keeps datasets of one study apart."""
    out, da, tm = {}, 0, 0
    for i, e in enumerate(MINIMUM):
        tag = f"QZX{seed:02d}{i:02d}"
        if e.vr == "DA":
            out[e.tag] = f"{1000 + 111 * da:04d}0{1 + seed % 9}1{seed % 10}"
            da += 1
        elif e.vr == "TM":
            out[e.tag] = f"1317{seed % 60:02d}.{seed:02d}{tm:02d}91"
            tm += 1
        elif e.vr == "DT":
            out[e.tag] = f"{1000 + 111 * da:04d}0317131742.{seed:02d}{i:02d}93"
            da += 1
        elif e.vr == "PN":
            out[e.tag] = f"{tag}^Canary"
        elif e.vr == "CS":
            out[e.tag] = "O"
        elif e.vr == "AS":
            out[e.tag] = f"{seed % 100:03d}W"
        elif e.vr == "SQ":
            out[e.tag] = ""  # sequences carry their canaries in their items
        else:
            out[e.tag] = f"{tag}CANARY"[:16]
    return out


def _element(draw, name_text) -> DataElement:
    tag, vr = draw(st.sampled_from(POOL))
    return DataElement(tag, vr, draw(value_for(vr, name_text)))


@st.composite
def nested(draw, depth: int, name_text, plant: dict[int, str]) -> Dataset:
    """A sequence item: random elements, maybe direct minimum canaries, maybe deeper sequences."""
    ds = Dataset()
    for _ in range(draw(st.integers(0, 3))):
        elem = _element(draw, name_text)
        ds[elem.tag] = elem
    if draw(st.booleans()):
        for e in MINIMUM:
            if e.kind == "direct" and plant[e.tag] and draw(st.booleans()):
                ds.add_new(e.tag, e.vr, plant[e.tag])
    if depth > 0 and draw(st.booleans()):
        keyword = draw(st.sampled_from(SQ_POOL))
        items = draw(st.lists(nested(depth - 1, name_text, plant), max_size=2))
        setattr(ds, keyword, Sequence(items))
    return ds


@st.composite
def planted_datasets(draw, seed: int | None = None, study: dict[str, str] | None = None) -> Planted:
    """A CT-like instance with random content and the 50 planted (see module docstring)."""
    seed = draw(st.integers(0, 99)) if seed is None else seed
    plant = canaries(seed)
    charset = draw(st.sampled_from(["", "ISO_IR 100", "ISO_IR 192"]))
    name_text = {"": _TEXT.filter(bool), "ISO_IR 100": _LATIN1, "ISO_IR 192": _UNICODE}[charset]
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    for _ in range(draw(st.integers(0, 12))):
        elem = _element(draw, name_text)
        ds[elem.tag] = elem
    # after the random elements, which must not overwrite them (found by the thorough profile)
    study = study or {}
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = study.get("instance", f"1.2.826.0.1.3680043.10.99.{seed}.1")
    ds.StudyInstanceUID = study.get("study", f"1.2.826.0.1.3680043.10.99.{seed}")
    ds.Modality = draw(st.sampled_from(["CT", "MR", "US", "OT"]))
    if ds.Modality == "US":  # says its pixels carry no burned-in text, so that it is written (`pixelrisk`)
        ds.BurnedInAnnotation = "NO"
    for e in MINIMUM:
        if e.vr != "SQ":
            ds.add_new(e.tag, e.vr, plant[e.tag])
        else:
            item = Dataset()
            item.PersonName = plant[0x0040A123]
            item.InstitutionName = plant[0x00080080]
            ds.add_new(e.tag, "SQ", Sequence([item, Dataset()] if draw(st.booleans()) else [item]))
    for keyword in draw(st.lists(st.sampled_from(SQ_POOL), max_size=2, unique=True)):
        setattr(ds, keyword, Sequence(draw(st.lists(nested(2, name_text, plant), max_size=2))))
    # private blocks, some with creators of the safe-private table
    for group in draw(st.lists(st.sampled_from([0x0009, 0x0019, 0x0043, 0x2001]), max_size=2, unique=True)):
        creator = draw(st.one_of(st.sampled_from(SAFE_CREATORS), _TEXT.filter(lambda s: s.strip())))
        block = ds.private_block(group, creator.strip()[:64], create=True)
        for offset in draw(st.lists(st.integers(0, 0xFF), max_size=3, unique=True)):
            block.add_new(offset, "LO", draw(_TEXT).strip())
    # repeating groups: overlay and curve elements with text
    if draw(st.booleans()):
        group = draw(st.sampled_from([0x6000, 0x6002]))
        ds.add_new((group << 16) | 0x0022, "LO", draw(_TEXT).strip())
        ds.add_new((group << 16) | 0x3000, "OW", b"\0\1" * 4)
        ds.add_new(0x50000005, "US", 2)
    # small pixel data, sometimes, with a consistent Image Pixel module
    if draw(st.booleans()):
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, draw(st.sampled_from(["MONOCHROME1", "MONOCHROME2"]))
        ds.Rows = ds.Columns = 8
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = draw(st.sampled_from([0, 1]))
        ds.PixelData = bytes(range(128))
        for tag in (0x00280008, 0x00280006):  # NumberOfFrames, PlanarConfiguration from the pool
            ds.pop(tag, None)
    # elements whose bytes cannot be decoded as their VR (added by `with_broken`, in memory only)
    broken = draw(st.lists(st.sampled_from([0x00181030, 0x00280010]), max_size=2, unique=True))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = draw(st.sampled_from([ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
    return Planted(ds, plant, broken)


# ---------------------------------------------------------------- rule programs

_KEYWORDS = [e.keyword for e in MINIMUM] + ["Modality", "StudyDescription", "Rows", "SOPInstanceUID",
                                           "StudyInstanceUID", "ProtocolName", "Manufacturer"]
_VRS = ["DA", "TM", "DT", "PN", "LO", "SH", "ST", "AS", "CS", "SQ", "UI", "US", "LT", "UN"]
_REPLACEMENTS = ["ANON1", "20010101", "120000", "2.25.1", "1", "045Y", "http://example.invalid/", ""]


def _valid(vr: str, value: str) -> bool:
    try:
        validate_value(vr, value, pydicom_config.RAISE)
    except ValueError:
        return False
    return True


#: A strategy for each kind of argument an action declares (`deidlang.actions`), given the VR the
#: selector names (None: a mask, group or private selector). Shifts stay within 10 years (the canaries).
ARGUMENTS = {
    Text: lambda vr: st.sampled_from([v for v in _REPLACEMENTS if _valid(vr or "UT", v)]).map(Text),
    Shift: lambda vr: st.one_of(st.integers(-3650, 3650).filter(bool).map(lambda d: Shift(days=d)),
                                st.integers(1, 3650).map(lambda n: Shift(within=n))),
    Pseudonym: lambda vr: st.builds(Pseudonym, st.sampled_from(["", "P-"]), st.integers(4, 16 if vr == "SH" else 64)
                                    ).filter(lambda p: _valid(vr or "UT", p.sample())),
    Years: lambda vr: st.integers(1, 100).map(Years),
    DateUnit: lambda vr: st.sampled_from(DateUnit.UNITS).map(DateUnit),
    TimeUnit: lambda vr: st.sampled_from(TimeUnit.UNITS).map(TimeUnit),
}


def _vr_of_keyword(keyword: str) -> str:
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    return dictionary_VR(tag_for_keyword(keyword))


@st.composite
def rule_for(draw, selector: str, vr: str | None, excepts: str) -> str:
    """A rule of any declared action that fits the VR (every action for a selector of no single VR:
    the engine removes what an action does not fit), with an argument its declaration accepts."""
    choices = [a for a in ACTIONS.values() if vr is None or a.fits(vr)]
    declared = draw(st.sampled_from(choices))
    argument = draw(ARGUMENTS[declared.argument](vr)) if declared.argument is not None else None
    return f"{declared.name} {selector}{excepts}{argument.text() if argument is not None else ''}"


@st.composite
def selector_and_action(draw) -> str:
    kind = draw(st.sampled_from(["keyword", "keyword", "vr", "group", "mask", "private", "creator", "path"]))
    if kind in ("keyword", "path"):
        keyword = draw(st.sampled_from(_KEYWORDS))
        vr = _vr_of_keyword(keyword)
        selector = keyword if kind == "keyword" else f"{draw(st.sampled_from(SQ_POOL))}/*/{keyword}"
    elif kind == "vr":
        vr = draw(st.sampled_from(_VRS))
        selector = f"vr {vr}"
    else:
        vr = None
        selector = {"group": draw(st.sampled_from(["group 0010", "group 0008", "group 0040"])),
                    "mask": draw(st.sampled_from(["0010,xxxx", "00xx,0010", "0008,00xx", "60xx,xxxx"])),
                    "private": "private",
                    "creator": f'"{draw(st.sampled_from(SAFE_CREATORS))}" 0043,xx39'}[kind]
    excepts = f" except {draw(st.sampled_from(_KEYWORDS))}" if draw(st.integers(0, 4)) == 0 else ""
    statement = draw(rule_for(selector, vr, excepts))
    if draw(st.integers(0, 3)) == 0:
        statement += " " + draw(conditions())
    return statement


@st.composite
def conditions(draw) -> str:
    atoms = st.sampled_from(['Modality == "CT"', 'Modality in ("US", "MR")', "Rows > 100", "PatientSex exists",
                             'PatientName startswith "QZX"', 'Manufacturer contains "ACME"'])
    parts = draw(st.lists(atoms, min_size=1, max_size=3))
    joined = draw(st.sampled_from([" and ", " or "])).join(parts)
    return "if " + ("not " if draw(st.booleans()) else "") + f"({joined})"


@st.composite
def programs(draw) -> str:
    """A valid rule program (it compiles; it may or may not pass the minimum)."""
    lines = ['ruleset "generated" version "0.0.1"']
    base = draw(st.sampled_from(["", "basic-profile", "aryanto50"]))
    if base:
        lines.append(f'include "{base}"')
    lines.append(f"default {draw(st.sampled_from(['keep', 'remove']))}")
    lines += draw(st.lists(selector_and_action(), max_size=8))
    if draw(st.integers(0, 3)) == 0:
        region = ",".join(str(draw(st.integers(0, 12))) for _ in range(2)) + "," + ",".join(
            str(draw(st.integers(1, 12))) for _ in range(2))
        lines.append(f"blackout {region}" + (" " + draw(conditions()) if draw(st.booleans()) else ""))
    for keyword in draw(st.lists(st.sampled_from([e.keyword for e in MINIMUM]), max_size=2, unique=True)):
        lines.append(f'waive {keyword} because "generated waiver"')
    return "\n".join(lines) + "\n"


def mutate(text: str, data: st.DataObject) -> str:
    """Near-valid text: a few random deletions, insertions and replacements."""
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        pos = data.draw(st.integers(0, len(chars)))
        junk = data.draw(st.sampled_from(list('(),;"/*#\n x0=!<>') + ["remove ", "if ", "because ", "Patient"]))
        if op == "delete" and pos < len(chars):
            del chars[pos]
        elif op == "insert":
            chars[pos:pos] = list(junk)
        elif pos < len(chars):
            chars[pos] = junk
    return "".join(chars)


# ---------------------------------------------------------------- IOD content (issue 16)

#: SOP Classes whose IODs require nested attributes a rule may remove (`deidlang.engine.conformance`)
IOD_CLASSES = {"segmentation": "1.2.840.10008.5.1.4.1.1.66.4", "enhanced-ct": "1.2.840.10008.5.1.4.1.1.2.1",
               "enhanced-mr": "1.2.840.10008.5.1.4.1.1.4.1", "report": "1.2.840.10008.5.1.4.1.1.88.33"}


def _maybe(draw, item: Dataset, keyword: str, value) -> None:
    if draw(st.booleans()):
        setattr(item, keyword, value)


@st.composite
def iod_datasets(draw) -> Planted:
    """A `planted_datasets` instance made an IOD with required nested attributes, each there or not: a
    segmentation's segments, an enhanced CT or MR's functional groups (stacks and in-stack positions,
    metabolite maps, real world value mapping), a report's verification; so that the IOD's substitutes
    (dummy, empty, a sequence removed, a 1C condition's hash or removal) meet random rules."""
    planted = draw(planted_datasets())
    ds = planted.dataset
    kind = draw(st.sampled_from(sorted(IOD_CLASSES)))
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = IOD_CLASSES[kind]
    words = _TEXT.filter(lambda s: s.strip()).map(str.strip)
    _maybe(draw, ds, "StudyID", draw(words))
    _maybe(draw, ds, "ContentDescription", draw(words))
    if kind == "segmentation":
        segments = []
        for number in range(1, draw(st.integers(1, 2)) + 1):
            segment = Dataset()
            segment.SegmentNumber = number
            segment.SegmentAlgorithmType = draw(st.sampled_from(["MANUAL", "AUTOMATIC", "SEMIAUTOMATIC"]))
            _maybe(draw, segment, "SegmentLabel", draw(words))
            _maybe(draw, segment, "SegmentAlgorithmName", draw(words))
            segments.append(segment)
        ds.SegmentSequence = Sequence(segments)
    elif kind == "report":
        ds.VerificationFlag = draw(st.sampled_from(["VERIFIED", "UNVERIFIED"]))
        observer = Dataset()
        observer.VerifyingObserverName = planted.canaries[0x00100010]
        _maybe(draw, observer, "VerifyingOrganization", draw(words))
        _maybe(draw, ds, "VerifyingObserverSequence", Sequence([observer]))
    else:
        frames = []
        for _ in range(draw(st.integers(1, 3))):
            content = Dataset()
            _maybe(draw, content, "StackID", draw(st.sampled_from(["1", "2", planted.canaries[0x00100020]])))
            _maybe(draw, content, "InStackPositionNumber", draw(st.integers(1, 4)))
            frame = Dataset()
            frame.FrameContentSequence = Sequence([content])
            if kind == "enhanced-mr" and draw(st.booleans()):
                metabolite = Dataset()
                metabolite.MetaboliteMapDescription = draw(words)
                frame.MRMetaboliteMapSequence = Sequence([metabolite])
            frames.append(frame)
        ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
        shared = Dataset()
        if draw(st.booleans()):
            mapping = Dataset()
            mapping.LUTLabel, mapping.LUTExplanation = draw(words), draw(words)
            shared.RealWorldValueMappingSequence = Sequence([mapping])
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
    return planted
