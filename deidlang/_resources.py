"""Where the shipped files live: inside the installed wheel, or at the top of a source checkout;
and which rule file a name or path means (here, not in the compiler, so that a run whose plan is
cached finds its rule file without loading the compiler).

The wheel carries ``grammar/`` and ``rulesets/`` inside the package (see pyproject's force-include);
a source checkout (tests, editable installs) keeps them at the repository's top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

#: Folders (separated by the system's path separator) whose rule files any rule file may include.
INCLUDE_PATH_ENV = "DEIDLANG_INCLUDE_PATH"


def shipped_dir(name: str) -> Path:
    """The folder ``name`` (``grammar`` or ``rulesets``) as installed, else as checked out."""
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def data_file(name: str) -> Path:
    """A reference table shipped inside the package (``deidlang/data``)."""
    return _PACKAGE / "data" / name


def read_table(name: str) -> tuple[list[str], list[str]]:
    """A reference table shipped inside the package: its column names and its rows as lines of text.
    The tables are tab-separated, with ``#`` comment lines before the header and no field quoted, so a
    tab splits a row (where `csv` would parse quotes, and its import costs a run's start a millisecond)."""
    lines = data_file(name).read_text(encoding="utf-8").rstrip("\n").split("\n")
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return lines[header].split("\t"), lines[header + 1:]


def read_rows(name: str) -> list[dict[str, str]]:
    """A shipped table's rows (`read_table`), each as a dict by column name."""
    columns, lines = read_table(name)
    return [dict(zip(columns, line.split("\t"))) for line in lines]


def shipped_rulesets() -> list[str]:
    return sorted(p.stem for p in shipped_dir("rulesets").glob("*.deid"))


def resolve_ruleset(name_or_path: str | Path, relative_to: Path | None = None) -> Path | None:
    """A shipped ruleset by name (``basic-profile``), else a path (relative to the including file)."""
    text = str(name_or_path)
    if isinstance(name_or_path, str) and "/" not in text and not text.endswith(".deid"):
        shipped = shipped_dir("rulesets") / f"{text}.deid"
        return shipped if shipped.is_file() else None
    path = Path(text)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    try:
        return path if path.is_file() else None
    except OSError:  # a name too long or otherwise impossible is simply not a file
        return None
