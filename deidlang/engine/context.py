"""What one application of a plan carries: its context while walking, and what it produced.

Shared by both engines, so a note, a keyed pair or a date effect is recorded the same way whichever
engine walked the file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import values
from ..plan import PixelRule
from ..resolve import Position
from . import conformance
from .keys import Key

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from ..text import Scrubber

# Elements (besides person names) whose words the `clean` action masks in free text: patient IDs,
# accession and study IDs, addresses, telephone numbers, birth date, institution name and address.
IDENTIFYING = (0x00100020, 0x00101000, 0x00100021, 0x00080050, 0x00200010, 0x00101040, 0x00102154, 0x00100030,
                0x00080080, 0x00080081, 0x00080092, 0x00081040)


@dataclass
class Outcome:
    """What `Engine.apply` produced: the new dataset (with file meta) and what happened, in words
    that never contain a value."""

    dataset: Dataset | None  # None from the streaming fast path, which builds no Dataset
    notes: list[str] = field(default_factory=list)
    #: (kind, original, replacement) for every keyed replacement: what a re-identification map
    #: records. These hold identifying values: keep them out of logs.
    pairs: set[tuple[str, str, str]] = field(default_factory=set)
    #: the pixel rules whose conditions held for this dataset
    pixel_rules: list[PixelRule] = field(default_factory=list)
    #: the fast path's output SOP Class, SOP Instance, Study and Series Instance UIDs, by tag (the
    #: reference engine's are in its dataset)
    uids: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What the engine did to one element, for a dry run: never its value, only its length."""

    position: Position
    tag: int
    vr: str
    length: int
    action: str
    order: int | None  # the deciding rule's index into the plan's origins; None: the default


@dataclass
class Context:
    """What one file's de-identification carries along: the original, the key, the conditions'
    truths, the outcome being built."""

    original: Dataset
    key: Key
    truths: list[bool]
    outcome: Outcome
    trace: list[Decision] | None = None
    dates: set[str] = field(default_factory=set)  # "modified", "removed", "kept"
    #: whether the plan covers the pixels (`admission.pixels_covered`): PatientIdentityRemoved says so
    covered: bool = True
    #: whether the character set is multi-byte (text lengths are then checked as characters)
    multi_byte: bool = False

    @functools.cached_property
    def scrubber(self) -> Scrubber:
        """What `clean` masks, from the identifying values of the dataset's top level."""
        from ..text import Scrubber  # only `clean` reads it (the fast path never runs it)

        identifying: list[str] = []
        for tag in self.original.keys():
            try:
                elem = self.original[tag]
            except Exception:  # undecodable: the walk removes and reports it
                continue
            if elem.VR == "PN" or elem.tag in IDENTIFYING:
                identifying += values.as_texts(elem.value)
        return Scrubber(identifying)

    @functools.cached_property
    def required(self):
        """What the dataset's IOD requires, by path (`conformance`)."""
        return conformance.requirements(str(self.original.get("SOPClassUID") or ""), self.original.keys())[1]

    @functools.cached_property
    def patient_id(self) -> str:
        return str(self.original.get("PatientID") or "")

    @property
    def secret(self) -> bytes:
        return self.key.secret
