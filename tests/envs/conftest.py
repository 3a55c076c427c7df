"""Fixtures of the task-family tests: families are built once per session (Meta-World is slow to build)."""

from __future__ import annotations

import pytest
from envs_helpers import family

import hyperbench.envs as henvs


@pytest.fixture(scope="session")
def ml1() -> henvs.TaskFamily:
    """Meta-World ML1 pick-place, seed 0."""
    return family("ml1")
