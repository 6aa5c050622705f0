"""The output contract (DESIGN.md): the attributes every output carries to say what was done to it,
set after the walk by both engines.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from ..dictionary import cid7050, format_tag
from ..plan import Plan
from .context import Context

#: PatientIdentityRemoved, DeidentificationMethod(+CodeSequence), LongitudinalTemporalInformationModified:
#: never copied from the input, always set by `stamp`
CONTRACT = (0x00120062, 0x00120063, 0x00120064, 0x00280303)



def stamp(plan: Plan, out: Dataset, ctx: Context) -> None:
    """The output contract's attributes, saying what was done."""
    out.PatientIdentityRemoved = "YES" if ctx.covered else "NO"
    method = [f"deidlang {plan.name} {plan.version}"[:64], plan.plan_hash]
    method.append("pseudonymised with a site key" if ctx.key.persistent else "anonymised with a one-run key")
    method += [f"waived {format_tag(w.tag)}" for w in plan.waivers]
    if not ctx.covered:
        method.append("pixels not covered: burned-in text may remain")
    out.DeidentificationMethod = method
    if plan.codes:
        items = []
        for code in plan.codes:
            item = Dataset()
            item.CodeValue = str(code)
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = cid7050()[code]
            items.append(item)
        out.DeidentificationMethodCodeSequence = items
    if "modified" in ctx.dates:
        out.LongitudinalTemporalInformationModified = "MODIFIED"
    elif "removed" in ctx.dates:
        out.LongitudinalTemporalInformationModified = "REMOVED"
    else:
        out.LongitudinalTemporalInformationModified = "UNMODIFIED"
