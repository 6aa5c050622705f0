"""The output contract (DESIGN.md): the attributes every output carries to say what was done to it,
set after the walk by both engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..dictionary import cid7050, format_tag
from ..plan import Plan
from .context import Context

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: PatientIdentityRemoved, DeidentificationMethod(+CodeSequence), LongitudinalTemporalInformationModified:
#: never copied from the input, always set by `stamp`
CONTRACT = (0x00120062, 0x00120063, 0x00120064, 0x00280303)



def stamp(plan: Plan, out: Dataset, ctx: Context) -> None:
    """The output contract's attributes, saying what was done, set in ``out``."""
    from pydicom.dataset import Dataset

    for tag, vr, value in elements(plan, ctx):
        if vr == "SQ":
            items = []
            for item_elements in value:
                items.append(item := Dataset())
                for item_tag, item_vr, item_value in item_elements:
                    item.add_new(item_tag, item_vr, item_value)
            value = items
        out.add_new(tag, vr, value)


def elements(plan: Plan, ctx: Context) -> list[tuple[int, str, object]]:
    """The output contract's attributes as (tag, VR, value), in tag order; a sequence's value is its
    items, each a list of such (the fast path encodes them without pydicom, `stamp` sets them)."""
    made: list[tuple[int, str, object]] = [(0x00120062, "CS", "YES" if ctx.covered else "NO")]
    method = [f"deidlang {plan.name} {plan.version}"[:64], plan.plan_hash]
    method.append("pseudonymised with a site key" if ctx.key.persistent else "anonymised with a one-run key")
    method += [f"waived {format_tag(w.tag)}" for w in plan.waivers]
    if not ctx.covered:
        method.append("pixels not covered: burned-in text may remain")
    made.append((0x00120063, "LO", method))
    if plan.codes:  # CodeValue, CodingSchemeDesignator, CodeMeaning
        made.append((0x00120064, "SQ", [[(0x00080100, "SH", str(code)), (0x00080102, "SH", "DCM"),
                                         (0x00080104, "LO", cid7050()[code])] for code in plan.codes]))
    modified = ("MODIFIED" if "modified" in ctx.dates else "REMOVED" if "removed" in ctx.dates else "UNMODIFIED")
    made.append((0x00280303, "CS", modified))
    return made
