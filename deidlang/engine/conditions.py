"""Conditions of a plan evaluated once per dataset, on the original dataset's top level: each atom is
tested here, and `deidlang.conditions.holds` combines them (the one evaluator of ``and``/``or``/``not``).

Semantics (README, Conditions): values compare as DICOM compares them, each value trimmed of its
padding and leading and trailing spaces; a text test holds when one of the values passes it (or all of
them joined with a backslash, as written), a number compares the first value. A missing element makes
every test false except ``!=`` and ``not ... exists``. The engine fails a file whose value a
condition reads is not valid for its VR (`yes` is no CS value): such a value must not decide a rule,
nor escape a `reject`.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from typing import TYPE_CHECKING, Any

from ..conditions import Atom, Compare, Condition, Exists, Member, holds

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def evaluate(conditions: Seq[Condition], ds: Dataset) -> list[bool]:
    """One truth value per plan condition, in plan order."""
    cache: dict[int, tuple[str, ...] | None] = {}
    return [holds(cond, lambda atom: _test(atom, ds, cache)) for cond in conditions]


def _values(ds: Dataset, tag: int, cache: dict[int, tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """The element's values as text, each trimmed as DICOM compares them; None when absent, binary, a
    sequence or undecodable."""
    if tag not in cache:
        from pydicom.multival import MultiValue  # ``ds`` is pydicom's: loaded
        from pydicom.sequence import Sequence

        try:
            elem = ds.get(tag)
            value = None if elem is None else elem.value
        except Exception:  # an undecodable value counts as absent; the engine removes it anyway
            value = None
        if isinstance(value, MultiValue):
            cache[tag] = tuple(str(v).strip(" \0") for v in value)
        elif value is None or isinstance(value, (bytes, bytearray, Sequence)):
            cache[tag] = None
        else:
            cache[tag] = (str(value).strip(" \0"),)
    return cache[tag]


def _number(values: tuple[str, ...]) -> float | None:
    try:
        return float(values[0]) if values else None
    except ValueError:
        return None


def _compare(values: tuple[str, ...], op: str, value: Any) -> bool:
    """A test on an element's values: text tests hold when one value passes or, for a text written
    with backslashes, the values joined; numbers compare the first value."""
    if isinstance(value, float):
        number = _number(values)
        if number is None:
            return op == "!="
        return {"==": number == value, "!=": number != value, "<": number < value, "<=": number <= value,
                ">": number > value, ">=": number >= value}.get(op, False)
    texts = (*values, "\\".join(values)) if len(values) > 1 else values
    if op == "==":
        return value in texts
    if op == "!=":
        return value not in texts
    if op == "contains":
        return any(value in t for t in texts)
    if op == "startswith":
        return any(t.startswith(value) for t in texts)
    number = _number(values)  # ordering against a quoted number: compare as numbers when both are
    try:
        bound = float(value)
    except ValueError:
        return False
    if number is None:
        return False
    return {"<": number < bound, "<=": number <= bound, ">": number > bound, ">=": number >= bound}[op]


def _test(atom: Atom, ds: Dataset, cache: dict[int, tuple[str, ...] | None]) -> bool:
    if isinstance(atom, Exists):
        return atom.tag in ds
    values = _values(ds, atom.tag, cache)
    if isinstance(atom, Member):
        return values is not None and any(_compare(values, "==", v) for v in atom.values)
    assert isinstance(atom, Compare)
    if values is None:
        return atom.op == "!="
    return _compare(values, atom.op, atom.value)
