"""The files a run reads, and the check that nothing it writes lies on or inside an input."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from operator import attrgetter
from pathlib import Path

from ..errors import InputError

_BY_NAME = attrgetter("name")


def discover(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, Path]]:
    """(input root, file) for every file under the inputs, in a stable order; a file given by name
    is its own root. Links to folders are not followed. Raises `InputError` for a missing input."""
    for root, source, _ in discover_mirrored(inputs):
        yield root, source


def discover_mirrored(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, Path, tuple[str, ...]]]:
    """`discover`, with each file's `mirrored` name."""
    for root, source, relative, _ in files(inputs):
        yield root, Path(source), relative


def files(inputs: Iterable[str | Path]) -> Iterator[tuple[Path, str, tuple[str, ...], bool]]:
    """(input root, file path, its `mirrored` name, whether it is a symlink) for every file under the
    inputs, in `discover`'s order: a folder's files by name, then its folders by name. Read from each
    folder's listing (no call per file: a run asks it of every file). Raises `InputError` for a
    missing input."""
    roots = [Path(p) for p in inputs]
    for root in roots:
        if not os.path.lexists(root) or not root.exists():
            raise InputError(f"no such file or folder `{root}`")
    for root in roots:
        if not root.is_dir():
            yield root, str(root), (root.name,), root.is_symlink()
            continue
        folders = [(str(root), ())]
        while folders:
            folder, under = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=_BY_NAME)
            except OSError:  # unreadable, or gone since it was listed
                continue
            inner = []
            for entry in entries:
                if _is_folder(entry):
                    if not entry.is_symlink():  # links to folders are not followed
                        inner.append((entry.path, (*under, entry.name)))
                else:
                    yield root, entry.path, (*under, entry.name), entry.is_symlink()
            folders.extend(reversed(inner))


def _is_folder(entry: os.DirEntry) -> bool:
    """Whether a listed entry is a folder, or a link to one."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def mirrored(root: Path, source: Path) -> tuple[str, ...]:
    """Where ``--layout mirror`` puts a file: its path under its input folder (a file given by name:
    its name)."""
    return (source.name,) if root == source else source.relative_to(root).parts


def plan_outputs(inputs: Iterable[str | Path], outdir: str | Path) -> Iterator[tuple[Path, Path]]:
    """(source, destination) for every file under the inputs, mirrored under ``outdir`` (the
    ``mirror`` layout). Raises `InputError` at once (not when iterated) for a missing input or an
    output folder that overlaps an input."""
    out = Path(outdir).resolve()
    roots = [Path(p) for p in inputs]
    check_apart(roots, {"output folder": out})
    return ((source, out.joinpath(*mirrored(root, source))) for root, source in discover(roots))


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (both resolved)."""
    return path == folder or folder in path.parents


def check_apart(roots: list[Path], places: dict[str, Path]) -> None:
    """Refuse (`InputError`) when a place that will be written (resolved) lies on or inside an
    input, or holds one; every input must exist."""
    for root in roots:
        if not os.path.lexists(root) or not root.exists():
            raise InputError(f"no such file or folder `{root}`")
        real = root.resolve()
        for what, place in places.items():
            if inside(place, real) and (real.is_dir() or place == real):
                raise InputError(f"the {what} `{place}` is inside the input `{root}`", None,
                                 f"choose an {what} outside every input: the input is never written to")
            if inside(real, place):
                raise InputError(f"the input `{root}` is inside the {what} `{place}`", None,
                                 f"choose an {what} that holds no input: the input is never written to")
