"""Batches of environments of one task family, stepped together: what the meta-RL rollout loop drives.

A :class:`VectorTaskEnv` holds ``n`` environments of one family, each with its own task. Observations,
rewards and flags come back as arrays with a leading ``n`` dimension, so a learner acts on all of them with
one batched call. Two implementations:

- :class:`SerialVectorEnv` (every family): a pool of the family's unwrapped :class:`~hyperbench.envs.TaskEnv`
  objects stepped one after another (what Gymnasium's ``SyncVectorEnv`` does, without its auto-reset: a
  meta-episode decides itself when an environment starts its next episode);
- a family's own NumPy implementation (Point-Robot, GridNavi), returned by ``family.make_vector_env`` when
  the family defines one: the same dynamics as the single environment, on arrays. Tests check that both give
  identical observations, rewards and success flags.

There is no time limit here: the caller runs episodes for the family horizon. Actions are clipped to a Box
action space by the caller (the single environments clip again, harmlessly).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces

__all__ = ["SerialVectorEnv", "VectorStep", "VectorTaskEnv"]

#: Reset seeds: a sequence or a 1-D integer array.
Seeds = Sequence[int] | np.ndarray


class VectorStep(NamedTuple):
    """The result of one :meth:`VectorTaskEnv.step`; every array has a leading ``n`` dimension."""

    obs: np.ndarray
    """``(n, obs_dim)`` float32 next observations (unchanged for environments that were not stepped)"""
    rewards: np.ndarray
    """``(n,)`` float64 rewards (0 for environments that were not stepped)"""
    terminated: np.ndarray
    """``(n,)`` bool"""
    truncated: np.ndarray
    """``(n,)`` bool"""
    success: np.ndarray
    """``(n,)`` bool: the episode has succeeded at some step so far (the single env's ``info["is_success"]``);
    ``False`` for environments that were not stepped"""


class VectorTaskEnv(ABC):
    """``n`` environments of one task family (see the module docstring).

    :param family: the task family
    """

    def __init__(self, family: Any) -> None:
        self.family = family
        self.num_envs = 0
        probe = self._probe()
        #: the observation space of one environment (a flat Box)
        self.observation_space: spaces.Space[Any] = probe[0]
        #: the action space of one environment (Box or Discrete)
        self.action_space: spaces.Space[Any] = probe[1]

    def _probe(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        env = self.family.make_core_env(task=None)
        try:
            return env.observation_space, env.action_space
        finally:
            env.close()

    @property
    def obs_dim(self) -> int:
        """Size of one flat observation."""
        return int(np.prod(self.observation_space.shape or (1,)))

    @abstractmethod
    def reset(self, tasks: Sequence[Any], seeds: Seeds) -> np.ndarray:
        """Put environment ``i`` in ``tasks[i]`` and start an episode seeded with ``seeds[i]``.

        :param tasks: one task per environment (their number sets :attr:`num_envs`)
        :param seeds: one reset seed per environment
        :return: first observations ``(n, obs_dim)`` float32
        """

    @abstractmethod
    def step(self, actions: np.ndarray, active: np.ndarray) -> VectorStep:
        """Step the environments flagged in ``active`` (the others are left alone).

        :param actions: ``(n, act_dim)`` for Box actions, ``(n,)`` integers for Discrete
        :param active: ``(n,)`` bool
        :return: the step
        """

    def close(self) -> None:  # noqa: B027  (optional hook: array implementations hold nothing to release)
        """Release the environments."""


class SerialVectorEnv(VectorTaskEnv):
    """Any family: its unwrapped single environments in a pool that grows as needed.

    :param family: the task family
    """

    def __init__(self, family: Any) -> None:
        self._envs: list[Any] = []
        super().__init__(family)
        self._obs = np.zeros((0, self.obs_dim), dtype=np.float32)

    def _probe(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        env = self._env(0)  # kept as the pool's first environment
        return env.observation_space, env.action_space

    def _env(self, index: int) -> Any:
        while len(self._envs) <= index:
            self._envs.append(self.family.make_core_env(task=None))
        return self._envs[index]

    def reset(self, tasks: Sequence[Any], seeds: Seeds) -> np.ndarray:
        if len(tasks) != len(seeds):
            raise ValueError(f"need one seed per task, got {len(tasks)} tasks and {len(seeds)} seeds")
        self.num_envs = len(tasks)
        self._obs = np.zeros((self.num_envs, self.obs_dim), dtype=np.float32)
        for i, (task, seed) in enumerate(zip(tasks, seeds)):
            env = self._env(i)
            env.set_task(task)
            first, _ = env.reset(seed=int(seed))
            self._obs[i] = np.asarray(first, dtype=np.float32).reshape(-1)
        return self._obs.copy()

    def step(self, actions: np.ndarray, active: np.ndarray) -> VectorStep:
        n = self.num_envs
        rewards = np.zeros(n)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(active):
            obs, reward, term, trunc, info = self._envs[i].step(actions[i])
            self._obs[i] = np.asarray(obs, dtype=np.float32).reshape(-1)
            rewards[i] = float(reward)
            terminated[i], truncated[i] = bool(term), bool(trunc)
            success[i] = bool(info.get("is_success", info.get("success", False)))
        return VectorStep(self._obs.copy(), rewards, terminated, truncated, success)

    def close(self) -> None:
        for env in self._envs:
            env.close()
        self._envs.clear()
