"""Keep the IOD valid: the standard's substitute where a rule would break what the IOD requires.

PS3.15 E.1-1a lets a profile replace instead of remove where the IOD needs the attribute (X/Z, X/D,
X/Z/D, Z/D), and a de-identifier that removes Type 1 and Type 2 attributes writes invalid objects.
Both engines ask `adjust` before they act on a public element; it sees the element's place and the
requirements of the dataset's IOD (`deidlang.iod`) and answers:
- a removed or emptied attribute the IOD requires with a value (Type 1, 1C): a dummy valid for its VR;
- a removed attribute the IOD requires present (Type 2, 2C): empty;
- a sequence a rule would leave with no items where the IOD does not allow that (Type 1, 1C, or not
  required, i.e. Type 3): removed instead.
A SOP Class the tables do not know is left as the rules say. UIDs and binary values have no neutral dummy (a dummy UID would break references) and are left as
the rule says. An SR's VerificationFlag kept as VERIFIED while the verifying observers go becomes
UNVERIFIED (`verification`: PS3.3 C.17.2 requires VerifyingObserverSequence when the flag is VERIFIED).
Every substitution returns its reason, which the engines note (never a value).
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import iod
from ..actions import ACTIONS, Text
from ..dictionary import format_tag
from ..plan import PlanRule, Selector, is_private

VERIFICATION_FLAG, VERIFYING_OBSERVERS = 0x0040A493, 0x0040A073
#: What a kept VerificationFlag becomes when no verifying observer stays.
UNVERIFIED = PlanRule("replace", Selector("tag", tag=VERIFICATION_FLAG), argument=Text("UNVERIFIED"))

_NO_DUMMY = frozenset("UI OB OW OF OD OL OV UN SQ".split())


def requirements(sop_class: str, top_level) -> tuple[tuple[str, ...], Mapping[iod.Path, iod.Requirement]]:
    """(key, requirements) of a dataset: the modules in use (a cache key for what depends on them)
    and what they require."""
    modules = iod.modules_in_use(sop_class, top_level)
    return modules, iod.merged(modules)


def adjust(action: str, tag: int, vr: str, position, required: Mapping[iod.Path, iod.Requirement]
           ) -> tuple[str, str | None]:
    """The action to take on this element instead of ``action`` where the IOD needs it, and why."""
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


def substitute(tag: int, vr: str, rule: PlanRule | None, position, resolver, truths, required
               ) -> tuple[PlanRule | None, str, str | None]:
    """The rule and action that decide an element once the IOD is taken into account (`adjust`,
    `verification`), and why they differ from the deciding rule's, for both engines."""
    action, why = adjust(rule.action if rule else resolver.default_action(tag), tag, vr, position, required)
    unverified, because = verification(action, tag, position, resolver, truths, required)
    if unverified is not None:
        return unverified, unverified.action, because
    return rule, action, why
