"""Shared fixtures. Hypothesis runs derandomized everywhere in this suite (CI is deterministic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from authspec.model import Executable, load
from authspec.model.ir import System

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

settings.register_profile(
    "authspec-ci", derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("authspec-dev", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.load_profile(os.environ.get("AUTHSPEC_HYPOTHESIS_PROFILE", "authspec-ci"))


@pytest.fixture(scope="session")
def system() -> System:
    return load(SPECS)


@pytest.fixture
def model(system: System) -> Executable:
    return Executable(system, check_invariants=True)
