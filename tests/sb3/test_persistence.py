"""SB3 training state as safetensors + JSON: a restored algorithm continues bit-identically, nothing is unpickled."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from sb3_contrib import TQC
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import NormalActionNoise

import hyperbench  # noqa: F401  (policy aliases)
from hyperbench.sb3.persistence import (
    BUFFER_FILE,
    STATE_FILE,
    TrainingStateError,
    load_training_state,
    save_training_state,
)

SMALL_HYPER = {"preset": "lite", "dynamic_hidden": (16,), "net_arch": [16], "critic_lr": 1e-4}


def _build(algo: type[BaseAlgorithm], policy: str, **extra: Any) -> BaseAlgorithm:
    kwargs: dict[str, Any] = {"learning_starts": 40, "buffer_size": 500, "batch_size": 16, "seed": 0, **extra}
    if policy == "MlpPolicy":
        kwargs.setdefault("policy_kwargs", {"net_arch": [16]})
    else:
        kwargs.setdefault("policy_kwargs", dict(SMALL_HYPER))
    if algo is TD3:
        kwargs["action_noise"] = NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))
    return algo(policy, gym.make("Pendulum-v1"), **kwargs)


def _snapshot(model: BaseAlgorithm) -> dict[str, Any]:
    """Every tensor and number training continues from."""
    out: dict[str, Any] = {f"policy.{k}": v.clone() for k, v in model.policy.state_dict().items()}
    names, variables = model._get_torch_save_params()
    for name in names:
        if name == "policy":
            continue
        obj = model
        for part in name.split("."):
            obj = getattr(obj, part)
        sd = obj.state_dict()
        for index, state in sd["state"].items():
            for key, value in state.items():
                out[f"{name}.state.{index}.{key}"] = value.clone() if isinstance(value, th.Tensor) else value
        out[f"{name}.param_groups"] = sd["param_groups"]
    for name in variables:
        out[f"var.{name}"] = getattr(model, name).detach().clone()
    buffer = model.replay_buffer
    assert buffer is not None
    n = buffer.buffer_size if buffer.full else buffer.pos
    for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts"):
        out[f"buffer.{name}"] = getattr(buffer, name)[:n].copy()
    out["buffer.pos"], out["buffer.full"] = buffer.pos, buffer.full
    for key in ("num_timesteps", "_n_updates", "_episode_num", "_current_progress_remaining"):
        out[key] = getattr(model, key)
    return out


def _assert_identical(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, th.Tensor):
            assert x.dtype == y.dtype and x.shape == y.shape and th.equal(x, y), key
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), key
        else:
            assert x == y, key


CASES: list[tuple[type[BaseAlgorithm], str]] = [
    (TD3, "MlpPolicy"),
    (SAC, "MlpPolicy"),
    (TQC, "MlpPolicy"),
    (SAC, "SAHyperPolicy"),  # the critic's own optimizer with a learning-rate ratio
]


@pytest.mark.parametrize(("algo", "policy"), CASES, ids=[f"{a.__name__}-{p}" for a, p in CASES])
def test_restored_algorithm_continues_bit_identically(algo: type[BaseAlgorithm], policy: str, tmp_path: Path) -> None:
    model = _build(algo, policy)
    model.learn(120)
    save_training_state(model, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {STATE_FILE, BUFFER_FILE}
    saved = _snapshot(model)

    fresh = _build(algo, policy, seed=99)  # other initial weights and random streams
    assert not th.equal(next(iter(fresh.policy.parameters())), next(iter(model.policy.parameters())))
    load_training_state(fresh, tmp_path)
    _assert_identical(saved, _snapshot(fresh))

    # Continue both from the same environment state: every update, sample and noise draw must match.
    for m in (model, fresh):
        m._last_obs = None  # type: ignore[assignment]
        m.env.seed(7)  # type: ignore[union-attr]
    rng_after_save = th.get_rng_state()
    load_training_state(fresh, tmp_path)  # the original continues from the saved random state too
    assert th.equal(th.get_rng_state(), rng_after_save)
    model.learn(80, reset_num_timesteps=False)
    load_training_state(fresh, tmp_path)
    fresh.learn(80, reset_num_timesteps=False)
    after = _snapshot(model)
    assert after["num_timesteps"] == 200 and after["_n_updates"] > saved["_n_updates"]
    assert not th.equal(
        after[next(k for k in after if k.startswith("policy."))], saved[next(k for k in saved if k.startswith("policy."))]
    )
    _assert_identical(after, _snapshot(fresh))


def test_buffer_wraps_and_dict_observations_round_trip(tmp_path: Path) -> None:
    from hyperbench.envs import make_family

    env = make_family("point-robot", seed=0, n_train=4, n_test=2).make_env(context_obs=True, resample_on_reset=True)
    model = SAC("MultiInputPolicy", env, learning_starts=20, buffer_size=50, batch_size=8, policy_kwargs={"net_arch": [8]})
    model.learn(80)
    assert model.replay_buffer is not None and model.replay_buffer.full
    save_training_state(model, tmp_path)
    fresh = SAC("MultiInputPolicy", env, learning_starts=20, buffer_size=50, batch_size=8, policy_kwargs={"net_arch": [8]})
    load_training_state(fresh, tmp_path)
    for key, array in model.replay_buffer.observations.items():  # type: ignore[union-attr]
        assert np.array_equal(array, fresh.replay_buffer.observations[key])  # type: ignore[union-attr, index]
    assert (fresh.replay_buffer.pos, fresh.replay_buffer.full) == (model.replay_buffer.pos, True)  # type: ignore[union-attr]


def _edit_header(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])


def _bump_counter(header: dict[str, Any]) -> None:
    counters = json.loads(header["__metadata__"]["counters"])
    counters["num_timesteps"] += 1000
    header["__metadata__"]["counters"] = json.dumps(counters, sort_keys=True)


def _flip_weight(header: dict[str, Any]) -> None:  # keep the header, change nothing: done on the bytes below
    pass


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("counter", "SHA-256 does not match"),
        ("weight byte", "SHA-256 does not match"),
        ("other architecture", "saved"),
        ("other algorithm", "saved from a TD3, not a SAC"),
        ("missing", "missing"),
    ],
)
def test_foreign_or_edited_state_is_refused_before_anything_changes(what: str, message: str, tmp_path: Path) -> None:
    model = _build(TD3, "MlpPolicy")
    model.learn(60)
    save_training_state(model, tmp_path)
    target: BaseAlgorithm = _build(TD3, "MlpPolicy", seed=5)
    state = tmp_path / STATE_FILE
    if what == "counter":
        _edit_header(state, _bump_counter)
    elif what == "weight byte":
        data = bytearray(state.read_bytes())
        data[-1] ^= 0x01
        state.write_bytes(bytes(data))
    elif what == "other architecture":
        target = TD3("MlpPolicy", gym.make("Pendulum-v1"), policy_kwargs={"net_arch": [8]}, buffer_size=500, seed=5)
    elif what == "other algorithm":
        target = _build(SAC, "MlpPolicy", seed=5)
    else:
        state.unlink()
    before = {k: v.clone() for k, v in target.policy.state_dict().items()}
    with pytest.raises(TrainingStateError, match=message):
        load_training_state(target, tmp_path)
    assert all(th.equal(before[k], v) for k, v in target.policy.state_dict().items())
