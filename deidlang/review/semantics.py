"""Exact meaning of conditions, for comparing two plans: which datasets a condition admits.

A condition only sees the top-level elements it names, each through a few tests (its atoms:
comparisons, ``in``, ``exists``). Two datasets whose tested elements pass the same atoms are alike
to every condition, so the datasets that matter are finitely many: for each tested element, one
representative value per distinguishable outcome of its atoms, absent included. The `Space` is the
product of those choices; a condition becomes the set of points where it holds (a boolean array),
computed by the engine's own evaluator on a dataset holding the representative values, so the
analysis follows the engine's semantics (text, numbers, several values) instead of restating them.

Relations between atoms come out exactly where the representatives realise every combination, which
they do for ``==``, ``!=``, ``in``, ``exists`` and numeric orderings: ``Modality in ("CT","MR")``
implies ``Modality in ("CT","MR","US")`` and excludes ``Modality == "US"``. For ``contains`` and
``startswith`` the representatives are each constant, with text before, after and around it, and
pairs of values. Past `LIMIT` points each atom is taken as an independent yes/no instead: that may
call two conditions different when they are not (a false alarm), never the reverse.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydicom import config
from pydicom.dataset import Dataset

from ..conditions import And, Atom, Compare, Condition, Member, Not, Or, atoms
from ..dictionary import vrs_of
from ..engine.conditions import evaluate
from ..quiet import quiet

LIMIT = 1 << 16
_BINARY_NUMBERS = frozenset("US UL UV SS SL SV FL FD".split())
_FILL = "~"  # a character no constant of a rule file is expected to hold next to another constant


@dataclass(frozen=True)
class Point:
    """One representative dataset: the value of each tested element (None: absent)."""

    values: tuple[tuple[int, object], ...]

    def dataset(self) -> Dataset:
        ds = Dataset()
        with config.disable_value_validation():
            for tag, value in self.values:
                if value is not None:
                    ds.add_new(tag, _vr(tag), value)
        return ds


class Space:
    """The representative datasets of every atom of the given conditions (of one or two plans)."""

    def __init__(self, conditions: Iterable[Condition]) -> None:
        found = sorted({a for c in conditions for a in atoms(c)}, key=repr)
        by_tag: dict[int, list[Atom]] = {}
        for atom in found:
            by_tag.setdefault(atom.tag, []).append(atom)
        self.tags = sorted(by_tag)
        # per tag: the representative values with distinct truths of its atoms, and those truths
        self._choices: list[list[object]] = []
        self._truths: list[dict[Atom, np.ndarray]] = []
        for tag in self.tags:
            values, truths = _patterns(tag, by_tag[tag])
            self._choices.append(values)
            self._truths.append(truths)
        sizes = [len(v) for v in self._choices]
        self.exact = math.prod(sizes) <= LIMIT
        if not self.exact:  # too many: every atom free
            self._free = {atom: i for i, atom in enumerate(found)}
            sizes = [2] * len(found)
        self.size = math.prod(sizes)
        self._digits = _digits(sizes)
        self._cache: dict[Condition, np.ndarray] = {}

    def holds(self, cond: Condition | None) -> np.ndarray:
        """Where the condition holds (None: everywhere)."""
        if cond is None:
            return np.ones(self.size, bool)
        cached = self._cache.get(cond)
        if cached is None:
            if isinstance(cond, And):
                cached = self.holds(cond.left) & self.holds(cond.right)
            elif isinstance(cond, Or):
                cached = self.holds(cond.left) | self.holds(cond.right)
            elif isinstance(cond, Not):
                cached = ~self.holds(cond.operand)
            elif self.exact:
                i = self.tags.index(cond.tag)
                cached = self._truths[i][cond][self._digits[i]]
            else:
                cached = self._digits[self._free[cond]] == 1
            self._cache[cond] = cached
        return cached

    def point(self, index: int) -> Point:
        """The representative dataset at one point (exact spaces only)."""
        values = []
        for i, tag in enumerate(self.tags):
            values.append((tag, self._choices[i][self._digits[i][index]]))
        return Point(tuple(values))


def _digits(sizes: Sequence[int]) -> list[np.ndarray]:
    """For a mixed-radix numbering of the points, each point's digit per position."""
    index = np.arange(math.prod(sizes))
    out, stride = [], 1
    for size in sizes:
        out.append((index // stride) % size)
        stride *= size
    return out


def _vr(tag: int) -> str:
    vrs = sorted(vrs_of(tag))
    return vrs[0] if vrs else "LO"


def _patterns(tag: int, tag_atoms: list[Atom]) -> tuple[list[object], dict[Atom, np.ndarray]]:
    """Representative values of one element, one per distinct truth of its atoms."""
    seen: dict[tuple[bool, ...], object] = {}
    for value in _representatives(tag, tag_atoms):
        ds = Dataset()
        try:
            with quiet(), config.disable_value_validation():
                if value is not None:
                    ds.add_new(tag, _vr(tag), value)
                truth = tuple(evaluate(tag_atoms, ds))
        except (ValueError, TypeError, OverflowError):
            continue  # not a value the element can hold
        seen.setdefault(truth, value)
    values = list(seen.values())
    truths = {atom: np.array([t[i] for t in seen], bool) for i, atom in enumerate(tag_atoms)}
    return values, truths


def _representatives(tag: int, tag_atoms: list[Atom]) -> Iterable[object]:
    """Candidate values of an element: absent, empty, each constant the atoms name with text around
    it, pairs of constants as two values, and numbers at and around each numeric constant."""
    texts: list[str] = []
    numbers: list[float] = []
    for atom in tag_atoms:
        for value in (atom.values if isinstance(atom, Member) else (atom.value,) if isinstance(atom, Compare) else ()):
            if isinstance(value, str):
                texts.append(value)
                try:
                    numbers.append(float(value))
                except ValueError:
                    pass
            else:
                numbers.append(value)
    texts = list(dict.fromkeys(texts))
    numbers = sorted(set(numbers))
    vrs = vrs_of(tag)
    binary = bool(vrs) and vrs <= _BINARY_NUMBERS
    yield None
    if not binary:
        yield ""
        yield _FILL
        for text in texts:
            yield from (text, text + _FILL, _FILL + text, _FILL + text + _FILL)
        for a, b in itertools.permutations(texts[:6], 2):
            yield f"{a}\\{b}"
            yield a + b
    around = {n + d for n in numbers for d in (-1, -0.5, 0, 0.5, 1)} | {0.0}
    for n in sorted(around):
        if binary:
            if n == int(n):
                yield int(n) if vrs & {"US", "UL", "UV", "SS", "SL", "SV"} else float(n)
            elif vrs & {"FL", "FD"}:
                yield float(n)
        else:
            yield f"{n:g}"
            if n == int(n):
                yield str(int(n))
