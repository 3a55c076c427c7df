"""Hyper policies keep everything SB3 gives: progress bar, EvalCallback, tensorboard, VecEnvs."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch as th
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env

import hyperbench  # noqa: F401

SMALL = {"preset": "lite", "dynamic_hidden": (32,), "net_arch": [32, 32]}


@pytest.mark.parametrize("algo", [TD3, SAC])
def test_progress_bar_eval_callback_tensorboard_and_vec_envs(algo: type[BaseAlgorithm], tmp_path: Path) -> None:
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    eval_cb = EvalCallback(
        make_vec_env("Pendulum-v1", n_envs=1, seed=1), eval_freq=20, n_eval_episodes=1, log_path=str(tmp_path)
    )
    model = algo(
        "SAHyperPolicy", env, learning_starts=20, batch_size=8, policy_kwargs=dict(SMALL), tensorboard_log=str(tmp_path)
    )
    model.learn(60, callback=eval_cb, progress_bar=True)
    assert model.num_timesteps == 60
    assert (tmp_path / "evaluations.npz").exists() and eval_cb.last_mean_reward < 0  # Pendulum rewards are ≤ 0
    events = list(tmp_path.rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def primary_gradient_counts(model: BaseAlgorithm) -> list[int]:
    """Run one SB3 train step and count how many backward passes reached each critic-primary parameter."""
    params = list(model.critic.q_net.hyper.parameters())  # primary and heads: everything before the dynamic net
    counts = [0] * len(params)

    def count(i: int) -> None:
        counts[i] += 1

    for i, p in enumerate(params):
        p.register_hook(lambda grad, i=i: count(i))
    model.train(gradient_steps=1, batch_size=8)
    return counts


@pytest.mark.parametrize("algo", [TD3, SAC, TQC])
def test_actor_update_never_visits_the_critic_primary(algo: type[BaseAlgorithm]) -> None:
    kwargs = {"policy_delay": 1} if algo is TD3 else {}
    model = algo(
        "SAHyperPolicy", gym.make("Pendulum-v1"), learning_starts=16, batch_size=8, policy_kwargs=dict(SMALL), **kwargs
    )
    model.learn(20)  # fills the buffer; no update before learning_starts ... and a few after
    # One backward (the critic loss) per parameter; the actor loss adds none.
    assert set(primary_gradient_counts(model)) == {1}
    # Control: without the shortcut the actor loss back-propagates through the primary too.
    model.critic.detach_primary_for_actor = False
    assert set(primary_gradient_counts(model)) == {2}


def test_actor_gradient_is_unchanged_by_the_shortcut() -> None:
    """Skipping the primary changes no number the actor sees: ∇_a Q is identical."""
    model = SAC("SAHyperPolicy", gym.make("Pendulum-v1"), policy_kwargs=dict(SMALL))
    obs, actions = th.randn(16, 3), th.rand(16, 1)
    grads = []
    for detach in (True, False):
        model.critic.detach_primary_for_actor = detach
        action = actions.clone().requires_grad_(True)
        (g,) = th.autograd.grad(sum(q.sum() for q in model.critic(obs, action)), action)
        grads.append(g)
    th.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
