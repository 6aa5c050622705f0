"""Layer 4: proof obligations on a compiled plan.

Each obligation is a function ``(plan, resolver) -> list[Finding]`` in its own module, run in the order
of `OBLIGATIONS`; every failure is reported, not just the first. Obligations reason about the plan
alone, statically: conditions are treated as unknown, so a guarantee holds for every dataset.
"""

from __future__ import annotations

from ..errors import ObligationError
from ..plan import Plan
from ..resolve import Resolver
from ..collector import collector_paused
from ._analysis import atoms, deciders, survivals
from ._finding import Finding
from .minimum import minimum
from .pixels import PixelCoverage, pixel_coverage
from .profile import basic_profile
from .waivers import waivers

OBLIGATIONS = (minimum, waivers)
PROFILES = {"basic-profile": basic_profile}

__all__ = ["Finding", "OBLIGATIONS", "PROFILES", "PixelCoverage", "atoms", "deciders", "pixel_coverage", "proved",
           "survivals", "validate"]


def validate(plan: Plan, profile: str | None = None) -> list[Finding]:
    """All findings (errors and warnings) of the standing obligations, plus a profile's if named.

    >>> from deidlang.compiler import compile_text
    >>> [f.message for f in validate(compile_text("remove vr DA, TM, DT, SQ, PN, LO, SH, ST, AS, CS"))]
    []
    """
    with collector_paused():
        resolver = Resolver(plan)
        findings = [f for check in OBLIGATIONS for f in check(plan, resolver)]
        if profile is not None:
            findings += PROFILES[profile](plan, resolver)
        origin = plan.origin
        findings += [Finding("warning", warning[0], origin(warning[1]), None, None, False, warning[2:] or None)
                     for warning in plan.warnings]
    return findings


def proved(plan: Plan, profile: str | None = None) -> Plan:
    """The plan, once every obligation holds; else `ObligationError` listing each that fails."""
    errors = [f for f in validate(plan, profile) if f.is_error]
    if errors:
        raise ObligationError(errors)
    return plan
