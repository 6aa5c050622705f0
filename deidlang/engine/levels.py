"""The fast path's rewriter, one dataset level at a time (`stream` adds the file around it).

A level's elements (as `reader.ElementReader` reads them) become the parts of the output: a kept
element is its input bytes (or, at the top level and long, a range of the input), a removed one is
nothing, a changed one is encoded with the reference engine's own transform, a sequence is its items'
levels rewritten. What happens to an element is the shared `verdict`, decided once per process for its
tag, VR, private creator and place; and what happens to a whole level once per layout (its tags, VRs,
creators and IOD conditions: `LevelWriter._program`), which the files of a series share, so that per
file only the values are looked at.
"""

from __future__ import annotations

import dataclasses
import struct
from operator import itemgetter

from ..actions import ACTIONS
from ..plan import PlanRule
from ..valuecheck import check_key, decided_vr, kept_problem
from . import conformance, plain
from .admission import check_depth
from .context import Outcome
from .contract import CONTRACT
from .private import Blocks, is_private_creator
from .reader import _Element
from .valuewriter import ValueWriter
from .verdict import CONSTANT, DROP, KEEP, NO_ITEMS, WALK, verdict

_CHARSET, _SOP_CLASS, _SOP_INSTANCE = 0x00080005, 0x00080016, 0x00080018
_NAMED = frozenset((_SOP_CLASS, _SOP_INSTANCE, 0x0020000D, 0x0020000E))  # their output values are remembered
_SKIPPED_AT_TOP = frozenset((*CONTRACT, _CHARSET))  # set after the walk, or carried over as it is
_FIRST = itemgetter(0)  # parts are put in tag order by their first item

#: Kept top-level values at least this long stay in the input and are copied by range.
SPAN = 1 << 16

# What the table says to do with an element (`_RUN`: with the kept elements after it, `_joined_runs`).
_DROP, _COPY, _CONST, _COMPUTE, _SEQ, _RUN = range(6)

# Per-process tables, keyed by everything their entries depend on; cleared when they grow too big.
_TABLES: dict[tuple, dict] = {}
_TABLE_LIMIT = 20_000  # entries; a few MiB at most, so memory stays flat on any archive
_PROGRAM_LIMIT = 64  # level layouts worked out (`LevelWriter._program`): a run meets a few at a time
_SHAPE_LIMIT = 256  # level tag lists (`_shape`), and the modules in use by top-level tags
_CHECKED_VALUE_LIMIT = 64  # kept values up to this long are checked once per process (`kept_problem`)
_CHECKED_LIMIT = 32  # values remembered so per element of a level layout (and bytes per run of them)
_RUN_BYTES_LIMIT = 512  # runs of kept elements up to this long are remembered once valid (`LevelWriter._run`)
_UNCHECKED = object()

Part = bytes | range  # encoded bytes, or a range of the input to copy as it is


def _table(*key, limit: int | None = None) -> dict:
    """The per-process table for ``key``, emptied once it holds more than ``limit`` entries (at most
    `_TABLE_LIMIT`)."""
    table = _TABLES.get(key)
    if table is None or len(table) > (limit if limit and limit < _TABLE_LIMIT else _TABLE_LIMIT):
        if len(_TABLES) > 64:
            _TABLES.clear()
        table = _TABLES[key] = {}
    return table


class LevelWriter(ValueWriter):
    """The per-level half of the rewriter (`valuewriter.ValueWriter` is the per-element half). The file's
    half (`stream._Rewriter`) sets, before the first `_level`: ``engine``, ``plan``, ``key``, ``paths`` (the
    plan's path leaves), ``charset``, ``creators`` (a table of creator names), ``ctx`` and ``outcome``,
    ``modules`` and ``required`` (the IOD's), the tables ``ops``, ``programs``, ``overrides`` and
    ``results``, and ``max_depth`` (`limits.depth`, read once per file); `_sop_element` fills ``sop``."""

    max_depth: int

    def _sequence(self, tag: int, items: list[bytes]) -> bytes:
        body = b"".join([struct.pack("<HHL", 0xFFFE, 0xE000, len(item)) + item for item in items])
        head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        head += struct.pack("<L", len(body)) if self.implicit else b"SQ\0\0" + struct.pack("<L", len(body))
        return head + body

    def _level(self, elements: list[_Element], position, shape: "_Shape | None" = None) -> list[tuple[int, Part]]:
        """One dataset level rewritten: (tag, encoded bytes or input range) of what stays, in tag order.
        What happens to each element is worked out once per level layout (`_program`): the files of a
        series repeat their levels' tags, VRs, private creators and IOD conditions, and share it.
        ``shape``: the level's `_shape`, when the caller has it."""
        check_depth(position, self.max_depth)
        data, top = self.data, not position
        # tuples made from list comprehensions: compiled, those are C loops (map and generators are not)
        if shape is None:
            shape = _shape(tuple([e[0] for e in elements]))
        vrs = tuple([e[1] for e in elements])
        names = tuple([self._creator(elements[i]) for i in shape.creators])
        seqs = tuple([seq for seq, _ in position])  # what the IOD's requirements depend on
        place = seqs if not self.paths or self.paths.isdisjoint(shape.index) else position
        changes, listed = self._changes(elements, position, shape, place)
        multi = self.ctx.multi_byte
        key = (shape, vrs, top, place, names, listed, multi)  # a shape stands for its tags
        found = self.programs.get(key)
        if found is None:
            program = self._program(elements, position, shape, names, changes)
            found = self.programs[key] = program, _keeps_private(program, elements)
        program, keeps_private = found
        notes, dates = self.outcome.notes, self.ctx.dates
        # creators are written for the private elements that stay (and noted where undecodable): none, none
        blocks = (Blocks([(elements[i][0], elements[i], name) for i, name in zip(shape.creators, names)], notes)
                  if shape.creators and (keeps_private or None in names) else None)
        out: list[tuple[int, Part]] = []
        for index, kind, static, date, payload, action, rule, vr, creator, named, checked in program:
            if static:
                notes.extend(static)
            if date:
                dates.add(date)
            if kind == _DROP:
                continue
            if kind == _RUN:
                self._run(elements, payload, checked, position, out, blocks)
                continue
            element = elements[index]
            tag = element[0]
            if kind == _SEQ:
                part = self._sequence(tag, [
                    b"".join([p for _, p in self._level(self._elements(start, end), (*position, (tag, index)))])
                    for index, (start, end) in enumerate(self._items(element))])
            elif named:  # the file meta and the output layout follow these
                if kind == _COPY and not self._kept(element, vr, creator, checked, position, out):
                    continue
                part = self._sop_element(element, vr, kind, action, rule)
            elif kind == _CONST:
                part = payload
            else:
                part = self._compute(element, vr, action, rule, position)[0]
            if part is None:
                continue
            out.append((tag, part))
            if tag >> 16 & 1 and blocks is not None:
                blocks.keep(tag)
        if blocks is not None:
            out += [(e[0], data[e[2]:e[5]]) for e in blocks.kept_creators()]
        out.sort(key=_FIRST)
        return out

    def _changes(self, elements: list[_Element], position, shape: "_Shape", place) -> tuple[dict, tuple]:
        """What the IOD's 1C/2C conditions change in this level (`conformance.overrides`), and the same
        sorted; remembered by layout and place where no value was read to decide it (most levels)."""
        found = self.overrides.get((shape, place))
        if found is not None:
            return found
        read = []

        def value(tag: int) -> str | None:
            read.append(tag)
            return self._text(elements[shape.index[tag]])

        changes = conformance.overrides(position, shape.index, value, self.engine.resolver, self.ctx.truths,
                                        self.required)
        found = changes, tuple(sorted(changes.items()))
        if not read:
            self.overrides[(shape, place)] = found
        return found

    def _run(self, elements: list[_Element], payload: tuple, checked: dict, position, out: list,
             blocks: Blocks | None) -> None:
        """A `_RUN` step: elements kept as they are, next to each other in the input, written as one part.
        The files of a series repeat most such runs byte for byte, so a run's bytes once found valid are
        written without looking at its values again; other runs are checked element by element (`_kept`)."""
        members, privates = payload
        data, top = self.data, not position
        first = elements[members[0][0]]
        start, end = first[2], elements[members[-1][0]][5]
        raw = data[start:end] if end - start <= _RUN_BYTES_LIMIT else None
        if raw is not None and raw in checked:
            out.append((first[0], raw))
            if blocks is not None:
                for tag in privates:
                    blocks.keep(tag)
            return
        fine, part_tag, part_start, part_end = True, -1, 0, 0
        for index, _, _, _, _, _, _, vr, creator, _, element_checked in members:
            element = elements[index]
            if not self._kept(element, vr, creator, element_checked, position, out):
                fine = False
                if part_tag >= 0:
                    out.append((part_tag, data[part_start:part_end]))
                    part_tag = -1
                continue
            tag = element[0]
            if tag >> 16 & 1 and blocks is not None:
                blocks.keep(tag)
            if top and element[5] - element[2] >= SPAN:  # copied from the input by the kernel
                if part_tag >= 0:
                    out.append((part_tag, data[part_start:part_end]))
                    part_tag = -1
                out.append((tag, range(element[2], element[5])))
                continue
            if part_tag < 0:
                part_tag, part_start = tag, element[2]
            part_end = element[5]
        if fine and raw is not None:  # the whole run, valid: remembered
            if len(checked) >= _CHECKED_LIMIT:
                checked.clear()
            checked[raw] = True
            out.append((first[0], raw))
        elif part_tag >= 0:
            out.append((part_tag, data[part_start:part_end]))

    def _kept(self, element: _Element, vr: str, creator: str | None, checked: dict, position, out: list) -> bool:
        """Whether a value the plan keeps is valid for its VR (`kept_problem`; short values remembered per
        element of a layout by their `check_key`, since a series repeats most). If not, the note, and in
        ``out`` the IOD's substitute where it needs the attribute."""
        data, multi = self.data, self.ctx.multi_byte
        tag, value, end = element[0], element[3], element[5]
        if end - value <= _CHECKED_VALUE_LIMIT:
            raw = data[value:end]
            key = check_key(tag, vr, raw)
            why = checked.get(key, _UNCHECKED)
            if why is _UNCHECKED:
                if len(checked) >= _CHECKED_LIMIT:
                    checked.clear()
                why = checked[key] = kept_problem(tag, vr, creator, end - value, lambda: raw, multi)
        else:
            why = kept_problem(tag, vr, creator, end - value, lambda: data[value:end], multi)
        if why is None:
            return True
        notes = self.outcome.notes
        notes.append(why)
        # the reference engine removes a value pydicom cannot decode before it decides anything
        decodable = self._text(element) != "?"
        new = conformance.replacement(tag, vr, position, self.required, notes) if decodable else None
        if new is not None:
            out.append((tag, self._encode(new)))
        return False

    def _program(self, elements: list[_Element], position, shape: "_Shape", names: tuple, changes: dict) -> tuple:
        """Per element of a level that needs any work, in order: (index, kind, notes it always gives, effect on
        dates, payload, action, rule, decided VR, creator, whether the file meta and layout follow it, and
        for a kept value the results of `kept_problem` by value); kept elements next to each other made
        one `_RUN` step (`_joined_runs`)."""
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
                    steps.append((index, _DROP, (lie,), None, None, None, None, None, None, False, None))
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
                              top and tag in _NAMED and vr != "SQ", {} if kind == _COPY else None))
        return _joined_runs(steps, elements, top)

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
            argument = rule.argument if rule is not None else None
            try:  # a plain constant is encoded here, as the engine's `transform` would have pydicom do it
                return _CONST, date, plain.encode(tag, vr, ACTIONS[action].constant(vr, argument), self.implicit,
                                                  self.charset), action, rule, why
            except plain.NotPlain:
                pass
            from pydicom.dataelem import DataElement

            capture = Outcome(None)
            new = self.engine.transform(DataElement(tag, vr, None), action, rule,
                                        dataclasses.replace(self.ctx, outcome=capture))
            if new is None:
                return _DROP, date, capture.notes[0], action, rule, why
            return _CONST, date, self._encode(new), action, rule, why
        return _COMPUTE, date, None, action, rule, why

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


def _joined_runs(steps: list[tuple], elements: list[_Element], top: bool) -> tuple:
    """The steps of a level with each stretch of kept elements that are next to each other in the input
    (plain, neither named nor given notes after the first, one effect on dates) made one `_RUN` step, its
    payload (the elements' steps, their private tags) and a table of the run's bytes found valid. Parts are
    put in tag order by their first tag, so at the top level a run never spans a tag written after the
    walk (`_SKIPPED_AT_TOP`), present in the input or not."""
    out: list[tuple] = []
    run: list[tuple] = []
    for step in steps:
        index, kind, static, date = step[0], step[1], step[2], step[3]
        if kind == _COPY and not step[9]:
            if run and index == run[-1][0] + 1 and not static and date in (None, run[0][3]) and not (
                    top and any(elements[index - 1][0] < tag < elements[index][0] for tag in _SKIPPED_AT_TOP)):
                run.append(step)
                continue
            if run:
                out.append(_run_step(run, elements))
            run = [step]
            continue
        if run:
            out.append(_run_step(run, elements))
            run = []
        out.append(step)
    if run:
        out.append(_run_step(run, elements))
    return tuple(out)


def _keeps_private(program: tuple, elements: list[_Element]) -> bool:
    """Whether any step of a level's program may write a private element."""
    return any(step[4][1] if step[1] == _RUN else step[1] != _DROP and elements[step[0]][0] >> 16 & 1
               for step in program)


def _run_step(run: list[tuple], elements: list[_Element]) -> tuple:
    private = tuple(elements[step[0]][0] for step in run if elements[step[0]][0] >> 16 & 1)
    return (run[0][0], _RUN, run[0][2], run[0][3], (tuple(run), private), None, None, None, None, False, {})


def _shape(tags: tuple[int, ...]) -> "_Shape":
    shapes = _table("shapes", limit=_SHAPE_LIMIT)
    shape = shapes.get(tags)
    if shape is None:
        shape = shapes[tags] = _Shape(tags)
    return shape


class _Shape:
    """What a level's tags alone say: where its private creators are, and each tag's index. One object
    per tag list (`_shape`), so tables key by it, hashed and compared by identity, not by a hundred tags."""

    __slots__ = ("creators", "index")

    def __init__(self, tags: tuple[int, ...]) -> None:
        self.creators = tuple(i for i, tag in enumerate(tags) if is_private_creator(tag))
        self.index = {tag: i for i, tag in enumerate(tags)}
