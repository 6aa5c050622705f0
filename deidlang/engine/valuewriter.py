"""The fast path's values, one element at a time (`levels` walks the levels around them): an element's
old value read as the reference engine reads it, and what an action makes of it encoded with the
reference engine's own transform (a new UID without it, as it is most of a file's work), remembered by
the input bytes so that a study's values are computed once.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import TYPE_CHECKING

from .. import values
from ..dictionary import format_tag
from ..plan import PlanRule
from . import plain
from .admission import top_text
from .context import Context, Outcome
from .dataset import Engine
from .keys import Key
from .private import creator_name
from .reader import ElementReader, _Element

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement

_RESULT_VALUE_LIMIT = 1024  # longer inputs of keyed actions are not remembered


class ValueWriter(ElementReader):
    """The per-element half of the rewriter (`levels.LevelWriter` is the per-level half, and lists what
    the file's half sets before the first level)."""

    engine: Engine
    key: Key
    ctx: Context
    outcome: Outcome
    charset: list[str]

    def _encode(self, elem: DataElement) -> bytes:
        """An element pydicom made, encoded by pydicom (imported by then)."""
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_data_element

        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, self.implicit
        write_data_element(fp, elem, self.charset)
        return fp.getvalue()

    def _text(self, element: _Element) -> str | None:
        """An element's value as text, as the reference engine reads it for a 1C/2C condition
        (`admission.top_text`): decoded here when plain, else by pydicom."""
        try:
            return plain.text(plain.decode(element[1], self.data[element[3]:element[5]], self.charset))
        except plain.NotPlain:
            pass
        from pydicom.dataset import Dataset

        item = Dataset()
        try:
            item.add(self._decode(element))
        except Exception:
            return "?"
        return top_text(item, element[0])

    def _compute(self, element: _Element, vr: str, action: str, rule: PlanRule | None,
                 position=()) -> tuple[bytes | None, str]:
        """The encoded result of an action that reads the old value, and the new value as text;
        remembered by the input bytes (and the patient, for per-patient date shifts, and the sequences
        the element is in, which decide the IOD's substitute where the action cannot handle the value, with
        the modules in use: ``results`` is a table per key, context and modules)."""
        raw = self.data[element[3]:element[5]]
        per_patient = rule is not None and rule.argument is not None and rule.argument.per_patient
        key = (element[0], element[1], vr, action, rule.order if rule else None, raw,
               self.ctx.patient_id if per_patient else None, tuple([s for s, _ in position]))
        result = self.results.get(key)
        if result is None:
            result = self._transform(element, action, rule, position)
            if len(raw) <= _RESULT_VALUE_LIMIT:
                self.results[key] = result
        encoded, text, pairs, notes = result
        if pairs:
            self.outcome.pairs.update(pairs)
        if notes:
            self.outcome.notes.extend(notes)
        return encoded, text

    def _transform(self, element: _Element, action: str, rule: PlanRule | None, position=()) -> tuple:
        if action == "uid" and element[1] == "UI":
            result = self._new_uid(element)
            if result is not None:
                return result
        tag = element[0]
        if action == "keep" and isinstance(text := self._plain_text(element), str):
            return None, text, (), ()
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

    def _creator(self, element: _Element) -> str | None:
        """A private creator's name as the reference engine reads it (`private.creator_name`), None
        when undecodable; remembered by its bytes."""
        table = self.creators
        raw = self.data[element[3]:element[5]]
        if raw not in table:
            text = self._plain_text(element)
            table[raw] = text.strip() if text is not None else creator_name(lambda: self._decode(element).value)
        return table[raw]

    def _plain_text(self, element: _Element) -> str | None:
        """A single plain value (`plain.decode`) as pydicom's decoded value reads as `str`; None for
        one that is not plain or is several."""
        try:
            value = plain.decode(element[1], self.data[element[3]:element[5]], self.charset)
        except plain.NotPlain:
            return None
        return value if isinstance(value, str) else None
