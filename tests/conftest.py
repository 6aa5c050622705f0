"""Shared fixtures and hypothesis profiles.

HYPOTHESIS_PROFILE=ci (the default) keeps every property fast; HYPOTHESIS_PROFILE=thorough runs
thousands of examples per property (README, Tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = b"deidlang-test-key-0123456789abcdef"


@pytest.fixture(autouse=True, scope="session")
def _plan_cache(tmp_path_factory) -> None:
    """Compiled plans are cached in a folder of the test session, not the user's (`plancache`)."""
    os.environ["DEIDLANG_CACHE"] = str(tmp_path_factory.mktemp("plan-cache"))


@pytest.fixture
def key() -> bytes:
    return KEY
