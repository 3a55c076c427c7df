"""One PEARL gradient step (SAC + context encoder) for ``pearl`` and ``hyper-pearl``, as ratios to SB3 SAC's
``train()`` step on the same dimensions, measured in the same run.

Usage: ``python benchmarks/bench_pearl.py [--rounds 5] [--steps 5] [--threads N] [--primary lite]``

Dimensions are HalfCheetah-Vel's with the reference defaults: 17-dim state, 6-dim action, latent 5, meta-batch
16 tasks × batch 256 transitions (4096 samples per step), context batch 64, networks 3 × 300. The SB3 SAC
baseline sees the same 4096 samples per step, a ``17 + 5``-dim observation (PEARL's networks read ``[s, z]``)
and ``net_arch`` 3 × 300. Buffers are filled with random transitions (the step's cost does not depend on
their content). Candidates run round-robin (``--rounds`` rounds, median per candidate) so that load from other
processes hits all of them alike. Targets: ``pearl`` ≤ 1.5×, ``hyper-pearl`` (``lite`` primary) ≤ 3×.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import SAC

from hyperbench.meta import PEARL

OBS, ACT, LATENT, META_BATCH, BATCH = 17, 6, 5, 16, 256


class _Spaces(gym.Env[np.ndarray, np.ndarray]):
    """An environment that only carries the spaces SB3 needs to build SAC."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS + LATENT,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        return np.zeros(OBS + LATENT, dtype=np.float32), {}


def make_sac() -> Callable[[], None]:
    model = SAC("MlpPolicy", _Spaces(), batch_size=META_BATCH * BATCH, learning_starts=0, seed=0,
                policy_kwargs={"net_arch": [300, 300, 300]})  # fmt: skip
    model._setup_learn(total_timesteps=1)
    rng = np.random.default_rng(0)
    for _ in range(2 * BATCH):
        obs = rng.normal(size=(1, OBS + LATENT))
        model.replay_buffer.add(obs, obs, rng.uniform(-1, 1, size=(1, ACT)), rng.normal(size=1), np.zeros(1), [{}])  # type: ignore[union-attr]
    return lambda: model.train(gradient_steps=1, batch_size=META_BATCH * BATCH)


def make_pearl(variant: str, primary: str) -> Callable[[], None]:
    config: dict[str, Any] = {"hyper_primary": primary} if variant == "hyper-pearl" else {}
    learner = PEARL("halfcheetah-vel", variant=variant, config=config, seed=0)
    gen = th.Generator().manual_seed(0)
    for buffer in (learner.replay_buffer, learner.encoder_buffer):
        for task in range(buffer.n_tasks):
            n = 2 * BATCH
            obs = th.randn(n, OBS, generator=gen)
            buffer.add(task, obs, th.rand(n, ACT, generator=gen) * 2 - 1, th.randn(n, generator=gen), obs, th.zeros(n))
    return lambda: (learner.gradient_step(), None)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="gradient steps per timing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--primary", default="lite", help="hyper-pearl primary preset")
    args = parser.parse_args()
    th.set_num_threads(args.threads)
    candidates = {
        "SB3 SAC train()": make_sac(),
        "pearl": make_pearl("pearl", args.primary),
        f"hyper-pearl ({args.primary})": make_pearl("hyper-pearl", args.primary),
    }
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for step in candidates.values():  # warm-up
        step()
    for _ in range(args.rounds):
        for name, step in candidates.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append((time.perf_counter() - start) / args.steps)
    base = statistics.median(times["SB3 SAC train()"])
    print(
        f"threads={args.threads} rounds={args.rounds} steps={args.steps}; batch {META_BATCH}x{BATCH}, 3x300, latent {LATENT}"
    )
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:28s} {1000 * med:8.1f} ms/step   {med / base:5.2f}x SB3 SAC")


if __name__ == "__main__":
    main()
