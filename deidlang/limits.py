"""Limits on what one input may cost, so that a small hostile file cannot take a worker's memory or
stack: how far a deflated data set may inflate, how large a decoded pixel buffer may be, and how deep
sequences may nest. Each can be set through the environment (the command line sets these for its
workers), in MiB or levels.
"""

from __future__ import annotations

import os

INFLATED_ENV, PIXELS_ENV, DEPTH_ENV = "DEIDLANG_MAX_INFLATED_MIB", "DEIDLANG_MAX_PIXELS_MIB", "DEIDLANG_MAX_DEPTH"
_DEFAULTS = {INFLATED_ENV: 1024, PIXELS_ENV: 2048, DEPTH_ENV: 32}


def _setting(name: str) -> int:
    """The setting, or its default when unset, not a number or not positive. Asked once per file: an unset
    one is answered without raising (a caught ValueError costs several microseconds)."""
    raw = os.environ.get(name)
    if not raw:
        return _DEFAULTS[name]
    try:
        value = int(raw)
    except ValueError:
        return _DEFAULTS[name]
    return value if value > 0 else _DEFAULTS[name]


def inflated() -> int:
    """Bytes a deflated data set may inflate to."""
    return _setting(INFLATED_ENV) << 20


def pixels() -> int:
    """Bytes a decoded pixel buffer may take."""
    return _setting(PIXELS_ENV) << 20


def depth() -> int:
    """Levels of sequences nested in one another."""
    return _setting(DEPTH_ENV)
