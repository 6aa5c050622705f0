"""Regenerate deidlang/data/iod_modules.tsv and iod_attributes.tsv, what each IOD requires.

    apt-get install libgdcm3.0      # ships gdcm-3.0/XML/Part3.xml (PS3.3, 2008 edition)
    python tools/generate_iod_table.py [--part3 /usr/share/gdcm-3.0/XML/Part3.xml]

Source: GDCM's Part3.xml, the module and macro tables of DICOM PS3.3 (2008 edition, 89 IODs), which
GDCM ships as data (BSD licence). Written:
- iod_modules.tsv: SOP Class UID, module, usage (M mandatory, C conditional, U user option), one row
  per module of each IOD whose SOP Class pydicom names.
- iod_attributes.tsv: module, path, type: every attribute of Type 1, 1C, 2 or 2C in a module, with
  the macros it includes expanded; ``path`` is the tags of the sequences it sits in and its own tag
  (``00620002/00620005``). Type 3 attributes are not listed: an attribute that is not there is
  optional wherever it occurs.
Supplement, tools/iod_functional_groups.tsv (from the current PS3.3): which functional group macros each
multi-frame IOD includes in its Shared and Per-frame Functional Groups Sequences, which Part3.xml does not
say. Each such macro is written as a module ``C.7.6.16-1/<macro table>`` of usage M, its attributes under
both sequences: an attribute nested in a functional group is only there when its macro is in use.
Newer IODs and modules than the 2008 edition are not in it: the engine treats them as it treats any
attribute the table does not list.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from pydicom.uid import UID_dictionary

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "deidlang" / "data"
REQUIRED = ("1", "1C", "2", "2C")
FUNCTIONAL_GROUPS = Path(__file__).resolve().parent / "iod_functional_groups.tsv"
#: Shared and Per-frame Functional Groups Sequences (PS3.3 C.7.6.16)
GROUP_SEQUENCES = (0x52009229, 0x52009230)
_ABBREVIATIONS = {"CR": "Computed Radiography", "NM": "Nuclear Medicine", "US": "Ultrasound",
                  "SC": "Secondary Capture", "XRF": "X-Ray Radiofluoroscopic", "PET": "Positron Emission Tomography",
                  "X Ray RF": "X-Ray Radiofluoroscopic", "Enhanced X Ray Angiographic": "Enhanced XA",
                  "Enhanced X Ray RF": "Enhanced XRF", "Multi Frame": "Multi-frame", "12 Lead ECG": "12-lead ECG Waveform",
                  "General ECG": "General ECG Waveform", "Ambulatory ECG": "Ambulatory ECG Waveform",
                  "Hemodynamic": "Hemodynamic Waveform", "Basic Voice Audio": "Basic Voice Audio Waveform",
                  "Basic Cardiac EP": "Cardiac Electrophysiology Waveform"}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def sop_classes() -> dict[str, list[str]]:
    """Normalised storage SOP Class name -> UIDs (with and without For Presentation/Processing)."""
    out: dict[str, list[str]] = {}
    for uid, (name, kind, *_rest) in UID_dictionary.items():
        if kind != "SOP Class":
            continue
        for variant in (name, re.sub(r" - For (Presentation|Processing)$", "", name)):
            out.setdefault(_norm(variant), []).append(uid)
    return out


def iod_uids(name: str, classes: dict[str, list[str]]) -> list[str]:
    base = name.removesuffix(" IOD Modules")
    candidates = [base]
    for short, long in _ABBREVIATIONS.items():
        if base == short or base.startswith(short + " "):
            candidates.append(long + base[len(short):])
    candidates += [c.replace(" SC ", " Secondary Capture ") for c in candidates]
    found: list[str] = []
    for candidate in candidates:
        for form in (candidate, candidate.replace(" Image", ""), candidate + " Image"):
            found += classes.get(_norm(form + " Storage"), []) + classes.get(_norm(form), [])
    return sorted(set(found))


def _table_id(ref: str) -> str | None:
    match = re.search(r"Table\s+([A-Z]?[0-9.]+-[0-9a-z]+)", ref)
    return match.group(1).rstrip(".") if match else None


def read_tables(root: ET.Element) -> dict[str, list[tuple]]:
    """Table id -> items: ("entry", depth, tag, type) or ("include", depth, table id)."""
    tables: dict[str, list[tuple]] = {}
    for table in root:
        if table.tag not in ("module", "macro"):
            continue
        items = []
        for child in table:
            if child.tag == "entry":
                name, group, element = child.get("name", ""), child.get("group", ""), child.get("element", "")
                depth = len(name) - len(name.lstrip(">"))
                if re.fullmatch(r"[0-9A-Fa-f]{4}", group) and re.fullmatch(r"[0-9A-Fa-f]{4}", element):
                    items.append(("entry", depth, int(group + element, 16), (child.get("type") or "3").strip()))
                else:
                    items.append(("entry", depth, None, "3"))  # repeating groups: a placeholder for nesting
            elif child.tag == "include":
                ref = child.get("ref", "")
                target = _table_id(ref)
                if target:
                    items.append(("include", len(ref) - len(ref.lstrip(">")), target))
        tables[table.get("table")] = items
    return tables


def expand(tables: dict[str, list[tuple]], table: str, depth: int = 0, seen: tuple = ()) -> list[tuple[int, int | None, str]]:
    """(depth, tag, type) of a table with its includes expanded."""
    out = []
    for item in tables.get(table, []):
        if item[0] == "entry":
            out.append((depth + item[1], item[2], item[3]))
        elif item[2] not in seen:
            out += expand(tables, item[2], depth + item[1], (*seen, table))
    return out


def paths(entries: list[tuple[int, int | None, str]]) -> list[tuple[str, str]]:
    """(path, type) of the required attributes, from entries in table order."""
    stack: list[int | None] = []
    out = []
    for depth, tag, kind in entries:
        del stack[depth:]
        if len(stack) < depth:  # an include deeper than its parent: keep what we know
            stack += [None] * (depth - len(stack))
        if tag is not None and kind in REQUIRED and None not in stack:
            out.append(("/".join(f"{t:08X}" for t in (*stack, tag)), kind))
        stack.append(tag)
    return out


def functional_groups() -> dict[str, list[str]]:
    """IOD name (as Part3.xml names it, without " IOD Modules") -> the macro tables of its functional groups."""
    out: dict[str, list[str]] = {}
    for line in FUNCTIONAL_GROUPS.read_text().splitlines()[1:]:
        if line and not line.startswith("#"):
            iod, macro, _name = line.split("\t")
            out.setdefault(iod, []).append(macro)
    return out


def grouped(tables: dict[str, list[tuple]], macro: str) -> list[tuple[str, str]]:
    """(path, type) of a functional group macro's required attributes, under both group sequences."""
    return [(f"{sequence:08X}/{path}", kind) for sequence in GROUP_SEQUENCES for path, kind in paths(expand(tables, macro))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part3", type=Path, default=Path("/usr/share/gdcm-3.0/XML/Part3.xml"))
    args = parser.parse_args()
    root = ET.parse(args.part3).getroot()
    tables = read_tables(root)
    modules = {m.get("ref"): m.get("table") for m in root.iter("module")}
    classes = sop_classes()
    module_rows, used = set(), set()
    unmatched = []
    groups, grouped_rows = functional_groups(), set()
    for iod in root.iter("iod"):
        uids = iod_uids(iod.get("name"), classes)
        if not uids:
            unmatched.append(iod.get("name"))
            continue
        for entry in iod:
            table = modules.get(entry.get("ref"))
            if table is None:
                continue
            usage = (entry.get("usage") or "U").strip()[:1]
            for uid in uids:
                module_rows.add((uid, table, usage))
            used.add(table)
        for macro in groups.get(iod.get("name").removesuffix(" IOD Modules"), ()):
            module = f"C.7.6.16-1/{macro}"
            module_rows.update((uid, module, "M") for uid in uids)
            grouped_rows.update((module, path, kind) for path, kind in grouped(tables, macro))
    attribute_rows = sorted({(table, path, kind) for table in used for path, kind in paths(expand(tables, table))}
                            | grouped_rows)
    header = ("# Generated by tools/generate_iod_table.py from GDCM's Part3.xml (DICOM PS3.3, 2008 edition) and "
              "tools/iod_functional_groups.tsv (current edition): do not edit by hand.\n")
    with open(DATA / "iod_modules.tsv", "w") as f:
        f.write(header + "sop_class\tmodule\tusage\n")
        f.writelines(f"{u}\t{t}\t{s}\n" for u, t, s in sorted(module_rows))
    with open(DATA / "iod_attributes.tsv", "w") as f:
        f.write(header + "module\tpath\ttype\n")
        f.writelines(f"{t}\t{p}\t{k}\n" for t, p, k in attribute_rows)
    print(f"{len({r[0] for r in module_rows})} SOP classes, {len(used)} modules, {len(attribute_rows)} attributes; "
          f"IODs with no SOP Class in pydicom: {', '.join(unmatched)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
