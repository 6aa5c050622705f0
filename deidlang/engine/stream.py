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

The element stream is read by `reader.ElementReader` (which this rewriter extends); what happens to
each element is the shared `verdict`, and the file meta is `filemeta`'s, as in the reference engine.

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

import dataclasses
import struct
from operator import itemgetter

from pydicom.charset import convert_encodings
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.sequence import Sequence
from pydicom.uid import UID

from .. import pixelrisk, values
from ..actions import ACTIONS
from ..dictionary import format_tag
from ..errors import EngineError, Rejected
from ..plan import Plan, PlanRule
from ..validate import atoms
from ..valuecheck import charset_problem, decided_vr, kept_problem, multi_byte
from . import conformance, filemeta, structure
from .admission import check_depth, pixels_covered, require_instance, top_text
from .context import Context, Outcome
from .contract import CONTRACT, stamp
from .dataset import Engine, engine_for
from .keys import Key
from .private import Blocks, creator_name, is_private_creator
from .reader import ElementReader, Unsupported, _Element
from .verdict import CONSTANT, DROP, KEEP, NO_ITEMS, WALK, verdict

_CHARSET, _SOP_CLASS, _SOP_INSTANCE, _PIXEL_REP, _PATIENT_ID = 0x00080005, 0x00080016, 0x00080018, 0x00280103, 0x00100020
_SOP = (_SOP_CLASS, _SOP_INSTANCE)
_NAMED = frozenset((*_SOP, 0x0020000D, 0x0020000E))  # their output values are remembered: file meta, layout
_SKIPPED_AT_TOP = frozenset((*CONTRACT, _CHARSET))  # set after the walk, or carried over as it is
_FIRST, _SECOND = itemgetter(0), itemgetter(1)  # parts are put in tag order by their first item

#: Kept top-level values at least this long stay in the input and are copied by range.
SPAN = 1 << 16

# What the table says to do with an element.
_DROP, _COPY, _CONST, _COMPUTE, _SEQ = range(5)

# Per-process tables, keyed by everything their entries depend on; cleared when they grow too big.
_TABLES: dict[tuple, dict] = {}
_TABLE_LIMIT = 20_000  # entries; a few MiB at most, so memory stays flat on any archive
_VERDICT_LIMIT = 1024  # verdicts hold a small decoded Dataset each; files come a study at a time
_RESULT_VALUE_LIMIT = 1024  # longer inputs of keyed actions are not remembered
_PROGRAM_LIMIT = 1024  # level layouts (`_Rewriter._program`); an archive has a few per series kind
_CHECKED_VALUE_LIMIT = 64  # kept values up to this long are checked once per process (`kept_problem`)
_UNCHECKED = object()


Part = bytes | range  # encoded bytes, or a range of the input to copy as it is


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
    source = structure.check(data)  # ``data``, or a copy with UN-written sequences re-encoded
    facts = _facts(plan)
    if facts["reason"]:
        raise Unsupported(facts["reason"])
    parts, outcome = _Rewriter(source, engine_for(plan), Key.of(key), facts["read"]).run()
    if source is not data:  # ranges refer to the copy
        parts = [bytes(source[p.start:p.stop]) if isinstance(p, range) else p for p in parts]
    return parts, outcome


def rewrite(data: bytes, plan: Plan, key: Key | bytes) -> tuple[bytes, Outcome]:
    """`rewrite_parts` joined into one bytes object."""
    parts, outcome = rewrite_parts(data, plan, key)
    return b"".join(data[p.start:p.stop] if isinstance(p, range) else p for p in parts), outcome


def _table(*key, limit: int | None = None) -> dict:
    """The per-process table for ``key``, emptied once it holds more than ``limit`` entries (at most
    `_TABLE_LIMIT`)."""
    table = _TABLES.get(key)
    if table is None or len(table) > min(limit or _TABLE_LIMIT, _TABLE_LIMIT):
        if len(_TABLES) > 64:
            _TABLES.clear()
        table = _TABLES[key] = {}
    return table


class _Rewriter(ElementReader):
    def __init__(self, data: bytes, engine: Engine, key: Key, read: tuple[int, ...]) -> None:
        if len(data) < 132 or data[128:132] != b"DICM":
            raise Unsupported("no Part 10 preamble")
        super().__init__(data, _table("implicit-vr"))
        self.engine, self.plan, self.key = engine, engine.plan, key
        self.read = read  # the top-level tags conditions and keys read (`_facts`)
        meta_end, syntax = self._file_meta()
        implicit = _table("syntaxes").get(syntax)
        if implicit is None:
            uid = UID(syntax)
            if not uid.is_little_endian or uid.is_deflated:
                raise Unsupported(f"transfer syntax {uid.name}")
            implicit = _table("syntaxes")[syntax] = uid.is_implicit_VR
        self.syntax, self.implicit, self.body = syntax, implicit, meta_end
        self.paths = engine.resolver.path_leaves

    # ------------------------------------------------------------ writing

    def _encode(self, elem: DataElement) -> bytes:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, self.implicit
        write_data_element(fp, elem, self.charset)
        return fp.getvalue()

    def _sequence(self, tag: int, items: list[bytes]) -> bytes:
        body = b"".join(struct.pack("<HHL", 0xFFFE, 0xE000, len(item)) + item for item in items)
        head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        head += struct.pack("<L", len(body)) if self.implicit else b"SQ\0\0" + struct.pack("<L", len(body))
        return head + body

    # ------------------------------------------------------------ the pass

    def run(self) -> tuple[list[Part], Outcome]:
        top = self._elements(self.body, self.size)
        tags = tuple(map(_FIRST, top))
        index = _shape(tags).index
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
        requirements = _table("requirements", limit=_PROGRAM_LIMIT)
        found = requirements.get((memo["class"], tags))
        if found is None:  # the modules in use follow from the SOP Class and the top-level tags
            found = requirements[(memo["class"], tags)] = conformance.requirements(memo["class"], tags)
        self.modules, self.required = found
        self.ops = _table("ops", tuple(truths), self.modules, *context)
        self.programs = _table("programs", tuple(truths), self.modules, *context, limit=_PROGRAM_LIMIT)
        self.results = _table("results", self.key, *context)
        self.sop: dict[int, str] = {}
        parts = self._level(top, ())
        stamps_key = (self.key.persistent, frozenset(ctx.dates), ctx.covered)
        stamps = _table("stamps", *context)
        if stamps_key not in stamps:
            made = Dataset()
            stamp(self.plan, made, ctx)
            stamps[stamps_key] = [(int(e.tag), self._encode(e)) for e in made]
        parts += stamps[stamps_key]
        if _CHARSET in index:  # always carried over
            charset = top[index[_CHARSET]]
            parts.append((_CHARSET, self.data[charset[2]:charset[5]]))
        parts.sort(key=_FIRST)
        outcome.uids = self.sop
        head = bytes(128) + b"DICM" + filemeta.encoded(self.sop.get(_SOP_CLASS), self.sop.get(_SOP_INSTANCE),
                                                       self.syntax)
        return [head, *(p[1] for p in parts)], outcome

    def _admit(self, top: list[_Element], index: dict[int, int]) -> tuple[Dataset, list[bool], dict]:
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
        if raw is not None and (why := charset_problem(raw)):  # carried over as it is: only defined terms
            raise EngineError(why + ": the file is failed")
        self.multi_byte = raw is not None and multi_byte(
            [t.strip(" \0") for t in bytes(raw).decode("latin-1").split("\\")])
        charsets = _table("charsets")
        if raw not in charsets:
            self.charset = convert_encodings("ISO_IR 6")  # to decode the character set itself
            charsets[raw] = convert_encodings((element and self._decode(element).value) or "ISO_IR 6")
        self.charset = charsets[raw]
        self.creators = _table("creators", tuple(self.charset))
        read = [by_tag[tag] for tag in self.read if tag in by_tag]
        key = tuple((e[0], e[1], data[e[3]:e[5]]) for e in read)
        verdicts = _table("verdicts", self.plan.plan_hash, self.implicit, tuple(self.charset), limit=_VERDICT_LIMIT)
        verdict = verdicts.get(key)
        if verdict is None:
            ds = Dataset()
            for element in read:
                try:
                    ds[element[0]] = (self._decode(element) if element[1] != "SQ"
                                      else DataElement(element[0], "SQ", Sequence()))
                except Exception:  # undecodable: a condition reads it as absent, as in the reference engine
                    pass
            try:
                verdict = (ds, bool(ds.get("SOPClassUID")), self.engine.judge(ds), None, {})
            except Rejected as err:
                verdict = (ds, bool(ds.get("SOPClassUID")), None, err.message, {})
            verdicts[key] = verdict
        ds, has_class, truths, rejection, memo = verdict
        require_instance(has_class, self._has_value(by_tag.get(_SOP_INSTANCE)))
        if rejection is not None:
            raise Rejected(rejection)
        return ds, truths, memo

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

    def _level(self, elements: list[_Element], position) -> list[tuple[int, Part]]:
        """One dataset level rewritten: (tag, encoded bytes or input range) of what stays, in tag order.
        What happens to each element is worked out once per level layout (`_program`): the files of a
        series repeat their levels' tags, VRs, private creators and IOD conditions, and share it."""
        check_depth(position)
        data, top = self.data, not position
        tags, vrs = tuple(map(_FIRST, elements)), tuple(map(_SECOND, elements))
        shape = _shape(tags)
        names = tuple(self._creator(elements[i]) for i in shape.creators)
        changes = conformance.overrides(position, shape.index, lambda t: self._text(elements[shape.index[t]]),
                                        self.engine.resolver, self.ctx.truths, self.required)
        seqs = tuple(seq for seq, _ in position)  # what the IOD's requirements depend on
        place = seqs if self.paths.isdisjoint(shape.index) else position
        key = (tags, vrs, top, place, names, tuple(sorted(changes.items())))
        program = self.programs.get(key)
        if program is None:
            program = self.programs[key] = self._program(elements, position, shape, names, changes)
        notes, dates, multi = self.outcome.notes, self.ctx.dates, self.ctx.multi_byte
        checked = _table("checked", multi)
        blocks = Blocks([(elements[i][0], elements[i], name) for i, name in zip(shape.creators, names)], notes)
        out: list[tuple[int, Part]] = []
        for index, kind, static, date, payload, action, rule, vr, creator, named in program:
            if static:
                notes.extend(static)
            if date:
                dates.add(date)
            if kind == _DROP:
                continue
            element = elements[index]
            tag = element[0]
            if kind == _COPY:
                value, end = element[3], element[5]
                if end - value <= _CHECKED_VALUE_LIMIT:  # a series repeats most kept values: checked once
                    raw = data[value:end]
                    why = checked.get((tag, vr, creator, raw), _UNCHECKED)
                    if why is _UNCHECKED:
                        why = checked[(tag, vr, creator, raw)] = kept_problem(tag, vr, creator, end - value,
                                                                              lambda: raw, multi)
                else:
                    why = kept_problem(tag, vr, creator, end - value, lambda: data[value:end], multi)
                if why is not None:
                    notes.append(why)
                    # the reference engine removes a value pydicom cannot decode before it decides anything
                    decodable = self._text(element) != "?"
                    new = conformance.replacement(tag, vr, position, self.required, notes) if decodable else None
                    if new is not None:
                        out.append((tag, self._encode(new)))
                    continue
            if kind == _SEQ:
                part = self._sequence(tag, [
                    b"".join(p[1] for p in self._level(self._elements(start, end), (*position, (tag, index))))
                    for index, (start, end) in enumerate(self._items(element))])
            elif named:  # the file meta and the output layout follow these
                part = self._sop_element(element, vr, kind, action, rule)
            elif kind == _COPY:
                start, end = element[2], element[5]
                part = range(start, end) if top and end - start >= SPAN else data[start:end]
            elif kind == _CONST:
                part = payload
            else:
                part = self._compute(element, vr, action, rule, position)[0]
            if part is None:
                continue
            out.append((tag, part))
            if tag >> 16 & 1:
                blocks.keep(tag)
        out += [(e[0], data[e[2]:e[5]]) for e in blocks.kept_creators()]
        out.sort(key=_FIRST)
        return out

    def _program(self, elements: list[_Element], position, shape: "_Shape", names: tuple, changes: dict) -> tuple:
        """Per element of a level that needs any work, in order: (index, kind, notes it always gives, effect on
        dates, payload, action, rule, decided VR, creator, whether the file meta and layout follow it)."""
        ops, paths, top = self.ops, self.paths, not position
        verdicts_vr = _table("decided-vr")
        seqs = tuple(seq for seq, _ in position)
        blocks = Blocks([(elements[i][0], i, name) for i, name in zip(shape.creators, names)], [])
        steps = []
        for index, element in enumerate(elements):
            tag, vr = element[0], element[1]
            low, private = tag & 0xFFFF, tag >> 16 & 1
            if low == 0 or (private and 0x10 <= low <= 0xFF) or (top and tag in _SKIPPED_AT_TOP):
                continue
            creator = None
            if private:
                creator = blocks.creator(tag)
            else:  # the dictionary decides, not the file
                decided = verdicts_vr.get((tag, vr))
                if decided is None:
                    decided = verdicts_vr[(tag, vr)] = decided_vr(tag, vr)
                vr, lie = decided
                if vr is None:
                    steps.append((index, _DROP, (lie,), None, None, None, None, None, None, False))
                    continue
            change = changes.get(tag)
            key = (tag, vr, creator, position, change) if tag in paths else (tag, vr, creator, seqs, change)
            op = ops.get(key)
            if op is None:
                op = ops[key] = self._op(tag, vr, creator, position, changes)
            kind, date, payload, action, rule, why = op
            static = ((why,) if why else ()) + ((payload,) if kind == _DROP and payload else ())
            if kind != _DROP or static or date:
                steps.append((index, kind, static, date, payload, action, rule, vr, creator,
                              top and tag in _NAMED and vr != "SQ"))
        return tuple(steps)

    def _text(self, element: _Element) -> str | None:
        """An element's value as text, as the reference engine reads it for a 1C/2C condition."""
        item = Dataset()
        try:
            item.add(self._decode(element))
        except Exception:
            return "?"
        return top_text(item, element[0])

    def _op(self, tag: int, vr: str, creator: str | None, position, changes=None) -> tuple:
        """What to do with such an element (the engine's `verdict`, made once): (kind, effect on
        dates, payload, action, rule, the note of an IOD substitution); the payload is the encoded constant
        or the note of a removal."""
        resolver = self.engine.resolver
        rule: PlanRule | None = resolver.decide(tag, vr, creator, position, self.ctx.truths)
        rule, action, why = conformance.substitute(tag, vr, rule, position, resolver, self.ctx.truths, self.required,
                                                   changes)
        found = verdict(tag, vr, action)
        action, date = found.action, found.date
        if found.kind == DROP:
            return _DROP, date, found.note, action, rule, why
        if found.kind == WALK:
            return _SEQ, date, None, action, rule, why
        if found.kind == NO_ITEMS:
            return _CONST, date, self._sequence(tag, []), action, rule, why
        if found.kind == KEEP:
            return _COPY, date, None, action, rule, why
        if found.kind == CONSTANT:
            capture = Outcome(None)
            new = self.engine.transform(DataElement(tag, vr, None), action, rule,
                                        dataclasses.replace(self.ctx, outcome=capture))
            if new is None:
                return _DROP, date, capture.notes[0], action, rule, why
            return _CONST, date, self._encode(new), action, rule, why
        return _COMPUTE, date, None, action, rule, why

    def _compute(self, element: _Element, vr: str, action: str, rule: PlanRule | None,
                 position=()) -> tuple[bytes | None, str]:
        """The encoded result of an action that reads the old value, and the new value as text;
        remembered by the input bytes (and the patient, for per-patient date shifts, and the sequences
        the element is in, which decide the IOD's substitute where the action cannot handle the value)."""
        raw = self.data[element[3]:element[5]]
        per_patient = rule is not None and rule.argument is not None and rule.argument.per_patient
        key = (element[0], element[1], vr, action, rule.order if rule else None, raw,
               self.ctx.patient_id if per_patient else None, tuple(s for s, _ in position), self.modules)
        result = self.results.get(key)
        if result is None:
            result = self._transform(element, action, rule, position)
            if len(raw) <= _RESULT_VALUE_LIMIT:
                self.results[key] = result
        encoded, text, pairs, notes = result
        self.outcome.pairs.update(pairs)
        self.outcome.notes.extend(notes)
        return encoded, text

    def _transform(self, element: _Element, action: str, rule: PlanRule | None, position=()) -> tuple:
        if action == "uid" and element[1] == "UI":
            result = self._new_uid(element)
            if result is not None:
                return result
        tag = element[0]
        try:
            elem = self._decode(element)
        except Exception:
            return None, None, (), (f"{format_tag(tag)}: value could not be decoded: removed",)
        if action == "keep":
            return None, str(elem.value), (), ()
        capture = Outcome(None)
        new = self.engine.transform(elem, action, rule, dataclasses.replace(self.ctx, outcome=capture), position)
        if new is None:
            return None, None, tuple(capture.pairs), tuple(capture.notes)
        return self._encode(new), str(new.value), tuple(capture.pairs), tuple(capture.notes)

    def _new_uid(self, element: _Element) -> tuple | None:
        """The `uid` action on a single UI value, decoded and encoded here as pydicom does it (a UI
        value is ASCII, padded with NUL or space), since every file has a new SOP Instance UID and
        pydicom's general machinery would cost most of the file's time. Several values (rare): None,
        and the general way is taken."""
        text = self._ui_text(element)
        if "\\" in text:
            return None
        text = text.strip()
        new = values.new_uid(self.key.secret, text) if text else text
        encoded = new.encode("ascii") + b"\0" * (len(new) % 2)
        head = (struct.pack("<HHL", element[0] >> 16, element[0] & 0xFFFF, len(encoded)) if self.implicit else
                struct.pack("<HH2sH", element[0] >> 16, element[0] & 0xFFFF, b"UI", len(encoded)))
        return head + encoded, new, (("uid", text.rstrip("\0"), new),) if new else (), ()

    def _ui_text(self, element: _Element) -> str:
        """A UI value as pydicom decodes it before splitting: its default encoding, padding removed."""
        return self.data[element[3]:element[5]].decode("latin-1").rstrip(" \0")

    def _sop_element(self, element: _Element, vr: str, kind: int, action: str, rule: PlanRule | None) -> bytes | None:
        """SOP Class or Instance, Study or Series UID at the top level: its output value is remembered
        (the file meta and the output's name are made from them)."""
        if kind == _COPY:
            text = self._compute(element, vr, "keep", None)[1]
            if text is not None:
                self.sop[element[0]] = text
            return self.data[element[2]:element[5]]
        encoded, text = self._compute(element, vr, action, rule)
        if encoded is not None:
            self.sop[element[0]] = text
        return encoded

    def _creator(self, element: _Element) -> str | None:
        """A private creator's name as the reference engine reads it (`private.creator_name`), None
        when undecodable; remembered by its bytes."""
        table = self.creators
        raw = self.data[element[3]:element[5]]
        if raw not in table:
            table[raw] = creator_name(lambda: self._decode(element).value)
        return table[raw]


def _shape(tags: tuple[int, ...]) -> "_Shape":
    shapes = _table("shapes", limit=_PROGRAM_LIMIT)
    shape = shapes.get(tags)
    if shape is None:
        shape = shapes[tags] = _Shape(tags)
    return shape


class _Shape:
    """What a level's tags alone say: where its private creators are, and each tag's index."""

    __slots__ = ("creators", "index")

    def __init__(self, tags: tuple[int, ...]) -> None:
        self.creators = tuple(i for i, tag in enumerate(tags) if is_private_creator(tag))
        self.index = {tag: i for i, tag in enumerate(tags)}

