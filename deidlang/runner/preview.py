"""A dry run of one file: every element decided as `run` would, nothing written, no value shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..engine import Decision, Key, engine_for
from ..errors import Rejected
from ..fileio import Input, NotRegular
from ..plan import Plan
from .reading import read_dataset
from .reasons import os_reason, reason_for
from ..quiet import quiet


@dataclass
class Preview:
    """What a run would do to one file (a dry run): nothing is written, no value is shown."""

    source: str
    status: str  # written | rejected | failed | skipped
    reason: str = ""
    decisions: list[Decision] = field(default_factory=list)
    pixel_rules: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the engine noted (never a value)


def preview(source: str | Path, plan: Plan, key: Key | bytes) -> Preview:
    """Decide every element of one file as `run` would, without writing or decoding pixels. Never
    raises for a bad file."""
    with quiet():
        try:
            ds = read_dataset(Input(source).data)
        except NotRegular as err:
            return Preview(str(source), "skipped", f"not read: {err.strerror}")
        except OSError as err:
            return Preview(str(source), "failed", f"cannot read: {os_reason(err)}")
        except Exception as err:
            return Preview(str(source), "failed", reason_for(err))
        trace: list[Decision] = []
        try:
            outcome = engine_for(plan).apply(ds, Key.of(key), trace=trace)
        except Rejected as err:
            return Preview(str(source), "rejected", err.message)
        except Exception as err:
            return Preview(str(source), "failed", reason_for(err), trace)
        return Preview(str(source), "written", "", trace, outcome.pixel_rules, outcome.notes)
