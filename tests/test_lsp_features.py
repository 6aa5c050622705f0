"""The language server's answers, computed in process (the quick lane; `test_lsp.py` runs them over stdio)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from deidlang.dictionary import aryanto50
from deidlang.lsp.analysis import analyse, read_disk
from deidlang.lsp.completion import completion
from deidlang.lsp.cursor import token_at
from deidlang.lsp.diagnostics import diagnostics
from deidlang.lsp.fixes import code_actions, formatting
from deidlang.lsp.hover import hover
from deidlang.lsp.navigation import definition, references


def at(line: int, character: int) -> types.Position:
    return types.Position(line, character)


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """site.deid -> mid.deid -> lib.deid, where lib lets PatientName through."""
    (tmp_path / "lib.deid").write_text("# the library\nkeep PatientName\n")
    (tmp_path / "mid.deid").write_text('include "basic-profile"\ninclude "lib.deid"\n')
    return tmp_path / "site.deid"


def test_a_finding_two_includes_deep_is_shown_on_the_include_that_leads_to_it(chain):
    text = 'ruleset "site" version "1.0.0"\ninclude "mid.deid"\nremove PatientSex\n'
    (diag,) = diagnostics(analyse(chain, text))
    assert diag.range.start.line == 1 and diag.message.startswith(f"{chain.parent / 'lib.deid'}:2: `PatientName`")
    assert diag.related_information[0].location.range == types.Range(at(1, 5), at(1, 16))  # the selector
    assert diag.data == {"waive": "PatientName"}


def test_a_finding_in_the_document_underlines_its_selector():
    found = diagnostics(analyse(None, 'include "basic-profile"\nkeep StudyDate, PatientSex\n'))
    assert [d.range for d in found] == [types.Range(at(1, 5), at(1, 14)), types.Range(at(1, 16), at(1, 26))]


def test_an_unsaved_buffer_stands_in_for_its_file(chain):
    buffers = {(chain.parent / "lib.deid").resolve(): "remove PatientName\n"}
    analysis = analyse(chain, 'include "mid.deid"\n', lambda p: buffers.get(p) or read_disk(p))
    assert diagnostics(analysis) == [] and (chain.parent / "lib.deid").resolve() in analysis.depends_on


def test_a_compile_error_in_an_included_file_points_into_it(chain):
    (chain.parent / "lib.deid").write_text("keep PatientNme\n")
    (diag,) = diagnostics(analyse(chain, 'include "mid.deid"\n'))
    assert diag.range.start.line == 0 and "unknown keyword `PatientNme`" in diag.message
    assert diag.related_information[0].location.uri.endswith("/lib.deid")
    assert diag.data is None  # a replacement would not fit the include line


def test_a_syntax_error_has_its_place():
    (diag,) = diagnostics(analyse(None, "remove PatientName if\n"))
    assert diag.range.start.line == 0 and diag.severity == types.DiagnosticSeverity.Error


def test_every_syntax_error_is_shown_not_only_the_first():
    text = 'remove PatientName if\nkeep PatientSex\nempty ,\nkeep PatientAgee\n'
    found = diagnostics(analyse(None, text))
    assert [d.range.start.line for d in found] == [0, 2, 3]
    assert "unknown keyword `PatientAgee`" in found[2].message


def test_cursor_tokens():
    text = 'keep "GEMS_PARM_01" 0043,xx39  # PatientName here is a comment\nremove (0010,0010)\n'
    assert token_at(text, at(0, 8)).kind == "string"
    assert token_at(text, at(0, 22)).text == "0043,xx39"
    assert token_at(text, at(0, 40)).kind == "comment"
    assert token_at(text, at(1, 10)).text == "(0010,0010)"
    assert token_at(text, at(1, 6)).text == "remove"  # touching its end: the word being typed


def labels(text: str, path: Path | None = None) -> list[str]:
    lines = text.split("\n")
    return [i.label for i in completion(analyse(path, text), at(len(lines) - 1, len(lines[-1]))).items]


def test_completion_contexts():
    assert labels("require minimum ") == ["aryanto50", "none"]
    assert labels("default ") == ["keep", "remove"]
    assert "113107" in labels("code ")
    assert labels("truncate-date PatientBirthDate to ") == ["year", "month"]
    assert {"with", "except", "if"} <= set(labels("replace PatientName "))
    assert labels("keep PatientName # ") == []
    assert "PatientName" in labels("remove StudyDate if Modality == \"US\" and Patient")
    assert "PatientName" in labels("remove StudyDate; keep Patient")  # after a `;` a new statement starts
    assert labels("remove vr DA, ")[:3] == ["AE", "AS", "AT"]
    assert "GEMS_PARM_01" in labels('remove private except "GEM')
    assert labels('replace InstitutionName with "') == []  # a value, not a creator


def test_keyword_completion_is_bounded_and_marked_incomplete():
    result = completion(analyse(None, "remove "), at(0, 7))
    assert result.is_incomplete and len(result.items) <= 110
    keywords = [i.label for i in result.items if i.kind == types.CompletionItemKind.Field]
    assert set(keywords[:50]) == {e.keyword for e in aryanto50()}  # the minimum's elements first


def test_hover_shows_sequences_and_waivers():
    text = ('include "basic-profile"\nkeep RequestAttributesSequence/*/RequestedProcedureID\n'
            'waive RequestedProcedureID because "study key"\n')
    value = hover(analyse(None, text), at(2, 8)).contents.value
    assert "at `RequestAttributesSequence/*/RequestedProcedureID`: `keep`" in value
    assert "waived: “study key”" in value and "basic-profile.deid" in value


def test_hover_on_a_private_element_named_by_its_creator():
    text = 'include "basic-profile"\nkeep "GEMS_PARM_01" 0043,xx39\nkeep "ACME" 0029,xx10 if Modality == "CT"\n'
    analysis = analyse(None, text)
    value = hover(analysis, at(1, 23)).contents.value
    assert "**GEMS_PARM_01** 0043,xx39" in value and "safe private, VR IS" in value and "`keep` — <untitled>:2" in value
    value = hover(analysis, at(2, 15)).contents.value
    assert "not listed" in value and '`keep if Modality == "CT"`' in value and "else `remove` — " in value and "basic-profile.deid" in value


def test_hover_on_a_file_that_does_not_compile_still_gives_the_dictionary():
    value = hover(analyse(None, "keep PatientName\nremove Nonsense\n"), at(0, 7)).contents.value
    assert "(0010,0010)" in value and "does not compile" in value


def test_definition_and_references_follow_conditions(tmp_path):
    site = tmp_path / "site.deid"
    text = 'include "basic-profile"\nremove StudyDescription if Modality == "US"\nkeep Modality\n'
    analysis = analyse(site, text)
    refs = {(Path(r.uri).name, r.range.start.line, r.range.start.character) for r in references(analysis, at(2, 7))}
    assert ("site.deid", 1, 27) in refs and ("site.deid", 2, 5) in refs
    (decides,) = definition(analysis, at(1, 29))
    assert decides.range == types.Range(at(2, 5), at(2, 13))


def test_waiver_goes_after_the_last_waiver():
    text = 'include "basic-profile"\nwaive PatientSex because "x"\nkeep PatientSex, PatientAge\n'
    analysis = analyse(None, text)
    actions = code_actions(analysis, "file:///site.deid", diagnostics(analysis))
    (waive,) = [a for a in actions if "Waive" in a.title]
    (edit,) = waive.edit.changes["file:///site.deid"]
    assert edit.range.start == at(2, 0) and edit.new_text == 'waive PatientAge because ""\n'


def test_formatting_leaves_text_that_does_not_parse():
    assert formatting(analyse(None, "remove (")) == []
    assert formatting(analyse(None, "remove PatientName\n")) == []
