"""Where the shipped files live: inside the installed wheel, or at the top of a source checkout.

The wheel carries ``grammar/`` and ``rulesets/`` inside the package (see pyproject's force-include);
a source checkout (tests, editable installs) keeps them at the repository's top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """The folder ``name`` (``grammar`` or ``rulesets``) as installed, else as checked out."""
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def data_file(name: str) -> Path:
    """A reference table shipped inside the package (``deidlang/data``)."""
    return _PACKAGE / "data" / name
