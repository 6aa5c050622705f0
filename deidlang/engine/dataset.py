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

from typing import TYPE_CHECKING

from .. import values
from ..actions import ACTIONS
from ..conditions import Exists, atoms
from ..dictionary import format_tag
from ..errors import Rejected
from ..plan import Plan, PlanRule, is_private_creator
from ..resolve import Position, Resolver
from ..valuecheck import decided_vr, encoded, kept_problem, multi_byte
from . import admission, conformance, contract, filemeta, structure
from .conditions import evaluate
from .context import Context, Decision, Outcome
from .keys import Key
from .private import Blocks, creator_name
from .verdict import DROP, KEEP, NO_ITEMS, WALK, Verdict, verdict

if TYPE_CHECKING:  # pydicom is imported where a dataset is walked: the fast path's files never need it
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset


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
        from pydicom.dataset import Dataset

        structure.check_dataset(ds)
        terms = admission.charset(ds)
        truths = self.admit(ds)
        outcome = Outcome(Dataset())
        ctx = Context(ds, Key.of(key), truths, outcome, trace,
                      covered=admission.pixels_covered(self.plan, ds, truths),
                      multi_byte=multi_byte(terms))
        outcome.dataset = out = self._walk(ds, (), ctx)
        if admission.CHARSET in ds:
            out[admission.CHARSET] = ds[admission.CHARSET]
        transfer_syntax = _transfer_syntax(ds)
        active = outcome.pixel_rules = [r for r in self.plan.pixel_rules if r.condition is None or truths[r.condition]]
        if active and trace is None:  # only now are pixels decoded
            from . import pixels

            transfer_syntax = pixels.apply(out, ds, active, transfer_syntax, outcome.notes)
        contract.stamp(self.plan, out, ctx)
        out.file_meta = filemeta.dataset(out.get("SOPClassUID"), out.get("SOPInstanceUID"), transfer_syntax)
        return outcome

    def admit(self, ds: Dataset) -> list[bool]:
        """The truth of every condition for this dataset (its top level), once the dataset is known to
        be an instance that no reject rule turns away."""
        admission.require_instance(bool(ds.get("SOPClassUID")), bool(ds.get("SOPInstanceUID")))
        return self.judge(ds)

    def judge(self, ds: Dataset) -> list[bool]:
        """`admit` without the instance check: the conditions' truths, or `Rejected`."""
        for tag in self.condition_tags:
            if tag in ds:
                admission.readable(ds, tag)
        truths = evaluate(self.plan.conditions, ds)
        for reject in self.plan.rejects:
            if truths[reject.condition]:
                origin = self.plan.origin(reject.order)
                raise Rejected(f"rejected by the rule at {origin}" + (f": {reject.reason}" if reject.reason else ""))
        admission.pixels_covered(self.plan, ds, truths)
        return truths

    # ------------------------------------------------------------ the walk

    def _walk(self, ds: Dataset, position: Position, ctx: Context) -> Dataset:
        from pydicom.dataelem import RawDataElement
        from pydicom.dataset import Dataset

        admission.check_depth(position)
        out = Dataset()
        blocks = Blocks([(int(tag), tag, creator_name(lambda tag=tag: ds[tag].value))
                         for tag in ds.keys() if is_private_creator(int(tag))], ctx.outcome.notes)
        changes = conformance.overrides(position, {int(t) for t in ds.keys()}, lambda t: admission.top_text(ds, t),
                                        self.resolver, ctx.truths, ctx.required)
        for tag in ds.keys():
            tag = int(tag)
            if tag & 0xFFFF == 0 or is_private_creator(tag) or (not position and tag in contract.CONTRACT):
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
             position: Position, ctx: Context) -> DataElement | None:
        from pydicom.dataelem import DataElement, RawDataElement
        from pydicom.sequence import Sequence

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
                   ctx: Context, changes=None) -> tuple[PlanRule | None, str]:
        """The deciding rule and its action (or the default), or the IOD's substitute
        (`conformance.substitute`, shared with the fast path; noted)."""
        rule, action, why = conformance.substitute(tag, vr, rule, position, self.resolver, ctx.truths, ctx.required,
                                                   changes)
        if why:
            ctx.outcome.notes.append(why)
        return rule, action

    def verdict(self, tag: int, vr: str, action: str, ctx: Context) -> Verdict:
        """The element's `Verdict` (`engine.verdict`, shared with the fast path), its effect on dates and
        the note of a removal recorded."""
        found = verdict(tag, vr, action)
        if found.date:
            ctx.dates.add(found.date)
        if found.note:
            ctx.outcome.notes.append(found.note)
        return found

    def transform(self, elem: DataElement, action: str, rule: PlanRule | None, ctx: Context,
                  position: Position = ()) -> DataElement | None:
        """The new element for an action that computes a value; when it cannot, the element is removed,
        or given the substitute its IOD needs (noted either way)."""
        from pydicom.dataelem import DataElement

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

    def _new_value(self, elem: DataElement, action: str, rule: PlanRule | None, ctx: Context):
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
    def _note_clean(elem: DataElement, ctx: Context) -> None:
        """For a dry run: how many words `clean` masks in the element, by kind (never the words)."""
        found = [ctx.scrubber.find(text) for text in values.as_texts(elem.value)]
        if any(f.spans for f in found):
            ctx.outcome.notes.append(f"{format_tag(elem.tag)}: clean masked {sum(f.names for f in found)} name, "
                                     f"{sum(f.terms for f in found)} identifying and {sum(f.dates for f in found)} "
                                     "date or number word(s)")

    @staticmethod
    def _keyed(value, kind: str, transform, ctx: Context):
        """A keyed transform per value, with each (original, replacement) pair recorded."""
        def record(text: str) -> str:
            new = transform(text)
            if new:
                ctx.outcome.pairs.add((kind, text.strip().rstrip("\0"), new))
            return new

        return values.per_value(value, record)

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
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

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
