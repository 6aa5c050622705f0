"""`deidlang coverage RULES --profile basic-profile`: the plan against PS3.15 Table E.1-1, row by row,
and (``--kb``) the plan's private elements against the TCIA private tag knowledge base.

For each row: the standard's action (the basic profile's code, or an option's K or C when the plan
declares that option's code), the plan's top-level handling, and a status: ``weaker`` when some
dataset gets a value through that the standard would change or remove, ``stronger`` when the plan
removes what the standard keeps or changes, else ``ok``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from ..dictionary import E1_1_PATTERNS, OPTION_COLUMNS, e1_1, parse_tag, tcia_private_kb
from ..plan import Plan
from ..resolve import Resolver
from .handling import handling

# The weakest strength each code of the table allows (see `deidlang.actions.Action.strength`).
_REQUIRED = {"X": 4, "Z": 3, "D": 3, "U": 3, "X/Z": 3, "X/D": 3, "Z/D": 3, "X/Z/D": 3, "X/Z/U*": 0, "K": 0, "C": 1}


@dataclass(frozen=True)
class Row:
    tag: str
    name: str
    standard: str
    plan: str
    lines: str
    status: str

    def to_dict(self) -> dict:
        return asdict(self)


def coverage(plan: Plan) -> list[Row]:
    resolver = Resolver(plan)
    codes = set(plan.codes)
    rows = []
    for row in e1_1():
        code = row["basic_profile"]
        for column, (option, name) in OPTION_COLUMNS.items():
            if row[column] and option in codes:
                code = f"{row[column]} ({name})"
        required = _REQUIRED[code.split(" ")[0]]
        if row["tag"] in E1_1_PATTERNS:  # a representative element (for private ones: of an unknown creator)
            h = handling(plan, resolver, *E1_1_PATTERNS[row["tag"]])
        else:
            h = handling(plan, resolver, parse_tag(row["tag"]))
        status = "weaker" if h.weakest < required else "stronger" if h.weakest > max(required, 3) else "ok"
        if required == 4 and h.weakest == 3:
            status = "weaker"  # X: the element must go, an emptied or replaced one is still there
        rows.append(Row(row["tag"], row["name"], code, h.text(), h.origins(), status))
    return rows


def totals(rows: list[Row]) -> dict[str, dict[str, int]]:
    """Per standard action: how many rows, and how many are ok, weaker, stronger."""
    out: dict[str, Counter] = {}
    for row in rows:
        out.setdefault(row.standard.split(" ")[0], Counter())[row.status] += 1
    return {code: {"rows": sum(c.values()), **c} for code, c in sorted(out.items())}


#: What the KB's dispositions allow: k keep, h a UID re-mapping, o/oi a date shift; others only removal.
_KB_ALLOWS = {"k": {"keep", "remove"}, "h": {"uid", "remove"}, "o": {"shift-date", "remove"},
              "oi": {"shift-date", "remove"}}


@dataclass(frozen=True)
class KBRow:
    creator: str
    element: str  # gggg,xxee
    vr: str
    disposition: str
    plan: str  # the unconditional top-level action for that element with that VR
    status: str  # "weaker": the plan lets more through than the KB allows


def kb_coverage(plan: Plan) -> list[KBRow]:
    """Each (creator, element, VR) of the KB with the action the plan takes on it."""
    resolver = Resolver(plan)
    rows: dict[tuple[str, str, str], set[str]] = {}
    for row in tcia_private_kb():
        rows.setdefault((row["creator"], f"{row['group']},xx{row['offset']}", row["vr"]), set()).add(
            row["disposition"] or "unknown")
    out = []
    for (creator, element, vr), found in sorted(rows.items()):
        group, offset = int(element[:4], 16), int(element[-2:], 16)
        tag = group << 16 | 0x1000 | offset
        rule = next((r for r in resolver.candidates(tag, vr, creator) if r.condition is None), None)
        action = rule.action if rule else resolver.default_action(tag)
        disposition = "/".join(sorted(found))
        allowed = set.intersection(*(_KB_ALLOWS.get(d, {"remove"}) for d in found))
        out.append(KBRow(creator, element, vr, disposition, action, "ok" if action in allowed else "weaker"))
    return out


def kb_totals(rows: list[KBRow]) -> dict[str, dict[str, int]]:
    """Per KB disposition: how many elements, and the plan's actions on them."""
    out: dict[str, Counter] = {}
    for row in rows:
        out.setdefault(row.disposition, Counter())[row.plan] += 1
    return {d: dict(c) for d, c in sorted(out.items())}
