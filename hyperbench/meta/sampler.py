"""Vectorised on-policy rollouts over a batch of tasks of a task family.

:class:`TaskBatchSampler` keeps a pool of environments of one family and runs ``n_episodes`` episodes of each
of ``T`` tasks in lockstep: one batched policy call per time step for all ``T × n_episodes`` environments
(or for chunks of them, see ``max_envs``). Every episode is reset with a seed drawn from the caller's
generator and actions are sampled with the caller's ``torch.Generator``, so a batch is a deterministic
function of those two generators (this is what makes training resumable and evaluation reproducible).

Episodes have a fixed maximum length (the family horizon); an episode that terminates early is padded and
its padding is masked out (``mask == 0``). All tensors of an :class:`EpisodeBatch` are ``(T, N, H, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch as th

__all__ = ["ActFn", "EpisodeBatch", "TaskBatchSampler"]

ActFn = Callable[[slice, th.Tensor], tuple[th.Tensor, th.Tensor]]
"""``(task_slice, obs (k, N, obs_dim)) -> (mean (k, N, act_dim), log_std broadcastable to mean)``"""


class EpisodeBatch(NamedTuple):
    """``N`` episodes of each of ``T`` tasks, padded to the horizon ``H``."""

    obs: th.Tensor
    """``(T, N, H, obs_dim)`` observation at each step"""
    actions: th.Tensor
    """``(T, N, H, act_dim)`` the sampled (unclipped) actions, whose log-probabilities the losses use"""
    rewards: th.Tensor
    """``(T, N, H)``"""
    mask: th.Tensor
    """``(T, N, H)`` 1 for real steps, 0 for padding after an early termination"""
    successes: th.Tensor | None
    """``(T, N)`` 1 if the episode succeeded at any step (families with a success notion), else ``None``"""

    @property
    def returns(self) -> th.Tensor:
        """Undiscounted episode returns ``(T, N)``."""
        return (self.rewards * self.mask).sum(-1)

    @property
    def n_steps(self) -> int:
        """Number of real environment steps in the batch."""
        return int(self.mask.sum().item())

    def task(self, index: int) -> EpisodeBatch:
        """The episodes of one task, keeping a task dimension of size 1."""
        sl = slice(index, index + 1)
        succ = None if self.successes is None else self.successes[sl]
        return EpisodeBatch(self.obs[sl], self.actions[sl], self.rewards[sl], self.mask[sl], succ)


class TaskBatchSampler:
    """Runs episodes of many tasks of one family at once.

    :param family: a :class:`hyperbench.envs.TaskFamily` (anything with ``make_core_env(task=...)``,
        ``horizon`` and ``has_success``)
    :param max_envs: largest number of environments stepped together; batches larger than this run in
        chunks of whole tasks (bounds memory for MuJoCo families)
    """

    def __init__(self, family: Any, max_envs: int = 1024) -> None:
        if max_envs < 1:
            raise ValueError(f"max_envs must be >= 1, got {max_envs}")
        self.family = family
        self.max_envs = int(max_envs)
        self.horizon = int(family.horizon)
        self.has_success = bool(getattr(family, "has_success", False))
        self._envs: list[Any] = []
        probe = self._env(0)
        self.obs_dim = int(np.prod(probe.observation_space.shape))
        self.act_dim = int(np.prod(probe.action_space.shape))
        self.action_low = np.asarray(probe.action_space.low, dtype=np.float64)
        self.action_high = np.asarray(probe.action_space.high, dtype=np.float64)

    def _env(self, index: int) -> Any:
        while len(self._envs) <= index:
            # The core env has no TimeLimit wrapper; the sampler enforces the family horizon itself.
            self._envs.append(self.family.make_core_env(task=None))
        return self._envs[index]

    def close(self) -> None:
        """Close every environment of the pool."""
        for env in self._envs:
            env.close()
        self._envs.clear()

    @th.no_grad()
    def sample(
        self,
        tasks: Sequence[Any],
        n_episodes: int,
        act: ActFn,
        rng: np.random.Generator,
        generator: th.Generator,
        deterministic: bool = False,
    ) -> EpisodeBatch:
        """Run ``n_episodes`` episodes of every task.

        :param tasks: the ``T`` tasks
        :param n_episodes: episodes per task ``N``
        :param act: the policy, called once per time step and chunk of tasks
        :param rng: draws the reset seeds
        :param generator: draws the Gaussian action noise
        :param deterministic: act with the mean action
        :return: the batch
        """
        if n_episodes < 1 or not tasks:
            raise ValueError(f"need at least one task and one episode, got {len(tasks)} tasks and {n_episodes} episodes")
        n_tasks, horizon = len(tasks), self.horizon
        obs = th.zeros(n_tasks, n_episodes, horizon, self.obs_dim)
        actions = th.zeros(n_tasks, n_episodes, horizon, self.act_dim)
        rewards = th.zeros(n_tasks, n_episodes, horizon)
        mask = th.zeros(n_tasks, n_episodes, horizon)
        successes = th.zeros(n_tasks, n_episodes) if self.has_success else None
        seeds = rng.integers(0, 2**31 - 1, size=(n_tasks, n_episodes))
        per_chunk = max(1, self.max_envs // n_episodes)
        for start in range(0, n_tasks, per_chunk):
            stop = min(n_tasks, start + per_chunk)
            self._run_chunk(
                slice(start, stop), tasks[start:stop], seeds[start:stop], act, generator, deterministic,
                obs, actions, rewards, mask, successes,
            )  # fmt: skip
        return EpisodeBatch(obs, actions, rewards, mask, successes)

    def _run_chunk(
        self,
        task_slice: slice,
        tasks: Sequence[Any],
        seeds: np.ndarray,
        act: ActFn,
        generator: th.Generator,
        deterministic: bool,
        obs: th.Tensor,
        actions: th.Tensor,
        rewards: th.Tensor,
        mask: th.Tensor,
        successes: th.Tensor | None,
    ) -> None:
        k, n = seeds.shape
        envs = [self._env(i) for i in range(k * n)]
        current = np.zeros((k, n, self.obs_dim), dtype=np.float32)
        for i, env in enumerate(envs):
            t, e = divmod(i, n)
            env.set_task(tasks[t])
            first, _ = env.reset(seed=int(seeds[t, e]))
            current[t, e] = np.asarray(first, dtype=np.float32).reshape(-1)
        alive = np.ones((k, n), dtype=bool)
        for h in range(self.horizon):
            cur = th.from_numpy(current)
            obs[task_slice, :, h] = cur
            mean, log_std = act(task_slice, cur)
            action = mean if deterministic else mean + th.exp(log_std) * th.randn(mean.shape, generator=generator)
            actions[task_slice, :, h] = action
            mask[task_slice, :, h] = th.from_numpy(alive.astype(np.float32))
            env_actions = np.clip(action.numpy().astype(np.float64), self.action_low, self.action_high)
            for i, env in enumerate(envs):
                t, e = divmod(i, n)
                if not alive[t, e]:
                    continue
                o, r, terminated, truncated, info = env.step(env_actions[t, e])
                rewards[task_slice.start + t, e, h] = float(r)
                current[t, e] = np.asarray(o, dtype=np.float32).reshape(-1)
                if successes is not None and info.get("is_success", info.get("success", False)):
                    successes[task_slice.start + t, e] = 1.0
                if terminated or truncated:
                    alive[t, e] = False
            if not alive.any():
                break
