"""Keep the IOD valid: the standard's substitute where a rule would break what the IOD requires.

PS3.15 E.1-1a lets a profile replace instead of remove where the IOD needs the attribute (X/Z, X/D,
X/Z/D, Z/D), and a de-identifier that removes Type 1 and Type 2 attributes writes invalid objects.
Both engines ask `adjust` before they act on a public element; it sees the element's place and the
requirements of the dataset's IOD (`deidlang.iod`) and answers:
- a removed or emptied attribute the IOD requires with a value (Type 1, 1C): a dummy valid for its VR;
- a removed attribute the IOD requires present (Type 2, 2C): empty;
- a sequence a rule would leave with no items where the IOD does not allow that (Type 1, 1C, or not
  required, i.e. Type 3): removed instead.
- a 1C/2C attribute whose declared condition (`iod.conditions`) does not hold in the output: removed
  where the standard does not allow it otherwise, and an attribute its condition needs kept as a keyed
  hash (`overrides`, item by item); one whose condition holds is required as its type says.
A SOP Class the tables do not know is left as the rules say. UIDs and binary values have no neutral dummy (a dummy UID would break references) and are left as
the rule says. An SR's VerificationFlag kept as VERIFIED while the verifying observers go becomes
UNVERIFIED (`verification`: PS3.3 C.17.2 requires VerifyingObserverSequence when the flag is VERIFIED).
Every substitution returns its reason, which the engines note (never a value).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from .. import iod
from ..actions import ACTIONS, Text
from ..dictionary import format_tag
from ..dictionary import vrs_of
from ..plan import PlanRule, Selector, is_private
from .verdict import DROP, verdict

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement

VERIFICATION_FLAG, VERIFYING_OBSERVERS = 0x0040A493, 0x0040A073
#: What a kept VerificationFlag becomes when no verifying observer stays.
UNVERIFIED = PlanRule("replace", Selector("tag", tag=VERIFICATION_FLAG), argument=Text("UNVERIFIED"))

_NO_DUMMY = frozenset("UI OB OW OF OD OL OV UN SQ".split())


def requirements(sop_class: str, top_level) -> tuple[tuple[str, ...], Mapping[iod.Path, iod.Requirement]]:
    """(key, requirements) of a dataset: the modules in use (a cache key for what depends on them)
    and what they require."""
    modules = iod.modules_in_use(sop_class, top_level)
    return modules, iod.merged(modules)


def adjust(action: str, tag: int, vr: str, position, required: Mapping[iod.Path, iod.Requirement],
           changes: Mapping[int, tuple[str, str]] | None = None) -> tuple[str, str | None]:
    """The action to take on this element instead of ``action`` where the IOD needs it, and why;
    ``changes``: what the 1C/2C conditions of its item change (`overrides`)."""
    if changes and tag in changes and changes[tag][0] != action:
        return changes[tag]
    if not required or is_private(tag) or action not in ("remove", "empty", "dummy"):
        return action, None  # an IOD the tables do not know: as the rules say
    path = (*(seq for seq, _ in position), tag)
    need = required.get(path)
    where = f"Type {need.type} in PS3.3 table {need.module}" if need else "not required by the IOD"
    if vr == "SQ":
        if action != "remove" and (need is None or need.needs_value):
            return "remove", f"{format_tag(tag)}: a sequence with no items is not valid here ({where}): removed"
        return action, None
    if need is None or vr in _NO_DUMMY:
        return action, None
    if need.needs_value and action in ("remove", "empty"):
        return "dummy", f"{format_tag(tag)}: the IOD needs a value ({where}): a dummy written"
    if not need.needs_value and action == "remove":
        return "empty", f"{format_tag(tag)}: the IOD needs the attribute ({where}): written empty"
    return action, None


def replacement(tag: int, vr: str, position, required: Mapping[iod.Path, iod.Requirement],
                notes: list[str]) -> DataElement | None:
    """What replaces an element whose value cannot be written as the rule says (a kept value not valid
    for its VR): the IOD's substitute where it needs the attribute (noted), else nothing (removed)."""
    action, why = adjust("remove", tag, vr, position, required)
    if action == "remove" or why is None:
        return None
    notes.append(why)
    from pydicom.dataelem import DataElement

    return DataElement(tag, vr, ACTIONS[action].constant(vr, None))


def overrides(position, present: Collection[int], value: Callable[[int], str | None], resolver, truths,
              required: Mapping[iod.Path, iod.Requirement]) -> dict[int, tuple[str, str]]:
    """What the declared 1C/2C conditions (`iod.conditions`) change in one item (``present``: its tags), by
    tag: (action, why). Where the IOD types a present attribute 1C/2C here and it stays:
    - its condition does not hold (a `present` one: none of the other attributes is in the item; a value one:
      on the input's ``value``): removed, where the standard does not allow it otherwise;
    - a `present` condition that holds in the input but whose attributes the rules remove: the first of them
      is written as a keyed hash (distinct values stay distinct, nothing of the value is kept), so that the
      attribute that needs it stays valid (In-Stack Position Number and the Stack ID it counts in)."""
    if not required:
        return {}
    seqs = tuple(seq for seq, _ in position)
    out: dict[int, tuple[str, str]] = {}
    for tag, condition in iod.conditions().items():
        need = required.get((*seqs, tag))
        if tag not in present or need is None or not need.type.endswith("C"):
            continue
        if not _stays(tag, position, resolver, truths, required):
            continue
        where = f"PS3.3 table {condition.source}"
        if condition.kind == "present":
            others = [other for other in condition.others if other in present]
            if others and not any(_stays(other, position, resolver, truths, required) for other in others):
                if ACTIONS["hash"].fits(_vr(others[0])):
                    out[others[0]] = ("hash", f"{format_tag(others[0])}: {format_tag(tag)} is required only if it "
                                              f"is present ({where}): a keyed hash written")
                    continue
            holds = bool(others)
        else:
            found = value(condition.others[0]) if condition.others[0] in present else None
            holds = found is not None and (found == condition.value) == (condition.kind == "equals")
        if not holds and condition.absent_otherwise:
            out[tag] = ("remove", f"{format_tag(tag)}: only allowed if {condition.describe()}, which does not hold "
                                  f"in the output ({where}): removed")
    return out


def _vr(tag: int) -> str:
    vrs = vrs_of(tag)
    return min(vrs) if vrs else "UN"


def _stays(tag: int, position, resolver, truths, required) -> bool:
    """Whether a public element at this place is written, by the rules and their IOD substitutes."""
    vr = _vr(tag)
    rule = resolver.decide(tag, vr, None, position, truths)
    action, _ = adjust(rule.action if rule else resolver.default_action(tag), tag, vr, position, required)
    return verdict(tag, vr, action).kind != DROP


def verification(action: str, tag: int, position, resolver, truths, required) -> tuple[PlanRule | None, str | None]:
    """For a top-level VerificationFlag that is kept: `UNVERIFIED` (and why) when the rules, with their
    IOD substitutes, do not keep the verifying observers' items; else (None, None)."""
    if tag != VERIFICATION_FLAG or position or action != "keep":
        return None, None
    rule = resolver.decide(VERIFYING_OBSERVERS, "SQ", None, (), truths)
    observers, _ = adjust(rule.action if rule else resolver.default_action(VERIFYING_OBSERVERS),
                          VERIFYING_OBSERVERS, "SQ", (), required)
    if ACTIONS[observers].walks_items:
        return None, None
    return UNVERIFIED, f"{format_tag(tag)}: the verifying observers do not stay: UNVERIFIED written"


def substitute(tag: int, vr: str, rule: PlanRule | None, position, resolver, truths, required,
               changes: Mapping[int, tuple[str, str]] | None = None) -> tuple[PlanRule | None, str, str | None]:
    """The rule and action that decide an element once the IOD is taken into account (`adjust`,
    `verification`), and why they differ from the deciding rule's, for both engines."""
    action, why = adjust(rule.action if rule else resolver.default_action(tag), tag, vr, position, required,
                         changes)
    unverified, because = verification(action, tag, position, resolver, truths, required)
    if unverified is not None:
        return unverified, unverified.action, because
    return rule, action, why
