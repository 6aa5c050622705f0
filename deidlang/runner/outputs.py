"""Where an output goes: by its new UIDs (``uid`` layout) or its input's path (``mirror``), written
through an `OutputTree` that never follows a link."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError
from ..fileio import SHARED_MODE, OutputTree

LAYOUTS = ("uid", "mirror")

#: Writes an output's bytes somewhere; returns where, its size and digest (`fileio.DIGEST`).
Place = Callable[[Iterable[bytes | memoryview], object], tuple[str, tuple[int, str]]]

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_NAMES = ((0x0020000D, "StudyInstanceUID"), (0x0020000E, "SeriesInstanceUID"), (0x00080018, "SOPInstanceUID"))


def uid_path(outcome) -> tuple[str, str, str]:
    """``<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`` as the output has them; each
    must be a valid UID (digits and dots, at most 64), or no path is made of it."""
    names = []
    for tag, keyword in _NAMES:
        if outcome.dataset is not None:
            value = outcome.dataset.get(tag)
            value = str(value.value) if value is not None and value.VR == "UI" else None
        else:
            value = outcome.uids.get(tag)
        if not value or len(value) > 64 or not _UID.fullmatch(value):
            raise EngineError(f"the output's {keyword} is {'missing' if not value else 'not a valid UID'}: the "
                              "output is named by it", None, "de-identify it with a uid rule, or use --layout mirror")
        names.append(value)
    return names[0], names[1], names[2] + ".dcm"


@dataclass(frozen=True)
class Target:
    """Where a run's outputs go, as workers (local or Dask) need it: the delivered folder, the
    folder for temporary files, and the layout."""

    root: str
    temporary: str | None
    layout: str
    mode: int = SHARED_MODE


#: One open tree per target in this process (its folder descriptors are reused file after file).
_TREES: dict[Target, OutputTree] = {}


def placer(target: Target, relative: tuple[str, ...]) -> Place:
    """Where an output goes: its mirrored name (``relative``) or its UIDs, by the target's layout."""
    tree = _TREES.get(target)
    if tree is None:
        tree = _TREES[target] = OutputTree(Path(target.root), Path(target.temporary) if target.temporary else None,
                                             target.mode)

    def place(data, outcome):
        mirror = target.layout == "mirror"
        names = relative if mirror else uid_path(outcome)
        # mirrored names are claimed once per run by the main process; uid names are never replaced
        written = tree.place(data, names, replace=mirror)
        return os.path.join(target.root, *names), written

    return place


def forget(target: Target | None = None) -> None:
    """Drop the open tree of ``target`` (at the end of a run), or every tree (in a new worker: the
    main process's descriptors are not its to use)."""
    if target is None:
        _TREES.clear()
    else:
        _TREES.pop(target, None)
