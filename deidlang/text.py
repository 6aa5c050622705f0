"""The `clean` action on free text, at word level: what in a descriptor identifies somebody.

Text is split into words (runs of letters and digits; spaces, ``^`` and punctuation separate them)
and a word is masked (each character becomes ``*``, so the value keeps its length and stays valid for
its VR) when it is:
- a word of an identifying value of the same dataset (names, IDs, address...), matched whole and
  case-insensitively, never inside another word ("OR" of an address leaves "TUMOR" alone); words of
  one or two characters only in a name-like context (next to another masked word or a title);
- part of a person name: the word after a title (DR, PROF; after MR or MS only a listed name) and
  listed names after it, the word before MD or PHD, both sides of ``Family^Given``, a given name
  followed by a family name from the shipped frequency lists, or a listed name next to a masked word;
- a date in a common written form (20210317, 2021-03-17, 03/17/2021, 17.03.2021, 17 Mar 2021,
  March 17, 2021), a telephone number, or a run of five or more digits (record numbers).
A heuristic, documented as such (docs/research.md): review what `clean` keeps.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ._resources import data_file

_WORD = re.compile(r"[^\W_]+")
_CARET_NAME = re.compile(r"[^\W\d_]{2,}(?:\^[^\W\d_]*)+\^?|\^[^\W\d_]{2,}")
# After a title the next word is a name unless it is a clinical word ("DR CHEST": digital radiography);
# after MR, MS... only a listed name is (MR is also the modality, MS a disease).
_TITLES = frozenset({"DR", "DRS", "PROF", "PROFESSOR", "DOCTOR"})
_WEAK_TITLES = frozenset({"MR", "MRS", "MS", "MISS"})
_PREFIX_TITLES = _TITLES | _WEAK_TITLES
_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_DATES = re.compile(
    r"(?<![\w/.-])(?:"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2021-03-17
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 03/17/2021, 17.03.2021, 3-17-21
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[ -](?:{_MONTHS})\.?,?[ -]\d{{2,4}}"  # 17 Mar 2021, 17-MAR-2021
    rf"|(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}"  # March 17, 2021
    r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"  # telephone numbers: (503) 555-0199, 503-555-0199
    r"|\d{5,}"  # 20210317, record numbers
    r")(?![\w/-])", re.IGNORECASE)


@functools.cache
def word_list(name: str) -> frozenset[str]:
    """A shipped word list, upper case: ``given_names`` and ``family_names`` (the 1990 US Census
    frequency lists) or ``clinical_words`` (data/names.md)."""
    lines = data_file(f"{name}.txt").read_text().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True)
class Found:
    """Spans of a text to mask, with why (for `--dry-run`: counts only, never the words)."""

    spans: tuple[tuple[int, int], ...]
    names: int  # words masked as parts of detected person names
    terms: int  # words masked as words of the dataset's identifying values
    dates: int  # dates and long digit runs


class Scrubber:
    """Built once per dataset from its identifying values; `scrub` then cleans any of its texts."""

    def __init__(self, identifying: list[str]) -> None:
        words = {w.upper() for text in identifying for w in _WORD.findall(text)}
        self.long = frozenset(w for w in words if len(w) > 2)
        self.short = frozenset(w for w in words if len(w) <= 2 and not w.isdigit())

    def find(self, text: str) -> Found:
        """What `scrub` masks in ``text``."""
        given, family, clinical = word_list("given_names"), word_list("family_names"), word_list("clinical_words")
        masked: set[tuple[int, int]] = set()
        dates = [m.span() for m in _DATES.finditer(text)]
        words = [m for m in _WORD.finditer(text) if not any(a <= m.start() < b for a, b in dates)]
        upper = [m.group().upper() for m in words]
        names = {i for i in _caret_names(text, words) if upper[i] not in clinical}  # not "abdomen^liver"
        terms = {i for i, w in enumerate(upper) if w in self.long}
        for i, w in enumerate(upper):
            following = upper[i + 1] if i + 1 < len(words) else ""
            if (w in _TITLES and following.isalpha() and following not in clinical | _PREFIX_TITLES
                    or w in _WEAK_TITLES and (following in given or following in family)):
                j = i + 1
                names.add(j)
                while j + 1 < len(words) and j - i < 3 and (upper[j + 1] in given or upper[j + 1] in family
                                                            or upper[j + 1] in self.long):
                    j += 1
                    names.add(j)
            elif w in ("MD", "PHD") and i and upper[i - 1].isalpha() and upper[i - 1] not in clinical:
                names.add(i - 1)
            elif w in given and i + 1 < len(words) and upper[i + 1] in family and _capitalised(words[i], words[i + 1]):
                names.update((i, i + 1))
        # a given or family name next to a masked identifying word or name is part of that name
        for i, w in enumerate(upper):
            if i not in names and i not in terms and (w in given or w in family) and _capitalised(words[i]) \
                    and ({i - 1, i + 1} & (names | terms)):
                names.add(i)
        near = names | terms
        short = {i for i, w in enumerate(upper) if w in self.short and ({i - 1, i + 1} & near or
                                                                         (i and upper[i - 1] in _PREFIX_TITLES))}
        masked.update(words[i].span() for i in names | terms | short)
        masked.update(dates)
        return Found(tuple(sorted(masked)), len(names - terms), len(terms | short), len(dates))

    def scrub(self, text: str) -> str:
        """``text`` with every identifying word and date masked by ``*`` (same length)."""
        chars = list(text)
        for start, end in self.find(text).spans:
            chars[start:end] = "*" * (end - start)
        return "".join(chars)


def _caret_names(text: str, words: list[re.Match[str]]) -> list[int]:
    """Indexes of the words inside ``Family^Given`` patterns."""
    spans = [m.span() for m in _CARET_NAME.finditer(text)]
    return [i for i, w in enumerate(words) if any(a <= w.start() < b for a, b in spans)]


def _capitalised(*words: re.Match[str]) -> bool:
    """Names in descriptors are written ``Smith`` or ``SMITH``, not ``smith``."""
    return all(w.group()[0].isupper() for w in words)
