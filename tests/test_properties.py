"""Property-based evidence (issue: fuzzing): no PHI leaks, for any generated dataset and rule program.

Profiles (tests/conftest.py): HYPOTHESIS_PROFILE=ci by default, =thorough for thousands of examples.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import deidlang
from deidlang.compiler import compile_text, shipped_rulesets
from deidlang.values import new_uid
from deidlang.errors import RuleError
from deidlang.resolve import Resolver
from deidlang.runner import deidentify_file
from deidlang.syntax import _parser
from deidlang.validate._analysis import survivals

from .conftest import KEY, ROOT
from .strategies import MINIMUM, SHORT_VALUED, Planted, mutate, planted_datasets, programs

pytestmark = pytest.mark.integration  # fuzzing: each property draws dozens of datasets and plans

SHIPPED = [n for n in shipped_rulesets()]


def shipped_plan(name: str):
    if name in ("basic-profile", "aryanto50"):
        return deidlang.compile(name)
    return deidlang.compile(f'include "basic-profile"\ninclude "{name}"')


PLANS = {name: shipped_plan(name) for name in SHIPPED}


def run_file(plan, planted: Planted, key: bytes = KEY):
    """Write the input, de-identify it through the runner, return (result, output bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.dcm", Path(tmp) / "out.dcm"
        planted.dataset.save_as(src, enforce_file_format=True)
        result = deidentify_file(src, dst, plan, key)
        return result, dst.read_bytes() if dst.exists() else b""


def leaks(planted: Planted, data: bytes) -> set[int]:
    """Minimum tags whose canary is in the written bytes (or, for short values, in the re-read file)."""
    found = {tag for canary, tag in planted.searchable().items() if canary in data}
    if data:
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            for elem in dcmread(f.name).iterall():
                if elem.tag in SHORT_VALUED and str(elem.value) == planted.canaries[elem.tag]:
                    found.add(int(elem.tag))
    return found


def flagged(plan) -> set[int]:
    """Minimum tags the static check says could survive (waivers ignored)."""
    resolver = Resolver(plan)
    return {e.tag for e in MINIMUM if survivals(plan, resolver, e.tag, e.vr)}


# 1. No leak with any shipped ruleset ------------------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
@given(planted=planted_datasets())
def test_shipped_rulesets_leak_no_canary(name, planted):
    plan = PLANS[name]
    result, data = run_file(plan, planted)
    assert result.status == "written", result.reason
    assert leaks(planted, data) <= {w.tag for w in plan.waivers}


# 1 + 2. Generated programs: accepted ones do not leak; whatever leaks was flagged or waived --------

@given(planted=planted_datasets(), text=programs())
def test_static_check_is_sound(planted, text):
    plan = compile_text(text)
    waived = {w.tag for w in plan.waivers}
    result, data = run_file(plan, planted)
    leaked = leaks(planted, data)
    assert leaked <= flagged(plan) | waived
    if not [f for f in deidlang.validate(plan) if f.is_error]:
        assert leaked <= waived


# 3. Parser robustness -------------------------------------------------------------------------------

def _assert_located(err: RuleError, text: str) -> None:
    assert err.span is not None
    if err.span.source == "<string>":
        lines = text.split("\n")
        assert err.span.line in range(1, len(lines) + 1)
        assert err.span.col in range(1, len(lines[err.span.line - 1]) + 2)


@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_located_rule_errors(text):
    try:
        compile_text(text)
    except RuleError as err:
        _assert_located(err, text)


# Text from the grammar's own rules (from_lark joins tokens without spaces, so some of it lexes
# differently: it is near-valid text of the language). A line comment would swallow the rest of the
# line, so none are generated.
# (the uncached parser: one loaded from lark's cache does not keep the grammar from_lark reads)
@given(text=from_lark(_parser(keep_comments=True), start="start", explicit={"COMMENT": st.just("")}))
def test_grammar_generated_text_compiles_or_is_a_located_rule_error(text):
    try:
        compile_text(text)
    except RuleError as err:
        _assert_located(err, text)


@given(text=programs(), data=st.data())
def test_mutated_programs_raise_only_located_rule_errors(text, data):
    mutated = mutate(text, data)
    try:
        compile_text(mutated)
    except RuleError as err:
        _assert_located(err, mutated)


# 4. Round trip and determinism --------------------------------------------------------------------

@given(planted=planted_datasets(), text=programs())
def test_outputs_reread_and_are_byte_identical_across_runs(planted, text):
    plan = compile_text(text)
    first, data1 = run_file(plan, planted)
    second, data2 = run_file(compile_text(text), planted)
    assert first.status == second.status
    assert data1 == data2
    assert deidlang.Plan.from_dict(json.loads(json.dumps(plan.to_dict()))).plan_hash == plan.plan_hash
    if data1:
        with tempfile.NamedTemporaryFile() as f:
            f.write(data1)
            f.flush()
            dcmread(f.name)  # valid Part 10: no force needed


@settings(max_examples=max(3, settings().max_examples // 100))  # one process start per example
@given(texts=st.lists(programs(), min_size=5, max_size=5))
def test_plan_hash_is_stable_across_processes(texts):
    code = ("import json, sys; from deidlang.compiler import compile_text; "
            "print(json.dumps([compile_text(t).plan_hash for t in json.load(sys.stdin)]))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(texts), capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert json.loads(out.stdout) == [compile_text(t).plan_hash for t in texts]


# 5. Engine totality -------------------------------------------------------------------------------

@given(planted=planted_datasets(), text=programs())
def test_engine_is_total_and_removes_what_it_cannot_handle(planted, text):
    plan = compile_text(text)
    source = planted.with_broken()
    pristine = {tag: (elem.VR, elem.value) for tag, elem in source._dict.items()}  # raw or decoded, as held
    try:
        outcome = deidlang.apply(plan, source, key=KEY)
    except deidlang.Rejected:
        return
    except deidlang.EngineError as err:
        # the only engine errors: the rules removed what Part 10 needs, or a pixel rule met pixels
        # that cannot be decoded (the file is then not written)
        assert ("SOP" in err.message or "pixels cannot be decoded" in err.message
                or "which a condition reads" in err.message), err.message  # fail-closed: not guessed
        return
    finally:
        assert {tag: (elem.VR, elem.value) for tag, elem in source._dict.items()} == pristine  # input untouched
    for tag in planted.broken:
        assert tag not in outcome.dataset
        assert any(note.startswith(f"({tag >> 16:04X},{tag & 0xFFFF:04X})") for note in outcome.notes)
    result, _ = run_file(plan, planted)
    assert not result.reason.startswith(("internal error", "cannot write")), result.reason


# 6. UID integrity across a multi-file study -------------------------------------------------------

_UID = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$")


@st.composite
def studies(draw):
    n = draw(st.integers(2, 4))
    study = "1.2.826.0.1.3680043.10.77.1"
    instances = [f"{study}.1.{i}" for i in range(n)]
    files = []
    for i in range(n):
        planted = draw(planted_datasets(seed=i, study={"study": study, "instance": instances[i]}))
        ds = planted.dataset
        ds.SeriesInstanceUID = f"{study}.1"
        ds.FrameOfReferenceUID = f"{study}.9"
        ref = Dataset()
        ref.ReferencedSOPClassUID = ds.SOPClassUID
        ref.ReferencedSOPInstanceUID = instances[(i + 1) % n]
        outer = Dataset()
        outer.ReferencedImageSequence = Sequence([ref])
        ds.SourceImageSequence = Sequence([outer])  # a reference two levels down
        files.append(planted)
    return files, [study, f"{study}.1", f"{study}.9", *instances]


@given(study=studies(), name=st.sampled_from(["basic-profile", "clean-descriptors"]))
def test_uids_are_remapped_everywhere_consistently_and_validly(study, name):
    files, originals = study
    plan = PLANS[name]
    outputs = []
    for planted in files:
        result, data = run_file(plan, planted)
        assert result.status == "written", result.reason
        for uid in originals:
            assert uid.encode() not in data, "an original UID survived (file meta included)"
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            outputs.append(dcmread(f.name))
    n = len(files)
    for i, out in enumerate(outputs):
        assert out.SOPInstanceUID == new_uid(KEY, originals[3 + i]) == out.file_meta.MediaStorageSOPInstanceUID
        assert out.StudyInstanceUID == new_uid(KEY, originals[0]) == outputs[0].StudyInstanceUID
        assert out.FrameOfReferenceUID == outputs[0].FrameOfReferenceUID
        ref = out.SourceImageSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert ref == outputs[(i + 1) % n].SOPInstanceUID
        for elem in [out.file_meta[0x00020003], *out.iterall()]:
            if elem.VR == "UI" and elem.value and str(elem.value).startswith("2.25."):
                for value in (elem.value if isinstance(elem.value, list) else [elem.value]):
                    assert len(value) <= 64 and _UID.match(value)
