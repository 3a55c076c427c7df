"""The MAML family runs through the suite runner: registration, one run, a crash and its resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hyperbench.bench.registry import get_method, list_methods, register_method, unregister_method
from hyperbench.bench.runner import RunOptions, run_one
from hyperbench.bench.suite import parse_suite
from hyperbench.meta import MAML
from hyperbench.meta.registry import METHODS, register_all


@pytest.fixture(scope="module", autouse=True)
def _registered() -> Iterator[None]:
    """Register the methods for this module only (unless the bench registry already does it)."""
    added = [] if set(METHODS) <= set(list_methods()) else register_all(register_method, replace=True)
    yield
    for name in added:
        unregister_method(name)


def _suite(method: str) -> object:
    return parse_suite(
        {
            "name": "maml-tiny",
            "version": 1,
            "baseline": method,
            "seeds": 1,
            "budget": 400,
            "eval": {"frequency": 160, "episodes": 2, "max_tasks": 2},
            "config": {"meta_batch_size": 2, "episodes_per_task": 2, "hidden": [16], "hyper_primary": "lite"},
            "methods": [method],
            "tasks": [{"name": "point-robot", "env_kwargs": {"n_train": 6, "n_test": 3}}],
        },
        source="<test>",
    )


def test_methods_are_registered_with_published_defaults() -> None:
    assert {"maml", "context-maml", "hyper-maml"} <= set(list_methods())
    spec = get_method("hyper-maml")
    assert spec.kind == "meta" and spec.needs_family
    assert spec.defaults["max_kl"] == 0.01 and spec.defaults["meta_batch_size"] == 40 and spec.defaults["inner_lr"] is None
    assert "variant" not in spec.defaults


def test_run_one_trains_evaluates_and_resumes_after_a_crash(tmp_path: Path) -> None:
    spec = _suite("hyper-maml").grid()[0]

    def crash(step: int) -> None:
        raise KeyboardInterrupt(f"simulated crash after the checkpoint at step {step}")

    with pytest.raises(KeyboardInterrupt):
        run_one(spec, tmp_path, RunOptions(), _after_checkpoint=crash)
    record = run_one(spec, tmp_path, RunOptions(save_policy=True))
    assert record.status == "ok", record.failure
    assert list(record.timing.resumed_from) == [160]
    assert record.steps_done >= 400 and record.final is not None
    assert len(record.final.returns) == 2 * 2 and len(record.final.per_task_return or {}) == 2
    assert list(record.curve.steps)[:2] == [160, 320]
    learner = MAML.load(tmp_path / record.artifacts["policy"] / "learner")
    assert learner.variant == "hyper-maml" and learner.config.hidden == (16,)
