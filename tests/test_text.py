"""`clean` at word level (text.py): identifying words whole, person names, dates in text."""

from __future__ import annotations

import pytest

import deidlang
from deidlang.compiler import compile_text
from deidlang.text import Scrubber, word_list
from deidlang.phantom import phantom

from .test_engine import NONE

ADDRESS = Scrubber(["DOE^JANE", "12 ELM STREET, PORTLAND OR 97201", "MRN1234567"])


@pytest.mark.parametrize("text, cleaned", [
    ("BRAIN TUMOR for follow up", "BRAIN TUMOR for follow up"),  # "OR" of the address: never inside words
    ("OR suite 3", "OR suite 3"),  # a two-letter value alone is not a name-like context
    ("Patient from Portland OR", "Patient from ******** **"),  # next to a masked word it is
    ("scan of jane doe", "scan of **** ***"),  # case-insensitive, whole words
    ("JANEWAY TRIAL", "JANEWAY TRIAL"),  # never inside a word
    ("DOE^JANE prior", "***^**** prior"),
    ("ref MRN1234567.", "ref **********."),
])
def test_identifying_words_are_masked_whole(text, cleaned):
    assert ADDRESS.scrub(text) == cleaned


@pytest.mark.parametrize("text, cleaned", [
    ("BRAIN TUMOR - DR FEINSTEIN", "BRAIN TUMOR - DR *********"),  # a title: the next word is a name
    ("Seen by Dr. John Smith", "Seen by Dr. **** *****"),  # and listed names after it
    ("DR CHEST 2 VIEWS", "DR CHEST 2 VIEWS"),  # DR is also digital radiography
    ("MR BRAIN WO", "MR BRAIN WO"),  # MR is the modality: only a listed name follows it as a title
    ("report by Mrs Garcia", "report by Mrs ******"),
    ("HALVORSEN MD", "********* MD"),
    ("Reviewed with David Thompson today", "Reviewed with ***** ******** today"),  # listed given + family
    ("OKONKWO^OLUWASEUN", "*******^*********"),  # Family^Given
    ("abdomen^liver", "abdomen^liver"),  # a caret between clinical words is not a name
    ("Head Long axis", "Head Long axis"),  # clinical words are not names
])
def test_person_names_are_found_without_the_file(text, cleaned):
    assert Scrubber([]).scrub(text) == cleaned


@pytest.mark.parametrize("text", ["20210317", "2021-03-17", "03/17/2021", "17.03.2021", "3-17-21",
                                  "17 Mar 2021", "17-MAR-2021", "March 17, 2021", "(503) 555-0199", "503-555-0199"])
def test_dates_and_numbers_in_text_are_masked(text):
    cleaned = Scrubber([]).scrub(f"seen {text} ok")
    assert cleaned == f"seen {'*' * len(text)} ok"


def test_numbers_that_are_not_dates_stay():
    assert Scrubber([]).scrub("5 MM 3.0 T 120 KV 1/2 DOSE") == "5 MM 3.0 T 120 KV 1/2 DOSE"


def test_shipped_lists_leave_clinical_words_out():
    given, family, clinical = word_list("given_names"), word_list("family_names"), word_list("clinical_words")
    assert {"JOHN", "MARIA"} <= given and {"SMITH", "GARCIA"} <= family
    assert not {"BRAIN", "HEAD", "LONG", "CHEST"} & (given | family)
    assert {"BRAIN", "CHEST", "AXIAL"} <= clinical


def test_clean_keeps_the_value_length_and_notes_counts_in_a_dry_run(key):
    ds, _ = phantom()
    ds.StudyDescription = "CT HEAD - DR FEINSTEIN 03/17/2021"
    plan = compile_text(NONE + "clean StudyDescription")
    trace: list = []
    outcome = deidlang.engine_for(plan).apply(ds, key, trace=trace)
    assert outcome.dataset.StudyDescription == "CT HEAD - DR ********* **********"
    note = next(n for n in outcome.notes if n.startswith("(0008,1030)"))
    assert "1 name" in note and "1 date" in note and "FEINSTEIN" not in note
