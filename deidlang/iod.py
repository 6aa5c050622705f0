"""What an IOD requires: attributes of Type 1, 1C, 2 and 2C by SOP Class, from the shipped tables.

The tables (deidlang/data/iod_modules.tsv, iod_attributes.tsv) are generated from the module tables
of PS3.3 (GDCM's Part3.xml, 2008 edition) by tools/generate_iod_table.py. A module is in use when the
IOD makes it mandatory, or when it is conditional or optional and the dataset has one of its
required top-level attributes. The engine consults this before removing an element, so that it
writes the standard's substitute where the IOD needs one (PS3.15 E.1-1a: Z for Type 2, D for Type 1).
A few 1C/2C conditions are declared (deidlang/data/iod_conditions.tsv, `conditions`); any other 1C/2C
attribute is taken as required wherever it is present.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Collection
from dataclasses import dataclass

from ._resources import read_rows, read_table

Path = tuple[int, ...]  # the tags of the sequences an attribute sits in, then its own


@dataclass(frozen=True)
class Requirement:
    """How an IOD requires an attribute, and the module that says so."""

    type: str  # 1, 1C, 2 or 2C
    module: str  # the PS3.3 table of the module, e.g. C.8.20-2

    @property
    def needs_value(self) -> bool:
        """Type 1 and 1C: present with a value; Type 2 and 2C: present, possibly empty."""
        return self.type.startswith("1")


@dataclass(frozen=True)
class Condition:
    """When a Type 1C or 2C attribute is required, in terms of the other attributes of its item."""

    tag: int
    kind: str  # present (any of `others`), equals or not-equals (the first of `others` and `value`)
    others: tuple[int, ...]
    value: str
    absent_otherwise: bool  # the attribute shall not be present when the condition does not hold
    source: str  # the PS3.3 table

    def describe(self) -> str:
        """The condition in words, for notes.

        >>> conditions()[0x00209057].describe()
        '(0020,9056) is present'
        """
        names = " or ".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in self.others)
        if self.kind == "present":
            return f"{names} is present"
        return f"{names} is {'not ' if self.kind == 'not-equals' else ''}{self.value}"


@functools.cache
def conditions() -> dict[int, Condition]:
    """The declared conditions, by the tag of the conditional attribute."""
    return {int(row["tag"], 16): Condition(int(row["tag"], 16), row["condition"],
                                           tuple(int(t, 16) for t in row["other"].split()), row["value"],
                                           row["otherwise"] == "absent", row["source"].split()[0])
            for row in read_rows("iod_conditions.tsv")}


def _modules(sop_class: str) -> list[tuple[str, str]]:
    """The IOD's (module, usage) rows; none for a SOP Class the tables do not know."""
    return _rows("iod_modules.tsv", sop_class, ("module", "usage"))


@functools.lru_cache(maxsize=512)
def _attributes(module: str) -> dict[Path, str]:
    """A module's required attributes: path (tags) -> type."""
    return {tuple([int(t, 16) for t in path.split("/")]): kind
            for path, kind in _rows("iod_attributes.tsv", module, ("path", "type"))}


def _rows(name: str, key: str, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    """These columns of the rows of a generated table whose first field is ``key``. A run needs a few
    of its thousands of rows: those are found by bisection, and only they are split.

    INVARIANT: tools/generate_iod_table.py writes the rows sorted by their fields, so the lines are
    sorted as text (a tab sorts below every character the fields hold) and one key's rows are the
    lines from ``key + "\t"`` up to ``key + "\n"``.
    """
    if "\n" in key or "\t" in key:  # a SOP Class read from a file is any text: it names no row
        return []
    header, lines = _table(name)
    at = [header.index(column) for column in columns]
    block = lines[bisect.bisect_left(lines, f"{key}\t"):bisect.bisect_left(lines, f"{key}\n")]
    return [tuple(fields[i] for i in at) for fields in (line.split("\t") for line in block)]


#: The tables `_rows` reads, each read once.
_table = functools.cache(read_table)


def sop_classes() -> list[str]:
    """The SOP Classes the tables know, sorted."""
    return sorted({line.split("\t", 1)[0] for line in _table("iod_modules.tsv")[1]})


def all_modules(sop_class: str) -> tuple[str, ...]:
    """Every module of the IOD, whether or not a dataset would use it."""
    return tuple(sorted(module for module, _ in _modules(sop_class)))


def modules_in_use(sop_class: str, top_level: Collection[int]) -> tuple[str, ...]:
    """The modules of the IOD of ``sop_class`` in use, given the tags at the dataset's top level
    (none for a SOP Class the tables do not know)."""
    mandatory, optional = _triggers(sop_class)
    return mandatory + tuple(module for module, tags in optional if not tags.isdisjoint(top_level))


@functools.lru_cache(maxsize=128)
def _triggers(sop_class: str) -> tuple[tuple[str, ...], tuple[tuple[str, frozenset[int]], ...]]:
    """The IOD's mandatory modules, and each other module with the top-level tags that put it in use."""
    mandatory, optional = [], []
    for module, usage in sorted(_modules(sop_class)):
        if usage == "M":
            mandatory.append(module)
        else:
            optional.append((module, frozenset(p[0] for p in _attributes(module) if len(p) == 1)))
    return tuple(mandatory), tuple(optional)


def requirements(sop_class: str, top_level: frozenset[int]) -> dict[Path, Requirement]:
    """Every required attribute of the IOD of ``sop_class`` in the modules in use."""
    return merged(modules_in_use(sop_class, top_level))


@functools.lru_cache(maxsize=256)
def merged(modules: tuple[str, ...]) -> dict[Path, Requirement]:
    """The required attributes of these modules; where two modules type one attribute, the stronger
    (lower) type wins."""
    out: dict[Path, Requirement] = {}
    for module in modules:
        for path, kind in _attributes(module).items():
            if path not in out or kind < out[path].type:
                out[path] = Requirement(kind, module)
    return out
