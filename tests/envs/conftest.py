"""Fixtures of the task-family tests: families are built once per session (Meta-World is slow to build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from envs_helpers import family

import hyperbench.envs as henvs


@pytest.fixture(scope="session")
def ml1() -> henvs.TaskFamily:
    """Meta-World ML1 pick-place, seed 0."""
    return family("ml1")


_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``@pytest.mark.slow`` tests of this directory out of the default run (select them with ``-m slow``).

    A conftest hook sees every collected item, so this only touches items under ``tests/envs``.
    """
    if config.getoption("markexpr"):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords and _HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)
