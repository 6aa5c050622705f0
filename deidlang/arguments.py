"""The arguments of actions, one class per kind: how each is built from its grammar line, checked,
printed, encoded in a plan and ordered by exposure. `deidlang.actions` says which action takes which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

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
    #: the words an argument of this kind can start with (for completion in an editor)
    LEADS: ClassVar[tuple[str, ...]] = ()

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

    LEADS: ClassVar[tuple[str, ...]] = ("with",)
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

    LEADS: ClassVar[tuple[str, ...]] = ("by",)
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
        if not -36500 <= self.days <= 36500:  # further would move dates out of the calendar DICOM can write
            return "a shift moves dates by at most 36500 days either way", None
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

    LEADS: ClassVar[tuple[str, ...]] = ("prefix", "length")
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

    def exposes(self, other: "Argument") -> int:
        """A shorter code exposes more: fewer guesses find a value's pseudonym, and more values share
        one (20 bits at length 4, 50 at the default 10). The prefix is a constant: it exposes nothing."""
        assert isinstance(other, Pseudonym)
        return _sign(other.length - self.length)


@dataclass(frozen=True)
class Years(Argument):
    """``to N years``: ages rounded down to a multiple of N; a wider band exposes less."""

    LEADS: ClassVar[tuple[str, ...]] = ("to",)
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
    LEADS: ClassVar[tuple[str, ...]] = ("to",)
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
    """A date cut to its year or month."""

    UNITS: ClassVar[tuple[str, ...]] = ("year", "month")
    TERMINALS: ClassVar[Mapping[str, str]] = {"DATE_UNIT": "`year` or `month`"}


@dataclass(frozen=True)
class TimeUnit(Unit):
    """A time cut to its hour or minute."""

    UNITS: ClassVar[tuple[str, ...]] = ("hour", "minute")
    TERMINALS: ClassVar[Mapping[str, str]] = {"TIME_UNIT": "`hour` or `minute`"}
