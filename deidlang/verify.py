"""Reference integrity of a run: what resolved in the input must still resolve in the output.

The reference graph of a set of instances: each instance's SOP Instance, Series, Study and Frame of
Reference UIDs, and every reference to another instance, series, study or frame of reference inside
it (Referenced*/Source* SOP Instance UIDs, the Series and Study Instance UIDs and Frame of Reference
UIDs inside sequences: SEG, RT, presentation state and key object references), with the element's
place. `verify` builds the graph of the inputs and of the outputs of a run (paired by the run's
report), and reports every reference that resolved among the inputs but does not among the outputs,
every output whose file meta disagrees with its SOP Instance UID, and every input PatientID whose
instances were given several PatientIDs (one patient split into several). Nothing printed holds a
value: places are tags and item numbers, instances are counted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from .dictionary import format_tag
from .quiet import quiet

_OWN = {0x00080018: "instance", 0x0020000E: "series", 0x0020000D: "study", 0x00200052: "frame"}
_FRAME_REFS = frozenset({0x00200052, 0x30060024, 0x00209161})  # FrameOfReferenceUID, ReferencedFoR, ...


@dataclass
class Graph:
    """The UIDs a set of instances has, and the references each makes (place -> (kind, UID))."""

    has: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    refs: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # instance -> place -> ref

    def add(self, key: str, ds: Dataset) -> None:
        for tag, kind in _OWN.items():
            value = ds.get(tag)
            if value is not None and value.value:
                self.has[kind].add(str(value.value))
        self.refs[key] = dict(references(ds))

    def resolves(self, ref: tuple[str, str]) -> bool:
        kind, uid = ref
        return uid in self.has[kind]


def references(ds: Dataset, place: str = ""):
    """(place, (kind, UID)) of every reference inside the sequences of ``ds``."""
    for elem in ds:
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                yield from references(item, f"{place}{format_tag(elem.tag)}[{i}]/")
            continue
        if not place or elem.VR != "UI" or not elem.value:
            continue
        tag = int(elem.tag)
        keyword = keyword_for_tag(tag)
        if keyword.endswith("SOPInstanceUID") and keyword != "SOPInstanceUID" or keyword == "SOPInstanceUID":
            kind = "instance"
        elif tag == 0x0020000E:
            kind = "series"
        elif tag == 0x0020000D:
            kind = "study"
        elif tag in _FRAME_REFS:
            kind = "frame"
        else:
            continue
        values = elem.value if elem.VM > 1 else [elem.value]
        for n, value in enumerate(values):
            yield f"{place}{format_tag(tag)}" + (f"#{n}" if elem.VM > 1 else ""), (kind, str(value))


@dataclass
class Verdict:
    pairs: int = 0
    resolved_before: int = 0
    broken: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # place -> count
    meta_mismatch: int = 0
    split_patients: int = 0
    merged_patients: int = 0

    @property
    def ok(self) -> bool:
        return not self.broken and not self.meta_mismatch and not self.split_patients

    def lines(self) -> list[str]:
        out = [f"{self.pairs} instances paired; {self.resolved_before} references resolved among the inputs, "
               f"{self.resolved_before - sum(self.broken.values())} still resolve among the outputs"]
        out += [f"broken: {place} ({_name(place)}): {n} instance(s)" for place, n in sorted(self.broken.items())]
        if self.meta_mismatch:
            out.append(f"file meta MediaStorageSOPInstanceUID differs from SOPInstanceUID in {self.meta_mismatch} output(s)")
        if self.split_patients:
            out.append(f"{self.split_patients} input PatientID(s) split into several output PatientIDs")
        if self.merged_patients:
            out.append(f"{self.merged_patients} output PatientID(s) shared by several input patients "
                       "(linkage between patients lost)")
        return out


def _name(place: str) -> str:
    from .dictionary import parse_tag

    leaf = place.rsplit("/", 1)[-1].split("#")[0]
    return keyword_for_tag(parse_tag(leaf.strip("()"))) or "private"


def pairs_from_report(report: str | Path) -> list[tuple[Path, Path]]:
    """(input, output) of every written file of a run's ``--report``."""
    out = []
    for line in Path(report).read_text().splitlines():
        row = json.loads(line)
        if row.get("outcome") == "written" and row.get("output"):
            out.append((Path(row["source"]), Path(row["output"])))
    return out


def verify(pairs: list[tuple[Path, Path]]) -> Verdict:
    before, after = Graph(), Graph()
    patients: dict[str, set[str]] = defaultdict(set)
    verdict = Verdict(pairs=len(pairs))
    with quiet():
        for n, (source, output) in enumerate(pairs):
            a = dcmread(source, stop_before_pixels=True, force=True)
            b = dcmread(output, stop_before_pixels=True)
            before.add(str(n), a)
            after.add(str(n), b)
            meta = getattr(b, "file_meta", None)
            if meta is None or meta.get("MediaStorageSOPInstanceUID") != b.get("SOPInstanceUID"):
                verdict.meta_mismatch += 1
            patients[str(a.get("PatientID", ""))].add(str(b.get("PatientID", "")))
    for key, refs in before.refs.items():
        out_refs = after.refs.get(key, {})
        for place, ref in refs.items():
            if not before.resolves(ref):
                continue
            verdict.resolved_before += 1
            if place not in out_refs or not after.resolves(out_refs[place]):
                verdict.broken[place] += 1
    verdict.split_patients = sum(len(ids) > 1 for ids in patients.values())
    owners: dict[str, int] = defaultdict(int)
    for ids in patients.values():
        for new in ids:
            owners[new] += 1
    verdict.merged_patients = sum(n > 1 for n in owners.values())
    return verdict
