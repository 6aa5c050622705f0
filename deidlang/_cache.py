"""The folder deidlang keeps what it derives between runs in (compiled plans, `plancache`; the int8
text detector, `ocrmodel`), and the test an entry there must pass to be used.

``DEIDLANG_CACHE=off`` turns it off; ``DEIDLANG_CACHE=DIR`` puts it in DIR; by default it is
``$XDG_CACHE_HOME/deidlang`` (``~/.cache/deidlang``), and there is none without a home folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def folder() -> Path | None:
    """The cache folder, or None when there is none."""
    setting = os.environ.get("DEIDLANG_CACHE", "")
    if setting.lower() in ("off", "0", "no"):
        return None
    if setting:
        return Path(setting)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "deidlang") if os.path.isabs(base) else None  # no home: no cache (never the working folder)


def private(path: Path) -> bool:
    """Owned by this user and writable by no one else (always true where there are no such modes): an
    entry another user could have written is never used, since a planted one could let identifying
    data through."""
    if not hasattr(os, "getuid"):
        return True
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & 0o022
