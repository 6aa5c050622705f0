"""`deidlang test RULES CASES...`: rule tests, written as YAML case files.

A case file holds ``cases``, each an input and what must become of it::

    base: [basic-profile]          # optional: RULES are tested included after these rulesets
    cases:
      - name: names go, modality stays
        input:                     # keyword (or "(gggg,eeee)") -> value; sequences as lists of mappings
          Modality: CT
          PatientName: Doe^Jane
          RequestAttributesSequence:
            - PatientName: Doe^Jane
        expect:
          PatientName: empty
          Modality: kept
          RequestAttributesSequence/0/PatientName: empty
      - name: a DICOM file as input
        file: ../examples/dicom/study1/ct1.dcm      # relative to the case file
        expect:
          PatientID: changed

Expectations: ``removed``, ``kept``, ``empty``, ``changed`` (present, and not the input's value; for a
sequence ``kept`` means present with as many items, whose contents are checked element by element),
``replaced with TEXT``, ``shifted by N days``; the key ``file`` takes ``rejected`` or ``written``; the
key ``pixels`` takes ``unchanged`` or ``blacked out X,Y,W,H`` (the region holds one value and differs
from the input there). A failure names the rule (file:line) that decided the element.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydicom import dcmread
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage

from ..compiler import compile_text
from ..dictionary import parse_tag
from ..engine import engine_for
from ..engine.conditions import evaluate
from ..errors import DeidError, EngineError, Rejected, Span
from ..plan import Plan
from ..resolve import Resolver
from ..valuecheck import safe_private_vr
from ..quiet import quiet

TEST_KEY = b"deidlang rule tests: a fixed, public key"


class CaseError(DeidError):
    """A case file that cannot be read or names something unknown."""


@dataclass(frozen=True)
class Failure:
    case: str
    element: str
    expected: str
    got: str
    decided_by: str

    def render(self) -> str:
        return (f"FAIL {self.case}: {self.element}: expected {self.expected}, got {self.got}"
                + (f" (decided by {self.decided_by})" if self.decided_by else ""))


@dataclass
class Report:
    cases: int = 0
    checks: int = 0
    failures: list[Failure] | None = None


def run_cases(rules: str, case_file: str | Path) -> Report:
    """Run every case of one file against RULES (a name or path, tested after the file's ``base``).

    A case file that cannot be read, or a case that cannot be run, raises `CaseError` located at the
    file's line (the case's first line for what goes wrong inside a case); it never crashes."""
    path = Path(case_file)
    try:
        text = path.read_text(encoding="utf-8")
        spec = yaml.safe_load(text) or {}
        lines = _case_lines(text)
    except OSError as err:
        raise CaseError(f"cannot read the case file `{path}`: {err.strerror or type(err).__name__}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise CaseError(problem, _line_span(path, mark.line + 1) if mark else None,
                        "a case file is YAML: `cases:` then a list of `name`, `input` and `expect`").with_text(text)
    if not isinstance(spec, dict) or not isinstance(spec.get("cases", []), list):
        raise CaseError("a case file holds a mapping with a list of `cases`", _line_span(path, 1),
                        "write `cases:` then `- name: ...` items").with_text(text)
    includes = [*spec.get("base", []), rules if "/" not in rules else str(Path(rules).resolve())]
    rule_text = "".join(f'include "{name}"\n' for name in includes)
    # the rules under test are named by the user: includes start from their folder
    folder = Path(rules).resolve().parent if "/" in rules else None
    plan = compile_text('ruleset "under test" version "0.0.0"\nrequire minimum none because "rule tests"\n'
                        + rule_text, source=str(path), base_dir=folder)
    report = Report(failures=[])
    for number, case in enumerate(spec.get("cases", [])):
        where = _line_span(path, *(lines[number] if number < len(lines) else (1, 1)))
        try:
            if not isinstance(case, dict) or not isinstance(case.get("expect", {}), dict):
                raise CaseError("a case is a mapping with `name`, `input` (or `file`) and `expect`")
            report.cases += 1
            report.checks += len(case.get("expect", {}))
            with quiet():  # pydicom's warnings quote values
                report.failures += _run_case(plan, case, path.parent)
        except CaseError as err:
            raise CaseError(f"case {number + 1}: {err.message}", err.span or where, err.help).with_text(text) from None
        except Exception as err:  # a value the case gives that pydicom cannot hold: say where, not what
            raise CaseError(f"case {number + 1} cannot be run: {type(err).__name__}", where,
                            "check that each input value is valid for its element's VR").with_text(text) from None
    return report


def _case_lines(text: str) -> list[tuple[int, int]]:
    """The 1-based line and column at which each item of ``cases`` starts."""
    node = yaml.compose(text)
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "cases" and isinstance(value, yaml.SequenceNode):
            return [(item.start_mark.line + 1, item.start_mark.column + 1) for item in value.value]
    return []


def _line_span(path: Path, line: int, col: int = 1) -> Span:
    return Span(str(path), 0, 0, line, col, line, col + 1)


def _run_case(plan: Plan, case: dict, folder: Path) -> list[Failure]:
    name = str(case.get("name", "unnamed case"))
    if "file" in case:
        try:
            ds = dcmread(folder / case["file"])
        except (OSError, ValueError) as err:
            raise CaseError(f"cannot read the DICOM file `{case['file']}`: {type(err).__name__}") from None
    else:
        ds = build_dataset(case.get("input", {}))
    expect = dict(case.get("expect", {}))
    try:
        out = engine_for(plan).apply(ds, TEST_KEY).dataset
    except Rejected as err:
        wanted = expect.pop("file", "written")
        return [] if wanted == "rejected" else [Failure(name, "file", str(wanted), "rejected", err.message)]
    except EngineError as err:
        return [Failure(name, "file", str(expect.get("file", "written")), f"failed ({err.message})", "")]
    wanted_file = expect.pop("file", "written")
    failures = [] if wanted_file == "written" else [Failure(name, "file", str(wanted_file), "written", "")]
    truths = evaluate(plan.conditions, ds)
    resolver = Resolver(plan)
    for where, wanted in expect.items():
        if where == "pixels":
            got = _pixels(ds, out, str(wanted))
            if got:
                failures.append(Failure(name, "pixels", str(wanted), got, ""))
            continue
        position, tag = _locate(where)
        before, after = _find(ds, position, tag), _find(out, position, tag)
        got = _check(str(wanted), before, after)
        if got:
            failures.append(Failure(name, where, str(wanted), got, _decided_by(plan, resolver, ds, position,
                                                                              tag, truths)))
    return failures


def build_dataset(spec: dict) -> Dataset:
    """A dataset from ``keyword: value`` pairs (an instance: SOP UIDs are added if missing)."""
    ds = _items(spec)
    ds.SOPClassUID = ds.get("SOPClassUID", CTImageStorage)  # a class whose pixels need no pixel rule
    ds.SOPInstanceUID = ds.get("SOPInstanceUID", "1.2.826.0.1.3680043.10.1234.1")
    return ds


def _items(spec: dict) -> Dataset:
    if not isinstance(spec, dict):
        raise CaseError("an input is a mapping of keyword (or \"(gggg,eeee)\") to value")
    ds = Dataset()
    creators = {(t >> 16, t & 0xFF): str(v) for t, v in ((_tag(k), v) for k, v in spec.items())
                if t >> 16 & 1 and 0x10 <= t & 0xFFFF <= 0xFF}
    for key, value in spec.items():
        tag = _tag(key)
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:  # private elements as Table E.3.10-1 says (a safe slot is kept only so), else text
            vr = safe_private_vr(creators.get((tag >> 16, tag >> 8 & 0xFF)), tag) or "LO"
        if isinstance(value, list) and value and isinstance(value[0], dict):
            ds.add_new(tag, "SQ", Sequence([_items(item) for item in value]))
            continue
        if isinstance(value, (int, float)) and vr not in ("US", "SS", "UL", "SL", "FL", "FD"):
            value = str(value)  # YAML reads 12345 as a number; IS, DS and text take strings
        ds.add_new(tag, vr, value)
    return ds


def _tag(key: str) -> int:
    key = str(key)
    if re.fullmatch(r"\(?[0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)?", key):
        return parse_tag(key)
    tag = tag_for_keyword(key)
    if tag is None:
        raise CaseError(f"unknown keyword `{key}` in a case file")
    return tag


def _locate(where: str) -> tuple[tuple[tuple[int, int], ...], int]:
    parts = str(where).split("/")
    if len(parts) % 2 == 0 or not all(p.isdigit() for p in parts[1::2]):
        raise CaseError(f"`{where}` is not an element or a path such as Sequence/0/Keyword")
    steps = tuple((_tag(parts[i]), int(parts[i + 1])) for i in range(0, len(parts) - 1, 2))
    return steps, _tag(parts[-1])


def _find(ds: Dataset, position, tag: int):
    for seq, index in position:
        if seq not in ds or index >= len(ds[seq].value):
            return None
        ds = ds[seq].value[index]
    return ds.get(tag)


def _check(wanted: str, before, after) -> str:
    """'' when the expectation holds, else what was found."""
    if after is None:
        got = "removed"
    elif after.VR == "SQ":  # a kept sequence keeps its items; what is in them is decided element by element
        got = "empty" if not len(after.value) else (
            "kept" if before is not None and len(before.value) == len(after.value) else f"{len(after.value)} items")
    elif after.value in (None, "", b""):
        got = "empty"
    else:
        got = "kept" if before is not None and after.value == before.value else f"`{after.value}`"
    if wanted == "removed":
        return "" if after is None else got
    if wanted == "kept":
        return "" if got == "kept" else got
    if wanted == "empty":
        return "" if got == "empty" else got
    if wanted == "changed":
        return "" if after is not None and got not in ("kept",) else got
    if wanted.startswith("replaced with "):
        return "" if after is not None and str(after.value) == wanted[len("replaced with "):] else got
    match = re.fullmatch(r"shifted by ([+-]?\d+) days?", wanted)
    if match:
        if after is None or before is None:
            return got
        if before.VR not in ("DA", "DT"):
            return f"{got} (a {before.VR} element, not a date)"
        old, new = _date(str(before.value)), _date(str(after.value))
        if old is None or new is None:
            return f"{got} (not a date)"
        days = (new - old).days
        return "" if days == int(match.group(1)) else f"shifted by {days} days"
    raise CaseError(f"unknown expectation `{wanted}`",
                    help="expect removed, kept, empty, changed, replaced with TEXT or shifted by N days")


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _pixels(ds: Dataset, out: Dataset, wanted: str) -> str:
    if "PixelData" not in ds:
        raise CaseError("`pixels` needs an input with pixel data", help="give a DICOM `file:` with an image")
    if "PixelData" not in out:
        return "removed"
    before, after = np.asarray(ds.pixel_array), np.asarray(out.pixel_array)
    if wanted == "unchanged":
        return "" if before.shape == after.shape and (before == after).all() else "changed"
    match = re.fullmatch(r"blacked out (\d+),(\d+),(\d+),(\d+)", wanted)
    if not match:
        raise CaseError(f"unknown pixel expectation `{wanted}`")
    x, y, w, h = map(int, match.groups())

    def window(arr: np.ndarray) -> np.ndarray:  # multi-frame grey is (frames, rows, columns)
        return arr[:, y:y + h, x:x + w] if arr.ndim == 3 and arr.shape[-1] not in (3, 4) else arr[y:y + h, x:x + w]

    region = window(after)
    if region.size and (region == region.flat[0]).all() and not (window(before) == region).all():
        return ""
    return "not blacked out"


def _decided_by(plan: Plan, resolver: Resolver, ds: Dataset, position, tag: int, truths) -> str:
    """The rule behind an element's fate: that of the first enclosing sequence that did not keep its
    items (then the element never had a say), else the element's own."""
    for depth, (seq, _) in enumerate(position):
        holder = _find(ds, position[:depth], seq)
        if holder is None:
            return ""
        rule = resolver.decide(seq, holder.VR, None, position[:depth], truths)
        action = rule.action if rule else resolver.default_action(seq)
        if action not in ("keep", "clean"):
            return f"{_who(plan, resolver, rule, seq)}, on the enclosing sequence"
    elem = _find(ds, position, tag)
    if elem is None:
        return ""
    return _who(plan, resolver, resolver.decide(tag, elem.VR, None, position, truths), tag)


def _who(plan: Plan, resolver: Resolver, rule, tag: int) -> str:
    if rule is None:
        return f"the default ({resolver.default_action(tag)})"
    return f"`{rule.action}` at {plan.origin(rule.order)}"
