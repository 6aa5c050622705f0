"""The streaming fast path: a plan applied to the encoded bytes of a Part 10 file.

The reference engine (`dataset.py`) decodes every element into a pydicom Dataset and encodes it all
again. This path walks the element stream instead: an element the plan keeps is copied byte for byte
(pixel data included, encapsulated or not), a removed one is skipped, and only the elements an action
changes are decoded and re-encoded, with the reference engine's own code, so both give the same
result (`tests/test_stream.py` checks it on generated datasets and plans). Conditions read only the
few top-level values they name.

Per file, only what differs between files is worked out. What happens to an element of a given tag,
VR, private creator (and, for path rules, position) under given condition truths is decided once per
process and kept in a table; values that do not depend on the old one (empty, dummy, replace) are
encoded once and reused without decoding the old value; keyed results are kept by their input bytes,
so a study's UIDs are computed once, and a file's own new SOP Instance UID is keyed and encoded here
without pydicom's general machinery; files with equal condition and key values (a series) share one
verdict; the output contract's stamps are encoded once per outcome. Large kept values (pixel data)
are not copied at all: the output names them as ranges of the input, which
`fileio.write_parts_atomically` copies inside the kernel.

The element stream is read by `reader.ElementReader`; `levels.LevelWriter` extends it to rewrite one
dataset level, with the work of a level's layout decided once and replayed for the files of a series,
and `_Rewriter` here adds the file around the levels. What happens to each element is the shared
`verdict`, and the file meta is `filemeta`'s, as in the reference engine.

Where the reference engine removes an element whose value cannot be decoded, this path writes the
constant of an empty/dummy/replace rule instead (nothing of the value survives either way).

What it does not handle it refuses with `Unsupported`, and the runner uses the reference engine for
that file (counted): no preamble, a deflated or big-endian transfer syntax, an active pixel rule, a
plan with an action that reads the whole dataset (`clean`), undefined-length UN elements, file meta
values that are not ASCII. A file that is not well formed (`structure.check`, run first) is failed,
not passed on: the reference engine must not re-admit what this path refused. Both decide an element
by its dictionary VR and check a value kept as it was (`valuecheck`), as the reference engine does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import limits, pixelrisk
from .._tables import TRANSFER_SYNTAXES
from ..actions import ACTIONS
from ..dictionary import keyword_of
from ..errors import EngineError, Rejected
from ..plan import Plan
from ..validate import atoms
from ..valuecheck import charset_problem, multi_byte
from . import conformance, contract, filemeta, plain, structure
from .admission import covered, pixels_covered, require_instance
from .context import Context, Outcome
from .dataset import Engine, engine_for
from .keys import Key
from .levels import (_FIRST, _PROGRAM_LIMIT, _SHAPE_LIMIT, _TABLES, LevelWriter, Part,  # noqa: F401 (_TABLES)
                     _shape, _table)
from .reader import Unsupported, _Element, encodings

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_CHARSET, _SOP_CLASS, _SOP_INSTANCE, _PIXEL_REP, _PATIENT_ID = 0x00080005, 0x00080016, 0x00080018, 0x00280103, 0x00100020
_VERDICT_LIMIT = 1024  # verdicts hold a small decoded Dataset each; files come a study at a time


def _facts(plan: Plan) -> dict:
    """What this path needs to know about a plan, worked out once: whether it can take it, and which
    top-level values its conditions (and the keys and file meta) read."""
    facts = _table("plan", plan.plan_hash)
    if not facts:
        whole = sorted({rule.action for rule in plan.rules if ACTIONS[rule.action].whole_dataset})
        facts["reason"] = (f"the plan's `{whole[0]}` reads the whole dataset" if whole else None)
        # A file's own SOP Instance UID is only checked to be there, unless a condition reads it.
        facts["read"] = tuple(sorted({_CHARSET, _SOP_CLASS, _PIXEL_REP, _PATIENT_ID, *pixelrisk.READS,
                                      *(atom.tag for cond in plan.conditions for atom in atoms(cond))}))
    return facts


def rewrite_parts(data: bytes, plan: Plan, key: Key | bytes) -> tuple[list[Part], Outcome]:
    """The de-identified Part 10 file for the Part 10 ``data`` (bytes or an mmap) as parts, or
    `Unsupported`. Ranges in the parts refer to ``data``."""
    # before anything is read: a file the fast path refuses is failed, not passed on
    depth = limits.depth()  # read once per file: the environment is slow to ask
    source = structure.check(data, depth)  # ``data``, or a copy with UN-written sequences re-encoded
    facts = _facts(plan)
    if facts["reason"]:
        raise Unsupported(facts["reason"])
    parts, outcome = _Rewriter(source, engine_for(plan), Key.of(key), facts["read"], depth).run()
    if source is not data:  # ranges refer to the copy
        parts = [bytes(source[p.start:p.stop]) if isinstance(p, range) else p for p in parts]
    return parts, outcome


def rewrite(data: bytes, plan: Plan, key: Key | bytes) -> tuple[bytes, Outcome]:
    """`rewrite_parts` joined into one bytes object."""
    parts, outcome = rewrite_parts(data, plan, key)
    return b"".join(data[p.start:p.stop] if isinstance(p, range) else p for p in parts), outcome


def _syntax(uid: str) -> tuple[bool, bool, bool, str]:
    """(implicit VR, little endian, deflated, name) of a transfer syntax, as pydicom's `UID` says: from
    the generated table, or (a UID it does not list) from pydicom, imported only then."""
    known = TRANSFER_SYNTAXES.get(uid)
    if known is not None:
        return known
    from pydicom.uid import UID

    found = UID(uid)
    return bool(found.is_implicit_VR), bool(found.is_little_endian), bool(found.is_deflated), found.name


def _joined(head: bytes, parts: list[tuple[int, Part]]) -> list[Part]:
    """``head`` and the (tag, part) ``parts`` as the output's parts, fewer: each run of encoded bytes between
    ranges joined into one (a small file becomes one bytes object, written and hashed at once)."""
    out: list[Part] = []
    run: list[bytes] = [head]
    for _, part in parts:
        if isinstance(part, range):
            if run:
                out.append(b"".join(run))
                run = []
            out.append(part)
        else:
            run.append(part)
    if run:
        out.append(b"".join(run))
    return out


class _Rewriter(LevelWriter):
    """The file's half of the rewriter: the file meta, the admission of the file (`_admit`), the
    context the levels are rewritten in, and the output contract's stamps."""

    def __init__(self, data: bytes, engine: Engine, key: Key, read: tuple[int, ...], max_depth: int) -> None:
        if len(data) < 132 or data[128:132] != b"DICM":
            raise Unsupported("no Part 10 preamble")
        super().__init__(data, _table("implicit-vr"))
        self.engine, self.plan, self.key = engine, engine.plan, key
        self.read = read  # the top-level tags conditions and keys read (`_facts`)
        meta_end, syntax = self._file_meta()
        implicit = _table("syntaxes").get(syntax)
        if implicit is None:
            implicit, little, deflated, name = _syntax(syntax)
            if not little or deflated:
                raise Unsupported(f"transfer syntax {name}")
            _table("syntaxes")[syntax] = implicit
        self.syntax, self.implicit, self.body = syntax, implicit, meta_end
        self.paths = engine.resolver.path_leaves
        self.max_depth = max_depth

    def run(self) -> tuple[list[Part], Outcome]:
        top = self._elements(self.body, self.size)
        shape = _shape(tuple([e[0] for e in top]))  # a C loop, compiled (`LevelWriter._level`)
        index = shape.index
        original, truths, memo = self._admit(top, index)
        if any(r.condition is None or truths[r.condition] for r in self.plan.pixel_rules):
            raise Unsupported("a pixel rule applies")
        if "covered" not in memo:  # what the shared verdict says of these values, worked out once
            try:
                memo["covered"] = pixels_covered(self.plan, original, truths)
            except Rejected as err:
                memo["covered"] = err
            memo["class"] = str(original.get("SOPClassUID") or "")
        if isinstance(memo["covered"], Rejected):
            raise memo["covered"]
        self.outcome = outcome = Outcome(None)  # no Dataset is built here
        self.ctx = ctx = Context(original, self.key, truths, outcome, multi_byte=self.multi_byte,
                                 covered=memo["covered"])
        context = (self.plan.plan_hash, self.implicit, tuple(self.charset))
        requirements = _table("requirements", limit=_SHAPE_LIMIT)
        found = requirements.get((memo["class"], shape))
        if found is None:  # the modules in use follow from the SOP Class and the top-level tags
            found = requirements[(memo["class"], shape)] = conformance.requirements(memo["class"], tuple(index))
        self.modules, self.required = found
        self.ops = _table("ops", tuple(truths), self.modules, *context)
        self.programs = _table("programs", tuple(truths), self.modules, *context, limit=_PROGRAM_LIMIT)
        self.overrides = _table("overrides", tuple(truths), self.modules, *context, limit=_PROGRAM_LIMIT)
        self.results = _table("results", self.key, self.modules, *context)
        self.sop: dict[int, str] = {}
        parts = self._level(top, (), shape)
        stamps_key = (self.key.persistent, frozenset(ctx.dates), ctx.covered)
        stamps = _table("stamps", *context)
        if stamps_key not in stamps:
            stamps[stamps_key] = self._stamps(ctx)
        parts += stamps[stamps_key]
        if _CHARSET in index:  # always carried over
            charset = top[index[_CHARSET]]
            parts.append((_CHARSET, self.data[charset[2]:charset[5]]))
        parts.sort(key=_FIRST)
        outcome.uids = self.sop
        head = bytes(128) + b"DICM" + filemeta.encoded(self.sop.get(_SOP_CLASS), self.sop.get(_SOP_INSTANCE),
                                                       self.syntax)
        return _joined(head, parts), outcome

    def _stamps(self, ctx: Context) -> list[tuple[int, bytes]]:
        """The output contract's attributes encoded: here when plain (`plain.encode`), else by pydicom."""
        try:
            return [(tag, plain.sequence(tag, [b"".join(plain.encode(*e, self.implicit, self.charset) for e in item)
                                               for item in value], self.implicit)
                     if vr == "SQ" else plain.encode(tag, vr, value, self.implicit, self.charset))
                    for tag, vr, value in contract.elements(self.plan, ctx)]
        except plain.NotPlain:
            from pydicom.dataset import Dataset

            made = Dataset()
            contract.stamp(self.plan, made, ctx)
            return [(int(e.tag), self._encode(e)) for e in made]

    def _admit(self, top: list[_Element], index: dict[int, int]) -> tuple[Dataset | plain.Values, list[bool], dict]:
        """What the reference engine's `admit` decides, from the few top-level values conditions, keys
        and the output contract read, decoded as pydicom decodes them (with the character set, worked
        out here). Files with equal such values share one Dataset of them, one verdict and a memo of
        what else follows from them (`run`); a file's own SOP Instance UID is only checked to be there."""
        data, by_tag = self.data, {tag: top[index[tag]] for tag in (*self.read, _SOP_INSTANCE) if tag in index}
        if _PIXEL_REP in by_tag:
            value = by_tag[_PIXEL_REP][3]
            self.pixel_rep = int.from_bytes(data[value:value + 2], "little")
        element = by_tag.get(_CHARSET)
        raw = data[element[3]:element[5]] if element else None
        charsets = _table("charsets")  # what a character set's bytes say, worked out once
        if raw not in charsets:
            why = charset_problem(raw) if raw is not None else None  # carried over as it is: only defined terms
            if why:
                charsets[raw] = why, False, []
            else:
                terms = bytes(raw).decode("latin-1").split("\\") if raw is not None else []
                multi = multi_byte([t.strip(" \0") for t in terms])
                self.charset = encodings(None)  # to decode the character set itself
                charsets[raw] = None, multi, encodings(element and self._value(element))
        why, self.multi_byte, self.charset = charsets[raw]
        if why:
            raise EngineError(why + ": the file is failed")
        self.creators = _table("creators", tuple(self.charset))
        read = [by_tag[tag] for tag in self.read if tag in by_tag]
        key = tuple([(e[0], e[1], data[e[3]:e[5]]) for e in read])
        verdicts = _table("verdicts", self.plan.plan_hash, self.implicit, tuple(self.charset), limit=_VERDICT_LIMIT)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = self._plain_verdict(read) or self._verdict(read)
        ds, has_class, truths, rejection, memo = verdict
        require_instance(has_class, self._has_value(by_tag.get(_SOP_INSTANCE)))
        if rejection is not None:
            raise Rejected(rejection)
        return ds, truths, memo

    def _plain_verdict(self, read: list[_Element]) -> tuple | None:
        """`_verdict` without pydicom, for a plan with no conditions (so no rejects: nothing is
        evaluated but the pixels' risk) and read values that are each a single plain value; else None."""
        if self.plan.conditions or self.plan.rejects:
            return None
        found = {}
        for element in read:
            try:
                value = plain.decode(element[1], self.data[element[3]:element[5]], self.charset)
            except plain.NotPlain:
                return None
            if isinstance(value, list):
                return None
            found[element[0]] = value
        values = plain.Values({keyword_of(tag): value for tag, value in found.items()}, found)
        has_class = bool(values.get("SOPClassUID"))
        try:
            memo = {"covered": covered(self.plan, [plain.text(found[tag]) if tag in found else None
                                                   for tag in pixelrisk.READS], []),
                    "class": str(values.get("SOPClassUID") or "")}
        except Rejected as err:
            return values, has_class, None, err.message, {}
        return values, has_class, [], None, memo

    def _verdict(self, read: list[_Element]) -> tuple:
        """The verdict of the read values decoded by pydicom into a Dataset, as the reference engine's
        `judge` gives it: (the Dataset, whether it has a SOP Class, truths, rejection, memo)."""
        from pydicom.dataelem import DataElement
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        ds = Dataset()
        for element in read:
            try:
                ds[element[0]] = (self._decode(element) if element[1] != "SQ"
                                  else DataElement(element[0], "SQ", Sequence()))
            except Exception:  # undecodable: a condition reads it as absent, as in the reference engine
                pass
        try:
            return ds, bool(ds.get("SOPClassUID")), self.engine.judge(ds), None, {}
        except Rejected as err:
            return ds, bool(ds.get("SOPClassUID")), None, err.message, {}

    def _has_value(self, element: _Element | None) -> bool:
        """Whether an element's value, as pydicom decodes it, is not empty (a sequence counts as empty,
        an undecodable value as absent). A UI value is ASCII padded with NUL or space, and several
        values are never empty; anything else is decoded."""
        if element is None or element[1] == "SQ":
            return False
        if element[1] == "UI":
            return bool(self._ui_text(element).strip())
        try:
            return bool(self._decode(element).value)
        except Exception:
            return False
