"""What an SB3 user meets first: default critic size, Dict observations and HER, pickling, ignored kwargs."""

from __future__ import annotations

import copy
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3, HerReplayBuffer
from stable_baselines3.common.envs import BitFlippingEnv
from stable_baselines3.common.torch_layers import CombinedExtractor

import hyperbench  # noqa: F401  (registers the policy aliases)
from hyperbench.sb3 import policies
from hyperbench.sb3.policies import CriticLrOptimizer, DefaultSizeWarning, IgnoredArgumentWarning

SMALL = {"preset": "lite", "dynamic_hidden": (16,), "net_arch": {"pi": [16], "qf": []}}


def test_default_size_is_lite_announced_once_with_its_reason_and_saved(tmp_path: object) -> None:
    env = gym.make("Pendulum-v1")
    policies._announced.discard("SAHyperTD3Policy")
    with pytest.warns(DefaultSizeWarning) as caught:
        model = TD3("SAHyperPolicy", env, policy_kwargs={"net_arch": {"pi": [16], "qf": []}})
    message = str(caught[0].message)
    assert "uses the 'lite' primary network (0.36 M parameters for 2 critics)" in message
    assert policies.DEFAULT_PRESET_REASON in message and "preset='paper'" in message
    assert caught[0].filename == __file__  # points at the user's line, not into SB3
    assert model.policy.hyper_options["primary"] == "lite"
    model.save(f"{tmp_path}/m.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultSizeWarning)  # once per process and class: not again on load
        assert TD3.load(f"{tmp_path}/m.zip").policy.hyper_options["primary"] == "lite"
        TD3("SAHyperPolicy", env, policy_kwargs={"net_arch": {"pi": [16], "qf": []}})
    policies._announced.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DefaultSizeWarning)  # explicit sizes and MLP critics say nothing
        TD3("SAHyperPolicy", env, policy_kwargs={"preset": "lite", "net_arch": {"pi": [16], "qf": []}})
        TD3("HyperbenchPolicy", env, policy_kwargs={"critic": "mlp", "net_arch": {"pi": [16], "qf": []}})


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"net_arch": [64, 64]}, "net_arch=[64, 64] does not reach the sa-hyper critic"),
        ({"critic": "mlp-small", "net_arch": [64, 64]}, "has its own widths [256]"),
        ({"activation_fn": th.nn.Tanh, "net_arch": {"pi": [16], "qf": []}}, "activation_fn=Tanh does not reach"),
    ],
)
def test_kwargs_a_critic_ignores_are_named(kwargs: dict, fragment: str) -> None:
    with pytest.warns(IgnoredArgumentWarning, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        TD3("HyperbenchPolicy", gym.make("Pendulum-v1"), policy_kwargs={"preset": "lite", **kwargs})


def test_kwargs_a_critic_uses_raise_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredArgumentWarning)
        # SB3's own MLP critic honours activation_fn, and [256, 256] is MLP-Standard's width anyway.
        TD3("HyperbenchPolicy", gym.make("Pendulum-v1"), policy_kwargs={"critic": "mlp", "activation_fn": th.nn.Tanh})


@pytest.mark.parametrize("algo", [TD3, SAC, TQC])
def test_dict_observations_and_her_work_out_of_the_box(algo: type) -> None:
    env = BitFlippingEnv(n_bits=4, continuous=True, max_steps=4)
    model = algo(
        "SAHyperPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 2},
        learning_starts=20,
        batch_size=16,
        policy_kwargs=dict(SMALL),
        seed=0,
    )
    assert isinstance(model.actor.features_extractor, CombinedExtractor)
    assert isinstance(model.critic.features_extractor, CombinedExtractor)
    model.learn(40)  # crashed at learning_starts before ('dict' object has no attribute 'flatten')
    action, _ = model.predict(env.reset()[0], deterministic=True)
    assert action.shape == env.action_space.shape


def test_policy_with_a_critic_lr_pickles_and_deep_copies() -> None:
    model = SAC("SAHyperPolicy", gym.make("Pendulum-v1"), learning_rate=1e-3, policy_kwargs={**SMALL, "critic_lr": 1e-4})
    assert isinstance(model.critic.optimizer, CriticLrOptimizer)
    clone = pickle.loads(pickle.dumps(model.policy))
    twin = copy.deepcopy(model.policy)
    for copied in (clone, twin):
        assert copied.critic.optimizer.param_groups[0]["lr_ratio"] == pytest.approx(0.1)
        # the copy's optimizer drives the copy's parameters, not the original's
        params = {id(p) for p in copied.critic.parameters()}
        assert all(id(p) in params for g in copied.critic.optimizer.param_groups for p in g["params"])
    obs = np.zeros((1, 3), dtype=np.float32)
    np.testing.assert_array_equal(clone.predict(obs, deterministic=True)[0], model.policy.predict(obs, deterministic=True)[0])


def test_zero_learning_rate_replay_loads(tmp_path: object) -> None:
    model = TD3("SAHyperPolicy", gym.make("Pendulum-v1"), policy_kwargs={**SMALL, "critic_lr": 3e-4})
    model.save(f"{tmp_path}/m.zip")
    zero = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0}
    loaded = TD3.load(f"{tmp_path}/m.zip", custom_objects=zero)  # rl_zoo3's enjoy does this
    assert loaded.critic.optimizer.param_groups[0]["lr_ratio"] == pytest.approx(3e-4 / 1e-3)
