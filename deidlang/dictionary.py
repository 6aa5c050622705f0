"""DICOM facts the compiler and validators need: keywords, VRs, and the shipped reference tables.

Names, VRs and VMs come from pydicom's data dictionary, through the table generated from it
(`deidlang._tables`, `tools/generate_tables.py`), so that a run never needs pydicom's import to look
a tag up; the reference tables (the Aryanto 50, PS3.15 E.1-1, E.3.10-1 and CID 7050) are the project's
own copies under ``deidlang/data``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from . import _tables
from ._resources import read_rows

#: Every VR of PS3.5 6.2.
ALL_VRS = frozenset(
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
#: VRs whose values are character strings a person could have typed.
TEXT_VRS = frozenset("AE CS LO LT PN SH ST UC UT".split())
DATE_VRS = frozenset({"DA", "DT", "TM"})

_DIGITS = "0123456789"
#: The characters a value of these VRs can hold as text, backslash (between values) and padding
#: included (PS3.5 6.2): a condition testing for any other character can never hold.
VALUE_CHARS: dict[str, frozenset[str]] = {vr: frozenset(chars + "\\ ") for vr, chars in {
    "US": _DIGITS, "UL": _DIGITS, "UV": _DIGITS, "SS": _DIGITS + "-", "SL": _DIGITS + "-", "SV": _DIGITS + "-",
    "FL": _DIGITS + "+-.eEinfa", "FD": _DIGITS + "+-.eEinfa", "IS": _DIGITS + "+-", "DS": _DIGITS + "+-.eE",
    "DA": _DIGITS, "TM": _DIGITS + ".:", "DT": _DIGITS + ".+-", "UI": _DIGITS + ".", "AS": _DIGITS + "DWMY",
    "CS": "ABCDEFGHIJKLMNOPQRSTUVWXYZ_" + _DIGITS,
}.items()}


class _Dictionary:
    """The generated table's columns, split once: tag -> index, and the masks as pydicom reads them."""

    def __init__(self) -> None:
        self.index = {int(tag, 16): i for i, tag in enumerate(_tables.TAGS.split("\t"))}
        self.vrs, self.vms = _tables.VRS.split("\t"), _tables.VMS.split("\t")
        self.keywords = _tables.KEYWORDS.split("\t")
        self.masks = [(int(mask.replace("x", "0"), 16), int("".join("F0"[c == "x"] for c in mask), 16))
                      for mask in _tables.MASKS.split("\t")]
        self.mask_entries = list(zip(_tables.MASK_VRS.split("\t"), _tables.MASK_VMS.split("\t"),
                                     _tables.MASK_KEYWORDS.split("\t")))

    def entry(self, tag: int) -> tuple[str, str, str]:
        """(VR, VM, keyword) as `pydicom.datadict.get_entry` finds it: the tag, else (for a public tag) the
        first repeating-group mask that matches; `KeyError` when neither."""
        i = self.index.get(tag)
        if i is not None:
            return self.vrs[i], self.vms[i], self.keywords[i]
        if not tag >> 16 & 1:
            for n, (fixed, care) in enumerate(self.masks):
                if (tag ^ fixed) & care == 0:
                    return self.mask_entries[n]
        raise KeyError(f"{tag:08X} is not in the DICOM dictionary")


@functools.cache
def _dictionary() -> _Dictionary:
    return _Dictionary()


@functools.lru_cache(maxsize=4096)
def entry(tag: int) -> tuple[str, str, str]:
    """The dictionary's (VR, VM, keyword) for a tag; `KeyError` when it has none (private tags)."""
    return _dictionary().entry(tag)


def dictionary_vr(tag: int) -> str:
    """The dictionary's VR (``"US or SS"`` as written there), as `pydicom.datadict.dictionary_VR`."""
    return entry(tag)[0]


def dictionary_vm(tag: int) -> str:
    """The dictionary's VM (``"1-n"``), as `pydicom.datadict.dictionary_VM`."""
    return entry(tag)[1]


@functools.cache
def _keywords() -> dict[str, int]:
    d = _dictionary()
    return {keyword: tag for tag, i in d.index.items() if (keyword := d.keywords[i])}


def tag_for_keyword(name: str) -> int | None:
    return _keywords().get(name)


def suggest_keywords(name: str, n: int = 3) -> list[str]:
    """The closest real keywords, for "did you mean" help (case-insensitive)."""
    import difflib  # here, not at the top: a run's start never needs it

    lowered = {k.lower(): k for k in _keywords()}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.75)]


def keyword_of(tag: int) -> str:
    """The keyword of a public tag (repeating groups included), or '' if pydicom has none."""
    try:
        return entry(tag)[2]
    except KeyError:
        return ""


@functools.lru_cache(maxsize=4096)
def vrs_of(tag: int) -> frozenset[str]:
    """The VRs the dictionary allows for a tag ("US or SS" gives both); empty when unknown."""
    try:
        vr = dictionary_vr(tag)
    except KeyError:
        return frozenset()
    return frozenset(v.strip() for v in vr.split(" or ") if v.strip() in ALL_VRS)


def format_tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def parse_tag(text: str) -> int:
    digits = text.strip("()").replace(",", "")
    return int(digits, 16)


# ---------------------------------------------------------------- reference tables


@dataclass(frozen=True)
class MinimumElement:
    """One of the Aryanto 50; ``kind``: a direct or an indirect identifier, as the paper's table classes it."""

    tag: int
    keyword: str
    vr: str
    kind: str  # direct | indirect


@functools.cache
def aryanto50() -> tuple[MinimumElement, ...]:
    """The 50 elements of Aryanto et al. 2015, Table 1."""
    return tuple(
        MinimumElement(parse_tag(row["tag"]), row["keyword"], row["vr"], row["kind"])
        for row in read_rows("aryanto50.tsv")
    )


@functools.cache
def e1_1() -> tuple[dict[str, str], ...]:
    """PS3.15 Annex E Table E.1-1, one dict per row with the column names of the TSV."""
    return tuple(read_rows("ps315_e1_1.tsv"))


#: The four pattern rows of Table E.1-1 and the (tag, VR) of the element that represents each when a
#: plan is checked against the table: curve data, overlay data and comments, and a private element
#: (of an unknown creator).
E1_1_PATTERNS = {
    "50xx,xxxx": (0x50003000, "OB"),
    "60xx,3000": (0x60003000, "OW"),
    "60xx,4000": (0x60004000, "LT"),
    "gggg,eeee (gggg odd)": (0x00091001, "LO"),
}


@functools.cache
def safe_private() -> tuple[dict[str, str], ...]:
    """PS3.15 Annex E Table E.3.10-1, the safe private attributes."""
    return tuple(read_rows("ps315_e3_10_1_safe_private.tsv"))


@functools.cache
def cid7050() -> dict[int, str]:
    """CID 7050 "De-identification Method": code value to code meaning."""
    return {int(row["code"]): row["meaning"] for row in read_rows("cid7050.tsv")}


@functools.cache
def tcia_creators() -> tuple[str, ...]:
    """Private creator names of the TCIA private tag knowledge base, sorted, from its table (for
    completion; they decide nothing).

    >>> "SIEMENS CSA HEADER" in tcia_creators()
    True
    """
    return tuple(sorted({row["creator"] for row in tcia_private_kb() if row["creator"]}))


@functools.cache
def tcia_private_kb() -> tuple[dict[str, str], ...]:
    """The TCIA private tag knowledge base (2024-02-01), rows whose element is private: group,
    creator, offset (hex), vr, disposition (k d h o oi na, or blank) and depth (tools/generate_kb.py)."""
    return tuple(read_rows("tcia_private_kb.tsv"))


#: The option columns of Table E.1-1: CID 7050 code and the ruleset name the generator gives it.
OPTION_COLUMNS: dict[str, tuple[int, str]] = {
    "rtn_safe_priv": (113111, "retain-safe-private"),
    "rtn_uids": (113110, "retain-uids"),
    "rtn_dev_id": (113109, "retain-device-identity"),
    "rtn_inst_id": (113112, "retain-institution-identity"),
    "rtn_pat_chars": (113108, "retain-patient-characteristics"),
    "rtn_long_full_dates": (113106, "retain-long-full-dates"),
    "rtn_long_modif_dates": (113107, "retain-long-modified-dates"),
    "clean_desc": (113105, "clean-descriptors"),
    "clean_struct_cont": (113104, "clean-structured-content"),
    "clean_graph": (113103, "clean-graphics"),
}
