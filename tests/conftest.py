"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest
import torch as th

from hyperbench.envs import TaskFamily, make_family


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    # Tests share 2 cores with other processes; one torch thread each is faster overall.
    th.set_num_threads(1)


@pytest.fixture(scope="session")
def point_family() -> TaskFamily:
    """Point-Robot with 20 train and 10 test goals on the unit half-circle."""
    return make_family("point-robot", seed=0, n_train=20, n_test=10)
