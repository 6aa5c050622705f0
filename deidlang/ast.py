"""Typed syntax tree of a rule file, as written (names not yet resolved).

Every node is frozen, carries its `Span` first (ignored by equality) and holds children as tuples,
so trees compare by meaning and never change after parsing. This module imports no parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .arguments import Argument
from .errors import Span

# ---------------------------------------------------------------- selectors


@dataclass(frozen=True, slots=True)
class Keyword:
    """A DICOM keyword such as ``PatientName``; resolved to a tag by the compiler."""

    span: Span = field(compare=False)
    name: str


@dataclass(frozen=True, slots=True)
class TagPattern:
    """``(gggg,eeee)`` or ``gggg,eeee``; ``x`` digits make it a mask. ``value``/``mask`` are bit
    patterns: an element matches when ``tag & mask == value``."""

    span: Span = field(compare=False)
    value: int
    mask: int

    @property
    def is_exact(self) -> bool:
        return self.mask == 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Group:
    span: Span = field(compare=False)
    group: int


@dataclass(frozen=True, slots=True)
class VRClass:
    span: Span = field(compare=False)
    vr: str


@dataclass(frozen=True, slots=True)
class AnyPrivate:
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class CreatorElement:
    """``"CREATOR" gggg,xxee [vr XX]``: private element ``ee`` of whichever block that creator
    reserved; with a VR, only when the element has that VR (a knowledge base judged it with it)."""

    span: Span = field(compare=False)
    creator: str
    group: int
    offset: int
    vr: str = ""


@dataclass(frozen=True, slots=True)
class Path:
    """``Seq/*/Seq2/0/Leaf``: steps are Keyword or TagPattern (exact), items ``*`` or an index."""

    span: Span = field(compare=False)
    steps: tuple["Keyword | TagPattern", ...]
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Named:
    """``overlays`` (the 60xx repeating groups) or ``curves`` (50xx)."""

    span: Span = field(compare=False)
    name: str


Selector = Union[Keyword, TagPattern, Group, VRClass, AnyPrivate, CreatorElement, Path, Named]

# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class Compare:
    """``Operand OP value`` with OP one of == != < <= > >= contains startswith."""

    span: Span = field(compare=False)
    operand: "Keyword | TagPattern"
    op: str
    value: "str | float"


@dataclass(frozen=True, slots=True)
class Member:
    span: Span = field(compare=False)
    operand: "Keyword | TagPattern"
    values: tuple["str | float", ...]


@dataclass(frozen=True, slots=True)
class Exists:
    span: Span = field(compare=False)
    operand: "Keyword | TagPattern"


@dataclass(frozen=True, slots=True)
class Not:
    span: Span = field(compare=False)
    operand: "Condition"


@dataclass(frozen=True, slots=True)
class And:
    span: Span = field(compare=False)
    left: "Condition"
    right: "Condition"


@dataclass(frozen=True, slots=True)
class Or:
    span: Span = field(compare=False)
    left: "Condition"
    right: "Condition"


Condition = Union[Compare, Member, Exists, Not, And, Or]

# ---------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Header:
    span: Span = field(compare=False)
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Include:
    span: Span = field(compare=False)
    target: str


@dataclass(frozen=True, slots=True)
class Require:
    """``require minimum NAME [because "..."]``; ``none`` turns the minimum off and needs a reason."""

    span: Span = field(compare=False)
    minimum: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Waive:
    span: Span = field(compare=False)
    selectors: tuple[Selector, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Default:
    span: Span = field(compare=False)
    action: str


@dataclass(frozen=True, slots=True)
class Code:
    """``code 113100``: a CID 7050 method code the output records."""

    span: Span = field(compare=False)
    value: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One action over selectors. ``argument``: the typed argument its declaration builds
    (`deidlang.actions`), None for an action that takes none."""

    span: Span = field(compare=False)
    action: str
    selectors: tuple[Selector, ...]
    excepts: tuple[Selector, ...]
    condition: Condition | None
    argument: Argument | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    span: Span = field(compare=False)
    condition: Condition
    reason: str | None


@dataclass(frozen=True, slots=True)
class PixelRule:
    """``blackout X,Y,W,H, ... [complete]``, ``blackout detected-text`` or ``burn overlays``.
    Regions are (x, y, width, height) in pixels from the top-left corner, on every frame."""

    span: Span = field(compare=False)
    kind: str
    regions: tuple[tuple[int, int, int, int], ...]
    complete: bool
    condition: Condition | None


Statement = Union[Header, Include, Require, Waive, Default, Code, Rule, Reject, PixelRule]


@dataclass(frozen=True, slots=True)
class Program:
    span: Span = field(compare=False)
    statements: tuple[Statement, ...]
