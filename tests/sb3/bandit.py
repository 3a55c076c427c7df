"""A one-step continuous contextual bandit whose optimal action depends on the state: a* = sin(3s)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def optimal_action(state: np.ndarray) -> np.ndarray:
    return np.sin(3.0 * state)


class SineBandit(gym.Env[np.ndarray, np.ndarray]):
    """Observation s ~ U[-1, 1]; reward −(a − sin 3s)²; every episode is one step.

    :param context: also expose a constant task context in a ``Dict`` observation (for context policies);
        the optimum is then ``sin(3s) · c`` with ``c`` the context in {−1, +1}
    """

    def __init__(self, context: bool = False) -> None:
        box = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.context = context
        self.observation_space: spaces.Space = (
            spaces.Dict({"observation": box, "context": spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)})
            if context
            else box
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._state = np.zeros(1, dtype=np.float32)
        self._sign = np.ones(1, dtype=np.float32)

    def _obs(self) -> Any:
        return {"observation": self._state.copy(), "context": self._sign.copy()} if self.context else self._state.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._state = self.np_random.uniform(-1.0, 1.0, size=1).astype(np.float32)
        if self.context:
            self._sign = self.np_random.choice([-1.0, 1.0], size=1).astype(np.float32)
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        target = optimal_action(self._state) * self._sign
        reward = -float(np.sum((np.asarray(action) - target) ** 2))
        return self._obs(), reward, True, False, {}
