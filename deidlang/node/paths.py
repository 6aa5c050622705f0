"""Where a received instance may be written: paths made only of valid UIDs, always under the store.

A UID comes from the sender (with `retain-uids` it is the original); used as a folder name it could
be ``/abs/path`` or ``..``. The file never votes on where it is written: a UID that is not digits and
dots (at most 64 characters, PS3.5 9.1) refuses the instance, and the resolved path is checked to be
inside the store whatever the name.
"""

from __future__ import annotations

import re
from pathlib import Path

_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def is_valid_uid(value: object) -> bool:
    """Digits and dots, components without leading zeros, at most 64 characters."""
    text = str(value) if value is not None else ""
    return 0 < len(text) <= 64 and _UID.fullmatch(text) is not None


class UnsafePath(ValueError):
    """A UID that cannot name a file; the message says which attribute, never its value."""


def instance_path(root: Path, *uids: tuple[str, object]) -> Path:
    """``root/uid/uid/.../last.dcm`` for ``(attribute name, value)`` pairs, or UnsafePath."""
    parts = []
    for name, value in uids:
        if not is_valid_uid(value):
            raise UnsafePath(f"{name} is not a valid UID (digits and dots, at most 64 characters)")
        parts.append(str(value))
    parts[-1] += ".dcm"
    base = root.resolve()
    target = base.joinpath(*parts)
    if not target.resolve().is_relative_to(base):
        raise UnsafePath("the instance's path would leave the store")
    return target
