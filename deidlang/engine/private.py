"""Private blocks, one implementation for both engines (DESIGN.md, output contract).

A private element (odd group) belongs to the block its creator (gggg,00xx) reserves, and is decided by
that creator's name and its offset. Which elements are creators, which block an element is in, how a
creator's name is read (its decoded value, stripped), what happens when it cannot be decoded (the
block loses its creator, noted: its elements are decided with none), and which creators are written
(exactly those of blocks with a kept element) are settled here. The reference engine hands `Blocks`
decoded elements, the fast path byte ranges of the input (its handles); the logic is the same.

>>> blocks = Blocks([(0x00090010, "creator element", "ACME 1.0")], notes=[])
>>> blocks.creator(0x00091001), blocks.creator(0x00091101)
('ACME 1.0', None)
>>> blocks.keep(0x00091001); blocks.kept_creators()
['creator element']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from ..dictionary import format_tag
from ..plan import is_private, is_private_creator

Handle = TypeVar("Handle")

__all__ = ["Blocks", "creator_name", "is_private_creator"]


def creator_name(read: Callable[[], object]) -> str | None:
    """A creator's name as both engines compare it: ``read()`` (its decoded value) as text, stripped;
    None when it cannot be decoded."""
    try:
        return str(read()).strip()
    except Exception:
        return None


def _block(tag: int) -> tuple[int, int]:
    """(group, reserved byte) of a private creator or of an element of its block."""
    return tag >> 16, (tag & 0xFF) if is_private_creator(tag) else (tag >> 8) & 0xFF


class Blocks(Generic[Handle]):
    """The private blocks of one dataset level: built from its creators as (tag, handle, name or None
    when undecodable), told which elements are kept, it gives the creators to write."""

    def __init__(self, creators: Iterable[tuple[int, Handle, str | None]], notes: list[str]) -> None:
        self._creators: dict[tuple[int, int], tuple[Handle, str]] = {}
        self._kept: set[tuple[int, int]] = set()
        for tag, handle, name in creators:
            if name is None:
                notes.append(f"{format_tag(tag)}: private creator could not be decoded: block removed")
            else:
                self._creators[_block(tag)] = (handle, name)

    def creator(self, tag: int) -> str | None:
        """The creator's name of a private element's block; None for a public element or no creator."""
        if not is_private(tag):
            return None
        found = self._creators.get(_block(tag))
        return found[1] if found else None

    def keep(self, tag: int) -> None:
        """An element of this level is written: its block's creator is written too."""
        if is_private(tag):
            self._kept.add(_block(tag))

    def kept_creators(self) -> list[Handle]:
        """The handles of the creators to write, in tag order."""
        return [self._creators[block][0] for block in sorted(self._kept) if block in self._creators]
