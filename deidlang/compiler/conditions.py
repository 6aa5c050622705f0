"""Conditions of the AST to the plan's typed tree (`deidlang.conditions`), each test checked to be
able to hold for its element's VR, and what a condition implies about the image's size."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from .. import ast
from .. import conditions as plan
from ..dictionary import VALUE_CHARS, format_tag, keyword_of, tag_for_keyword, vrs_of
from ..errors import CompileError
from .selectors import tag_of

#: What records an error and goes on (`Compiler._collecting`): one bad operand does not hide the next.
Collecting = Callable[[], AbstractContextManager]


def condition_tree(node: ast.Condition, collecting: Collecting) -> plan.Condition:
    """The plan's condition for an AST condition (already made shallow by the parser)."""
    match node:
        case ast.Or(left=left, right=right):
            return plan.Or(condition_tree(left, collecting), condition_tree(right, collecting))
        case ast.And(left=left, right=right):
            return plan.And(condition_tree(left, collecting), condition_tree(right, collecting))
        case ast.Not(operand=operand):
            return plan.Not(condition_tree(operand, collecting))
        case ast.Compare(operand=operand, op=op, value=value):
            return plan.Compare(_atom_tag(node, operand, op, (value,), collecting), op, value)
        case ast.Member(operand=operand, values=values):
            return plan.Member(_atom_tag(node, operand, "in", values, collecting), tuple(values))
        case ast.Exists(operand=operand):
            return plan.Exists(_atom_tag(node, operand, "exists", (), collecting))
    raise AssertionError(node)


def _atom_tag(node: ast.Condition, operand: ast.Keyword | ast.TagPattern, op: str, values: tuple,
              collecting: Collecting) -> int:
    """The operand's tag, once the test is known to be able to hold for the element's VR
    (errors are collected: one bad operand does not hide the next)."""
    with collecting():
        tag = tag_of(operand)
        why = never_holds(tag, op, values)
        if why:
            raise CompileError(why, node.span, "compare with a value the element can have, as DICOM encodes "
                               "it (numbers as digits, dates as YYYYMMDD, code strings in upper case)")
        return tag
    return -1


_VERBS = {"==": "be", "in": "be", "contains": "contain", "startswith": "start with", "!=": "be"}


def never_holds(tag: int, op: str, values: tuple) -> str:
    """Why a test of this element is decided whatever the dataset ('' when it is not): a text its
    VR cannot hold (`Rows == "480px"`, `Modality == "ct"`), or an order against a word."""
    name = keyword_of(tag) or format_tag(tag)
    if op in ("<", "<=", ">", ">=") and isinstance(values[0], str):
        try:
            float(values[0])
        except ValueError:
            return f"`{values[0]}` is not a number, so `{name} {op}` it never holds"
        return ""
    vrs = vrs_of(tag)
    if op not in _VERBS or not vrs or not all(vr in VALUE_CHARS for vr in vrs):
        return ""
    for value in values:
        if isinstance(value, str) and all(set(value) - VALUE_CHARS[vr] for vr in vrs):
            never = "is never" if op == "!=" else "can never"
            return (f"`{name}` {never} {_VERBS[op]} `{value}`: a {'/'.join(sorted(vrs))} value has no such "
                    "character" + (", so this test always holds" if op == "!=" else ""))
    return ""


def image_bounds(cond: ast.Condition | None) -> dict[int, float]:
    """Upper bounds on Rows and Columns that a condition implies through `and` (==, <, <=)."""
    bounds: dict[int, float] = {}
    if isinstance(cond, ast.And):
        for side in (image_bounds(cond.left), image_bounds(cond.right)):
            for tag, bound in side.items():
                bounds[tag] = min(bound, bounds.get(tag, bound))
    elif isinstance(cond, ast.Compare) and isinstance(cond.value, float) and cond.op in ("==", "<", "<="):
        tag = tag_for_keyword(cond.operand.name) if isinstance(cond.operand, ast.Keyword) else cond.operand.value
        if tag in (0x00280010, 0x00280011):
            bounds[tag] = cond.value + (0 if cond.op == "<" else 1)
    return bounds
