"""Speed of the task families: env steps per second with a random policy, beside the raw Gymnasium environment.

For every family the script times ``gym.make(<hyperbench id>)`` (plain and with ``context_obs=True``) and the
underlying environment built the same way ``gym.make`` builds it (``TimeLimit`` + ``OrderEnforcing`` +
``PassiveEnvChecker``) with the same constructor options and the same horizon, in the same process, on the
same pre-drawn actions and the same simulator seed (so terminating families reset at the same steps). Rates
are steps per CPU second of the process (``time.process_time``), which other processes on a shared machine
disturb far less than wall time. Runs alternate (raw, family, family+context) ``--repeats`` times and the fastest of
each is kept (the least disturbed by other processes). Overhead = raw steps/s ÷ family steps/s − 1; the
target is ≤ 10 %. The NumPy families (point robots, GridNavi) have no underlying Gymnasium environment.

    python benchmarks/bench_envs.py                 # MuJoCo, NumPy and ML1 families
    python benchmarks/bench_envs.py --metaworld-all # also ML10 (builds Meta-World's ML10 benchmark, ~6 s)
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding

import hyperbench.envs as henvs


def _steps_per_second(env: gym.Env[Any, Any], actions: list[Any], seed: int) -> float:
    """Steps per CPU second of this process (``time.process_time``: insensitive to other processes on the machine)."""
    env.reset(seed=seed)
    start = time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.process_time() - start)


def _simulator_seed(seed: int) -> int:
    """The simulator seed a TaskEnv derives from ``reset(seed=seed)``, so the raw env replays the same trajectory."""
    rng, _ = seeding.np_random(seed)
    return int(rng.integers(2**31 - 1))


def _gym_wrapped(env: gym.Env[Any, Any], horizon: int) -> gym.Env[Any, Any]:
    """The wrapper stack ``gym.make`` puts around an environment (same order)."""
    env = gym.wrappers.PassiveEnvChecker(env)
    env = gym.wrappers.OrderEnforcing(env)
    return gym.wrappers.TimeLimit(env, max_episode_steps=horizon)


def _raw_factory(family: henvs.TaskFamily) -> tuple[str, Callable[[], gym.Env[Any, Any]]] | None:
    """Name and constructor of the raw environment underneath ``family`` (None for the NumPy families)."""
    simulator_id = getattr(family, "simulator_id", None)
    if simulator_id is not None:
        kwargs = dict(family.simulator_kwargs)  # type: ignore[attr-defined]
        return simulator_id, lambda: gym.make(simulator_id, max_episode_steps=family.horizon, **kwargs)
    if hasattr(family, "benchmark_name"):
        task = family.train_tasks[0]

        def make() -> gym.Env[Any, Any]:
            env = family.env_class(task.env_name)()  # type: ignore[attr-defined]
            env.set_task(family.metaworld_task(task))  # type: ignore[attr-defined]
            return _gym_wrapped(env, family.horizon)

        return f"metaworld {task.env_name}", make  # type: ignore[attr-defined]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000, help="steps per timing run (Meta-World: a quarter)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timing runs per environment")
    parser.add_argument("--metaworld-all", action="store_true", help="also time ML10")
    parser.add_argument("--families", nargs="*", help="families to time (default: all but ml10/ml45)")
    args = parser.parse_args()

    names = args.families or [n for n in henvs.FAMILIES if n not in ("ml10", "ml45")]
    if args.metaworld_all and "ml10" not in names:
        names.append("ml10")
    print(f"random policy; steps per CPU second; {args.repeats} alternating runs, fastest kept; overhead = raw/family − 1\n")
    print(f"{'family':<22} {'raw env':<24} {'raw st/s':>9} {'family st/s':>12} {'+context':>9} {'overhead':>9} {'ctx ovh':>8}")
    overheads = []
    for name in names:
        family = henvs.make_family(name, seed=0)
        n_steps = args.steps // 4 if hasattr(family, "benchmark_name") else args.steps
        ours = family.make_env(task=family.train_tasks[0])
        ours_ctx = family.make_env(task=family.train_tasks[0], context_obs=True)
        space = ours.action_space
        space.seed(0)
        actions = [space.sample() for _ in range(n_steps)]
        raw = _raw_factory(family)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Meta-World's own space has zero-width (hidden-goal) dimensions
            raw_env = raw[1]() if raw is not None else None
        rates: dict[str, list[float]] = {"raw": [], "ours": [], "ctx": []}
        for _ in range(args.repeats):
            if raw_env is not None:
                rates["raw"].append(_steps_per_second(raw_env, actions, _simulator_seed(0)))
            rates["ours"].append(_steps_per_second(ours, actions, 0))
            rates["ctx"].append(_steps_per_second(ours_ctx, actions, 0))
        best = {k: max(v) if v else float("nan") for k, v in rates.items()}
        overhead = best["raw"] / best["ours"] - 1.0
        ctx_overhead = best["raw"] / best["ctx"] - 1.0
        if raw is not None:
            overheads.append(overhead)
        raw_name = raw[0] if raw is not None else "— (pure NumPy)"
        fmt = "{:>8.1%}".format
        print(
            f"{name:<22} {raw_name:<24} {best['raw']:>9.0f} {best['ours']:>12.0f} {best['ctx']:>9.0f} "
            f"{fmt(overhead) if raw else '—':>9} {fmt(ctx_overhead) if raw else '—':>8}",
            flush=True,
        )
        for env in (ours, ours_ctx, raw_env):
            if env is not None:
                env.close()
    if overheads:
        print(f"\nwrapper overhead: median {np.median(overheads):.1%}, max {max(overheads):.1%} (target ≤ 10%)")


if __name__ == "__main__":
    main()
