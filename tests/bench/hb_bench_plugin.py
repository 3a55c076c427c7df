"""Test-only environments and methods for tests/bench, loaded with ``--plugin hb_bench_plugin``.

- ``hb/Bandit-v0``: a one-step continuous bandit, reward −(a − 0.5)², so a learner that works reaches ≈ 0 fast;
- ``hb/NaNReward-v0``: every reward is NaN (the run must be recorded as failed, not crash the suite);
- ``hb-raises``: a method whose factory raises;
- ``hb-meta-stub``: a tiny meta learner (no torch) whose evaluation return rises with training steps;
- ``hb-td3-tiny``: TD3 with small networks, a registered SB3 method built through the public API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from hyperbench.bench.registry import BuildContext, get_method, list_methods, register_method


class BanditEnv(gym.Env):
    """One step: observation 0, reward −(a − 0.5)²."""

    def __init__(self, reward_nan: bool = False) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.reward_nan = reward_nan

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = float("nan") if self.reward_nan else -float((np.asarray(action).reshape(-1)[0] - 0.5) ** 2)
        return np.zeros(1, np.float32), reward, True, False, {}


if "hb/Bandit-v0" not in gym.registry:
    gym.register("hb/Bandit-v0", entry_point=BanditEnv, max_episode_steps=1)
    gym.register("hb/NaNReward-v0", entry_point=BanditEnv, max_episode_steps=1, kwargs={"reward_nan": True})


def _raise(ctx: BuildContext) -> Any:
    raise RuntimeError("boom: this factory always fails")


class StubMetaLearner:
    """A meta learner without a network: its evaluation return is −100 / (1 + steps / 100)."""

    def __init__(self, family: Any, step_size: int = 50) -> None:
        self.family = family
        self.step_size = step_size
        self.num_timesteps = 0
        self.logger = None

    def get_env(self) -> None:
        return None

    def learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True) -> StubMetaLearner:
        if reset_num_timesteps:
            self.num_timesteps = 0
        end = self.num_timesteps + total_timesteps
        if callback is not None:
            callback.init_callback(self)
            callback.on_training_start(locals(), globals())
        while self.num_timesteps < end:
            self.num_timesteps += self.step_size
            if callback is not None and not callback.on_step():
                break
        if callback is not None:
            callback.on_training_end()
        return self

    def evaluate(self, tasks: Sequence[Any], n_episodes: int) -> dict[str, Any]:
        value = -100.0 / (1.0 + self.num_timesteps / 100.0)
        return {"returns": np.full((len(tasks), n_episodes), value)}

    def save(self, path: str) -> None:
        Path(path).write_text(json.dumps({"num_timesteps": self.num_timesteps, "step_size": self.step_size}))

    @classmethod
    def load(cls, path: str, family: Any = None) -> StubMetaLearner:
        data = json.loads(Path(path).read_text())
        learner = cls(family, data["step_size"])
        learner.num_timesteps = data["num_timesteps"]
        return learner


def _stub_meta(ctx: BuildContext) -> StubMetaLearner:
    return StubMetaLearner(ctx.task.family, int(ctx.config["step_size"]))


def _tiny_td3(ctx: BuildContext) -> Any:
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    assert ctx.env is not None
    return TD3(
        "MlpPolicy",
        ctx.env,
        learning_rate=ctx.config["learning_rate"],
        learning_starts=ctx.config["learning_starts"],
        batch_size=32,
        buffer_size=5000,
        policy_kwargs={"net_arch": [16, 16]},
        action_noise=NormalActionNoise(np.zeros(1), 0.3 * np.ones(1)),
        seed=ctx.seed,
    )


if "hb-raises" not in list_methods():
    register_method("hb-raises", _raise, defaults={}, description="always fails (test)")
    register_method(
        "hb-meta-stub", _stub_meta, kind="meta", defaults={"step_size": 50}, description="stub meta learner (test)"
    )
    register_method(
        "hb-td3-tiny",
        _tiny_td3,
        defaults={"learning_rate": 3e-3, "learning_starts": 50},
        description="TD3 with 16-unit networks (test)",
    )
assert get_method("hb-meta-stub").kind == "meta"
