"""An environment whose action-value gradient is known in closed form, and critics for it.

``QuadraticBanditEnv``: the state ``s`` is drawn at reset (each coordinate ``±U[0.5, 1]``, so that
``c(s)`` is never near zero) and never changes; the reward of action ``a`` is ``c(s)ᵀa − ½‖a‖²`` with
``c(s) = W s``; episodes are truncated by a time limit. For a policy ``π`` the one-step-deviation value is
``Q(s, a) = r(s, a) + γ r(s, π(s)) / (1 − γ)``, so ``∇ₐQ(s, a) = c(s) − a``; holding ``a`` for a few steps
multiplies that gradient by a positive number, so its direction (all that the cosine similarity sees) is
``c(s) − a`` at every hold length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class QuadraticBanditEnv(gym.Env):
    """Reward ``c(s)ᵀa − ½‖a‖²`` with ``c(s) = W s`` in a constant state (see the module docstring).

    :param state_dim: k
    :param action_dim: d
    :param weights_seed: seed of ``W`` (entries ~ N(0, scale²/k))
    :param scale: size of ``W`` (the gradient's size against the reward's curvature)
    :param terminate: end every episode after one step (no bootstrapping)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self, state_dim: int = 3, action_dim: int = 4, weights_seed: int = 0, scale: float = 3.0, terminate: bool = False
    ) -> None:
        self.W = np.random.default_rng(weights_seed).normal(0.0, scale / np.sqrt(state_dim), (action_dim, state_dim))
        self.observation_space = spaces.Box(-1.0, 1.0, (state_dim,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (action_dim,), dtype=np.float32)
        self.state = np.zeros(state_dim, dtype=np.float32)
        self.terminate = terminate

    def c(self, state: np.ndarray) -> np.ndarray:
        return self.W @ np.asarray(state, dtype=np.float64)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        k = self.observation_space.shape
        magnitude = self.np_random.uniform(0.5, 1.0, k)
        self.state = (magnitude * self.np_random.choice([-1.0, 1.0], k)).astype(np.float32)
        return self.state.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64)
        reward = float(self.c(self.state) @ a - 0.5 * a @ a)
        return self.state.copy(), reward, self.terminate, False, {}


def make_env(horizon: int = 8, **kwargs: Any) -> gym.Env:
    """The bandit under a ``TimeLimit`` of ``horizon`` steps."""
    return gym.wrappers.TimeLimit(QuadraticBanditEnv(**kwargs), max_episode_steps=horizon)


class OracleAgent:
    """The policy ``π(s) = clip(c(s) / 4)`` with the exact critic of :class:`QuadraticBanditEnv`, or a corrupted one.

    :param env: the environment (its ``W`` defines ``c``)
    :param critic: ``"exact"`` (``∇ₐQ = c − a``), ``"negated"`` (``a − c``) or ``"random"`` (unrelated vectors)
    :param gamma: discount
    """

    def __init__(self, env: gym.Env, critic: str = "exact", gamma: float = 0.99) -> None:
        self.bandit: QuadraticBanditEnv = env.unwrapped  # type: ignore[assignment]
        self.critic = critic
        self.gamma = gamma
        self.rng = np.random.default_rng(123)

    def act(self, observation: Any) -> np.ndarray:
        return np.clip(0.25 * self.bandit.c(observation), -1.0, 1.0)

    def env_action(self, action: np.ndarray) -> np.ndarray:
        return np.asarray(action, dtype=np.float32)

    def _q(self, observation: Any, action: np.ndarray) -> float:
        c, pi = self.bandit.c(observation), self.act(observation)
        return float(c @ action - 0.5 * action @ action + self.gamma * (c @ pi - 0.5 * pi @ pi) / (1 - self.gamma))

    def critic_gradient(self, observations: Sequence[Any], actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        exact = np.stack([self.bandit.c(o) for o in observations]) - actions
        q = np.array([self._q(o, a) for o, a in zip(observations, actions)])
        if self.critic == "negated":
            return -exact, q
        if self.critic == "random":
            return self.rng.normal(size=exact.shape), q
        return exact, q

    def bootstrap(self, observation: Any, action: np.ndarray) -> float:
        return self._q(observation, action)
