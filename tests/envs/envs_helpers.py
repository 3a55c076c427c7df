"""Helpers of the task-family tests (a uniquely named module, importable from any test file here)."""

from __future__ import annotations

from typing import Any

import numpy as np

import hyperbench.envs as henvs

#: Families that are cheap to build and step (MuJoCo v5 and pure NumPy).
LOCOMOTION = ["halfcheetah-vel", "halfcheetah-vel-medium", "halfcheetah-dir", "ant-dir", "ant-fwd-back", "ant-vel", "ant-goal"]
NUMPY = ["point-robot", "sparse-point-robot", "gridnavi"]
FAST = LOCOMOTION + NUMPY

_CACHE: dict[tuple[str, int], henvs.TaskFamily] = {}


def family(name: str, seed: int = 0) -> henvs.TaskFamily:
    """A family with default options, shared across tests (families are immutable apart from ``family.env``)."""
    key = (name, seed)
    if key not in _CACHE:
        _CACHE[key] = henvs.make_family(name, seed=seed)
    return _CACHE[key]


def rollout(env: Any, actions: list[Any], seed: int = 0, **reset_kwargs: Any) -> dict[str, list[Any]]:
    """Reset with ``seed`` and play ``actions`` (resetting when an episode ends); return what came back."""
    out: dict[str, list[Any]] = {"obs": [], "rewards": [], "terminated": [], "truncated": [], "infos": []}
    obs, info = env.reset(seed=seed, **reset_kwargs)
    out["obs"].append(obs)
    out["infos"].append(info)
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        for key, value in zip(out, (obs, reward, terminated, truncated, info)):
            out[key].append(value)
        if terminated or truncated:
            obs, info = env.reset()
            out["obs"].append(obs)
            out["infos"].append(info)
    return out


def random_actions(env: Any, n: int, seed: int = 0) -> list[Any]:
    """``n`` actions from a seeded copy of the action space (independent of any environment state)."""
    space = env.action_space
    space.seed(seed)
    return [space.sample() for _ in range(n)]


def flatten(obs: Any) -> np.ndarray:
    """Observation (Box or Dict) as one vector, for comparisons."""
    if isinstance(obs, dict):
        return np.concatenate([np.asarray(obs[k], dtype=np.float64).ravel() for k in sorted(obs)])
    return np.asarray(obs, dtype=np.float64).ravel()
