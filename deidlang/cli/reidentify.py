"""`deidlang reidentify` and `deidlang lookup`: the map, read by those allowed to hold it.

Both print one line per match, ``query<TAB>answer<TAB>kind``; a value not in the map is named on
standard error and the exit code is 1. With ``--key-file`` the map must have been made with that key,
and every answer is recomputed from the key before it is printed.
"""

from __future__ import annotations

import os

import click

from ..runner import load_key
from ..store import PseudonymMap

_MAP = click.option("--map", "map_path", required=True, type=click.Path(dir_okay=False), help="the map of a run")
_KEY = click.option("--key-file", type=click.Path(dir_okay=False), help="verify the map with this key")


def _answer(map_path: str, key_file: str | None, queries: tuple[str, ...], forward: bool) -> int:
    key = load_key(key_file, os.environ) if key_file else None
    store = PseudonymMap(map_path, key)
    missing = 0
    try:
        for query in queries:
            found = store.replacements(query) if forward else store.originals(query)
            if not found:
                missing += 1
                click.echo(f"`{query}`: not in the map", err=True)
            for kind, answer in found:
                click.echo(f"{query}\t{answer}\t{kind}")
    finally:
        store.close()
    return 1 if missing else 0


@click.command("reidentify")
@_MAP
@_KEY
@click.argument("pseudonyms", nargs=-1, required=True)
def reidentify(map_path: str, key_file: str | None, pseudonyms: tuple[str, ...]) -> int:
    """Print the original value behind each pseudonym, hash or new UID."""
    return _answer(map_path, key_file, pseudonyms, forward=False)


@click.command("lookup")
@_MAP
@_KEY
@click.argument("originals", nargs=-1, required=True)
def lookup(map_path: str, key_file: str | None, originals: tuple[str, ...]) -> int:
    """Print the pseudonyms, hashes or new UIDs given to each original value."""
    return _answer(map_path, key_file, originals, forward=True)
