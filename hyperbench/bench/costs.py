"""Compute estimates for ``hyperbench run --dry-run`` from measured step costs.

The shipped table ``step_costs.json`` holds, per method (and hypernetwork preset) and task, the measured
seconds per training step once learning has started (environment step + one gradient update) and per
evaluation step (deterministic action + environment step), on the machine named in the file, measured by
``python benchmarks/bench_runner.py --write`` (or ``hyperbench run SUITE --dry-run --measure`` for the
entries a suite needs). A run's estimate is::

    train_s · (budget − learning_starts) + eval_s · (learning_starts + evaluations · episodes · tasks · horizon)

with the horizon taken from the Gymnasium spec (an upper bound when episodes can end early). Entries
missing for a task fall back to the method's mean over measured tasks (marked ``~``); methods never
measured are reported as unknown.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperbench.bench.files import atomic_write_json
from hyperbench.bench.runner import eval_points
from hyperbench.bench.suite import RunSpec

__all__ = ["CostTable", "RunEstimate", "cost_key", "estimate_run", "measure_step_cost"]

DEFAULT_TABLE = Path(__file__).with_name("step_costs.json")


def cost_key(spec: RunSpec) -> str:
    """Table key of a run's method: the registry name, plus ``:<preset>`` for hypernetwork presets.

    :param spec: the run
    """
    preset = spec.config.get("preset")
    return f"{spec.method_id}:{preset}" if preset else spec.method_id


@dataclass
class CostTable:
    """Measured seconds per step: ``train[key][task]`` and ``eval[key][task]``."""

    train: dict[str, dict[str, float]]
    eval: dict[str, dict[str, float]]
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> CostTable:
        """Read a table (the shipped one by default; an empty table if the file does not exist).

        :param path: JSON file
        """
        path = Path(path) if path is not None else DEFAULT_TABLE
        if not path.exists():
            return cls(train={}, eval={}, meta={})
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(train=data.get("train_step_s", {}), eval=data.get("eval_step_s", {}), meta=data.get("meta", {}))

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the table atomically.

        :param path: JSON file (the shipped one by default)
        """
        atomic_write_json(
            Path(path) if path is not None else DEFAULT_TABLE,
            {"meta": self.meta, "train_step_s": self.train, "eval_step_s": self.eval},
        )

    def lookup(self, key: str, task: str) -> tuple[float, float, bool] | None:
        """``(train_s, eval_s, exact)`` for a method key on a task, or ``None`` if never measured.

        :param key: :func:`cost_key`
        :param task: task name
        """
        train, evals = self.train.get(key), self.eval.get(key)
        if not train or not evals:
            return None
        if task in train and task in evals:
            return train[task], evals[task], True
        return float(np.mean(list(train.values()))), float(np.mean(list(evals.values()))), False


@dataclass
class RunEstimate:
    """Estimated compute of one run."""

    spec: RunSpec
    seconds: float | None
    exact: bool


def _eval_shape(spec: RunSpec) -> tuple[int, int]:
    """(number of evaluation tasks, horizon) of a run's task."""
    from hyperbench.bench.tasks import resolve_task

    task = resolve_task(spec.task, spec.env_kwargs)
    if not task.is_family:
        return 1, task.horizon
    try:
        n = len(task.test_tasks(spec.eval.max_tasks))
    except Exception:  # a family that cannot be built here: assume the cap (or one task)
        n = spec.eval.max_tasks or 1
    return n, task.horizon


def estimate_run(spec: RunSpec, table: CostTable) -> RunEstimate:
    """Estimate one run's seconds on the table's machine.

    :param spec: the run
    :param table: measured costs
    """
    found = table.lookup(cost_key(spec), spec.task)
    if found is None:
        return RunEstimate(spec, None, False)
    train_s, eval_s, exact = found
    starts = min(int(spec.config.get("learning_starts", 0) or 0), spec.budget)
    n_evals = len(eval_points(spec.budget, spec.eval.frequency))
    n_tasks, horizon = _eval_shape(spec)
    eval_steps = n_evals * spec.eval.episodes * n_tasks * horizon
    seconds = train_s * (spec.budget - starts) + eval_s * (starts + eval_steps)
    return RunEstimate(spec, seconds, exact)


def measure_step_cost(spec: RunSpec, train_steps: int = 300, eval_steps: int = 500, warmup: int = 50) -> tuple[float, float]:
    """Measure seconds per training step (with updates) and per evaluation step of an SB3 method on a task.

    Learning starts after ``warmup`` steps, the replay buffer is small, everything else is the spec's
    configuration; one torch thread.

    :param spec: the run whose method and task to measure
    :param train_steps: timed training steps
    :param eval_steps: timed evaluation steps
    :param warmup: untimed steps before learning starts
    :return: ``(train_s, eval_s)`` per step
    """
    import torch
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from hyperbench.bench.registry import BuildContext, get_method
    from hyperbench.bench.tasks import resolve_task

    torch.set_num_threads(1)
    method = get_method(spec.method_id)
    if method.kind != "sb3":
        raise ValueError(f"step costs are measured for SB3 methods only; {spec.method_id} is a {method.kind} learner")
    reason = method.availability()
    if reason is not None:
        raise RuntimeError(reason)
    task = resolve_task(spec.task, spec.env_kwargs)
    context = method.observation == "context"
    cfg = {**spec.config, "learning_starts": warmup, "buffer_size": max(10_000, warmup + train_steps + 10)}
    cfg["batch_size"] = spec.config.get("batch_size", 256)
    env = DummyVecEnv([lambda: Monitor(task.make_env(context=context, train=True))])
    model = method.build(BuildContext(config=cfg, seed=0, task=task, env=env))
    model.learn(warmup + 10)
    t0 = time.perf_counter()
    model.learn(train_steps, reset_num_timesteps=False)
    train_s = (time.perf_counter() - t0) / train_steps
    eval_env = task.make_env(context=context, train=False, task=task.test_tasks(1)[0])
    obs, _ = eval_env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(eval_steps):
        action, _ = model.predict(obs, deterministic=True)
        obs, _r, terminated, truncated, _ = eval_env.step(action)
        if terminated or truncated:
            obs, _ = eval_env.reset()
    eval_s = (time.perf_counter() - t0) / eval_steps
    env.close()
    eval_env.close()
    return train_s, eval_s


def machine_info() -> dict[str, Any]:
    """Where a cost table was measured."""
    import torch

    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }


def format_duration(seconds: float | None) -> str:
    """``None`` → ``"unknown"``; otherwise s / min / h / d.

    :param seconds: duration
    """
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def summarise(estimates: Sequence[RunEstimate], workers: int) -> Mapping[str, Any]:
    """Totals of a list of estimates.

    :param estimates: per-run estimates
    :param workers: parallel runs
    :return: ``{"known_s", "unknown_runs", "approx_runs", "wall_s"}``
    """
    known = [e.seconds for e in estimates if e.seconds is not None]
    total = float(sum(known))
    return {
        "known_s": total,
        "unknown_runs": sum(e.seconds is None for e in estimates),
        "approx_runs": sum(e.seconds is not None and not e.exact for e in estimates),
        "wall_s": total / max(workers, 1),
    }
