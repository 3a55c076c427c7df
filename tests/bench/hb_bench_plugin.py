"""Test-only environments and methods for tests/bench, loaded with ``--plugin hb_bench_plugin``.

- ``hb/Bandit-v0``: a one-step continuous bandit, reward −(a − 0.5)², so a learner that works reaches ≈ 0 fast;
- ``hb/NaNReward-v0``: every reward is NaN (the run must be recorded as failed, not crash the suite);
- ``hb-raises``: a method whose factory raises;
- ``hb-meta-stub``: a tiny meta learner (no network) whose evaluation return rises with training steps;
- ``hb-buffer-meta``: a meta learner with a replay buffer declared as large state (resume tests);
- ``hb-td3-tiny``: TD3 with small networks, a registered SB3 method built through the public API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces

from hyperbench.bench.registry import BuildContext, get_method, list_methods, register_method
from hyperbench.meta import EvalResult, MetaLearner, Phase


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


class StubMetaLearner(MetaLearner):
    """A meta learner without a network: its evaluation return is −100 / (1 + steps / 100)."""

    def __init__(self, family: Any, step_size: int = 50, seed: int = 0) -> None:
        super().__init__(family, seed=seed)
        self.step_size = step_size

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        return self.step_size, {}

    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        return (Phase("episode", n_episodes),)

    def begin_meta_episode(self, tasks: Sequence[Any]) -> None:
        return None

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor:
        return th.zeros(*obs.shape[:2], 2)

    def evaluate(self, tasks: Sequence[Any], n_episodes: int, seed: int = 0, deterministic: bool = False) -> EvalResult:
        value = -100.0 / (1.0 + self.num_timesteps / 100.0)
        return EvalResult(
            episode_returns=np.full((len(tasks), n_episodes), value),
            tasks=[t.to_dict() for t in tasks],
            phases=("episode",) * n_episodes,
            headline=self.headline,
        )

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        return np.zeros(2), state

    def _get_config(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "seed": self.seed}

    @classmethod
    def _from_config(cls, config: Any, family: Any) -> StubMetaLearner:
        return cls(family, int(config["step_size"]), int(config["seed"]))

    def _get_tensors(self) -> dict[str, th.Tensor]:
        return {}

    def _set_tensors(self, tensors: Any) -> None:
        pass


class BufferMetaLearner(MetaLearner):
    """An off-policy-shaped meta learner with a replay buffer declared as large state (for resume tests).

    It acts with a Gaussian around a learned 2-D mean; every observed transition goes into a FIFO buffer of
    ``capacity`` entries; each iteration collects one episode of two training tasks, then moves the mean
    towards the buffered actions weighted by their rewards, from a minibatch drawn with the learner's own
    generator. So its whole trajectory (and its evaluation) depends on the exact buffer contents.
    """

    def __init__(self, family: Any, capacity: int = 256, seed: int = 0) -> None:
        super().__init__(family, seed=seed)
        self.capacity = int(capacity)
        self.mean = th.zeros(2)
        self.buffer = th.zeros(self.capacity, 5)  # action (2), reward, obs (2)
        self.size = 0
        self.pos = 0

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        tasks = [self.family.train_tasks[int(i)] for i in self.rng.integers(len(self.family.train_tasks), size=2)]
        rollout = self.rollout.run(self, tasks, (Phase("episode", 1),), self.rng, self.torch_rng)
        idx = th.as_tensor(self.rng.integers(self.size, size=32))
        batch = self.buffer[idx]
        weights = th.softmax(batch[:, 2] * 5.0, dim=0)
        self.mean = 0.5 * self.mean + 0.5 * (weights[:, None] * batch[:, :2]).sum(0)
        return rollout.n_steps, {}

    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        return (Phase("episode", n_episodes),)

    def begin_meta_episode(self, tasks: Sequence[Any]) -> None:
        return None

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor:
        mean = self.mean.expand(*obs.shape[:2], 2)
        return mean if deterministic else mean + 0.3 * th.randn(mean.shape, generator=generator)

    def observe(self, state: Any, transition: Any, rows: slice, phase: int) -> Any:
        alive = transition.alive.reshape(-1)
        rows_ = th.cat([transition.action.reshape(-1, 2), transition.reward.reshape(-1, 1), transition.obs.reshape(-1, 2)], 1)
        for row in rows_[alive]:
            self.buffer[self.pos] = row
            self.pos = (self.pos + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)
        return state

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        return self.mean.numpy(), state

    def _get_config(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "seed": self.seed}

    @classmethod
    def _from_config(cls, config: Any, family: Any) -> BufferMetaLearner:
        return cls(family, int(config["capacity"]), int(config["seed"]))

    def _get_tensors(self) -> dict[str, th.Tensor]:
        return {"mean": self.mean}

    def _set_tensors(self, tensors: Any) -> None:
        self.mean = tensors["mean"].clone()

    def _get_large_state(self) -> dict[str, th.Tensor]:
        return {"buffer": self.buffer, "size_pos": th.tensor([self.size, self.pos])}

    def _set_large_state(self, tensors: Any) -> None:
        if tensors["buffer"].shape != self.buffer.shape:
            raise ValueError(f"buffer of shape {tuple(tensors['buffer'].shape)}, expected {tuple(self.buffer.shape)}")
        self.buffer = tensors["buffer"].clone()
        self.size, self.pos = (int(v) for v in tensors["size_pos"])


def _buffer_meta(ctx: BuildContext) -> BufferMetaLearner:
    return BufferMetaLearner(ctx.task.family, int(ctx.config["capacity"]), ctx.seed)


def _stub_meta(ctx: BuildContext) -> StubMetaLearner:
    return StubMetaLearner(ctx.task.family, int(ctx.config["step_size"]), ctx.seed)


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
        "hb-buffer-meta",
        _buffer_meta,
        kind="meta",
        defaults={"capacity": 256},
        action_kinds=("box",),
        description="meta learner with a replay buffer as large state (test)",
    )
    register_method(
        "hb-td3-tiny",
        _tiny_td3,
        defaults={"learning_rate": 3e-3, "learning_starts": 50},
        description="TD3 with 16-unit networks (test)",
    )
assert get_method("hb-meta-stub").kind == "meta"
