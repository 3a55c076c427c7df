"""Load an off-policy actor-critic for a diagnostic: a stored hyperbench policy or an SB3 ``.zip``.

- **hyperbench policies** (``hyperbench run --save-policies``): a directory holding ``policy.safetensors``
  and ``spec.json``, or the ``policy.safetensors`` file itself. The network is rebuilt by the method registry
  from the spec and the weights are loaded strictly (:func:`hyperbench.bench.rebuild.rebuild_sb3`); nothing
  is unpickled. The task comes from the spec. ``actor.safetensors`` (a leaderboard submission's actor-only
  checkpoint) holds no critic and is refused.
- **SB3 ``.zip``** files (``model.save(...)``; runner checkpoints are safetensors, not zips): loaded with the
  algorithm's own ``load``. SB3's loader unpickles parts of the file (cloudpickle), so only load files you
  made yourself. The algorithm (TD3, SAC or TQC) is read from the file's JSON metadata unless given; the
  file does not name its environment, so the task must be given.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

__all__ = ["ALGORITHMS", "LoadedModel", "ModelLoadError", "load_model"]

#: Algorithms a diagnostic of actor-critics accepts.
ALGORITHMS: tuple[str, ...] = ("td3", "sac", "tqc")


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


def _detect_algorithm(path: Path) -> str:
    """TD3 / SAC / TQC from the keys of an SB3 zip's JSON ``data`` (read as JSON: nothing is unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ModelLoadError(f"{path} is not an SB3 model archive ({exc})") from exc
    if "top_quantiles_to_drop_per_net" in data:
        return "tqc"
    if "policy_delay" in data:
        return "td3"
    if "target_entropy" in data:
        return "sac"
    raise ModelLoadError(f"cannot tell the algorithm of {path}: pass it explicitly (one of {', '.join(ALGORITHMS)})")


def _algorithm_class(name: str) -> Any:
    if name == "tqc":
        from sb3_contrib import TQC

        return TQC
    import stable_baselines3

    return getattr(stable_baselines3, name.upper())


def _task_env(task: str) -> Callable[[], gym.Env]:
    from hyperbench.bench.tasks import resolve_task

    handle = resolve_task(task)
    return lambda: handle.make_env()


def load_model(source: str | Path, *, task: str | None = None, algorithm: str | None = None) -> LoadedModel:
    """Load a TD3 / SAC / TQC model for a diagnostic (see the module docstring).

    :param source: a ``--save-policies`` directory, its ``policy.safetensors``, or an SB3 ``.zip``
    :param task: the Gymnasium id or task family to build environments of (required for a ``.zip``; for a
        stored policy it overrides the spec's task)
    :param algorithm: ``td3``, ``sac`` or ``tqc`` for a ``.zip`` (default: read from the file)
    :return: the model and its environment factory
    :raises ModelLoadError: a file of the wrong kind, a missing task, an unknown algorithm
    :raises FileNotFoundError: nothing at ``source``
    """
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}")
    if path.is_dir() or path.suffix == ".safetensors":
        return _load_stored_policy(path, task)
    if path.suffix != ".zip":
        raise ModelLoadError(
            f"{path}: expected a `hyperbench run --save-policies` directory (policy.safetensors + spec.json), "
            "a policy.safetensors file or an SB3 .zip"
        )
    if task is None:
        raise ModelLoadError(f"{path} is an SB3 .zip, which does not name its environment: pass the task (e.g. Hopper-v5)")
    name = (algorithm or _detect_algorithm(path)).lower()
    if name not in ALGORITHMS:
        raise ModelLoadError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    import hyperbench.sb3  # noqa: F401  (registers the policy classes a hyperbench model refers to)

    model = _algorithm_class(name).load(str(path), device="cpu")
    return LoadedModel(model=model, make_env=_task_env(task), label=path.stem, source=str(path))


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
