"""Helpers shared by tests/bench (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hyperbench.bench.record import EvalSummary, Failure, LearningCurve, RunRecord, SuiteRef, Timing

PLUGIN = "hb_bench_plugin"

#: (random, reference) returns for the tasks the synthetic tests use.
STUB_REFERENCE: dict[str, tuple[float, float]] = {
    "task-a": (0.0, 100.0),
    "task-b": (-50.0, 50.0),
    "hb/Bandit-v0": (-0.58, 0.0),
}


def stub_reference(task: str) -> tuple[float, float] | None:
    """Reference table injected into reports instead of hyperbench.envs.reference."""
    return STUB_REFERENCE.get(task)


def tiny_suite_dict(**overrides: Any) -> dict[str, Any]:
    """A suite of the tiny test TD3 on the one-step bandit (a run takes about a second)."""
    data: dict[str, Any] = {
        "name": "tiny",
        "version": 1,
        "baseline": "hb-td3-tiny",
        "seeds": 1,
        "budget": 200,
        "eval": {"frequency": 100, "episodes": 3},
        "methods": ["hb-td3-tiny"],
        "tasks": ["hb/Bandit-v0"],
    }
    data.update(overrides)
    return data


def make_record(
    method: str,
    task: str,
    seed: int,
    curve: Sequence[float],
    steps: Sequence[int] | None = None,
    status: str = "ok",
    budget: int | None = None,
) -> RunRecord:
    """A synthetic record whose final score is the last curve value."""
    steps = list(steps) if steps is not None else [100 * (i + 1) for i in range(len(curve))]
    budget = budget if budget is not None else steps[-1]
    ok = status == "ok"
    return RunRecord(
        suite=SuiteRef(name="synthetic", version=1, hash="0" * 16),
        method=method,
        method_id=method,
        task=task,
        seed=seed,
        status="ok" if ok else "failed",
        budget=budget,
        steps_done=steps[-1] if ok else steps[0],
        eval_frequency=steps[0],
        eval_episodes=1,
        curve=LearningCurve(tuple(steps), tuple(float(c) for c in curve), tuple(0.0 for _ in curve)),
        final=EvalSummary(steps[-1], float(curve[-1]), 0.0, (float(curve[-1]),)) if ok else None,
        failure=None
        if ok
        else Failure("FloatingPointError: non-finite evaluation return", "FloatingPointError", "", steps[0]),
        config={"hyperparameters": {}},
        config_hash="synthetic",
        timing=Timing(1.0, 1.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00"),
        provenance={"hyperbench": "test", "git": {"commit": None, "dirty": None}, "hostname": "test"},
    )


def write_synthetic_runs(runs_dir: Path, scores: dict[str, np.ndarray], tasks: Sequence[str], baseline: str) -> None:
    """Write records (and a suite.json) for ``scores[method][seed, task, point]`` curves."""
    from hyperbench.bench.files import atomic_write_json
    from hyperbench.bench.record import record_path

    methods = list(scores)
    seeds = list(range(next(iter(scores.values())).shape[0]))
    for m, arr in scores.items():
        for s in seeds:
            for j, t in enumerate(tasks):
                rec = make_record(m, t, s, arr[s, j])
                rec.save(record_path(runs_dir, m, t, s))
    atomic_write_json(
        runs_dir / "suite.json",
        {
            "name": "synthetic",
            "version": 1,
            "hash": "0" * 16,
            "description": "",
            "baseline": baseline,
            "seeds": seeds,
            "budget": 100,
            "eval": {"frequency": 100, "episodes": 1, "max_tasks": None},
            "config": {},
            "methods": [{"name": m, "method": m, "config": {}, "tasks": None} for m in methods],
            "tasks": [
                {"name": t, "budget": None, "eval": {}, "config": {}, "env_kwargs": {}, "reference": None} for t in tasks
            ],
        },
    )
