"""Layer 3 output: the `Plan`, the one contract between the rule language and the engine.

A plan is plain, immutable data. Each rule names one action, one selector, what it spares
(``excepts``), an optional condition (an index into ``conditions``) and its position ``order`` in the
expanded source, which is also its index into ``origins``, the side table of file:line that made it.
The canonical JSON (sorted keys, no origins, no warnings) is hashed; that hash is what outputs carry,
so reformatting a rule file or moving it changes nothing, while any change of meaning changes the hash.

A selector can be decided from an element's tag, VR, private creator and position alone, which is
what lets a streaming engine use the plan without building a Dataset.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from json.encoder import encode_basestring_ascii as _json_string
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from . import conditions as _conditions
from .actions import action, pixel_kind
from .arguments import Argument
from .collector import collector_paused
from .errors import Span

FORMAT = 1

# Selector kinds, most specific first (DESIGN.md, Precedence).
SELECTOR_RANK = {"path": 7, "tag": 6, "creator": 5, "mask": 4, "group": 3, "vr": 2, "private": 1}


def is_private(tag: int) -> bool:
    return bool((tag >> 16) & 1)


def is_private_creator(tag: int) -> bool:
    return is_private(tag) and 0x0010 <= (tag & 0xFFFF) <= 0x00FF


@dataclass(frozen=True)
class Selector:
    """What a rule applies to. Fields unused by a kind keep their defaults.

    ``tag``: the exact tag (tag, path leaf), the mask's value (mask), the group number (group) or the
    element offset within a private block (creator). ``path``: (sequence tag, item) steps from the top
    level down to the leaf, item ``"*"`` or an index.
    """

    kind: str
    tag: int = 0
    mask: int = 0xFFFFFFFF
    vr: str = ""
    creator: str = ""
    group: int = 0
    path: tuple[tuple[int, str], ...] = ()

    @property
    def rank(self) -> tuple[int, int]:
        """Specificity: the selector kind, then within masks the number of fixed bits, within paths
        their depth."""
        sub = bin(self.mask).count("1") if self.kind == "mask" else len(self.path)
        return SELECTOR_RANK[self.kind], sub

    def matches(self, tag: int, vr: str, creator: str | None) -> bool:
        """Whether an element at any position matches (paths are checked by `matches_position`)."""
        kind = self.kind
        if kind in ("tag", "path"):
            return tag == self.tag
        # A VR class, or a mask with a wildcard in its group, covers public elements only: private
        # ones are decided by name (tag, creator, a fixed odd group) or fall to their removal.
        if kind == "mask":
            return tag & self.mask == self.tag and (not is_private(tag) or self.mask >> 16 == 0xFFFF)
        if kind == "group":
            return tag >> 16 == self.group
        if kind == "vr":
            return vr == self.vr and not is_private(tag)
        if kind == "private":
            return is_private(tag)
        # creator: element `offset` of the block that `creator` reserved in `group` (with that VR)
        return (creator == self.creator and tag >> 16 == self.group and (tag & 0xFF) == self.tag
                and (tag & 0xFFFF) >= 0x1000 and (not self.vr or vr == self.vr))

    def matches_position(self, position: tuple[tuple[int, int], ...]) -> bool:
        if len(position) != len(self.path):
            return False
        return all(seq == want and (item == "*" or int(item) == index)
                   for (seq, index), (want, item) in zip(position, self.path))


@dataclass(frozen=True)
class PlanRule:
    """One action over one selector. ``action`` names its declaration (`deidlang.actions.ACTIONS`);
    ``argument`` is that declaration's typed argument, None for an action that takes none."""

    action: str
    selector: Selector
    excepts: tuple[Selector, ...] = ()
    condition: int | None = None
    argument: Argument | None = None
    order: int = 0

    def applies(self, tag: int, vr: str, creator: str | None) -> bool:
        return self.selector.matches(tag, vr, creator) and not any(
            e.matches(tag, vr, creator) for e in self.excepts)

    @property
    def precedence(self) -> tuple[int, int, int]:
        return (*self.selector.rank, self.order)


@dataclass(frozen=True)
class Waiver:
    """``waive TAG because "..."``: an element of the minimum kept on purpose, with the reason written."""

    tag: int
    reason: str
    order: int


@dataclass(frozen=True)
class PixelWaiver:
    """``waive pixels because "..."``: files that may carry burned-in text (`pixelrisk`) are written
    without a pixel rule, and outputs say their identity may not be removed."""

    reason: str
    order: int


@dataclass(frozen=True)
class RejectRule:
    """``reject if C``: a file for which the plan's condition number ``condition`` holds is not written."""

    condition: int
    reason: str
    order: int


@dataclass(frozen=True)
class PixelRule:
    """A pixel operation: ``blackout`` of (x, y, width, height) regions, ``detected-text`` (what OCR
    finds) or ``burn-overlays``. ``complete`` says the regions cover all burned-in text."""

    kind: str
    regions: tuple[tuple[int, int, int, int], ...]
    complete: bool
    condition: int | None
    order: int


@dataclass(frozen=True)
class Origin:
    """The statement behind a rule: its `Span` in the rule file (the one location type, the parser's
    own) and the text of its line."""

    span: Span
    text: str

    @property
    def source(self) -> str:
        return self.span.source

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col

    def __str__(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True)
class Plan:
    """A compiled, proved ruleset: everything the engines need, and nothing of the rule text but its
    lines (`origins`, outside the hash)."""

    name: str
    version: str
    default: str
    minimum: str
    minimum_reason: str | None
    codes: tuple[int, ...]
    rules: tuple[PlanRule, ...]
    rejects: tuple[RejectRule, ...]
    conditions: tuple[_conditions.Condition, ...]
    waivers: tuple[Waiver, ...]
    includes: tuple[str, ...]
    pixel_rules: tuple[PixelRule, ...] = ()
    pixel_waiver: PixelWaiver | None = None
    origins: tuple[Origin, ...] = field(default=(), compare=False)
    #: (message, order) or (message, order, col, end_col) when the warning is about one selector
    warnings: tuple[tuple, ...] = field(default=(), compare=False)
    #: per rule (same index as ``rules``): the columns [col, end_col) of its selector on its line
    columns: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    def to_dict(self, *, with_origins: bool = True) -> dict:
        """Plain JSON data. Without origins, warnings and columns this is exactly what the hash covers."""
        data = {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)
                if with_origins or f.name not in _SIDE_TABLES}
        if self.pixel_waiver is None:  # absent, so that plans without one keep their hash
            del data["pixel_waiver"]
        data["format"] = FORMAT
        return data

    def side_tables(self) -> dict:
        """`to_dict`'s origins, warnings and columns: what the hash does not cover."""
        return {name: _jsonable(getattr(self, name)) for name in _SIDE_TABLES}

    def canonical_json(self) -> str:
        """What the hash covers: `to_dict` without the side tables, as sorted-key JSON, exactly as
        ``json.dumps(sort_keys=True, separators=(",", ":"))`` writes it. Written from the plan's
        objects directly (`_canonical`), not from a copy of the plan in dicts and lists."""
        data = {name: getattr(self, name) for name in _HASHED}
        if self.pixel_waiver is None:  # absent, so that plans without one keep their hash
            del data["pixel_waiver"]
        data["format"] = FORMAT
        with collector_paused():
            data["rules"] = _Written(_rules_json(self.rules))
            return _canonical(data)

    @functools.cached_property
    def plan_hash(self) -> str:
        """sha256 of the canonical JSON: equal plans, equal hash, on any machine and in any process."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        """The plan of `to_dict`'s data; `ValueError` for an unknown action or pixel rule kind, or an
        argument that does not fit its action."""
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported plan format {data.get('format')!r}")

        def selector(d: dict) -> Selector:  # by position: a cached plan's start reads hundreds
            path = d["path"]
            return Selector(d["kind"], d["tag"], d["mask"], d["vr"], d["creator"], d["group"],
                            tuple([(int(t), str(i)) for t, i in path]) if path else ())

        return cls(
            name=data["name"], version=data["version"], default=data["default"], minimum=data["minimum"],
            minimum_reason=data["minimum_reason"], codes=tuple(data["codes"]),
            rules=tuple(PlanRule(r["action"], selector(r["selector"]), tuple(selector(e) for e in r["excepts"]),
                                 r["condition"], action(r["action"]).decode(r["argument"]), r["order"])
                        for r in data["rules"]),
            rejects=tuple(RejectRule(**r) for r in data["rejects"]),
            conditions=tuple(_conditions.from_json(c) for c in data["conditions"]),
            waivers=tuple(Waiver(**w) for w in data["waivers"]),
            includes=tuple(data["includes"]),
            pixel_rules=tuple(PixelRule(pixel_kind(p["kind"]).name, tuple(tuple(r) for r in p["regions"]), p["complete"],
                                        p["condition"], p["order"]) for p in data.get("pixel_rules", ())),
            pixel_waiver=PixelWaiver(**data["pixel_waiver"]) if data.get("pixel_waiver") else None,
            origins=tuple([Origin(Span(**o["span"]), o["text"]) for o in data.get("origins", ())]),
            warnings=tuple(tuple(w) for w in data.get("warnings", ())),
            columns=tuple(tuple(c) for c in data.get("columns", ())),
        )

    @classmethod
    def from_canonical(cls, text: str, side_tables: dict) -> "Plan":
        """The plan whose `canonical_json` (as written, and checked by the caller) is ``text``, with its
        `side_tables`; its hash is ``text``'s, not the plan's JSON written again. `ValueError` as `from_dict`."""
        plan = cls.from_dict({**json.loads(text), **side_tables})
        plan.__dict__["plan_hash"] = hashlib.sha256(text.encode()).hexdigest()  # as `plan_hash` caches it
        return plan

    def origin(self, order: int) -> Origin | None:
        return self.origins[order] if 0 <= order < len(self.origins) else None

    def columns_of(self, rule: PlanRule) -> tuple[int, int] | None:
        """Where the selector of this rule stands on its line (None for a plan without columns)."""
        index = self._rule_index.get(id(rule))
        return self.columns[index] if index is not None and index < len(self.columns) else None

    @functools.cached_property
    def _rule_index(self) -> dict[int, int]:
        return {id(r): i for i, r in enumerate(self.rules)}


_SIDE_TABLES = ("origins", "warnings", "columns")
_HASHED = tuple(f.name for f in fields(Plan) if f.name not in _SIDE_TABLES)


def _jsonable(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists, all the way down; an argument as its declaration
    encodes it."""
    cls = value.__class__
    if cls is str or cls is int or cls is float or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, int, float)):
        return value
    return _jsonable(_plain(value))


def _plain(value: Any) -> Any:
    """One value of the plan's own classes as JSON data one level deep (its fields' values as they
    are), decided once per class."""
    encode = _PLAIN.get(value.__class__)
    if encode is None:
        encode = _PLAIN[value.__class__] = _plain_encoder(value.__class__)
    return encode(value)


def _plain_encoder(cls: type):
    if issubclass(cls, Argument):
        return cls.to_json
    if issubclass(cls, _conditions.NODES):
        return _conditions.to_json
    if is_dataclass(cls):
        names = tuple(f.name for f in fields(cls))
        values = operator.attrgetter(*names)
        if len(names) == 1:
            return lambda value: {names[0]: values(value)}
        return lambda value: dict(zip(names, values(value)))
    raise TypeError(f"a plan holds no {cls.__name__}")


_PLAIN: dict[type, Any] = {}


def _canonical(value: Any) -> str:
    """The JSON text of `_jsonable(value)` as ``json.dumps(sort_keys=True, separators=(",", ":"))``
    writes it (strings as ASCII with json's own escaping, numbers as their ``repr``), without building
    `_jsonable`'s copy: a long plan has hundreds of thousands of rules to write."""
    cls = value.__class__
    if cls is str:
        return _json_string(value)
    if cls is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if cls is tuple or cls is list:
        return f"[{','.join(map(_canonical, value))}]"
    encode = _CANONICAL.get(cls)
    if encode is None:
        encode = _CANONICAL[cls] = _canonical_encoder(cls)
    return encode(value)


def _canonical_encoder(cls: type):
    """How `_canonical` writes values of one class, decided once per class."""
    if cls is _Written:
        return operator.attrgetter("text")
    if issubclass(cls, bool):
        return lambda value: "true" if value else "false"
    if issubclass(cls, (str, int, float, list, tuple)):
        return _json_dumps  # subclasses, and floats (json's own spelling of inf and nan)
    if issubclass(cls, dict):
        return lambda value: f"{{{','.join(f'{_json_string(k)}:{_canonical(v)}' for k, v in sorted(value.items()))}}}"
    if is_dataclass(cls) and not issubclass(cls, (Argument, *_conditions.NODES)):
        names = sorted(f.name for f in fields(cls))
        keys = [f'{"," if i else "{"}{_json_string(name)}:' for i, name in enumerate(names)]
        values = operator.attrgetter(*names)
        if len(names) == 1:
            return lambda value: f"{keys[0]}{_canonical(values(value))}}}"
        return lambda value: f"{''.join([key + _canonical(v) for key, v in zip(keys, values(value))])}}}"
    plain = _plain_encoder(cls)
    return lambda value: _canonical(plain(value))


class _Written:
    """JSON text already written (`_canonical` puts it in as it is)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _rules_json(rules: tuple[PlanRule, ...]) -> str:
    """The rules as `_canonical` writes them, faster: the compiler shares one `Selector` among the
    rules on the same element and one except list among a statement's rules, so each shared object
    is written once (remembered by identity while every one of them is alive, during this call)."""
    written: dict[int, str] = {}

    def shared(value: Any) -> str:
        text = written.get(id(value))
        if text is None:
            text = written[id(value)] = _canonical(value)
        return text

    # INVARIANT: PlanRule's fields in sorted order (tests compare with json.dumps of `to_dict`)
    return "[" + ",".join([f'{{"action":{_canonical(r.action)},"argument":{_canonical(r.argument)},'
                           f'"condition":{_canonical(r.condition)},"excepts":{shared(r.excepts)},'
                           f'"order":{_canonical(r.order)},"selector":{shared(r.selector)}}}' for r in rules]) + "]"


def _json_dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


_CANONICAL: dict[type, Any] = {}
