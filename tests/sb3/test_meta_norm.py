"""The meta-input normaliser inside SB3: statistics follow training, reach the target networks, survive save/load,
and stay frozen while acting."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import SAC

import hyperbench  # noqa: F401  (registers the policy aliases)
from hyperbench.nn.normalize import RunningNormalizer


def normalisers(module: th.nn.Module) -> list[RunningNormalizer]:
    return [m for m in module.modules() if isinstance(m, RunningNormalizer)]


def test_critic_statistics_follow_training_reach_the_target_and_survive_save_load(tmp_path: Path) -> None:
    env = gym.make("Pendulum-v1")
    model = SAC(
        "SAHyperPolicy",
        env,
        learning_starts=32,
        batch_size=16,
        seed=0,
        policy_kwargs={"preset": "lite", "dynamic_hidden": (32,), "init": "hfi", "net_arch": [32]},
    )
    (norm,) = normalisers(model.critic)
    (target_norm,) = normalisers(model.critic_target)
    assert not normalisers(model.actor)  # SB3's own MLP actor
    model.learn(96)
    # Trained on replay batches of Pendulum states (cos θ, sin θ, θ̇ with |θ̇| ≤ 8): 64 updates × 16 samples,
    # each seen by the critic loss and the actor loss (2 members share the normaliser).
    assert float(norm.running_count) > 0
    obs = model.replay_buffer.observations[: model.replay_buffer.pos, 0]
    assert np.allclose(norm.running_mean.numpy(), obs.mean(0), atol=0.35 * obs.std(0).max())
    for name in ("running_mean", "running_var", "running_count"):
        th.testing.assert_close(getattr(target_norm, name), getattr(norm, name), rtol=0, atol=0)  # SB3 copies running_*

    model.save(tmp_path / "sac")
    loaded = SAC.load(tmp_path / "sac", device="cpu")
    (loaded_norm,) = normalisers(loaded.critic)
    th.testing.assert_close(loaded_norm.running_var, norm.running_var, rtol=0, atol=0)
    o = th.as_tensor(obs[:8])
    a = th.as_tensor(model.replay_buffer.actions[:8, 0])
    model.critic.set_training_mode(False)
    loaded.critic.set_training_mode(False)
    with th.no_grad():
        th.testing.assert_close(th.stack(loaded.critic(o, a)), th.stack(model.critic(o, a)), rtol=0, atol=0)


def test_context_actor_statistics_are_frozen_while_acting() -> None:
    env = gym.make("hyperbench/PointRobot-v0", context_obs=True)
    model = SAC(
        "ContextHyperPolicy",
        env,
        learning_starts=16,
        batch_size=8,
        seed=0,
        policy_kwargs={"preset": (16,), "actor_preset": (16,), "dynamic_hidden": (16,), "actor_init": "weight-hyperinit"},
    )
    (norm,) = normalisers(model.actor)
    model.learn(32)
    count = float(norm.running_count)
    assert count > 0  # updated by the actor's training-mode forwards
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        model.predict(obs)  # acting is in eval mode
    assert float(norm.running_count) == count
