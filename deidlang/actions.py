"""The vocabulary: every action and every pixel rule kind, each declared once.

An `Action` says what the action applies to (VRs), how strong it is, what it does to a date, whether
its result is a constant, computed from the value or keyed, how its argument is read from the
grammar, checked, printed and encoded in a plan, and how it transforms a value. Every layer reads
these declarations and none keeps a table of its own: the parser and the formatter (`syntax`,
`review.fmt`), the compiler, the plan's JSON, both engines (`engine.dataset`, `engine.stream`), the
validators, the review tools (`explain`, `review.diff`, `review.handling`, the HTML page), the docs'
actions table (`tools/actions_table.py`) and the hypothesis strategies.

Adding an action is its grammar line (``ACTION`` for one without an argument, else an alternative of
``rule`` named ``<name>_rule``, the name's ``-`` written ``_``), one `Action` here (with an
`Argument` class of `deidlang.arguments` when it takes a new kind of argument) and its tests;
CONTRIBUTING.md has the checklist.

Ordering by exposure, for tools that compare two plans: `exposure_order` ranks two (action,
argument) pairs by strength and, within one action, by argument (`Argument.exposes`).

>>> ACTIONS["round-age"].applies_to
frozenset({'AS'})
>>> exposure_order("round-age", Years(5), "round-age", Years(10))
-1
>>> exposure_order("remove", None, "keep", None)
1
>>> ACTIONS["shift-date"].argument.parse("patient", 90).text()
' by patient within 90 days'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import values
from .arguments import Argument, DateUnit, Pseudonym, Shift, Text, TimeUnit, Years, _sign
from .dictionary import DATE_VRS, TEXT_VRS

__all__ = ["ACTIONS", "Action", "Argument", "DateUnit", "Env", "PIXEL_KINDS", "PixelKind", "Pseudonym", "Shift",
           "Text", "TimeUnit", "Years", "action", "always_changes", "empty_value", "exposure_order", "pixel_kind",
           "rule_alias", "terminal_texts"]

# ---------------------------------------------------------------- actions


class Env(Protocol):
    """What a transform may read besides the value: the key, the dataset's patient and its terms."""

    @property
    def secret(self) -> bytes: ...

    @property
    def patient_id(self) -> str: ...

    @property
    def scrubber(self) -> Any: ...  # text.Scrubber of the dataset's identifying values


#: (one value as text, its VR, the argument, the environment) -> the new value's text
Transform = Callable[[str, str, Any, Env], str]

#: What an action's result depends on: nothing of the element (``remove``), its value unchanged
#: (``keep``), nothing of the value (``constant``: one result per VR and argument), the value
#: (``value``), or the value and the key with each (original, replacement) pair recorded (``keyed``).
RESULTS = ("remove", "keep", "constant", "value", "keyed")
#: What an action does to a date or time value (DA, DT, TM), for LongitudinalTemporalInformationModified.
DATE_EFFECTS = ("kept", "modified", "removed")


@dataclass(frozen=True)
class Action:
    """One action of the language.

    ``strength`` orders actions by what they let through: 4 removes the element, 3 replaces its value
    with one that carries nothing of the original or only through a key, 2 generalises it, 1 cleans
    free text by heuristics, 0 keeps it. ``applies_to``: the VRs it fits (None: every VR); elsewhere it
    is a compile error for a known VR, and the element's removal at run time. ``walks_items``: on a
    sequence, its items are kept and walked (otherwise a sequence it fits is written with no items).
    ``whole_dataset``: its transform reads terms from the whole dataset (the fast path cannot stream it).
    """

    name: str
    summary: str
    strength: int
    applies_to: frozenset[str] | None = None
    result: str = "value"
    date_effect: str = "removed"
    argument: type[Argument] | None = None
    transform: Transform | None = None  # for ``value`` and ``keyed`` results, one value at a time
    constant: Callable[[str, Any], Any] | None = None  # for ``constant`` results: (VR, argument) -> value
    walks_items: bool = False
    whole_dataset: bool = False
    forms: tuple[str, ...] = ()  # its argument as written, each form, for the docs

    def __post_init__(self) -> None:
        assert self.result in RESULTS and self.date_effect in DATE_EFFECTS, self.name
        assert (self.transform is not None) == (self.result in ("value", "keyed")), self.name
        assert (self.constant is not None) == (self.result == "constant"), self.name

    @property
    def changes(self) -> bool:
        """Whether it always changes or removes a value (the minimum's proof obligation relies on this):
        ``keep``, ``clean`` and the generalising actions can leave a value as it was."""
        return self.strength >= 3

    def fits(self, vr: str) -> bool:
        return self.applies_to is None or vr in self.applies_to

    def pair_kind(self, argument: Argument | None) -> str:
        """The kind a keyed action's (original, replacement) pairs are recorded under."""
        label = argument.label() if argument is not None else None
        return self.name if label is None else f"{self.name}:{label}"

    def decode(self, data: Any) -> Argument | None:
        """The argument from a plan's JSON; `ValueError` when it does not fit this action."""
        if self.argument is None:
            if data is not None:
                raise ValueError(f"`{self.name}` takes no argument")
            return None
        return self.argument.from_json(data)

    def text(self, argument: Argument | None) -> str:
        """The action and its argument as a rule writes them (without selectors): ``round-age to 5 years``
        reads ``round-age to 5 years``."""
        return self.name + (argument.text() if argument is not None else "")


def _dummy(vr: str, argument: Any) -> Any:
    return values.dummy(vr)


def _shift(text: str, vr: str, shift: Shift, env: Env) -> str:
    days = values.patient_shift(env.secret, env.patient_id, shift.within) if shift.per_patient else shift.days
    return values.shift_date(text, vr, days)


_TIME = {"TM": re.compile(r"()(\d{0,6})(\.\d{1,6})?()"),
         "DT": re.compile(r"(\d{8}|\d{6}|\d{4})(\d{0,6})(\.\d{1,6})?([+-]\d{4})?")}


def _truncate_time(text: str, vr: str, unit: TimeUnit, env: Env) -> str:
    """A time (TM, or the time of a DT) cut to its hour or minute, the rest zero and the fraction gone:
    TM 131742.25 -> 130000 (hour), 131700 (minute); a DT keeps its date and offset. A value already
    as coarse is left as it is."""
    match = _TIME[vr].fullmatch(text.strip())
    if match is None:
        raise ValueError("not a time")
    date, time, _, offset = match.groups()
    if len(time) % 2 or (time and len(date) not in (0, 8)):  # hours, minutes, seconds; a time needs a full date
        raise ValueError("not a time")
    keep = 2 if unit.unit == "hour" else 4
    return date + time[:keep] + "0" * max(len(time) - keep, 0) + (offset or "")


#: VRs whose empty value is the empty string (pydicom's string VRs but DS and IS)
_EMPTY_TEXT = frozenset("AE AS CS DA DT LO LT PN SH ST TM UC UI UR UT".split())


def empty_value(vr: str):
    """An empty value for the VR, as pydicom's `empty_value_for_VR` gives it once in a `DataElement`
    (a PN's "" becomes its empty PersonName there), without importing pydicom."""
    if vr == "SQ":
        return []
    return "" if vr in _EMPTY_TEXT else None


_DECLARED = (
    Action("remove", "the element goes (a sequence with everything in it)", 4, result="remove"),
    Action("empty", "the value becomes empty (a sequence: no items)", 3, result="constant",
           constant=lambda vr, _: empty_value(vr)),
    Action("dummy", "a constant valid for the VR: a fixed date, zero, `ANONYMOUS`", 3, result="constant",
           constant=_dummy),
    Action("dummy-date", "a fixed date or time valid for the VR", 3, DATE_VRS, result="constant", constant=_dummy),
    Action("keep", "the value stays (a sequence's items are walked)", 0, result="keep", date_effect="kept",
           walks_items=True),
    Action("uid", "a keyed re-mapping under the 2.25 root, the same in every file", 3, frozenset({"UI"}),
           result="keyed", transform=lambda text, vr, _, env: values.new_uid(env.secret, text)),
    Action("hash", "16 keyed hex digits, the same for the same value", 3, TEXT_VRS, result="keyed",
           transform=lambda text, vr, _, env: values.hash_text(env.secret, text)),
    Action("replace", "a given constant", 3, TEXT_VRS | {"DA", "DT", "TM", "AS", "DS", "IS", "UI", "UR"},
           result="constant", argument=Text, constant=lambda vr, arg: arg.value, forms=('with "ANONYMOUS"',)),
    Action("shift-date", "dates moved by whole days, fixed or by a keyed per-patient offset", 3,
           frozenset({"DA", "DT"}), date_effect="modified", argument=Shift, transform=_shift,
           forms=("by -30 days", "by patient within 365 days")),
    Action("clean", "identifying words, person names and dates in free text become `*` (a heuristic)", 1,
           TEXT_VRS | {"SQ"}, transform=lambda text, vr, _, env: env.scrubber.scrub(text),
           walks_items=True, whole_dataset=True),
    Action("pseudonym", "a keyed code of A-Z and 2-7 after a prefix, the same for the same value", 3, TEXT_VRS,
           result="keyed", argument=Pseudonym,
           transform=lambda text, vr, arg, env: values.pseudonym(env.secret, text, arg.prefix, arg.length),
           forms=('[prefix "P-"] [length 10]',)),
    Action("round-age", "an age rounded down to whole years in bands of N", 2, frozenset({"AS"}), argument=Years,
           transform=lambda text, vr, arg, env: values.round_age(text, arg.years), forms=("to 5 years",)),
    Action("truncate-date", "a date cut to its year or month", 2, frozenset({"DA", "DT"}), date_effect="modified",
           argument=DateUnit, transform=lambda text, vr, arg, env: values.truncate_date(text, vr, arg.unit),
           forms=("to year", "to month")),
    Action("truncate-time", "a time cut to its hour or minute (a date and time keeps its date)", 2,
           frozenset({"TM", "DT"}), date_effect="modified", argument=TimeUnit, transform=_truncate_time,
           forms=("to hour", "to minute")),
)

#: Every action, by name, in the order the docs list them.
ACTIONS: Mapping[str, Action] = {a.name: a for a in _DECLARED}


def action(name: str) -> Action:
    """The declaration of an action; `ValueError` for a name that is none."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise ValueError(f"unknown action {name!r}") from None


def always_changes(name: str) -> bool:
    """Whether the action always changes or removes a value (`Action.changes`)."""
    return ACTIONS[name].changes


def exposure_order(old_action: str, old_argument: Argument | None, new_action: str,
                   new_argument: Argument | None) -> int:
    """1 when the new action (with its argument) can let more of a value through than the old one, -1
    when less, 0 when neither: by strength, then, for one action, by its arguments (`Argument.exposes`)."""
    old, new = ACTIONS[old_action], ACTIONS[new_action]
    if old.strength != new.strength:
        return _sign(old.strength - new.strength)
    if old is new and old_argument is not None and new_argument is not None:
        return new_argument.exposes(old_argument)
    return 0


def terminal_texts() -> dict[str, str]:
    """How parse errors describe the terminals of the actions: ``ACTION`` and each argument's own."""
    plain = ", ".join(a.name for a in ACTIONS.values() if a.argument is None)
    texts = {"ACTION": f"an action ({plain})"}
    for declared in ACTIONS.values():
        if declared.argument is not None:
            texts.update(declared.argument.TERMINALS)
    return texts


def rule_alias(name: str) -> str:
    """The grammar alias of the rule line of an action that takes an argument."""
    return name.replace("-", "_") + "_rule"


# ---------------------------------------------------------------- pixel rule kinds


@dataclass(frozen=True)
class PixelKind:
    """A kind of pixel rule. The engine registers its operation by this name (`engine.pixels`); a
    kind with no operation is an error, never some other operation."""

    name: str
    summary: str
    head: str  # how a rule of the kind starts, as the formatter writes it (regions follow for blackout)
    regions: bool = False  # the rule lists (x, y, width, height) regions


PIXEL_KINDS: Mapping[str, PixelKind] = {k.name: k for k in (
    PixelKind("blackout", "the regions x,y,width,height are filled with black on every frame", "blackout",
              regions=True),
    PixelKind("detected-text", "the text OCR finds is blacked out", "blackout detected-text"),
    PixelKind("burn-overlays", "overlay planes are drawn into the pixels, then removed", "burn overlays"),
)}


def pixel_kind(name: str) -> PixelKind:
    """The declaration of a pixel rule kind; `ValueError` for a name that is none."""
    try:
        return PIXEL_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown pixel rule kind {name!r}") from None
