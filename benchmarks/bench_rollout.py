"""Throughput of the shared meta-RL rollout loop against a plain loop over one Gymnasium environment.

Both loops drive the same policy (an MLP 2×64 on the observation: Gaussian mean for Box actions, logits for
Discrete ones, sampled with a seeded ``torch.Generator``) for the same number of environment steps, in the same
process, alternating ``--repeats`` times (the fastest of each kept: the least disturbed by other processes):

- **single env**: ``gym.make(<hyperbench id>)`` (the registered wrappers and time limit), one policy call per
  step on a batch of one, ``reset`` at the end of each episode: the loop a user writes by hand;
- **shared loop**: :class:`hyperbench.meta.RolloutLoop` running meta-episodes of ``--episodes`` episodes of
  ``--tasks`` tasks at once (one policy call per step for all of them, ``observe`` called every step), on the
  family's array environments (``make_vector_env``);
- **shared loop, single envs**: the same, on :class:`hyperbench.envs.vector.SerialVectorEnv` (a pool of the
  family's single environments), to separate the gain of batching the policy from that of the array envs.

Rates are environment steps per CPU second of this process (``time.process_time``). Target: shared loop ≥ 3×
the single env on the pure-NumPy families.

    python benchmarks/bench_rollout.py                       # Point-Robot and GridNavi, 8 tasks
    python benchmarks/bench_rollout.py --tasks 32 --repeats 5
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces

import hyperbench.envs as henvs
from hyperbench.envs.vector import SerialVectorEnv
from hyperbench.meta import MetaLearner, Phase, RolloutLoop


class _Policy(th.nn.Module):
    def __init__(self, obs_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = th.nn.Sequential(th.nn.Linear(obs_dim, 64), th.nn.Tanh(), th.nn.Linear(64, 64), th.nn.Tanh())
        self.head = th.nn.Linear(64, out_dim)

    def forward(self, obs: th.Tensor) -> th.Tensor:
        return self.head(self.net(obs))


def _sample(policy: _Policy, obs: th.Tensor, discrete: bool, generator: th.Generator) -> th.Tensor:
    out = policy(obs)
    if discrete:
        flat = th.softmax(out.reshape(-1, out.shape[-1]), dim=-1)
        return th.multinomial(flat, 1, generator=generator).reshape(out.shape[:-1])
    return out + 0.3 * th.randn(out.shape, generator=generator)


class _PolicyLearner(MetaLearner):
    """The benchmark policy behind the learner contract (stateless; ``observe`` is still called every step)."""

    def __init__(self, family: Any, policy: _Policy, discrete: bool, episodes: int) -> None:
        super().__init__(family)
        self.policy, self.discrete, self.episodes = policy, discrete, episodes

    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        return tuple(Phase("episode") for _ in range(n_episodes))

    def begin_meta_episode(self, tasks: Sequence[Any]) -> None:
        return None

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor:
        return _sample(self.policy, obs, self.discrete, generator)

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        raise NotImplementedError

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        raise NotImplementedError

    def _get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_config(cls, config: Any, family: Any) -> _PolicyLearner:
        raise NotImplementedError

    def _get_tensors(self) -> dict[str, th.Tensor]:
        return {}

    def _set_tensors(self, tensors: Any) -> None:
        pass


@th.no_grad()
def _single_env_rate(family: Any, policy: _Policy, discrete: bool, n_steps: int) -> float:
    env = gym.make(family.env_id, family=family, task=family.train_tasks[0])
    generator = th.Generator().manual_seed(0)
    obs, _ = env.reset(seed=0)
    start = time.process_time()
    for _ in range(n_steps):
        action = _sample(policy, th.as_tensor(obs, dtype=th.float32).reshape(1, -1), discrete, generator)[0].numpy()
        obs, _, terminated, truncated, _ = env.step(int(action) if discrete else action)
        if terminated or truncated:
            obs, _ = env.reset()
    rate = n_steps / (time.process_time() - start)
    env.close()
    return rate


def _loop_rate(loop: RolloutLoop, learner: _PolicyLearner, tasks: list[Any], episodes: int, n_steps: int) -> float:
    rng, generator = np.random.default_rng(0), th.Generator().manual_seed(0)
    phases = learner.meta_episode(episodes)
    done = 0
    start = time.process_time()
    while done < n_steps:
        done += loop.run(learner, tasks, phases, rng, generator).n_steps
    return done / (time.process_time() - start)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=["point-robot", "gridnavi"])
    parser.add_argument("--tasks", type=int, default=8, help="tasks run at once by the shared loop")
    parser.add_argument("--episodes", type=int, default=4, help="episodes per meta-episode")
    parser.add_argument("--steps", type=int, default=20_000, help="environment steps per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    print(f"{'family':14s} {'single env':>12s} {'loop, array envs':>18s} {'loop, single envs':>18s}  ratio (array, single)")
    for name in args.families:
        family = henvs.make_family(name, seed=0)
        probe = family.make_core_env(task=None)
        discrete = isinstance(probe.action_space, spaces.Discrete)
        obs_dim = int(np.prod(probe.observation_space.shape))
        out_dim = int(probe.action_space.n) if discrete else int(np.prod(probe.action_space.shape))
        probe.close()
        th.manual_seed(0)
        policy = _Policy(obs_dim, out_dim)
        learner = _PolicyLearner(family, policy, discrete, args.episodes)
        tasks = [family.train_tasks[i % len(family.train_tasks)] for i in range(args.tasks)]
        array_loop = RolloutLoop(family)
        serial_loop = RolloutLoop(family)
        serial_loop.envs = SerialVectorEnv(family)
        best = {"single": 0.0, "array": 0.0, "serial": 0.0}
        for _ in range(args.repeats):
            best["single"] = max(best["single"], _single_env_rate(family, policy, discrete, args.steps))
            best["array"] = max(best["array"], _loop_rate(array_loop, learner, tasks, args.episodes, args.steps))
            best["serial"] = max(best["serial"], _loop_rate(serial_loop, learner, tasks, args.episodes, args.steps))
        print(
            f"{name:14s} {best['single']:10.0f}/s {best['array']:16.0f}/s {best['serial']:16.0f}/s  "
            f"{best['array'] / best['single']:.1f}×, {best['serial'] / best['single']:.1f}×"
        )


if __name__ == "__main__":
    main()
