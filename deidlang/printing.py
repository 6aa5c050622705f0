"""How the language writes selectors, conditions and values: the one printer for rules as written
(the AST, for `deidlang fmt`) and rules as compiled (the plan, for `explain`, `diff`, hover and the
review page). Arguments print themselves (`Argument.text`), actions through their declaration.

A plan has lost the names a rule was written with, so a plan selector prints its tag as
``(gggg,eeee)`` and a plan condition names its element by keyword; everything else is written the
same way from both: masks with a lower-case ``x``, strings in double quotes with ``\\`` escapes,
whole numbers without a decimal point, parentheses in conditions only where precedence needs them.

>>> from deidlang import conditions
>>> condition_text(conditions.And(conditions.Compare(0x00080060, "==", "US"),
...                               conditions.Not(conditions.Exists(0x00280301))))
'Modality == "US" and not BurnedInAnnotation exists'
>>> selector_text(Selector("mask", tag=0x60003000, mask=0xFF00FFFF))
'(60xx,3000)'
"""

from __future__ import annotations

from . import ast, conditions
from .actions import pixel_kind
from .dictionary import format_tag, keyword_of
from .plan import Selector

#: binding strength of the logic operators: `or` < `and` < `not` < a test
_PRECEDENCE = {ast.Or: 1, conditions.Or: 1, ast.And: 2, conditions.And: 2, ast.Not: 3, conditions.Not: 3}


def quote(text: str) -> str:
    """A string literal of the language."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def value_text(value: str | float) -> str:
    """A condition's value: a quoted string, or a number (whole numbers without a decimal point)."""
    if isinstance(value, str):
        return quote(value)
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def tag_text(value: int, mask: int = 0xFFFFFFFF) -> str:
    """``(GGGG,EEEE)`` in upper-case hex, an ``x`` for each digit the mask leaves open."""
    digits = "".join(f"{(value >> s) & 0xF:X}" if (mask >> s) & 0xF else "x" for s in range(28, -4, -4))
    return f"({digits[:4]},{digits[4:]})"


def _element(tag: int) -> str:
    return keyword_of(tag) or format_tag(tag)


def selector_text(sel: ast.Selector | Selector) -> str:
    """A selector in the language's syntax, from the AST (names as written) or from a plan."""
    if isinstance(sel, Selector):
        return _plan_selector(sel)
    match sel:
        case ast.Keyword(name=name) | ast.Named(name=name):
            return name
        case ast.TagPattern(value=value, mask=mask):
            return tag_text(value, mask)
        case ast.Group(group=group):
            return _group(group)
        case ast.VRClass(vr=vr):
            return f"vr {vr}"
        case ast.AnyPrivate():
            return "private"
        case ast.CreatorElement(creator=creator, group=group, offset=offset, vr=vr):
            return _creator(creator, group, offset, vr)
        case ast.Path(steps=steps, items=items):
            return _path([selector_text(s) for s in steps], items)
    raise AssertionError(sel)


def _plan_selector(sel: Selector) -> str:
    match sel.kind:
        case "tag":
            return format_tag(sel.tag)
        case "mask":
            return tag_text(sel.tag, sel.mask)
        case "group":
            return _group(sel.group)
        case "vr":
            return f"vr {sel.vr}"
        case "private":
            return "private"
        case "creator":
            return _creator(sel.creator, sel.group, sel.tag, sel.vr)
        case "path":
            return _path([_element(tag) for tag, _ in sel.path] + [_element(sel.tag)], [i for _, i in sel.path])
    raise AssertionError(sel)


def _group(group: int) -> str:
    return f"group {group:04X}"


def _creator(creator: str, group: int, offset: int, vr: str) -> str:
    return f"{quote(creator)} {group:04X},xx{offset:02X}" + (f" vr {vr}" if vr else "")


def _path(steps: list[str], items) -> str:
    parts = [steps[0]]
    for item, step in zip(items, steps[1:]):
        parts += [item, step]
    return "/".join(parts)


def condition_text(cond: ast.Condition | conditions.Condition, parent: int = 0) -> str:
    """A condition, from the AST or from a plan, with parentheses only where `or` < `and` < `not`
    needs them."""
    level = _PRECEDENCE.get(type(cond), 4)
    match cond:
        case ast.Or(left=left, right=right) | conditions.Or(left=left, right=right):
            text = f"{condition_text(left, 1)} or {condition_text(right, 1)}"
        case ast.And(left=left, right=right) | conditions.And(left=left, right=right):
            text = f"{condition_text(left, 2)} and {condition_text(right, 2)}"
        case ast.Not(operand=operand) | conditions.Not(operand=operand):
            text = f"not {condition_text(operand, 3)}"
        case ast.Compare(op=op, value=value) | conditions.Compare(op=op, value=value):
            text = f"{_operand(cond)} {op} {value_text(value)}"
        case ast.Member(values=values) | conditions.Member(values=values):
            text = f"{_operand(cond)} in ({', '.join(value_text(v) for v in values)})"
        case ast.Exists() | conditions.Exists():
            text = f"{_operand(cond)} exists"
        case _:
            raise AssertionError(cond)
    return f"({text})" if level < parent else text


def _operand(cond) -> str:
    """The element a test is about: as written (AST), or by keyword (plan)."""
    if isinstance(cond, (ast.Compare, ast.Member, ast.Exists)):
        return selector_text(cond.operand)
    return _element(cond.tag)


def pixel_text(kind: str, regions: tuple[tuple[int, int, int, int], ...], complete: bool) -> str:
    """A pixel rule without its condition: ``blackout 0,0,640,40 complete``, ``burn overlays``."""
    head = pixel_kind(kind).head
    if pixel_kind(kind).regions:
        head += " " + ", ".join(",".join(map(str, r)) for r in regions)
    return head + (" complete" if complete else "")
