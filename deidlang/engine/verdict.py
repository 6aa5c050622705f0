"""One element's verdict, the same for both engines: what happens to an element of a given tag and VR
under the action that decides it. The reference engine (`dataset`) acts on it element by element; the
fast path (`stream`) keeps it in a table per (tag, VR, creator[, position]) and condition truths, which
is only a cache of this function.

Kinds: `DROP` (removed; `note` says why when the action does not fit the VR), `WALK` (a sequence kept:
its items are walked), `NO_ITEMS` (a sequence written with no items), `KEEP` (the value as it is),
`CONSTANT` (a value that reads nothing of the old one) and `COMPUTE` (a value computed from the old).
``date``: the effect on LongitudinalTemporalInformationModified of a DA, DT or TM element, else None.

>>> verdict(0x00100030, "DA", "round-age")
Verdict(kind=0, action='round-age', date='removed', note='(0010,0030): `round-age` does not apply to VR DA: removed')
"""

from __future__ import annotations

from dataclasses import dataclass

from ..actions import ACTIONS
from ..dictionary import DATE_VRS, format_tag

DROP, WALK, NO_ITEMS, KEEP, CONSTANT, COMPUTE = range(6)
_KIND_OF_RESULT = {"keep": KEEP, "constant": CONSTANT, "value": COMPUTE, "keyed": COMPUTE}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What happens to one element: its kind (`DROP` ... `COMPUTE`), the action, its date effect."""

    kind: int
    action: str
    date: str | None
    note: str | None = None


def verdict(tag: int, vr: str, action: str) -> Verdict:
    """What ``action`` (the deciding rule's, or the default's) does to an element of this tag and VR."""
    declared = ACTIONS[action]
    date = declared.date_effect if vr in DATE_VRS else None
    if declared.result == "remove":
        return Verdict(DROP, action, date)
    if not declared.fits(vr):
        return Verdict(DROP, action, date, f"{format_tag(tag)}: `{action}` does not apply to VR {vr}: removed")
    if vr == "SQ":
        return Verdict(WALK if declared.walks_items else NO_ITEMS, action, date)
    return Verdict(_KIND_OF_RESULT[declared.result], action, date)
