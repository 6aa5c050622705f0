"""`deidlang fmt [--check] FILES`: canonical layout; with --check, a diff and exit 1 if any differ."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import click

from ..fileio import write_atomically
from ..review.fmt import format_text


@click.command("fmt")
@click.option("--check", "check_only", is_flag=True, help="change nothing; print a diff and exit 1 if not formatted")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def command(check_only: bool, files: tuple[str, ...]) -> int:
    """Rewrite rule FILES in the canonical layout."""
    unformatted = 0
    for name in files:
        text = Path(name).read_text(encoding="utf-8")
        formatted = format_text(text, name)
        if formatted == text:
            continue
        unformatted += 1
        if check_only:
            click.echo("".join(difflib.unified_diff(text.splitlines(True), formatted.splitlines(True),
                                                    f"{name} (as is)", f"{name} (formatted)")), nl=False)
        else:
            _replace(Path(name), formatted)
            click.echo(f"formatted {name}", err=True)
    return 1 if check_only and unformatted else 0


def _replace(path: Path, text: str) -> None:
    """The file replaced atomically by its formatted text, with its permissions kept."""
    mode = path.stat().st_mode & 0o777

    def write(f) -> None:
        f.write(text.encode("utf-8"))
        os.fchmod(f.fileno(), mode)

    write_atomically(write, path)
