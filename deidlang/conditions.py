"""Conditions of a plan as a small typed tree, with the one evaluator of its logic.

Atoms test one top-level element: `Compare` (``==``, ``!=``, ``<`` ... ``contains``, ``startswith``),
`Member` (``in (...)``) and `Exists`; `Not`, `And` and `Or` combine them. `holds` is the only place
where ``and``, ``or`` and ``not`` are interpreted: the engine calls it with each atom's truth on a
dataset (`engine.conditions`), the validators with a truth assignment of the atoms
(`validate._analysis`), so the two cannot drift. `deidlang.printing` writes a condition back in the language.

A condition's JSON (what the plan hash covers) is a nested list: ``["cmp", tag, op, value]``,
``["in", tag, [values]]``, ``["exists", tag]``, ``["not", c]``, ``["and", a, b]``, ``["or", a, b]``.

>>> c = And(Compare(0x00080060, "==", "US"), Not(Exists(0x00280301)))
>>> holds(c, lambda atom: isinstance(atom, Compare))
True
>>> from_json(to_json(c)) == c
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Union



@dataclass(frozen=True)
class Compare:
    """``TAG op VALUE``: the element's value against ``value`` (``op``: ``==`` ... ``contains``, ``startswith``)."""

    tag: int
    op: str
    value: str | float


@dataclass(frozen=True)
class Member:
    """``TAG in (...)``: the element's value is one of ``values``."""

    tag: int
    values: tuple[str | float, ...]


@dataclass(frozen=True)
class Exists:
    """``TAG exists``: the element is at the top level, whatever its value."""

    tag: int


@dataclass(frozen=True)
class Not:
    """``not C``."""

    operand: "Condition"


@dataclass(frozen=True)
class And:
    """``A and B``."""

    left: "Condition"
    right: "Condition"


@dataclass(frozen=True)
class Or:
    """``A or B``."""

    left: "Condition"
    right: "Condition"


Atom = Union[Compare, Member, Exists]
#: every node type (for ``isinstance``)
NODES = (Compare, Member, Exists, Not, And, Or)
Condition = Union[Compare, Member, Exists, Not, And, Or]


def holds(cond: Condition, atom: Callable[[Atom], bool]) -> bool:
    """Whether the condition holds, given each atom's truth (evaluated lazily, left to right)."""
    if isinstance(cond, And):
        return holds(cond.left, atom) and holds(cond.right, atom)
    if isinstance(cond, Or):
        return holds(cond.left, atom) or holds(cond.right, atom)
    if isinstance(cond, Not):
        return not holds(cond.operand, atom)
    return atom(cond)


def atoms(cond: Condition) -> Iterator[Atom]:
    """The atoms a condition is made of, left to right."""
    if isinstance(cond, (And, Or)):
        yield from atoms(cond.left)
        yield from atoms(cond.right)
    elif isinstance(cond, Not):
        yield from atoms(cond.operand)
    else:
        yield cond


def to_json(cond: Condition) -> list:
    if isinstance(cond, Compare):
        return ["cmp", cond.tag, cond.op, cond.value]
    if isinstance(cond, Member):
        return ["in", cond.tag, list(cond.values)]
    if isinstance(cond, Exists):
        return ["exists", cond.tag]
    if isinstance(cond, Not):
        return ["not", to_json(cond.operand)]
    return ["and" if isinstance(cond, And) else "or", to_json(cond.left), to_json(cond.right)]


def from_json(data: Any) -> Condition:
    """The condition of `to_json`'s data; `ValueError` for anything else."""
    match data:
        case ["cmp", int(tag), str(op), str() | float() | int() as value] if op in OPERATORS:
            return Compare(tag, op, value)
        case ["in", int(tag), list(values)]:
            return Member(tag, tuple(values))
        case ["exists", int(tag)]:
            return Exists(tag)
        case ["not", operand]:
            return Not(from_json(operand))
        case ["and", left, right]:
            return And(from_json(left), from_json(right))
        case ["or", left, right]:
            return Or(from_json(left), from_json(right))
    raise ValueError("not a condition")


#: The comparisons of `Compare`.
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "contains", "startswith")
