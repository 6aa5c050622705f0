"""Conditions of a plan evaluated once per dataset, on the original dataset's top level: each atom is
tested here, and `deidlang.conditions.holds` combines them (the one evaluator of ``and``/``or``/``not``).

Semantics (README, Conditions): a value is compared as text (multiple values joined with a
backslash) unless the rule gives a number, then as the first value's number. A missing element makes
every test false except ``!=`` and ``not ... exists``.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from ..conditions import Atom, Compare, Condition, Exists, Member, holds


def evaluate(conditions: Seq[Condition], ds: Dataset) -> list[bool]:
    """One truth value per plan condition, in plan order."""
    cache: dict[int, str | None] = {}
    return [holds(cond, lambda atom: _test(atom, ds, cache)) for cond in conditions]


def _text(ds: Dataset, tag: int, cache: dict[int, str | None]) -> str | None:
    """The element's value as text, or None when absent, binary, a sequence or undecodable."""
    if tag not in cache:
        try:
            elem = ds.get(tag)
            value = None if elem is None else elem.value
        except Exception:  # an undecodable value counts as absent; the engine removes it anyway
            value = None
        if isinstance(value, MultiValue):
            cache[tag] = "\\".join(str(v) for v in value)
        elif value is None or isinstance(value, (bytes, bytearray, Sequence)):
            cache[tag] = None
        else:
            cache[tag] = str(value).strip()
    return cache[tag]


def _number(text: str) -> float | None:
    try:
        return float(text.split("\\")[0])
    except ValueError:
        return None


def _compare(text: str, op: str, value: Any) -> bool:
    if isinstance(value, float):
        number = _number(text)
        if number is None:
            return op == "!="
        return {"==": number == value, "!=": number != value, "<": number < value, "<=": number <= value,
                ">": number > value, ">=": number >= value}.get(op, False)
    if op == "==":
        return text == value
    if op == "!=":
        return text != value
    if op == "contains":
        return value in text
    if op == "startswith":
        return text.startswith(value)
    number = _number(text)  # ordering against a quoted number: compare as numbers when both are
    try:
        bound = float(value)
    except ValueError:
        return False
    if number is None:
        return False
    return {"<": number < bound, "<=": number <= bound, ">": number > bound, ">=": number >= bound}[op]


def _test(atom: Atom, ds: Dataset, cache: dict[int, str | None]) -> bool:
    if isinstance(atom, Exists):
        return atom.tag in ds
    text = _text(ds, atom.tag, cache)
    if isinstance(atom, Member):
        return text is not None and any(_compare(text, "==", v) for v in atom.values)
    assert isinstance(atom, Compare)
    if text is None:
        return atom.op == "!="
    return _compare(text, atom.op, atom.value)
