"""Which files may carry identifying text burned into their pixels: the risk classes, declared once.

Header rules cannot see text drawn into the image itself. Ultrasound, secondary capture (screen
grabs, scanned paper), X-ray angiography and fluoroscopy, endoscopy and other visible-light
photography, and encapsulated documents (PDF, CDA ...) routinely carry a name, an ID or a birth date in
their pixels, whatever `BurnedInAnnotation` says or omits. Any file that says `BurnedInAnnotation` =
YES is in the same case.

`classify` is what the engine asks before writing a file (such a file needs a pixel rule or a written
`waive pixels`), what `check` proves (which classes can reach output without a pixel rule) and what
OCR triage (`scan`) sorts by. Only top-level values are read: the SOP class, Modality and
BurnedInAnnotation.
"""

from __future__ import annotations

from dataclasses import dataclass

BURNED_IN_ANNOTATION = 0x00280301
MODALITY = 0x00080060
SOP_CLASS = 0x00080016
#: The top-level elements `classify` reads.
READS = (SOP_CLASS, MODALITY, BURNED_IN_ANNOTATION)

_STORAGE = "1.2.840.10008.5.1.4.1.1."


@dataclass(frozen=True)
class RiskClass:
    """A kind of image known to carry burned-in text: its SOP classes (a trailing ``.`` is a prefix)
    and the modalities that name it."""

    name: str
    sop_classes: tuple[str, ...]
    modalities: tuple[str, ...]

    def holds(self, sop_class: str, modality: str) -> bool:
        return modality in self.modalities or any(
            sop_class.startswith(uid) if uid.endswith(".") else sop_class == uid for uid in self.sop_classes)


#: The classes, in the order `check` lists them.
CLASSES: tuple[RiskClass, ...] = (
    RiskClass("ultrasound", tuple(_STORAGE + s for s in ("6", "6.1", "6.2", "6.3", "3", "3.1")), ("US", "IVUS")),
    RiskClass("secondary capture", tuple(_STORAGE + s for s in ("7", "7.1", "7.2", "7.3", "7.4")), ()),
    RiskClass("X-ray angiography and fluoroscopy", tuple(_STORAGE + s for s in ("12.1", "12.1.1", "12.2", "12.2.1",
                                                                                 "12.3")), ("XA", "RF")),
    RiskClass("endoscopy and visible-light photography", (_STORAGE + "77.1.",),
              ("ES", "XC", "GM", "SM", "OP", "BI")),
    RiskClass("encapsulated document", (_STORAGE + "104.",), ("DOC",)),
)
#: Kinds OCR triage (`scan`) reads as well, though the engine asks no pixel rule of them: projection
#: radiographs and images of modality "other" often carry typed labels, sometimes a name, but rejecting
#: every such series by default would stop ordinary radiography; looking costs only OCR time.
OFTEN_LABELLED: tuple[RiskClass, ...] = (
    RiskClass("projection radiography", (), ("CR", "DX")),
    RiskClass("other or secondary-capture modality", (), ("OT", "SC")),
)
#: The class of a file of any kind that says (or may say) its pixels hold burned-in text.
DECLARED = "BurnedInAnnotation other than NO"


def burned_in(value: str | None) -> str:
    """``no``, ``absent`` or ``yes``. Only the exact defined term NO (padding aside) counts as no; YES
    and anything that is not a valid NO (``yes``, ``YES\\YES``, ``Y``) count as yes: fail-closed."""
    if value is None:
        return "absent"
    return "no" if value.strip(" \0") == "NO" else "yes"


def classify(sop_class: str | None, modality: str | None, burned_in_annotation: str | None) -> str | None:
    """The risk class of a file (its name), or None when its pixels need no pixel rule: a file that
    declares burned-in text, or one of `CLASSES` that does not declare its pixels free of it."""
    said = burned_in(burned_in_annotation)
    if said == "yes":
        return DECLARED
    if said == "no":
        return None
    return kind(sop_class, modality)


def kind(sop_class: str | None, modality: str | None, classes: tuple[RiskClass, ...] = CLASSES) -> str | None:
    """The name of the first of ``classes`` the SOP class or modality puts a file in, whatever its
    BurnedInAnnotation says, or None."""
    sop, mod = (sop_class or "").strip(" \0"), (modality or "").strip(" \0")
    return next((c.name for c in classes if c.holds(sop, mod)), None)
