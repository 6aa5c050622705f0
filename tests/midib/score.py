"""Score de-identified copies against the generator's answer key, check type by check type.

The ten check types and what passes, as the MIDI-B validation script (CBIIT/MIDI_validation_script)
defines them, written here from its description:
- text_removed: the element is gone or empty, or none of the answer's words (stop words aside) is a
  word of the new value; the score is the share of words removed. Words are compared whole and
  case-insensitively (the script compares substrings, which counts "OR" as kept in "TUMOR").
- date_shifted, uid_changed: the original value is not in the new one (a missing element passes).
- pixels_hidden: no ink pixel of the burned-in text is left in its box.
- tag_retained: the element is there with a value. text_notnull: there and not empty.
- text_retained: every word of the answer is in the new value (numbers compare as numbers).
- uid_consistent, patid_consistent: the new value is the crosswalk's value for the old one.
- pixels_retained: the MD5 of PixelData is the original's.
A file that is missing passes its removal checks and fails the others, as in the script.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset

from .generate import ACTIONS, INK, REMOVAL, Check, Instance

_STOP = frozenset("a an and the of in on at for to with by from is was were be per or".split())
_WORD = re.compile(r"[^\W_]+")


@dataclass
class Result:
    check: Check
    instance: str
    score: float

    @property
    def passed(self) -> bool:
        return self.score == 1.0


def read_crosswalk(path: str | Path) -> dict[str, str]:
    """An ``id_old,id_new`` CSV as a dict."""
    with open(path, newline="") as f:
        return {row["id_old"]: row["id_new"] for row in csv.DictReader(f)}


def score(instances: list[Instance], outputs: list[Dataset], uids: dict[str, str],
          patids: dict[str, str]) -> list[Result]:
    """Every check of every instance against its output, found through the UID crosswalk."""
    by_uid = {str(ds.get("SOPInstanceUID", "")): ds for ds in outputs}
    results = []
    for inst in instances:
        out = by_uid.get(uids.get(inst.uid, ""))
        for check in inst.checks:
            results.append(Result(check, inst.uid, _score(check, out, uids, patids)))
    return results


def score_folder(instances: list[Instance], folder: str | Path, uids_csv: str | Path,
                 patids_csv: str | Path) -> list[Result]:
    outputs = [dcmread(p) for p in sorted(Path(folder).rglob("*.dcm"))]
    return score(instances, outputs, read_crosswalk(uids_csv), read_crosswalk(patids_csv))


def _score(check: Check, out: Dataset | None, uids: dict[str, str], patids: dict[str, str]) -> float:
    action = check.action
    if out is None:
        return 1.0 if action in REMOVAL else 0.0
    if action == "pixels_retained":
        data = out.get("PixelData")
        return float(data is not None and hashlib.md5(data).hexdigest() == check.value)
    if action == "pixels_hidden":
        return _hidden(out, json.loads(check.value))
    value = value_at(out, check.path)
    if action in ("date_shifted", "uid_changed"):
        return float(not value or check.value.replace("\\", "") not in value.replace("\\", ""))
    if action == "text_removed":
        return _words(check.text, value, remove=True) if value else 1.0
    if action == "tag_retained":
        return float(value is not None)
    if action == "text_notnull":
        return float(bool(value))
    if action == "text_retained":
        return _words(check.text, value, remove=False) if value else 0.0
    if action == "uid_consistent":
        return float(value is None or value == uids.get(check.value, ""))
    if action == "patid_consistent":
        return float(value is None or value == patids.get(check.value, ""))
    raise AssertionError(action)


def _words(answer: str, value: str, remove: bool) -> float:
    try:
        same = float(answer) == float(value)
        return float(same != remove)
    except ValueError:
        pass
    have = {w.lower() for w in _WORD.findall(value)}
    wanted = [w.lower() for w in _WORD.findall(answer) if w.lower() not in _STOP]
    if not wanted:
        return 1.0
    kept = sum(w in have for w in wanted)
    return (len(wanted) - kept) / len(wanted) if remove else kept / len(wanted)


def _hidden(out: Dataset, box: dict) -> float:
    (x0, y0), (x1, y1) = box["top_left"], box["bottom_right"]
    try:
        pixels = out.pixel_array
    except Exception:
        return 0.0
    return float(not np.any(pixels[y0:y1, x0:x1] == INK))


def value_at(ds: Dataset, path: str) -> str | None:
    """The value at a check's path as text (multiple values joined by ``\\``), None if absent."""
    *steps, leaf = path.split("/")
    for step in steps:
        tag, index = step[:-1].split("[")
        elem = ds.get(int(tag, 16))
        if elem is None or elem.VR != "SQ" or len(elem.value) <= int(index):
            return None
        ds = elem.value[int(index)]
    if "," in leaf:
        group, creator, offset = leaf.split(",")
        try:
            elem = ds.private_block(int(group, 16), creator)[int(offset, 16)]
        except KeyError:
            return None
    else:
        elem = ds.get(int(leaf, 16))
    if elem is None or elem.value is None:
        return None
    if elem.VR == "SQ":
        return str(len(elem.value))
    value = elem.value
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return value.hex() if isinstance(value, bytes) else str(value)


def table(results: list[Result]) -> str:
    """The per-check table: checks, passed, score, by check type, then removal, retention, overall."""
    rows = defaultdict(lambda: [0, 0, 0.0])
    for r in results:
        row = rows[r.check.action]
        row[0] += 1
        row[1] += r.passed
        row[2] += r.score
    lines = ["| check | checks | passed | score |", "|---|---:|---:|---:|"]
    for action in ACTIONS:
        if action in rows:
            n, passed, total = rows[action]
            lines.append(f"| {action} | {n} | {passed} | {100 * total / n:.2f}% |")
    for label, group in (("PHI removal", REMOVAL), ("research retention", [a for a in ACTIONS if a not in REMOVAL]),
                         ("overall", ACTIONS)):
        n = sum(rows[a][0] for a in group if a in rows)
        total = sum(rows[a][2] for a in group if a in rows)
        passed = sum(rows[a][1] for a in group if a in rows)
        lines.append(f"| **{label}** | {n} | {passed} | {100 * total / max(n, 1):.2f}% |")
    return "\n".join(lines)


def percent(results: list[Result], actions=ACTIONS) -> float:
    chosen = [r.score for r in results if r.check.action in actions]
    return 100 * sum(chosen) / max(len(chosen), 1)


def failures(results: list[Result]) -> list[str]:
    """Failed checks in words: check type and path only (the values are the planted PHI)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in results:
        if not r.passed:
            counts[(r.check.action, r.check.path)] += 1
    return [f"{action} {path}: {n}" for (action, path), n in sorted(counts.items())]


def name_detection(instances: list[Instance], with_values: bool) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of the words `clean` masks in the planted
    free texts, against the planted person names. With ``with_values`` the file's identifying values
    are used as `clean` uses them; without, the person-name detector alone is measured. A masked word
    that is planted PHI of another kind (a date, the city) is counted neither way."""
    from deidlang.engine.context import IDENTIFYING
    from deidlang.text import Scrubber
    from deidlang.values import as_texts

    tp = fp = fn = 0
    for inst in instances:
        ds = inst.dataset
        identifying = [t for e in ds if e.VR == "PN" or e.tag in IDENTIFYING for t in as_texts(e.value)]
        scrubber = Scrubber(identifying if with_values else [])
        other_phi = {w.lower() for c in inst.checks if c.action in ("text_removed", "date_shifted")
                     for w in _WORD.findall(c.text or c.value)}
        for path in {p for p, _ in inst.planted_names}:
            text = value_at(ds, path) or ""
            planted = {w.lower() for p, w in inst.planted_names if p == path}
            masked = {text[a:b].lower() for a, b in scrubber.find(text).spans}
            masked_words = {w for m in masked for w in _WORD.findall(m)}
            tp += len(masked_words & planted)
            fn += len(planted - masked_words)
            fp += len({w for w in masked_words - planted if w not in other_phi and not w.isdigit()})
    return tp, fp, fn
