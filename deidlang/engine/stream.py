"""The streaming fast path: a plan applied to the encoded bytes of a Part 10 file.

The reference engine (`dataset.py`) decodes every element into a pydicom Dataset and encodes it all
again. This path walks the element stream instead: an element the plan keeps is copied byte for byte
(pixel data included, encapsulated or not), a removed one is skipped, and only the elements an action
changes are decoded and re-encoded, with the reference engine's own code, so both give the same
result (`tests/test_stream.py` checks it on generated datasets and plans). Conditions read only the
few top-level values they name.

Values that do not depend on the old one (empty, dummy, replace) are encoded once per element kind
and reused, without decoding the old value; so where the reference engine removes an element whose
value cannot be decoded, this path writes the constant instead (nothing of the value survives either
way).

What it does not handle it refuses with `Unsupported`, and the runner uses the reference engine for
that file (counted): no preamble, a deflated or big-endian transfer syntax, an active pixel rule, a
plan with `clean`, undefined-length UN elements, and anything malformed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pydicom.charset import convert_encodings
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import UID

from ..dictionary import ALL_VRS, format_tag
from ..plan import Plan, is_private, is_private_creator
from ..validate import atoms
from .dataset import _CONTRACT, _IDENTIFYING, Engine, Outcome, _Context, _file_meta, engine_for
from .keys import Key

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_CHARSET, _SOP_CLASS, _SOP_INSTANCE, _PIXEL_REP = 0x00080005, 0x00080016, 0x00080018, 0x00280103


# Actions whose new value is independent of the old one, and the encoded results already made.
_CONSTANT = frozenset({"empty", "dummy", "dummy-date", "replace"})
_CONSTANT_CACHE: dict[tuple, bytes] = {}


class Unsupported(Exception):
    """This file needs the reference engine; the message says why (no values in it)."""


@dataclass(frozen=True)
class _Element:
    tag: int
    vr: str
    start: int  # of the header
    value: int  # start of the value
    length: int  # of the value, or _UNDEFINED
    end: int  # of the whole element


def supports(plan: Plan) -> str | None:
    """Why a plan as a whole needs the reference engine, or None."""
    if any(rule.action == "clean" for rule in plan.rules):
        return "the plan cleans text (its terms come from the whole dataset)"
    return None


def rewrite(data: bytes, plan: Plan, key: Key | bytes) -> tuple[bytes, Outcome]:
    """De-identified Part 10 bytes for the Part 10 ``data``, or `Unsupported`."""
    reason = supports(plan)
    if reason:
        raise Unsupported(reason)
    return _Rewriter(data, engine_for(plan), Key.of(key)).run()


class _Rewriter:
    def __init__(self, data: bytes, engine: Engine, key: Key) -> None:
        if len(data) < 132 or data[128:132] != b"DICM":
            raise Unsupported("no Part 10 preamble")
        self.data, self.engine, self.plan, self.key = data, engine, engine.plan, key
        meta_end, syntax = self._file_meta()
        uid = UID(syntax)
        if not uid.is_little_endian or uid.is_deflated:
            raise Unsupported(f"transfer syntax {uid.name}")
        self.syntax, self.implicit, self.body = syntax, uid.is_implicit_VR, meta_end
        self.pixel_rep = 0

    def _file_meta(self) -> tuple[int, str]:
        offset, syntax = 132, None
        while offset + 8 <= len(self.data) and struct.unpack_from("<H", self.data, offset)[0] == 0x0002:
            element = self._header(offset, implicit=False)
            if element.tag == 0x00020010:
                syntax = self.data[element.value:element.value + element.length].rstrip(b"\0 ").decode("ascii")
            offset = element.end
        if syntax is None:
            raise Unsupported("no transfer syntax in the file meta")
        return offset, syntax

    # ------------------------------------------------------------ reading the stream

    def _header(self, offset: int, implicit: bool | None = None) -> _Element:
        implicit = self.implicit if implicit is None else implicit
        data = self.data
        if offset + 8 > len(data):
            raise Unsupported("truncated element")
        group, elem = struct.unpack_from("<HH", data, offset)
        tag = group << 16 | elem
        if group == 0xFFFE:  # item or delimiter: no VR in any syntax
            (length,) = struct.unpack_from("<L", data, offset + 4)
            return _Element(tag, "", offset, offset + 8, length, offset + 8 + (0 if length == _UNDEFINED else length))
        if implicit:
            (length,) = struct.unpack_from("<L", data, offset + 4)
            vr, value = self._implicit_vr(tag, length), offset + 8
        else:
            raw_vr = data[offset + 4:offset + 6]
            vr = raw_vr.decode("ascii", "replace")
            if vr not in ALL_VRS:
                raise Unsupported("malformed VR")
            if raw_vr in _LONG_VRS:
                (length,) = struct.unpack_from("<L", data, offset + 8)
                value = offset + 12
            else:
                (length,) = struct.unpack_from("<H", data, offset + 6)
                value = offset + 8
        if length == _UNDEFINED:
            if vr == "UN" and not implicit:
                raise Unsupported("undefined-length UN element")
            end = self._undefined_end(value)
        else:
            end = value + length
        if end > len(data):
            raise Unsupported("an element runs past the end of the file")
        return _Element(tag, vr, offset, value, length, end)

    def _implicit_vr(self, tag: int, length: int) -> str:
        if is_private_creator(tag):
            return "LO"
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return "SQ" if length == _UNDEFINED else "UN"
        if " or " in vr:  # as pydicom settles them: pixel representation, else the first word
            if vr.startswith("US or SS"):
                return "SS" if self.pixel_rep == 1 else "US"
            return "OW" if vr == "OB or OW" else vr.split(" or ")[0]
        return vr

    def _undefined_end(self, offset: int) -> int:
        """The end of an undefined-length sequence or encapsulated pixel data: its delimiter."""
        while True:
            item = self._header(offset)
            if item.tag == _SEQ_END:
                return item.value
            if item.tag != _ITEM:
                raise Unsupported("malformed sequence")
            offset = item.end if item.length != _UNDEFINED else self._item_end(item.value) + 8

    def _item_end(self, offset: int) -> int:
        """Where the delimiter of an undefined-length item starts."""
        while True:
            element = self._header(offset)
            if element.tag == _ITEM_END:
                return element.start
            offset = element.end

    def _elements(self, start: int, end: int) -> Iterator[_Element]:
        offset = start
        while offset < end:
            element = self._header(offset)
            if element.tag == _ITEM_END:
                return
            yield element
            offset = element.end

    def _items(self, element: _Element) -> Iterator[tuple[int, int]]:
        """(start, end) of the elements of each item of a sequence."""
        offset = element.value
        stop = element.end if element.length != _UNDEFINED else len(self.data)
        while offset < stop:
            item = self._header(offset)
            if item.tag == _SEQ_END:
                return
            if item.tag != _ITEM:
                raise Unsupported("malformed sequence item")
            if item.length == _UNDEFINED:
                end = self._item_end(item.value)
                yield item.value, end
                offset = end + 8  # past the item delimiter
            else:
                yield item.value, item.end
                offset = item.end

    def _decode(self, element: _Element, charset) -> DataElement:
        raw = RawDataElement(Tag(element.tag), element.vr, element.length,
                             self.data[element.value:element.end], element.value, self.implicit, True)
        return convert_raw_data_element(raw, encoding=charset)

    # ------------------------------------------------------------ writing

    def _encode(self, elem: DataElement, charset) -> bytes:
        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, self.implicit
        write_data_element(fp, elem, charset)
        return fp.getvalue()

    def _sequence(self, tag: int, items: list[bytes]) -> bytes:
        body = b"".join(struct.pack("<HHL", 0xFFFE, 0xE000, len(item)) + item for item in items)
        head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        head += struct.pack("<L", len(body)) if self.implicit else b"SQ\0\0" + struct.pack("<L", len(body))
        return head + body

    # ------------------------------------------------------------ the pass

    def run(self) -> tuple[bytes, Outcome]:
        top = list(self._elements(self.body, len(self.data)))
        original = self._prescan(top)
        charset = convert_encodings(original.get("SpecificCharacterSet") or "ISO_IR 6")  # as pydicom decodes
        truths = self.engine.admit(original)
        if any(r.condition is None or truths[r.condition] for r in self.plan.pixel_rules):
            raise Unsupported("a pixel rule applies")
        outcome = Outcome(Dataset())
        ctx = _Context(original, self.key, truths, outcome)
        self.sop = {}
        parts = self._level(top, (), ctx, charset)
        stamps = Dataset()
        self.engine.stamp(stamps, ctx)
        parts += [(int(e.tag), self._encode(e, charset)) for e in stamps]
        parts += [(_CHARSET, self._copy(e)) for e in top if e.tag == _CHARSET]  # always carried over
        parts.sort(key=lambda p: p[0])
        identity = Dataset()
        identity.SOPClassUID, identity.SOPInstanceUID = self.sop.get(_SOP_CLASS), self.sop.get(_SOP_INSTANCE)
        meta = DicomBytesIO()
        meta.is_little_endian, meta.is_implicit_VR = True, False
        write_file_meta_info(meta, _file_meta(identity, self.syntax))
        body = b"".join(p[1] for p in parts)
        return bytes(128) + b"DICM" + meta.getvalue() + body, outcome

    def _prescan(self, top: list[_Element]) -> Dataset:
        """The few top-level values conditions, keys and the output contract read."""
        wanted = {_CHARSET, _SOP_CLASS, _SOP_INSTANCE, _PIXEL_REP, *_IDENTIFYING}
        for cond in self.plan.conditions:
            wanted |= {atom[1] for atom in atoms(cond)}
        ds = Dataset()
        by_tag = {e.tag: e for e in top}
        if _PIXEL_REP in by_tag:
            self.pixel_rep = int.from_bytes(self.data[by_tag[_PIXEL_REP].value:by_tag[_PIXEL_REP].value + 2], "little")
        charset = convert_encodings("ISO_IR 6")
        if _CHARSET in by_tag:
            charset = convert_encodings(self._decode(by_tag[_CHARSET], charset).value or "ISO_IR 6")
        for element in top:
            if element.tag in wanted or element.vr == "PN":
                try:
                    ds[element.tag] = self._decode(element, charset) if element.vr != "SQ" else DataElement(
                        element.tag, "SQ", Sequence())
                except Exception:
                    continue  # undecodable: a condition reads it as absent, as the reference engine does
        return ds

    def _copy(self, element: _Element) -> bytes:
        return self.data[element.start:element.end]

    def _level(self, elements: list[_Element], position, ctx: _Context, charset) -> list[tuple[int, bytes]]:
        """One dataset level rewritten: (tag, encoded bytes) of what stays, in tag order."""
        creators = {}
        for element in elements:
            if is_private_creator(element.tag):
                try:
                    creators[(element.tag >> 16, element.tag & 0xFF)] = (
                        element, str(self._decode(element, charset).value).strip())
                except Exception:
                    ctx.outcome.notes.append(f"{format_tag(element.tag)}: private creator could not be decoded: block removed")
        out: list[tuple[int, bytes]] = []
        kept_blocks = set()
        for element in elements:
            tag = element.tag
            if tag & 0xFFFF == 0 or is_private_creator(tag) or (not position and tag in (*_CONTRACT, _CHARSET)):
                continue
            block = (tag >> 16, (tag >> 8) & 0xFF)
            creator = creators[block][1] if is_private(tag) and block in creators else None
            vr = element.vr
            if vr == "UN" and not is_private(tag):
                vr = self._known_vr(tag, vr)
            rule = self.engine.resolver.decide(tag, vr, creator, position, ctx.truths)
            encoded = self._decide(element, vr, rule, position, ctx, charset)
            if encoded is not None:
                out.append((tag, encoded))
                if is_private(tag):
                    kept_blocks.add(block)
        for block in kept_blocks:
            if block in creators:
                element = creators[block][0]
                out.append((element.tag, self._copy(element)))
        out.sort(key=lambda p: p[0])
        return out

    def _known_vr(self, tag: int, vr: str) -> str:
        try:
            known = dictionary_VR(tag)
        except KeyError:
            return vr
        return known if " or " not in known else vr

    def _decide(self, element: _Element, vr: str, rule, position, ctx: _Context, charset) -> bytes | None:
        action = self.engine.verdict(element.tag, vr, rule, ctx)
        if action is None:
            return None
        if vr == "SQ":
            if action in ("keep", "clean"):
                items = []
                for index, (start, end) in enumerate(self._items(element)):
                    inner = self._level(list(self._elements(start, end)), (*position, (element.tag, index)), ctx, charset)
                    items.append(b"".join(p[1] for p in inner))
                return self._sequence(element.tag, items)
            return self._sequence(element.tag, [])
        top = not position  # the file meta follows the top level's SOP Class and Instance UIDs only
        if action == "keep":
            if top and element.tag in (_SOP_CLASS, _SOP_INSTANCE):
                self.sop[element.tag] = self._value_text(element, charset)
            return self._copy(element)
        if action in _CONSTANT and not (top and element.tag in (_SOP_CLASS, _SOP_INSTANCE)):
            # the new value does not depend on the old one: encode it once per element kind
            key = (self.plan.plan_hash, element.tag, vr, action, rule.argument if rule else None, self.implicit,
                   tuple(charset))
            encoded = _CONSTANT_CACHE.get(key)
            if encoded is None:
                new = self.engine.transform(DataElement(element.tag, vr, None), action, rule, ctx)
                encoded = _CONSTANT_CACHE[key] = self._encode(new, charset)
            return encoded
        try:
            elem = self._decode(element, charset)
        except Exception:
            ctx.outcome.notes.append(f"{format_tag(element.tag)}: value could not be decoded: removed")
            return None
        new = self.engine.transform(elem, action, rule, ctx)
        if new is None:
            return None
        if top and element.tag in (_SOP_CLASS, _SOP_INSTANCE):
            self.sop[element.tag] = str(new.value)
        return self._encode(new, charset)

    def _value_text(self, element: _Element, charset) -> str:
        return str(self._decode(element, charset).value)
