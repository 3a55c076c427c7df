"""Load an off-policy actor-critic for a diagnostic from a stored hyperbench policy.

A stored policy (``hyperbench run --save-policies``) is a directory holding ``policy.safetensors`` and
``spec.json``, or the ``policy.safetensors`` file itself. The network is rebuilt by the method registry from
the spec and the weights are loaded strictly (:func:`hyperbench.bench.rebuild.rebuild_sb3`); nothing is
unpickled. The task comes from the spec. ``actor.safetensors`` (a leaderboard submission's actor-only
checkpoint) holds no critic and is refused.

SB3 ``.zip`` archives are refused: SB3's loader unpickles parts of them, and hyperbench never
unpickles a file. A model of your own is measured in Python instead: load it yourself, then call
:func:`hyperbench.diagnostics.grad_cs` on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

__all__ = ["LoadedModel", "ModelLoadError", "load_model"]


class ModelLoadError(ValueError):
    """A model file that cannot be loaded for a diagnostic; the message says what to pass instead."""


@dataclass
class LoadedModel:
    """A model and the environments to diagnose it on."""

    model: Any
    """the SB3 / sb3-contrib algorithm"""
    make_env: Callable[[], gym.Env]
    """builds one environment of the model's task, with the observation layout it expects"""
    label: str
    """a short name (the method label or the file name)"""
    source: str
    """where it was loaded from"""


def _task_env(task: str) -> Callable[[], gym.Env]:
    from hyperbench.bench.tasks import resolve_task

    handle = resolve_task(task)
    return lambda: handle.make_env()


def load_model(source: str | Path, *, task: str | None = None) -> LoadedModel:
    """Load a stored TD3 / SAC / TQC policy for a diagnostic (see the module docstring).

    :param source: a ``--save-policies`` directory or its ``policy.safetensors``
    :param task: the Gymnasium id or task family to build environments of (default: the spec's task)
    :return: the model and its environment factory
    :raises ModelLoadError: a file of the wrong kind (an SB3 ``.zip`` included), a missing spec
    :raises FileNotFoundError: nothing at ``source``
    """
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}")
    if path.suffix == ".zip":
        raise ModelLoadError(
            f"{path}: SB3 .zip archives are not loaded, because SB3's loader unpickles part of them and hyperbench "
            "never unpickles a file. Measure your own model in Python (load it yourself, then call "
            "hyperbench.diagnostics.grad_cs(model, env)), or train it with `hyperbench run --save-policies`"
        )
    if not (path.is_dir() or path.suffix == ".safetensors"):
        raise ModelLoadError(
            f"{path}: expected a `hyperbench run --save-policies` directory (policy.safetensors + spec.json) "
            "or a policy.safetensors file"
        )
    return _load_stored_policy(path, task)


def _load_stored_policy(path: Path, task: str | None) -> LoadedModel:
    from hyperbench.bench.rebuild import ACTOR_WEIGHTS, POLICY_WEIGHTS, rebuild_sb3
    from hyperbench.bench.suite import RunSpec

    directory = path if path.is_dir() else path.parent
    weights = directory / POLICY_WEIGHTS if path.is_dir() else path
    if weights.name == ACTOR_WEIGHTS or (path.is_dir() and not weights.exists() and (directory / ACTOR_WEIGHTS).exists()):
        raise ModelLoadError(
            f"{directory / ACTOR_WEIGHTS} holds only the actor; a diagnostic of the critic needs the whole policy "
            f"({POLICY_WEIGHTS}, written by `hyperbench run --save-policies`)"
        )
    if not weights.is_file():
        raise ModelLoadError(f"no {POLICY_WEIGHTS} in {directory} (written by `hyperbench run --save-policies`)")
    spec_file = directory / "spec.json"
    if not spec_file.is_file():
        raise ModelLoadError(f"no spec.json beside {weights}: the policy cannot be rebuilt without its run spec")
    spec = RunSpec.from_dict(json.loads(spec_file.read_text(encoding="utf-8")))
    rebuilt = rebuild_sb3(spec, weights)
    make_env = _task_env(task) if task is not None else rebuilt.make_env
    return LoadedModel(model=rebuilt.learner, make_env=make_env, label=spec.method, source=str(path))
