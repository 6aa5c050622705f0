"""`deidlang fmt`: canonical, idempotent, comment-preserving, and meaning-preserving (same plan hash)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deidlang.cli import main
from deidlang.compiler import compile_text
from deidlang.review.fmt import format_text

from .conftest import ROOT
from .strategies import programs

MESSY = '''\
# header comment
ruleset example version "1.0.0"   # trailing
include    "basic-profile";keep vr PN except PatientName,(0010,0020)


# a lone comment
remove group 0010 except PatientSex , PatientAge if ((Modality=="US") or Rows>=512) and not (PatientAge exists)
shift-date vr DT, DA by +30 days
pseudonym PatientID prefix "" length 10
'''

CANONICAL = '''\
# header comment
ruleset "example" version "1.0.0"  # trailing
include "basic-profile"
keep vr PN except (0010,0020), PatientName

# a lone comment
remove group 0010 except PatientAge, PatientSex if (Modality == "US" or Rows >= 512) and not PatientAge exists
shift-date vr DA, vr DT by 30 days
pseudonym PatientID
'''


def test_canonical_layout_keeps_comments():
    assert format_text(MESSY) == CANONICAL


def test_formatting_keeps_the_plan_hash():
    assert compile_text(MESSY).plan_hash == compile_text(CANONICAL).plan_hash


def test_shipped_rulesets_and_examples_are_formatted():
    for path in [*ROOT.glob("rulesets/*.deid"), *ROOT.glob("examples/**/*.deid")]:
        text = path.read_text()
        assert format_text(text, str(path)) == text, path


@pytest.mark.integration
@given(text=programs(), comments=st.lists(st.sampled_from(["# note", "# x; y", "#"]), max_size=3))
def test_fmt_is_idempotent_and_meaning_preserving(text, comments):
    lines = text.splitlines()
    for i, comment in enumerate(comments):
        lines.insert(min(1 + 2 * i, len(lines)), comment)
    text = "\n".join(lines) + "\n"
    once = format_text(text)
    assert format_text(once) == once
    assert compile_text(once).plan_hash == compile_text(text).plan_hash


def test_cli_check_and_rewrite(tmp_path, capsys):
    path = tmp_path / "site.deid"
    path.write_text(MESSY)
    assert main(["fmt", "--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "+ruleset \"example\" version \"1.0.0\"  # trailing" in out and path.read_text() == MESSY
    assert main(["fmt", str(path)]) == 0 and path.read_text() == CANONICAL
    assert main(["fmt", "--check", str(path)]) == 0
