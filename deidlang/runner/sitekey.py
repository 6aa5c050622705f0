"""The key of a run: a site key from a file or the environment, else a random one-run key; and the
features that need a site key."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from ..engine import Key
from ..engine.keys import MIN_KEY_BYTES
from ..errors import InputError
from ..fileio import kind_of

KEY_ENV = "DEIDLANG_KEY"


def load_key(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Key:
    """The site key from a key file, else from the environment variable ``DEIDLANG_KEY``, else a
    random key for this run only (anonymisation).

    A key file that group or others can read is refused: the key is what protects re-identification.
    """
    if path is None:
        value = (environ or {}).get(KEY_ENV)
        if value is None:
            return Key.random()
        if len(value.encode()) < MIN_KEY_BYTES:
            raise InputError(f"{KEY_ENV} holds fewer than {MIN_KEY_BYTES} bytes", None, "use a long random key")
        return Key(value.encode())
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"the key file `{path}` is {kind_of(mode)}, not a regular file")
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read the key file `{path}`: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"the key file `{path}` can be read by other users", None,
                         f"make it private: chmod 600 {path}")
    key = data.strip()
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"the key file `{path}` holds fewer than {MIN_KEY_BYTES} bytes", None, "use a long random key")
    return Key(key)


def require_site_key(key: Key, map_path: str | Path | None, resume: bool) -> None:
    """A map and ``resume`` need a persistent key; raises `InputError` before anything is said or done."""
    if map_path is not None and not key.persistent:
        raise InputError("a map needs a site key (--key-file or DEIDLANG_KEY)", None,
                         "without one the run is anonymisation: there is nothing to map back")
    if resume and not key.persistent:
        raise InputError("--resume needs a site key (--key-file or DEIDLANG_KEY)", None,
                         "a one-run key gives other UIDs each run: one study would end up with two")
