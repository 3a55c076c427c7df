"""Full TD3 / SAC train steps with hyperbench critics, as ratios to MLP-Standard measured in the same run.

Usage: ``python benchmarks/bench_sb3.py [--rounds 5] [--steps 10] [--threads 1] [--no-paper]``

For TD3 and SAC (HalfCheetah-v5 dimensions: 17-dim state, 6-dim action, batch 256) it times SB3's own
``train()`` (critic update, actor update, target updates) for MLP-Standard, SA-Hyper ``lite`` and
SA-Hyper ``paper``. Candidates are measured round-robin (``--rounds`` rounds, median per candidate) so
that load from other processes hits all of them alike. Each table also gives a compute floor: the matmul
FLOPs one step adds over MLP-Standard, at the fp32 matmul peak, on top of MLP-Standard's measured step.

Then TD3's actor update with ``q1_forward`` (the first critic only) against the old all-members-then-first
computation, interleaved, and (without ``--no-paper``) one ``paper`` step split into its critic update and
its actor update, with the critic update's achieved fraction of the fp32 matmul peak.
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
import torch.nn.functional as F
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from torch.utils.flop_counter import FlopCounterMode

import hyperbench  # noqa: F401  (policy aliases)

BATCH = 256
CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    "MLP-Standard": ("MlpPolicy", {"net_arch": [256, 256]}),
    "SA-Hyper lite": ("SAHyperPolicy", {"net_arch": [256, 256], "preset": "lite"}),
    "SA-Hyper paper": ("SAHyperPolicy", {"net_arch": [256, 256], "preset": "paper"}),
}


def make_model(algo: type[BaseAlgorithm], policy: str, policy_kwargs: dict[str, Any]) -> BaseAlgorithm:
    env = gym.make("HalfCheetah-v5")
    kwargs: dict[str, Any] = {"policy_delay": 2} if algo is TD3 else {}
    model = algo(policy, env, batch_size=BATCH, learning_starts=0, policy_kwargs=dict(policy_kwargs), seed=0, **kwargs)
    model._setup_learn(total_timesteps=1)  # logger and buffers, as learn() would
    rng = np.random.default_rng(0)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]  # type: ignore[index]
    for _ in range(2 * BATCH):
        model.replay_buffer.add(  # type: ignore[union-attr]
            rng.normal(size=(1, obs_dim)),
            rng.normal(size=(1, obs_dim)),
            rng.uniform(-1, 1, size=(1, act_dim)),
            rng.normal(size=1),
            np.zeros(1),
            [{}],
        )
    return model


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_peak() -> float:
    a, b = th.randn(2048, 2048), th.randn(2048, 2048)
    for _ in range(3):
        a @ b
    return 2 * 2048**3 / statistics.median(timed(lambda: a @ b) for _ in range(10)) / 1e9


def step_flops(model: BaseAlgorithm) -> int:
    """Matmul FLOPs of one SB3 train step (TD3's delayed actor update counts half)."""
    with FlopCounterMode(display=False) as counter:
        model.train(gradient_steps=2, batch_size=BATCH)
    return counter.get_total_flops() // 2


def train_step_table(rounds: int, steps: int, peak: float, names: list[str]) -> None:
    for algo in (TD3, SAC):
        models = {name: make_model(algo, *CANDIDATES[name]) for name in names}
        for model in models.values():
            model.train(gradient_steps=2, batch_size=BATCH)  # warm-up
        flops = {name: step_flops(model) for name, model in models.items()}
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(rounds):
            for name, model in models.items():
                times[name].append(timed(lambda m=model: m.train(gradient_steps=steps, batch_size=BATCH)) / steps)
        base = statistics.median(times["MLP-Standard"])
        print(
            f"\n{algo.__name__} full train step (batch {BATCH}, HalfCheetah dims)   ms/step   ratio to MLP-Standard"
            "   GFLOP/step   floor ratio"
        )
        for name, values in times.items():
            ms = statistics.median(values)
            # the extra matmul work at the peak, on top of what MLP-Standard's step takes here
            floor = (base + (flops[name] - flops["MLP-Standard"]) / (peak * 1e9)) / base
            print(f"  {name:<52} {ms * 1e3:8.1f} {ms / base:10.2f}x {flops[name] / 1e9:12.2f} {floor:10.2f}x")


def actor_update(model: BaseAlgorithm, first_only: bool) -> Callable[[], None]:
    """TD3's actor update as SB3 runs it, with ``q1_forward`` or with every member and then the first."""
    critic, actor = model.critic, model.actor  # type: ignore[attr-defined]
    obs = model.replay_buffer.sample(BATCH).observations  # type: ignore[union-attr]

    def update() -> None:
        actions = actor(obs)
        q = critic.q1_forward(obs, actions) if first_only else critic(obs, actions)[0]
        actor.optimizer.zero_grad()
        (-q.mean()).backward()
        actor.optimizer.step()

    return update


def q1_actor_update(rounds: int, names: list[str]) -> None:
    """TD3's actor update with ``q1_forward`` (member 0) and with every member then the first, interleaved."""
    print("\nTD3 actor update (forward + backward + Adam)   q1_forward (member 0)   all members, take first   ratio")
    for name in (n for n in names if n != "MLP-Standard"):
        model = make_model(TD3, *CANDIDATES[name])
        first_only, every = actor_update(model, True), actor_update(model, False)
        first_only(), every()  # warm-up
        t_first, t_every = [], []
        for _ in range(rounds):
            t_first.append(timed(first_only))
            t_every.append(timed(every))
        f, e = statistics.median(t_first), statistics.median(t_every)
        print(f"  {name:<44} {f * 1e3:12.1f} ms {e * 1e3:18.1f} ms {f / e:12.2f}x")


def critic_and_actor_updates(algo: type[BaseAlgorithm], rounds: int, peak: float) -> None:
    """Time the two halves of one SB3 step at ``paper`` size with the same code SB3 runs."""
    model = make_model(algo, "SAHyperPolicy", {"net_arch": [256, 256], "preset": "paper"})
    critic, actor = model.critic, model.actor  # type: ignore[attr-defined]
    data = model.replay_buffer.sample(BATCH)  # type: ignore[union-attr]
    target = th.randn(BATCH, 1)

    def critic_update() -> None:
        q = critic(data.observations, data.actions)
        loss = sum(F.mse_loss(qi, target) for qi in q)
        critic.optimizer.zero_grad()
        loss.backward()  # type: ignore[union-attr]
        critic.optimizer.step()

    def actor_update() -> None:
        if algo is TD3:
            loss = -critic.q1_forward(data.observations, actor(data.observations)).mean()
        else:
            actions, log_prob = actor.action_log_prob(data.observations)
            loss = (0.1 * log_prob - th.cat(critic(data.observations, actions), dim=1).min(dim=1).values).mean()
        actor.optimizer.zero_grad()
        loss.backward()
        actor.optimizer.step()

    with FlopCounterMode(display=False) as counter:
        critic_update()
    flops = counter.get_total_flops()
    for fn in (critic_update, actor_update):
        fn()
    c_times, a_times = [], []
    for _ in range(rounds):
        c_times.append(timed(critic_update))
        a_times.append(timed(actor_update))
    c, a = statistics.median(c_times), statistics.median(a_times)
    print(
        f"\n{algo.__name__} SA-Hyper paper: critic update {c * 1e3:.1f} ms ({flops / 1e9:.1f} GFLOP, "
        f"{flops / c / 1e9:.0f} GFLOP/s = {flops / c / 1e9 / peak:.0%} of peak); "
        f"actor update {a * 1e3:.1f} ms = {a / c:.2f}x the critic update"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-paper", action="store_true", help="skip the paper-size critic (minutes on one thread)")
    args = parser.parse_args()
    if args.threads:
        th.set_num_threads(args.threads)
    peak = matmul_peak()
    print(f"torch {th.__version__}, {th.get_num_threads()} threads; fp32 matmul peak (2048^2) {peak:.0f} GFLOP/s")
    names = [name for name in CANDIDATES if not (args.no_paper and "paper" in name)]
    train_step_table(args.rounds, args.steps, peak, names)
    q1_actor_update(3 * args.rounds, names)
    if not args.no_paper:
        for algo in (TD3, SAC):
            critic_and_actor_updates(algo, 3 * args.rounds, peak)


if __name__ == "__main__":
    main()
