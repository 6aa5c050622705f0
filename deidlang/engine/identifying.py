"""Header-aware reading of burned-in text: which text repeats a value the plan removes or changes.

A name, ID, accession number or date that the header gives and the plan takes away is identifying
wherever it appears, so text in the pixels that repeats it is always blacked out, and reported by the
element it matches (its keyword, never the value). Dates are recognised in the forms screens print:
1951-08-29, 1951/08/29, 08/29/1951, 29.08.1951, 29-Aug-1951, 29 AUG 1951, 19510829, and with two-digit
years.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..dictionary import keyword_of
from ..values import as_texts

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: VRs whose values are names, IDs, places and dates that text in the pixels may repeat
_TEXT_VRS = frozenset({"PN", "LO", "SH", "DA", "DT"})
_MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,4})[./\-](\d{1,2})[./\-](\d{2,4})(?!\d)")
_NAMED_DATE = re.compile(r"(?<!\d)(\d{1,2})[\s.\-/]*([A-Z]{3})[A-Z]*[\s.\-/,]*(\d{2,4})(?!\d)")
_COMPACT_DATE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")


@dataclass
class Terms:
    """The values a plan removes or changes, as words and dates to look for in recognised text."""

    words: dict[str, str] = field(default_factory=dict)  # normalised word -> element keyword
    dates: dict[tuple[int, int, int], str] = field(default_factory=dict)  # (year, month, day) -> keyword

    def match(self, text: str) -> str:
        """The keyword of the element whose value ``text`` repeats, or "" if it repeats none.

        >>> t = Terms({"DOE": "PatientName", "JANE": "PatientName", "4711": "PatientID"}, {(1951, 8, 29): "PatientBirthDate"})
        >>> [t.match(s) for s in ("DOE^JANE4711", "Born 29.08.1951", "08/29/51", "D0E", "LIVER 12 cm")]
        ['PatientName', 'PatientBirthDate', 'PatientBirthDate', 'PatientName', '']
        """
        upper = text.upper()
        for when in _dates_in(upper):
            if when in self.dates:
                return self.dates[when]
        tokens = [t for t in re.split(r"[^0-9A-Z]+", upper) if t]
        joined = "".join(tokens)
        for token in tokens + [joined]:
            for variant in {token, _unconfuse(token)}:
                if variant in self.words:
                    return self.words[variant]
        for word, keyword in self.words.items():
            if len(word) >= 4 and (word in joined or word in _unconfuse(joined)):
                return keyword
            if len(word) >= 5 and any(_within_one(word, t) for t in tokens):
                return keyword
        return ""

    def __bool__(self) -> bool:
        return bool(self.words or self.dates)


def removed_or_changed(original: Dataset, out: Dataset | None) -> Terms:
    """The terms of every name, ID, place and date value in ``original`` (sequences included) that
    ``out`` (the de-identified dataset, or None: everything goes) does not carry unchanged."""
    terms = Terms()
    for keyword, vr, value in _taken(original, out):
        for text in as_texts(value):
            if vr in ("DA", "DT"):
                date = _COMPACT_DATE.match(text.strip())
                if date:
                    terms.dates.setdefault(tuple(int(g) for g in date.groups()), keyword)
                continue
            shortest = 2 if vr == "PN" else 3
            words = [w for w in re.split(r"[^0-9A-Z]+", text.upper()) if len(w) >= shortest]
            whole = "".join(re.split(r"[^0-9A-Z]+", text.upper()))
            for word in words + ([whole] if len(whole) >= 3 else []):
                terms.words.setdefault(word, keyword)
    return terms


def _taken(original: Dataset, out: Dataset | None) -> Iterator[tuple[str, str, object]]:
    for elem in original:
        try:
            vr = elem.VR
            kept = out.get(elem.tag) if out is not None else None
        except Exception:  # undecodable: the engine reports it
            continue
        if vr == "SQ":
            kept_items = list(kept.value) if kept is not None and kept.VR == "SQ" else []
            for i, item in enumerate(elem.value):
                yield from _taken(item, kept_items[i] if i < len(kept_items) else None)
        elif vr in _TEXT_VRS and elem.value not in (None, ""):
            if kept is None or kept.value != elem.value:
                yield keyword_of(elem.tag) or "a private element", vr, elem.value


def _dates_in(text: str) -> Iterator[tuple[int, int, int]]:
    """Every (year, month, day) that a date written in ``text`` may mean (day/month order is ambiguous)."""
    for a, b, c in _NUMERIC_DATE.findall(text):
        if len(a) == 4:
            yield _year(a), int(b), int(c)
        else:
            yield _year(c), int(a), int(b)
            yield _year(c), int(b), int(a)
    for day, month, year in _NAMED_DATE.findall(text):
        if month[:3] in _MONTHS:
            yield _year(year), _MONTHS[month[:3]], int(day)
    for year, month, day in _COMPACT_DATE.findall(text):
        yield int(year), int(month), int(day)


def _year(text: str) -> int:
    """A two-digit year as the nearest century's: 51 -> 1951, 09 -> 2009."""
    year = int(text)
    return year if len(text) > 2 else (2000 + year if year < 40 else 1900 + year)


_CONFUSED = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"})


def _unconfuse(token: str) -> str:
    """Letters OCR confuses with digits, folded to the digits, in tokens that are mostly digits;
    digits folded to letters in tokens that are mostly letters."""
    digits = sum(c.isdigit() for c in token)
    if digits * 2 >= len(token):
        return token.translate(_CONFUSED)
    return token.translate(str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"}))


def _within_one(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
