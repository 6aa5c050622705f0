"""The reference engine: one pass over a `pydicom.Dataset`, producing a new one.

The input is never modified: kept elements are shared (their values are immutable to us), changed
ones are new. Each element is decided by `Resolver.decide` from its tag, VR, private creator and
position; conditions are evaluated once per dataset. Sequences that are kept are walked item by
item, so every rule applies at every depth.

Structure that no rule decides (DESIGN.md, Output contract):
- group length elements (gggg,0000) are dropped: they would be wrong after any change;
- a private creator (gggg,00xx) is kept exactly when an element of its block is kept (`private`, shared
  with the fast path);
- SpecificCharacterSet is carried over, since the kept text is encoded with it;
- file meta information is rebuilt, never copied;
- PatientIdentityRemoved, DeidentificationMethod(+CodeSequence) and
  LongitudinalTemporalInformationModified are set after the walk to say what was done.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .. import limits, values
from ..actions import ACTIONS
from ..conditions import Exists, atoms
from ..dictionary import cid7050, format_tag, keyword_of
from ..errors import EngineError, Rejected
from ..pixelrisk import BURNED_IN_ANNOTATION, MODALITY, SOP_CLASS, classify
from ..plan import PixelRule, Plan, PlanRule, is_private_creator
from ..resolve import Position, Resolver
from ..text import Scrubber
from ..valuecheck import charset_problem, decided_vr, encoded, kept_problem, multi_byte
from . import conformance, filemeta, pixels, structure
from .conditions import evaluate
from .keys import Key
from .private import Blocks, creator_name
from .verdict import DROP, KEEP, NO_ITEMS, WALK, Verdict, verdict


_CHARSET = 0x00080005
_CONTRACT = (0x00120062, 0x00120063, 0x00120064, 0x00280303)
# Elements (besides person names) whose words the `clean` action masks in free text: patient IDs,
# accession and study IDs, addresses, telephone numbers, birth date, institution name and address.
_IDENTIFYING = (0x00100020, 0x00101000, 0x00100021, 0x00080050, 0x00200010, 0x00101040, 0x00102154, 0x00100030,
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
class _Context:
    original: Dataset
    key: Key
    truths: list[bool]
    outcome: Outcome
    trace: list[Decision] | None = None
    dates: set[str] = field(default_factory=set)  # "modified", "removed", "kept"
    #: whether the plan covers the pixels (`Engine.pixels_covered`): PatientIdentityRemoved says so
    covered: bool = True
    #: whether the character set is multi-byte (text lengths are then checked as characters)
    multi_byte: bool = False

    @functools.cached_property
    def scrubber(self) -> Scrubber:
        """What `clean` masks, from the identifying values of the dataset's top level."""
        identifying: list[str] = []
        for tag in self.original.keys():
            try:
                elem = self.original[tag]
            except Exception:  # undecodable: the walk removes and reports it
                continue
            if elem.VR == "PN" or elem.tag in _IDENTIFYING:
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


class Engine:
    """Built once per plan; `apply` is then safe to call for any number of datasets."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.resolver = Resolver(plan)
        #: the top-level elements whose values conditions compare
        self.condition_tags = tuple(sorted({a.tag for c in plan.conditions for a in atoms(c)
                                            if not isinstance(a, Exists)}))

    def apply(self, ds: Dataset, key: Key | bytes, trace: list[Decision] | None = None) -> Outcome:
        """De-identify ``ds`` (left untouched) into a new dataset with rebuilt file meta. Bytes are
        taken as a persistent key. With ``trace``, every element's `Decision` is appended to it.

        Raises `Rejected` when a reject rule matches, `EngineError` when no valid output can be made.
        """
        structure.check_dataset(ds)
        terms = self.charset(ds)
        truths = self.admit(ds)
        outcome = Outcome(Dataset())
        ctx = _Context(ds, Key.of(key), truths, outcome, trace, covered=self.pixels_covered(ds, truths),
                       multi_byte=multi_byte(terms))
        outcome.dataset = out = self._walk(ds, (), ctx)
        if _CHARSET in ds:
            out[_CHARSET] = ds[_CHARSET]
        transfer_syntax = _transfer_syntax(ds)
        active = outcome.pixel_rules = [r for r in self.plan.pixel_rules if r.condition is None or truths[r.condition]]
        if active and trace is None:  # only now are pixels decoded
            transfer_syntax = pixels.apply(out, ds, active, transfer_syntax, outcome.notes)
        self.stamp(out, ctx)
        out.file_meta = filemeta.dataset(out.get("SOPClassUID"), out.get("SOPInstanceUID"), transfer_syntax)
        return outcome

    @staticmethod
    def charset(ds: Dataset) -> list[str]:
        """The terms of SpecificCharacterSet, which is carried over as it is: `EngineError` unless each
        is a defined term (a value there could be anything, a name and an address included)."""
        if _CHARSET not in ds:
            return []
        stored = ds.get_item(_CHARSET)
        raw = stored.value if isinstance(stored, RawDataElement) else encoded(ds[_CHARSET], [])
        why = charset_problem(raw or b"")
        if why:
            raise EngineError(why + ": the file is failed")
        return [t.strip() for t in bytes(raw or b"").decode("latin-1").split("\\")]

    def admit(self, ds: Dataset) -> list[bool]:
        """The truth of every condition for this dataset (its top level), once the dataset is known to
        be an instance that no reject rule turns away."""
        require_instance(bool(ds.get("SOPClassUID")), bool(ds.get("SOPInstanceUID")))
        return self.judge(ds)

    def judge(self, ds: Dataset) -> list[bool]:
        """`admit` without the instance check: the conditions' truths, or `Rejected`."""
        for tag in self.condition_tags:
            if tag in ds:
                _readable(ds, tag)
        truths = evaluate(self.plan.conditions, ds)
        for reject in self.plan.rejects:
            if truths[reject.condition]:
                origin = self.plan.origin(reject.order)
                raise Rejected(f"rejected by the rule at {origin}" + (f": {reject.reason}" if reject.reason else ""))
        self.pixels_covered(ds, truths)
        return truths

    def pixels_covered(self, ds: Dataset, truths: list[bool]) -> bool:
        """Whether the plan covers the pixels (DESIGN.md, pixels are in the proof): True when they are
        not at risk of burned-in text (`pixelrisk`) or a `complete` blackout applies; False when a
        text pixel rule (not complete) or `waive pixels` lets them out. `Rejected`, naming the rule
        to add, when nothing decides them."""
        risk = classify(*(_top_text(ds, tag) for tag in (SOP_CLASS, MODALITY, BURNED_IN_ANNOTATION)))
        if risk is None:
            return True
        active = [r for r in self.plan.pixel_rules
                  if r.kind != "burn-overlays" and (r.condition is None or truths[r.condition])]
        if any(r.kind == "blackout" and r.complete for r in active):
            return True
        if active or self.plan.pixel_waiver is not None:
            return False
        raise Rejected(f"the pixels may carry burned-in text ({risk}) and no pixel rule decides them: add a "
                       "`blackout` rule for this kind of image (or `blackout detected-text`), or "
                       '`waive pixels because "..."`')

    # ------------------------------------------------------------ the walk

    def _walk(self, ds: Dataset, position: Position, ctx: _Context) -> Dataset:
        check_depth(position)
        out = Dataset()
        blocks = Blocks([(int(tag), tag, creator_name(lambda tag=tag: ds[tag].value))
                         for tag in ds.keys() if is_private_creator(int(tag))], ctx.outcome.notes)
        changes = conformance.overrides(position, {int(t) for t in ds.keys()}, lambda t: _top_text(ds, t),
                                        self.resolver, ctx.truths, ctx.required)
        for tag in ds.keys():
            tag = int(tag)
            if tag & 0xFFFF == 0 or is_private_creator(tag) or (not position and tag in _CONTRACT):
                continue
            stored = ds.get_item(tag)  # the value as read, before pydicom decodes it
            try:
                elem = ds[tag]
            except Exception:
                ctx.outcome.notes.append(f"{format_tag(tag)}: value could not be decoded: removed")
                continue
            # the dictionary decides, not the file (nor pydicom's reading of a UN as the dictionary's VR)
            vr, lie = decided_vr(tag, stored.VR if isinstance(stored, RawDataElement) and stored.VR else elem.VR)
            if vr is None:
                ctx.outcome.notes.append(lie)
                continue
            creator = blocks.creator(tag)
            rule = self.resolver.decide(tag, vr, creator, position, ctx.truths)
            rule, action = self.action_for(tag, vr, rule, position, ctx, changes)
            if ctx.trace is not None:
                ctx.trace.append(Decision(position, tag, vr, _length(elem), action, rule.order if rule else None))
            new = self._act(elem, vr, creator, stored, rule, action, position, ctx)
            if new is not None:
                out.add(new)
                blocks.keep(tag)
        for tag in blocks.kept_creators():
            out.add(ds[tag])
        return out

    def _act(self, elem: DataElement, vr: str, creator: str | None, stored, rule: PlanRule | None, action: str,
             position: Position, ctx: _Context) -> DataElement | None:
        found = self.verdict(int(elem.tag), vr, action, ctx)
        if found.kind == DROP:
            return None
        if found.kind == WALK:
            items = [self._walk(item, (*position, (int(elem.tag), i)), ctx) for i, item in enumerate(elem.value)]
            return DataElement(elem.tag, "SQ", Sequence(items))
        if found.kind == NO_ITEMS:
            return DataElement(elem.tag, "SQ", Sequence())
        if found.kind == KEEP:
            # the value as written: as read when pydicom has not decoded it yet, else encoded again
            raw = stored.value if isinstance(stored, RawDataElement) else encoded(elem, ctx.original._character_set)
            why = kept_problem(int(elem.tag), vr, creator, len(raw or b""), lambda: raw or b"", ctx.multi_byte)
            if why is not None:
                ctx.outcome.notes.append(why)
                return conformance.replacement(int(elem.tag), vr, position, ctx.required, ctx.outcome.notes)
            return elem
        return self.transform(elem, found.action, rule, ctx, position)

    def action_for(self, tag: int, vr: str, rule: PlanRule | None, position: Position,
                   ctx: _Context, changes=None) -> tuple[PlanRule | None, str]:
        """The deciding rule and its action (or the default), or the IOD's substitute
        (`conformance.substitute`, shared with the fast path; noted)."""
        rule, action, why = conformance.substitute(tag, vr, rule, position, self.resolver, ctx.truths, ctx.required,
                                                   changes)
        if why:
            ctx.outcome.notes.append(why)
        return rule, action

    def verdict(self, tag: int, vr: str, action: str, ctx: _Context) -> Verdict:
        """The element's `Verdict` (`engine.verdict`, shared with the fast path), its effect on dates and
        the note of a removal recorded."""
        found = verdict(tag, vr, action)
        if found.date:
            ctx.dates.add(found.date)
        if found.note:
            ctx.outcome.notes.append(found.note)
        return found

    def transform(self, elem: DataElement, action: str, rule: PlanRule | None, ctx: _Context,
                  position: Position = ()) -> DataElement | None:
        """The new element for an action that computes a value; when it cannot, the element is removed,
        or given the substitute its IOD needs (noted either way)."""
        try:  # the element too: pydicom refuses a value its VR cannot hold (`replace ... with "ANON1"` on an IS)
            new = DataElement(elem.tag, elem.VR, self._new_value(elem, action, rule, ctx))
        except (ValueError, TypeError):
            fallback, why = conformance.adjust("remove", int(elem.tag), elem.VR, position, ctx.required)
            ctx.outcome.notes.append(f"{format_tag(elem.tag)}: `{action}` cannot handle this {elem.VR} value: "
                                     + ("removed" if fallback == "remove" else f"{fallback} written instead"))
            if fallback == "remove":
                return None
            return DataElement(elem.tag, elem.VR, ACTIONS[fallback].constant(elem.VR, None))
        return new

    def _new_value(self, elem: DataElement, action: str, rule: PlanRule | None, ctx: _Context):
        """The action's declaration computes the value (`actions`): a constant for the VR, else each
        value transformed (nothing to do for an empty one), keyed ones with their pairs recorded."""
        declared, argument = ACTIONS[action], rule.argument if rule else None
        vr, value = elem.VR, elem.value
        if declared.result == "constant":
            return declared.constant(vr, argument)
        if value is None or value == "":
            return value
        transform = declared.transform
        if action == "clean" and ctx.trace is not None:
            self._note_clean(elem, ctx)
        if declared.result == "keyed":
            return self._keyed(value, declared.pair_kind(argument), lambda v: transform(v, vr, argument, ctx), ctx)
        return values.per_value(value, lambda v: transform(v, vr, argument, ctx))

    @staticmethod
    def _note_clean(elem: DataElement, ctx: _Context) -> None:
        """For a dry run: how many words `clean` masks in the element, by kind (never the words)."""
        found = [ctx.scrubber.find(text) for text in values.as_texts(elem.value)]
        if any(f.spans for f in found):
            ctx.outcome.notes.append(f"{format_tag(elem.tag)}: clean masked {sum(f.names for f in found)} name, "
                                     f"{sum(f.terms for f in found)} identifying and {sum(f.dates for f in found)} "
                                     "date or number word(s)")

    @staticmethod
    def _keyed(value, kind: str, transform, ctx: _Context):
        """A keyed transform per value, with each (original, replacement) pair recorded."""
        def record(text: str) -> str:
            new = transform(text)
            if new:
                ctx.outcome.pairs.add((kind, text.strip().rstrip("\0"), new))
            return new

        return values.per_value(value, record)

    # ------------------------------------------------------------ the output contract

    def stamp(self, out: Dataset, ctx: _Context) -> None:
        """The output contract's attributes, saying what was done."""
        plan = self.plan
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


def check_depth(position: Position) -> None:
    """Refuse sequences nested deeper than the limit (`limits.depth`), naming where: a small file can
    nest items thousands deep to exhaust the stack."""
    if len(position) > limits.depth():
        where = "/".join(f"{format_tag(tag)}[{index}]" for tag, index in position[:4])
        raise EngineError(f"{where}/...: sequences nested more than {limits.depth()} levels deep (the limit)")


def require_instance(has_class: bool, has_instance: bool) -> None:
    """Only an instance (SOP Class and Instance UIDs with values) can be de-identified into a file."""
    if not (has_class and has_instance):
        raise EngineError("the input has no SOP Class or SOP Instance UID: not an instance (a DICOMDIR?)")


def _readable(ds: Dataset, tag: int) -> None:
    """A value a condition compares must be valid for its dictionary VR, else `EngineError`: a value
    written `yes`, ` Y` or `YES\\YES` must neither decide a rule nor escape a `reject` (fail-closed)."""
    stored = ds.get_item(tag)
    what = f"{keyword_of(tag) or format_tag(tag)} {format_tag(tag)}"
    try:
        elem = ds[tag]
    except Exception:
        raise EngineError(f"{what}, which a condition reads, cannot be decoded: the file is failed") from None
    vr, _ = decided_vr(tag, stored.VR if isinstance(stored, RawDataElement) and stored.VR else elem.VR)
    if vr is None:
        raise EngineError(f"{what}, which a condition reads, has a VR the dictionary does not give it: "
                          "the file is failed")
    if vr == "SQ":
        return
    raw = stored.value if isinstance(stored, RawDataElement) else encoded(elem, ds._character_set)
    if kept_problem(tag, vr, None, len(raw or b""), lambda: raw or b"") is not None:
        raise EngineError(f"{what}, which a condition reads, is not a valid {vr} value: the file is failed")


def _top_text(ds: Dataset, tag: int) -> str | None:
    """A top-level value as text (several joined with a backslash); None when absent, ``?`` when it
    cannot be decoded (which `pixelrisk` counts as the worst case)."""
    try:
        elem = ds.get(tag)
        value = None if elem is None else elem.value
    except Exception:
        return "?"
    if value is None:
        return None if elem is None else ""
    if isinstance(value, (bytes, bytearray)):
        return "?"
    return "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)


def _length(elem: DataElement) -> int:
    """A value's size without its content: bytes, characters, or items of a sequence."""
    value = elem.value
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if elem.VR == "SQ":
        return len(value)
    return len(str(value))


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return meta.TransferSyntaxUID
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian


_ENGINES: dict[str, Engine] = {}


def engine_for(plan: Plan) -> Engine:
    """The engine for a plan, built once per process and reused (keyed by the plan hash)."""
    engine = _ENGINES.get(plan.plan_hash)
    if engine is None:
        if len(_ENGINES) >= 8:
            _ENGINES.clear()
        engine = _ENGINES[plan.plan_hash] = Engine(plan)
    return engine
