"""Every critic variant in TD3 / SAC (and SA-Hyper in TQC): learn, save, load in a fresh process, compare."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm

import hyperbench  # noqa: F401  (registers the policy aliases)
from hyperbench.nn.baselines import Q_NETWORKS
from hyperbench.sb3 import HyperbenchCritic, HyperbenchQuantileCritic, SAHyperTD3Policy

ALGOS: dict[str, type[BaseAlgorithm]] = {"TD3": TD3, "SAC": SAC, "TQC": TQC}
CASES = [(algo, critic) for algo in ("TD3", "SAC") for critic in Q_NETWORKS] + [("TQC", "sa-hyper"), ("TQC", "mlp")]
SMALL = {"preset": "lite", "dynamic_hidden": (32,), "net_arch": [32, 32]}

# Loads every saved model in a fresh interpreter and prints deterministic actions and Q-values as JSON.
LOADER = """
import json, sys
import numpy as np, torch as th
import hyperbench
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3
algos = {"TD3": TD3, "SAC": SAC, "TQC": TQC}
obs = np.load(sys.argv[1])
out = {}
for item in json.loads(sys.argv[2]):
    model = algos[item["algo"]].load(item["path"], device="cpu")
    actions, _ = model.predict(obs, deterministic=True)
    with th.no_grad():
        q = model.critic(th.as_tensor(obs), th.as_tensor(actions))
    q = th.stack(q) if isinstance(q, tuple) else q
    out[item["path"]] = {"actions": actions.tolist(), "q": q.tolist()}
print(json.dumps(out))
"""


def q_values(model: BaseAlgorithm, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    with th.no_grad():
        q = model.critic(th.as_tensor(obs), th.as_tensor(actions))  # type: ignore[attr-defined]
    return (th.stack(q) if isinstance(q, tuple) else q).numpy()


def test_every_critic_learns_saves_and_loads_in_a_fresh_process(tmp_path: Path) -> None:
    env = gym.make("Pendulum-v1")
    obs = np.stack([env.observation_space.sample() for _ in range(8)]).astype(np.float32)
    np.save(tmp_path / "obs.npy", obs)
    expected, items = {}, []
    for algo, critic in CASES:
        model = ALGOS[algo](
            "HyperbenchPolicy", env, learning_starts=16, batch_size=8, seed=0, policy_kwargs={"critic": critic, **SMALL}
        )
        model.learn(24)
        path = str(tmp_path / f"{algo}-{critic}.zip")
        model.save(path)
        actions, _ = model.predict(obs, deterministic=True)
        expected[path] = (actions, q_values(model, obs, actions))
        items.append({"algo": algo, "path": path})
        assert np.isfinite(expected[path][1]).all()
        # MLP-Standard/Small/Large are SB3's own critics; the rest are hyperbench's.
        if critic.startswith("mlp"):
            assert not isinstance(model.critic, HyperbenchCritic)
        else:
            assert isinstance(model.critic, HyperbenchQuantileCritic if algo == "TQC" else HyperbenchCritic)
    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(tmp_path / "obs.npy"), json.dumps(items)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for path, (actions, q) in expected.items():
        np.testing.assert_array_equal(np.asarray(loaded[path]["actions"], dtype=np.float32), actions, err_msg=path)
        np.testing.assert_allclose(np.asarray(loaded[path]["q"]), q, rtol=1e-6, atol=1e-6, err_msg=path)


def test_policy_options_are_saved(tmp_path: Path) -> None:
    env = gym.make("Pendulum-v1")
    kwargs = {
        "critic": "sa-hyper",
        "preset": (16, 32),
        "init": "weight-hyperinit",
        "dynamic_hidden": (8, 8),
        "critic_lr": 1e-4,
    }
    model = SAC("SAHyperPolicy", env, learning_rate=1e-3, policy_kwargs=kwargs)
    model.save(tmp_path / "m.zip")
    loaded = SAC.load(tmp_path / "m.zip")
    hyper = loaded.critic.q_net.hyper
    assert hyper.primary_config.widths == (16, 32) and hyper.layer_sizes == (1, 8, 8, 1)
    assert hyper.init_scheme == "weight-hyperinit"
    assert loaded.critic.optimizer.param_groups[0]["lr_ratio"] == pytest.approx(0.1)


def test_string_aliases_and_classes() -> None:
    env = gym.make("Pendulum-v1")
    assert isinstance(TD3(SAHyperTD3Policy, env, policy_kwargs=dict(SMALL)).policy, SAHyperTD3Policy)
    for algo in (TD3, SAC, TQC):
        assert algo("SAHyperPolicy", env, policy_kwargs=dict(SMALL)).critic.critic_name == "sa-hyper"
        assert algo("ASHyperPolicy", env, policy_kwargs=dict(SMALL)).critic.critic_name == "as-hyper"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"critic": "sa-hyprr"}, r"Unknown critic 'sa-hyprr'.*Did you mean 'sa-hyper'"),
        ({"init": "kaimin"}, r"Unknown init scheme 'kaimin'.*Did you mean 'kaiming'"),
        ({"preset": "papr"}, r"Unknown primary preset 'papr'.*Did you mean 'paper'"),
    ],
)
def test_unknown_names_list_valid_ones(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TD3("SAHyperPolicy", gym.make("Pendulum-v1"), policy_kwargs=kwargs)


def test_critic_lr_follows_the_schedule_in_proportion() -> None:
    model = TD3(
        "SAHyperPolicy",
        gym.make("Pendulum-v1"),
        learning_rate=1e-3,
        learning_starts=8,
        batch_size=4,
        policy_kwargs={**SMALL, "critic_lr": 5e-5},
    )
    optimizer = model.critic.optimizer.optimizer  # the Adam that CriticLrOptimizer wraps
    seen = []
    original = th.optim.Adam.step

    def spy(self: th.optim.Optimizer, closure: object = None) -> object:
        if self is optimizer:
            seen.append(self.param_groups[0]["lr"])
        return original(self, closure)

    th.optim.Adam.step = spy  # type: ignore[method-assign]
    try:
        model.learn(12)
    finally:
        th.optim.Adam.step = original  # type: ignore[method-assign]
    assert seen and all(lr == pytest.approx(5e-5) for lr in seen)
    assert model.actor.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
