"""Value transforms of the actions that compute a new value: dummy, hash, uid, shift-date (clean: text.py).

Keyed transforms use HMAC-SHA256 with a purpose label, so the same key never gives related outputs
for different purposes, and equal inputs give equal outputs in every file, run and process. A value
a transform cannot handle raises `ValueError`; the engine then removes the element (fail-closed).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import sys
from collections.abc import Callable

#: Dummy values that are valid for their VR (PS3.5 6.2) and hold nothing about anybody.
_DUMMY_TEXT = {"DA": "19000101", "DT": "19000101000000", "TM": "000000", "AS": "000D", "UI": "2.25.0",
               "DS": "0", "IS": "0", "UR": ""}
_NUMERIC = frozenset("US SS UL SL FL FD SV UV AT".split())
_BINARY = frozenset("OB OW OF OD OL OV UN".split())
HASH_LENGTH = 16


def keyed(key: bytes, purpose: str, text: str) -> bytes:
    """HMAC-SHA256 of ``purpose`` and ``text`` under ``key``. Every new UID of a run comes through here:
    the HMAC state after the key is made once (`_keyed_state`) and copied, a third of the cost of a new one."""
    mac = _keyed_state(key).copy()
    mac.update(purpose.encode() + b"\0" + text.encode("utf-8", "surrogateescape"))
    return mac.digest()


@functools.lru_cache(maxsize=4)
def _keyed_state(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 that has taken ``key`` and nothing else (a run uses one key)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def dummy(vr: str):
    """A constant value valid for the VR: a fixed date, zero, empty bytes, or ``ANONYMOUS``."""
    if vr in _DUMMY_TEXT:
        return _DUMMY_TEXT[vr]
    if vr in _NUMERIC:
        return 0
    if vr in _BINARY:
        return b""
    return "ANONYMOUS"


def is_multi(value) -> bool:
    """Whether a decoded value is several (a list, or pydicom's `MultiValue`: none can exist before
    pydicom is imported, so this never imports it)."""
    if isinstance(value, (list, tuple)):
        return True
    multival = sys.modules.get("pydicom.multival")
    return multival is not None and isinstance(value, multival.MultiValue)


def per_value(value, transform: Callable[[str], str]):
    """Apply a text transform to each value of a possibly multi-valued element."""
    if is_multi(value):
        return [transform(str(v)) for v in value]
    return transform(str(value))


def as_texts(value) -> list[str]:
    """Every value of an element as text (none for an empty one)."""
    if value is None or value == "":
        return []
    if is_multi(value):
        return [str(v) for v in value]
    return [str(value)]


def hash_text(key: bytes, text: str) -> str:
    """Keyed, deterministic, 16 upper-case hex digits: valid for every text VR's length and charset."""
    text = text.strip()
    return keyed(key, "hash", text).hex().upper()[:HASH_LENGTH] if text else ""


def new_uid(key: bytes, uid: str) -> str:
    """Keyed UID re-mapping under the 2.25 root (PS3.5 B.2): at most 44 characters, no leading zero."""
    uid = uid.strip().rstrip("\0")
    if not uid:
        return ""
    number = int.from_bytes(keyed(key, "uid", uid)[:16], "big")
    return f"2.25.{number or 1}"


def pseudonym(key: bytes, text: str, prefix: str, length: int) -> str:
    """``prefix`` + ``length`` characters of base32 (A-Z, 2-7) of a keyed HMAC: valid for every
    text VR, a person name included (as a family name), and the same for the same value and key."""
    text = text.strip()
    if not text:
        return ""
    code = base64.b32encode(keyed(key, "pseudonym", text)).decode().rstrip("=")
    return prefix + code[:length]


def round_age(text: str, years: int) -> str:
    """An age string (AS) in whole years rounded down to a multiple of ``years``: 047Y -> 045Y."""
    match = re.fullmatch(r"(\d{3})([DWMY])", text.strip())
    if not match:
        raise ValueError("not an age string")
    n = int(match.group(1))
    whole = {"D": n // 365, "W": n // 52, "M": n // 12, "Y": n}[match.group(2)]
    return f"{whole - whole % years:03d}Y"


def truncate_date(text: str, vr: str, unit: str) -> str:
    """A date cut to its year or month: DA 19470317 -> 19470101 (year), 19470301 (month); DT keeps
    the shorter form the VR allows (1947, 194703)."""
    text = text.strip()
    if not re.match(r"\d{8}", text) or vr == "DA" and len(text) != 8:
        raise ValueError("not a full date")
    keep = 4 if unit == "year" else 6
    return text[:keep] + ("0101"[keep - 4:] if vr == "DA" else "")


def patient_shift(key: bytes, patient_id: str, within: int) -> int:
    """A per-patient offset in [-within, -1] or [1, within] days, the same in every file and run."""
    n = int.from_bytes(keyed(key, "date-shift", patient_id.strip())[:8], "big") % (2 * within)
    return n - within if n < within else n - within + 1


def shift_date(text: str, vr: str, days: int) -> str:
    """Shift a DA or the date part of a DT by whole days; time, fraction and offset are unchanged."""
    text = text.strip()
    if not text:
        return text
    if vr == "DA" and not re.fullmatch(r"\d{8}", text) or vr == "DT" and not re.match(r"\d{8}", text):
        raise ValueError("not a full date")
    shifted = dt.datetime.strptime(text[:8], "%Y%m%d").date() + dt.timedelta(days=days)
    if not 1 <= shifted.year <= 9999:
        raise ValueError("shifted date out of range")
    return shifted.strftime("%Y%m%d").zfill(8) + text[8:]
