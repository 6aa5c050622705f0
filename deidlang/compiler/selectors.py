"""Selectors of the AST to the plan's `Selector`: names resolved with the DICOM dictionary, masks,
VR classes, private creators and paths checked, and each action checked against the VRs it can
apply to (a date action on a non-date element is a compile error)."""

from __future__ import annotations

import difflib
import functools
import operator
from dataclasses import fields

from pydicom import config as pydicom_config
from pydicom.valuerep import validate_value

from .. import ast
from ..actions import ACTIONS
from ..dictionary import ALL_VRS, format_tag, suggest_keywords, tag_for_keyword
from ..dictionary import vrs_of as _vrs_of
from ..errors import CompileError
from ..plan import Selector, is_private


#: a tag's VRs, looked up once per tag (a long file names the same elements again and again)
vrs_of = functools.lru_cache(maxsize=8192)(_vrs_of)


def tag_of(node: ast.Keyword | ast.TagPattern) -> int:
    """The tag a keyword names (an unknown one is an error suggesting the closest), or a tag's own."""
    if isinstance(node, ast.TagPattern):
        return node.value
    tag = tag_for_keyword(node.name)
    if tag is None:
        close = suggest_keywords(node.name)
        hint = f"did you mean {', '.join(f'`{c}`' for c in close)}?" if close else \
            "keywords are the DICOM dictionary's, e.g. PatientName; or write the tag as (gggg,eeee)"
        raise CompileError(f"unknown keyword `{node.name}`", node.span, hint, suggestions=tuple(close))
    return tag


@functools.lru_cache(maxsize=8192)
def tag_selector(tag: int) -> Selector:
    """The selector of one exact tag, one object per tag: a long file names the same elements again
    and again, and the plan's hash writes a shared selector once (`plan._rules_json`)."""
    return Selector("tag", tag=tag)


def selector_of(node: ast.Selector) -> Selector:
    """The plan's selector for an AST selector, or a located `CompileError`."""
    match node:
        case ast.Keyword():
            return tag_selector(tag_of(node))
        case ast.TagPattern(value=value, mask=mask):
            if mask == 0xFFFFFFFF:
                return tag_selector(value)
            if mask == 0:
                raise CompileError("this mask matches every element", node.span, "use `default keep|remove`")
            return Selector("mask", tag=value, mask=mask)
        case ast.Group(group=group):
            return Selector("group", group=group)
        case ast.VRClass(vr=vr):
            if vr not in ALL_VRS:
                raise CompileError(f"unknown VR `{vr}`", node.span, f"VRs are {', '.join(sorted(ALL_VRS))}",
                                   suggestions=tuple(difflib.get_close_matches(vr.upper(), sorted(ALL_VRS), 3)))
            return Selector("vr", vr=vr)
        case ast.AnyPrivate():
            return Selector("private")
        case ast.Named(name="overlays"):
            return Selector("mask", tag=0x60000000, mask=0xFF000000)
        case ast.Named(name="curves"):
            return Selector("mask", tag=0x50000000, mask=0xFF000000)
        case ast.CreatorElement(creator=creator, group=group, offset=offset, vr=vr):
            if not creator or len(creator) > 64:
                raise CompileError("a private creator is 1 to 64 characters", node.span,
                                   "write the creator as the file's private creator element holds it")
            if vr and vr not in ALL_VRS:
                raise CompileError(f"unknown VR `{vr}`", node.span, f"VRs are {', '.join(sorted(ALL_VRS))}")
            return Selector("creator", tag=offset, creator=creator, group=group, vr=vr)
        case ast.Path(steps=steps, items=items):
            tags = [tag_of(s) for s in steps]
            for step, tag in zip(steps[:-1], tags):
                if "SQ" not in vrs_of(tag) and not is_private(tag):
                    raise CompileError(f"`{node_text(step)}` is not a sequence", step.span,
                                       "every step of a path but the last must be a sequence (VR SQ)")
            return Selector("path", tag=tags[-1], path=tuple(zip(tags[:-1], items)))
    raise AssertionError(node)


def type_check(stmt: ast.Rule, node: ast.Selector, selector: Selector) -> None:
    """The rule's action must apply to the selector's VRs, and the longest value its argument can
    write must be valid for each of them."""
    allowed = ACTIONS[stmt.action].applies_to
    if selector.kind == "vr":
        vrs = frozenset({selector.vr})
    elif selector.kind in ("tag", "path"):
        vrs = vrs_of(selector.tag)
    else:
        return  # masks, groups and private elements: checked per element by the engine
    if allowed is not None and vrs and not vrs & allowed:
        raise CompileError(f"`{stmt.action}` cannot apply to `{node_text(node)}` (VR {'/'.join(sorted(vrs))})",
                           node.span, f"`{stmt.action}` applies to VR {', '.join(sorted(allowed))}")
    value = stmt.argument.sample() if stmt.argument is not None else None
    if value is not None:
        for vr in vrs or {"UT"}:
            try:
                validate_value(vr, value, pydicom_config.RAISE)
            except ValueError as err:
                raise CompileError(f"`{value}` is not a valid {vr} value", stmt.span,
                                   str(err).split(" Please see")[0]) from None


#: A selector's fields in order: what `dataclasses.astuple` gives for it, without its deep copy (and
#: a key that hashes and compares without calling Python code).
selector_fields = operator.attrgetter(*(f.name for f in fields(Selector)))


def node_text(node: ast.Selector) -> str:
    """An AST selector named in a message."""
    if isinstance(node, ast.Keyword):
        return node.name
    if isinstance(node, ast.TagPattern):
        return format_tag(node.value)
    if isinstance(node, ast.VRClass):
        return f"vr {node.vr}"
    return type(node).__name__
