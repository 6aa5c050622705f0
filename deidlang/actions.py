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
`Argument` class when it takes one) and its tests; CONTRIBUTING.md has the checklist.

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydicom.dataelem import empty_value_for_VR

from . import values
from .dictionary import DATE_VRS, TEXT_VRS

# ---------------------------------------------------------------- arguments


class Argument:
    """An action's argument, one class per kind of argument. Subclasses are frozen dataclasses.

    ``parse`` takes the values the action's grammar line holds after its selectors and except list
    (strings unquoted, whole numbers as `int`, anything else as its text, None when an optional part
    is absent); ``to_json``/``from_json`` are its form in a plan (what the plan hash covers).
    """

    #: terminal name -> how an error message describes it (for the terminals the argument adds)
    TERMINALS: ClassVar[Mapping[str, str]] = {}
    #: the result also depends on the patient (a per-patient shift)
    per_patient: ClassVar[bool] = False

    @classmethod
    def parse(cls, *parts: Any) -> "Argument":
        raise NotImplementedError

    def to_json(self) -> Any:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Any) -> "Argument":
        """The argument of a plan's JSON; `ValueError` when it is not one this class can hold."""
        raise NotImplementedError

    def problem(self) -> tuple[str, str | None] | None:
        """Why the argument cannot be compiled (message, help), or None."""
        return None

    def text(self) -> str:
        """The argument as written after the selectors, with its leading space; defaults left out."""
        raise NotImplementedError

    def sample(self) -> str | None:
        """The longest value the action can write, which the compiler checks against each VR."""
        return None

    def label(self) -> str | None:
        """What tells the re-identification map's pairs of this argument from others'."""
        return None

    def exposes(self, other: "Argument") -> int:
        """1 when this argument lets more of a value through than ``other`` (of the same class), -1
        when less, 0 when neither."""
        return 0


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


@dataclass(frozen=True)
class Text(Argument):
    """``with "TEXT"``: the replacement value."""

    value: str

    @classmethod
    def parse(cls, value: str) -> "Text":
        return cls(value)

    def to_json(self) -> str:
        return self.value

    @classmethod
    def from_json(cls, data: Any) -> "Text":
        if not isinstance(data, str):
            raise ValueError("a replacement is a string")
        return cls(data)

    def text(self) -> str:
        return f" with {_quote(self.value)}"

    def sample(self) -> str:
        return self.value


@dataclass(frozen=True)
class Shift(Argument):
    """``by N days`` (``days``) or ``by patient within N days`` (``within``: a keyed per-patient offset
    in [-N, -1] or [1, N]). A per-patient shift exposes less than a fixed one (one known date does not
    reveal every patient's offset), and a wider one less than a narrower one."""

    days: int = 0
    within: int | None = None

    @property
    def per_patient(self) -> bool:  # type: ignore[override]
        return self.within is not None

    @classmethod
    def parse(cls, first: int | str, within: int | None = None) -> "Shift":
        return cls(within=within) if first == "patient" else cls(days=first)

    def to_json(self) -> int | list:
        return ["patient", self.within] if self.per_patient else self.days

    @classmethod
    def from_json(cls, data: Any) -> "Shift":
        if isinstance(data, list) and len(data) == 2 and data[0] == "patient" and isinstance(data[1], int):
            shift = cls(within=data[1])
        elif isinstance(data, int) and not isinstance(data, bool):
            shift = cls(days=data)
        else:
            raise ValueError("a shift is a number of days or [\"patient\", days]")
        if shift.problem():
            raise ValueError(shift.problem()[0])
        return shift

    def problem(self) -> tuple[str, str | None] | None:
        if self.per_patient:
            return None if 1 <= self.within <= 36500 else ("a per-patient shift needs a range of 1 to 36500 days",
                                                           "write e.g. `by patient within 365 days`")
        if self.days == 0:
            return "a shift of 0 days changes nothing", "shift by a non-zero number of days"
        return None

    def text(self) -> str:
        return f" by patient within {self.within} days" if self.per_patient else f" by {self.days} days"

    def exposes(self, other: "Argument") -> int:
        assert isinstance(other, Shift)
        if self.per_patient != other.per_patient:
            return -1 if self.per_patient else 1
        return _sign(other.within - self.within) if self.per_patient else 0


@dataclass(frozen=True)
class Pseudonym(Argument):
    """``[prefix "P-"] [length N]``: the pseudonym is the prefix and N code characters (A-Z, 2-7)."""

    prefix: str = ""
    length: int = 10

    @classmethod
    def parse(cls, prefix: str | None = None, length: int | None = None) -> "Pseudonym":
        return cls(prefix or "", 10 if length is None else length)

    def to_json(self) -> list:
        return [self.prefix, self.length]

    @classmethod
    def from_json(cls, data: Any) -> "Pseudonym":
        if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], str) and isinstance(data[1], int)):
            raise ValueError("a pseudonym argument is [prefix, length]")
        made = cls(*data)
        if made.problem():
            raise ValueError(made.problem()[0])
        return made

    def problem(self) -> tuple[str, str | None] | None:
        if not 4 <= self.length <= 64:
            return "a pseudonym needs a length of 4 to 64 characters", "10 characters (50 bits) are the default"
        return None

    def text(self) -> str:
        return (f" prefix {_quote(self.prefix)}" if self.prefix else "") + (
            f" length {self.length}" if self.length != 10 else "")

    def sample(self) -> str:
        return self.prefix + "A" * self.length

    def label(self) -> str:
        return f"{self.length}:{self.prefix}"


@dataclass(frozen=True)
class Years(Argument):
    """``to N years``: ages rounded down to a multiple of N; a wider band exposes less."""

    years: int

    @classmethod
    def parse(cls, years: int) -> "Years":
        return cls(years)

    def to_json(self) -> int:
        return self.years

    @classmethod
    def from_json(cls, data: Any) -> "Years":
        if not isinstance(data, int) or isinstance(data, bool) or cls(data).problem():
            raise ValueError("ages round to 1 to 100 years")
        return cls(data)

    def problem(self) -> tuple[str, str | None] | None:
        return None if 1 <= self.years <= 100 else ("ages round to 1 to 100 years", "write e.g. `to 5 years`")

    def text(self) -> str:
        return f" to {self.years} years"

    def exposes(self, other: "Argument") -> int:
        assert isinstance(other, Years)
        return _sign(other.years - self.years)


@dataclass(frozen=True)
class Unit(Argument):
    """``to UNIT``: a value cut to a unit; ``UNITS`` run from the coarsest (exposes least) to the finest."""

    UNITS: ClassVar[tuple[str, ...]] = ()
    unit: str

    @classmethod
    def parse(cls, unit: str) -> "Unit":
        return cls(unit)

    def to_json(self) -> str:
        return self.unit

    @classmethod
    def from_json(cls, data: Any) -> "Unit":
        if data not in cls.UNITS:
            raise ValueError(f"the unit is one of {', '.join(cls.UNITS)}")
        return cls(data)

    def text(self) -> str:
        return f" to {self.unit}"

    def exposes(self, other: "Argument") -> int:
        assert isinstance(other, Unit)
        return _sign(self.UNITS.index(self.unit) - self.UNITS.index(other.unit))


@dataclass(frozen=True)
class DateUnit(Unit):
    UNITS: ClassVar[tuple[str, ...]] = ("year", "month")
    TERMINALS: ClassVar[Mapping[str, str]] = {"DATE_UNIT": "`year` or `month`"}


# ---------------------------------------------------------------- actions


class Env(Protocol):
    """What a transform may read besides the value: the key, the dataset's patient and its terms."""

    @property
    def secret(self) -> bytes: ...

    @property
    def patient_id(self) -> str: ...

    @property
    def scrub_pattern(self) -> Any: ...


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
    example: str = ""  # an argument as written, for the docs

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


_DECLARED = (
    Action("remove", "the element goes (a sequence with everything in it)", 4, result="remove"),
    Action("empty", "the value becomes empty (a sequence: no items)", 3, result="constant",
           constant=lambda vr, _: empty_value_for_VR(vr)),
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
           result="constant", argument=Text, constant=lambda vr, arg: arg.value, example='with "ANONYMOUS"'),
    Action("shift-date", "dates moved by whole days, fixed or by a keyed per-patient offset", 3,
           frozenset({"DA", "DT"}), date_effect="modified", argument=Shift, transform=_shift,
           example="by -30 days | by patient within 365 days"),
    Action("clean", "identifying terms and runs of 5+ digits in free text become `*` (a heuristic)", 1,
           TEXT_VRS | {"SQ"}, transform=lambda text, vr, _, env: values.scrub(text, env.scrub_pattern),
           walks_items=True, whole_dataset=True),
    Action("pseudonym", "a keyed code of A-Z and 2-7 after a prefix, the same for the same value", 3, TEXT_VRS,
           result="keyed", argument=Pseudonym,
           transform=lambda text, vr, arg, env: values.pseudonym(env.secret, text, arg.prefix, arg.length),
           example='[prefix "P-"] [length 10]'),
    Action("round-age", "an age rounded down to whole years in bands of N", 2, frozenset({"AS"}), argument=Years,
           transform=lambda text, vr, arg, env: values.round_age(text, arg.years), example="to 5 years"),
    Action("truncate-date", "a date cut to its year or month", 2, frozenset({"DA", "DT"}), date_effect="modified",
           argument=DateUnit, transform=lambda text, vr, arg, env: values.truncate_date(text, vr, arg.unit),
           example="to year | to month"),
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
