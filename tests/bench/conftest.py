"""Fixtures for tests/bench: tiny suites, synthetic records, a stub reference table, the test plugin."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the test plugin must import by name, in this process and in workers
    sys.path.insert(0, str(HERE))

import hb_bench_plugin  # noqa: E402,F401  (registers the test methods and environments)
from hb_bench_helpers import tiny_suite_dict  # noqa: E402

from hyperbench.bench.suite import Suite, parse_suite  # noqa: E402


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for `hyperbench` subprocesses: the test plugin importable, one thread, no progress noise."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture
def tiny_suite() -> Callable[..., Suite]:
    """Build a validated tiny suite with overrides."""

    def build(**overrides: Any) -> Suite:
        return parse_suite(tiny_suite_dict(**overrides), source="<test>")

    return build
