"""Save an environment's state and start rollouts from it again (the "what if" rollouts of grad-cs).

Two ways, chosen by :func:`capture`:

- **MuJoCo** environments (``env.unwrapped`` is a Gymnasium ``MujocoEnv``): the physics state (``qpos``,
  ``qvel`` through ``env.unwrapped.set_state``, plus actuator activations, simulation time and the
  solver's warm start, so a restored rollout replays bit for bit), the environment's own random generator
  and every wrapper's scalar counters (``TimeLimit``'s elapsed steps, so a restored episode is truncated
  exactly where the original would have been). Restoring writes into the same environment.
- **Any other** environment: a deep copy; each restore hands out a fresh deep copy of it.

An environment that is not MuJoCo and cannot be deep-copied (it holds a simulator handle, a socket, a
generator…) raises :class:`EnvNotRestorableError`; wrap such an environment so that it can be copied, or
pass your own :class:`EnvSnapshot` factory to :func:`hyperbench.diagnostics.grad_cs.grad_cs`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

__all__ = ["EnvNotRestorableError", "EnvSnapshot", "SnapshotFactory", "capture"]


class EnvNotRestorableError(TypeError):
    """The environment's state cannot be saved and restored."""


class EnvSnapshot(Protocol):
    """A saved environment state."""

    observation: Any
    """the observation the environment returned in that state"""

    def restore(self) -> gym.Env:
        """Put an environment into the saved state.

        :return: the environment to step from there (the original one or a copy)
        """
        ...


#: ``(env, observation) -> EnvSnapshot``
SnapshotFactory = Callable[[gym.Env, Any], EnvSnapshot]

_SCALARS = (bool, int, float, np.integer, np.floating, type(None))


def _layers(env: gym.Env) -> list[Any]:
    """The wrappers from the outside in, then the unwrapped environment."""
    layers: list[Any] = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    return layers


def _is_mujoco(env: gym.Env) -> bool:
    try:
        from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
    except ImportError:  # gymnasium without the MuJoCo extra
        return False
    return isinstance(env.unwrapped, MujocoEnv)


@dataclass
class MujocoSnapshot:
    """Physics state, RNG state and wrapper counters of a MuJoCo environment (restored in place)."""

    env: gym.Env
    observation: Any
    qpos: np.ndarray
    qvel: np.ndarray
    act: np.ndarray
    time: float
    qacc_warmstart: np.ndarray
    rng_state: dict[str, Any] | None
    counters: list[dict[str, Any]]

    @classmethod
    def take(cls, env: gym.Env, observation: Any) -> MujocoSnapshot:
        """Save the state of ``env``.

        :param env: a (wrapped) Gymnasium MuJoCo environment
        :param observation: the observation ``env`` returned in this state
        """
        base: Any = env.unwrapped
        data = base.data
        rng = getattr(base, "_np_random", None)
        return cls(
            env=env,
            observation=copy.deepcopy(observation),
            qpos=data.qpos.copy(),
            qvel=data.qvel.copy(),
            act=data.act.copy(),
            time=float(data.time),
            qacc_warmstart=data.qacc_warmstart.copy(),
            rng_state=copy.deepcopy(rng.bit_generator.state) if rng is not None else None,
            counters=[{k: v for k, v in vars(layer).items() if isinstance(v, _SCALARS)} for layer in _layers(env)],
        )

    def restore(self) -> gym.Env:
        base: Any = self.env.unwrapped
        base.set_state(self.qpos, self.qvel)  # writes qpos/qvel and runs mj_forward
        base.data.act[:] = self.act
        base.data.time = self.time
        base.data.qacc_warmstart[:] = self.qacc_warmstart
        if self.rng_state is not None:
            base.np_random.bit_generator.state = copy.deepcopy(self.rng_state)
        for layer, counters in zip(_layers(self.env), self.counters):
            for key, value in counters.items():
                setattr(layer, key, value)
        return self.env


@dataclass
class CopySnapshot:
    """A deep copy of the environment; every restore returns a new copy of it."""

    saved: gym.Env
    observation: Any

    @classmethod
    def take(cls, env: gym.Env, observation: Any) -> CopySnapshot:
        """Save the state of ``env`` by deep-copying it.

        :param env: any deep-copyable environment
        :param observation: the observation ``env`` returned in this state
        :raises EnvNotRestorableError: if the environment cannot be deep-copied
        """
        try:
            saved = copy.deepcopy(env)
        except Exception as exc:  # deepcopy raises whatever the offending attribute raises
            raise EnvNotRestorableError(
                f"cannot save the state of {env}: it is not a MuJoCo environment and copy.deepcopy failed "
                f"({type(exc).__name__}: {exc}). grad-cs restarts rollouts from saved states; make the environment "
                "deep-copyable (e.g. implement __deepcopy__) or pass a snapshot factory (snapshot=...) that saves "
                "and restores its state."
            ) from exc
        return cls(saved=saved, observation=copy.deepcopy(observation))

    def restore(self) -> gym.Env:
        return copy.deepcopy(self.saved)


def capture(env: gym.Env, observation: Any) -> EnvSnapshot:
    """Save the state of ``env`` (MuJoCo state restore if possible, otherwise a deep copy).

    :param env: the environment, in the state to save
    :param observation: the observation it returned in that state
    :return: the snapshot
    :raises EnvNotRestorableError: if neither way works for this environment
    """
    if _is_mujoco(env):
        return MujocoSnapshot.take(env, observation)
    return CopySnapshot.take(env, observation)
