"""Layer 2: text to AST, and syntax errors with file:line:col and a caret."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from deidlang import ast
from deidlang.actions import Shift, Text
from deidlang.errors import DeidSyntaxError
from deidlang.syntax import _parser, parse
from deidlang.syntax.engines import compiled_by_default

from .conftest import FIXTURES, ROOT

DESIGN_SKETCH = '''\
# comments run to the end of a line; statements end at a newline or ';'
ruleset "example-site" version "1.2.0"
include "basic-profile"                 # shipped ruleset by name, or a relative path
require minimum aryanto50

remove group 0010 except PatientSex, PatientAge
waive PatientSex, PatientAge because "sex and age are study covariates"
remove (0010,1040), PatientTelephoneNumbers
remove 50xx,xxxx; remove 60xx,3000
remove private except "GEMS_PARM_01" 0043,xx39
empty AccessionNumber
dummy-date StudyDate, SeriesDate
shift-date vr DA, DT by -30 days
uid vr UI
hash PatientID
replace PatientName with "ANON^STUDY01"
keep SeriesDescription
keep RequestAttributesSequence/*/RequestedProcedureID
reject if BurnedInAnnotation == "YES" and Modality != "US"
'''


def test_design_sketch_parses_to_typed_nodes():
    program = parse(DESIGN_SKETCH, "site.deid")
    kinds = [type(s).__name__ for s in program.statements]
    assert kinds == ["Header", "Include", "Require", "Rule", "Waive", "Rule", "Rule", "Rule", "Rule", "Rule",
                     "Rule", "Rule", "Rule", "Rule", "Rule", "Rule", "Rule", "Reject"]
    rule = program.statements[3]
    assert rule == ast.Rule(rule.span, "remove", (ast.Group(rule.span, 0x0010),),
                            (ast.Keyword(rule.span, "PatientSex"), ast.Keyword(rule.span, "PatientAge")), None)
    assert (rule.span.source, rule.span.line, rule.span.col) == ("site.deid", 6, 1)


def test_masks_creators_paths_and_conditions():
    program = parse('remove 60xx,3000; keep "GEMS_PARM_01" 0043,xx39\n'
                    'keep A/*/B/2/C if (Rows > 512 or Modality in ("US", "CT")) and not X exists')
    mask, creator, path = program.statements
    assert (mask.selectors[0].value, mask.selectors[0].mask) == (0x60003000, 0xFF00FFFF)
    assert creator.selectors[0] == ast.CreatorElement(None, "GEMS_PARM_01", 0x0043, 0x39)
    sel = path.selectors[0]
    assert [s.name for s in sel.steps] == ["A", "B", "C"] and sel.items == ("*", "2")
    cond = path.condition
    assert isinstance(cond, ast.And) and isinstance(cond.left, ast.Or) and isinstance(cond.right, ast.Not)
    assert cond.left.left.value == 512.0 and cond.left.right.values == ("US", "CT")


def test_string_escapes_and_shift_forms():
    replace, shift, per_patient = parse('replace PatientName with "A\\"B"\nshift-date StudyDate by +3 days\n'
                                        "shift-date StudyDate by patient within 90 days").statements
    assert replace.argument == Text('A"B')
    assert shift.argument == Shift(days=3) and per_patient.argument == Shift(within=90)


def test_empty_and_comment_only_text():
    assert parse("").statements == ()
    assert parse("# nothing\n\n;;\n").statements == ()


def _error_cases():
    return sorted(p for p in (FIXTURES / "errors").glob("*.deid") if p.with_suffix(".txt").exists())


@pytest.mark.parametrize("path", _error_cases(), ids=lambda p: p.stem)
def test_error_messages_match_fixtures(path, monkeypatch):
    """Every class of bad rule file (the typical mistakes, proof findings included) renders exactly as
    reviewed in tests/fixtures/errors/*.txt: located with a caret, and with a help line saying what to do."""
    from deidlang.compiler import compile_file
    from deidlang.errors import RuleError
    from deidlang.validate import proved

    monkeypatch.chdir(path.parent)
    with pytest.raises(RuleError) as info:
        proved(compile_file(path.name))
    rendered = info.value.render() + "\n"
    assert rendered == path.with_suffix(".txt").read_text()
    assert "^" in rendered and "help: " in rendered


def test_there_are_fixtures_for_the_twenty_typical_mistakes():
    assert len(_error_cases()) >= 20


@pytest.mark.parametrize("text", ["remove", "remove PatientName,", "ruleset x", "remove (0010,0010", "keep $",
                                  "replace A with", "remove A if (B == 1", "waive A because", "\n\n  remove ,"])
def test_syntax_errors_point_inside_the_input(text):
    with pytest.raises(DeidSyntaxError) as info:
        parse(text, "t.deid")
    span = info.value.span
    lines = text.split("\n")
    assert span.line in range(1, len(lines) + 1)
    assert span.col in range(1, len(lines[span.line - 1]) + 2)
    assert info.value.help.startswith("expected") or "string" in info.value.message
    assert "^" in info.value.render()


def _outcome(text: str, parser) -> tuple:
    """What a parse gives, spans included (node equality ignores them): the tree, or the error as shown."""
    def located(value):
        if isinstance(value, (list, tuple)):
            return tuple(located(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return (type(value).__name__, *(located(getattr(value, f.name)) for f in dataclasses.fields(value)))
        return value
    try:
        return "tree", located(parse(text, "t.deid", parser))
    except DeidSyntaxError as err:
        return "error", err.render(), located(err.span)


def _engine_texts() -> list[str]:
    """Every shipped ruleset and error fixture, the design sketch, deep nesting, and each of them with a
    character dropped or a token wedged in at a few places (mostly errors)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "rulesets").glob("*.deid"))]
    texts += [p.read_text(encoding="utf-8") for p in _error_cases()] + [DESIGN_SKETCH]
    texts += ["remove A if " + "not " * 300 + "A == 1", "remove A if " + " or ".join(f"A == {i}" for i in range(40)),
              "remove A if " + "not (A == 1 and " * 70 + "A == 1" + ")" * 70, "code 9999999999; remove (", ""]
    noise = ["(", ")", " not ", " or ", '"', ",", ";", "x", "99999999999", " if ", "\n", "/*/", " vr "]
    for i, text in enumerate(list(texts)):
        for k in range(1, 6):
            at = (i * 7919 + k * 104729) % max(len(text), 1)
            texts += [text[:at] + text[at + 1:], text[:at] + noise[(i + k) % len(noise)] + text[at:]]
    return texts


def test_the_compiled_engine_builds_what_lark_s_own_builds():
    """lark-cython runs lark's tables in C: the same trees, spans and errors as lark's Python engine."""
    pytest.importorskip("lark_cython")
    compiled, pure = _parser(compiled=True), _parser(compiled=False)
    texts = _engine_texts()
    assert len(texts) > 500
    for text in texts:
        assert _outcome(text, compiled) == _outcome(text, pure), text


@given(text=from_lark(_parser(keep_comments=True, compiled=False), start="start", explicit={"COMMENT": st.just("")}))
def test_both_engines_agree_on_text_from_the_grammar(text):
    pytest.importorskip("lark_cython")
    assert _outcome(text, _parser(compiled=True)) == _outcome(text, _parser(compiled=False))


def test_pure_asks_for_lark_s_own_engine(monkeypatch):
    monkeypatch.setenv("DEIDLANG_PURE", "1")
    assert not compiled_by_default()
    assert _outcome("remove PatientName", _parser()) == _outcome("remove PatientName", _parser(compiled=False))
