"""Family registry, ``make_family`` and the Gymnasium registration of the ``hyperbench/`` ids.

Family classes are named by lazy ``"module:Class"`` strings and every Gymnasium id points at the string entry
point ``"hyperbench.envs.registry:make_task_env"``, so ``import hyperbench.envs`` loads neither MuJoCo nor
Meta-World (the same idea as Gymnasium's own registration of its MuJoCo environments).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import gymnasium as gym

from hyperbench.envs.base import TaskEnv, TaskFamily

__all__ = ["ENV_IDS", "ENV_KWARGS", "FAMILIES", "FamilyInfo", "make_family", "make_task_env", "register_envs"]

#: Keyword arguments of ``gym.make(<hyperbench id>, ...)`` that configure the environment; every other keyword
#: (besides ``family_seed`` and ``family``) is passed to the family constructor.
ENV_KWARGS: tuple[str, ...] = ("task", "split", "resample_on_reset", "context_obs", "success_info", "render_mode")

_ENTRY_POINT = "hyperbench.envs.registry:make_task_env"


@dataclass(frozen=True)
class FamilyInfo:
    """Registry entry of one task family.

    :param name: registry name (``make_family(name)``)
    :param entry_point: ``"module:Class"`` of the family class
    :param env_id: Gymnasium id
    :param max_episode_steps: horizon (the registered time limit)
    :param summary: one line for listings
    """

    name: str
    entry_point: str
    env_id: str
    max_episode_steps: int
    summary: str

    def load(self) -> type[TaskFamily]:
        """Import and return the family class."""
        module, _, attr = self.entry_point.partition(":")
        cls: type[TaskFamily] = getattr(importlib.import_module(module), attr)
        return cls


_INFOS = (
    FamilyInfo(
        "halfcheetah-vel",
        "hyperbench.envs.locomotion:HalfCheetahVelFamily",
        "hyperbench/HalfCheetahVel-v0",
        200,
        "HalfCheetah target velocity v* ~ U[0, 3]; 100 train / 30 test (PEARL)",
    ),
    FamilyInfo(
        "halfcheetah-vel-medium",
        "hyperbench.envs.locomotion:HalfCheetahVelMediumFamily",
        "hyperbench/HalfCheetahVelMedium-v0",
        200,
        "HalfCheetah velocity, train and test U[0, 2.5], out-of-distribution test U[2.5, 3] (MQL)",
    ),
    FamilyInfo(
        "halfcheetah-dir",
        "hyperbench.envs.locomotion:HalfCheetahDirFamily",
        "hyperbench/HalfCheetahDir-v0",
        200,
        "HalfCheetah forward / backward (2 tasks)",
    ),
    FamilyInfo(
        "ant-dir",
        "hyperbench.envs.locomotion:AntDirFamily",
        "hyperbench/AntDir-v0",
        200,
        "Ant running direction θ ~ U[0, 2π); 100 train / 30 test",
    ),
    FamilyInfo(
        "ant-fwd-back",
        "hyperbench.envs.locomotion:AntFwdBackFamily",
        "hyperbench/AntFwdBack-v0",
        200,
        "Ant forward / backward (2 tasks, PEARL's ant-dir)",
    ),
    FamilyInfo(
        "ant-vel",
        "hyperbench.envs.locomotion:AntVelFamily",
        "hyperbench/AntVel-v0",
        200,
        "Ant target velocity v* ~ U[0, 3]; 100 train / 30 test",
    ),
    FamilyInfo(
        "ant-goal",
        "hyperbench.envs.locomotion:AntGoalFamily",
        "hyperbench/AntGoal-v0",
        200,
        "Ant goal in a disc of radius 3; 150 train / 30 test (PEARL)",
    ),
    FamilyInfo(
        "point-robot",
        "hyperbench.envs.point_robot:PointRobotFamily",
        "hyperbench/PointRobot-v0",
        20,
        "2-D point, dense −distance to a goal on the unit half-circle; 80 train / 20 test (PEARL)",
    ),
    FamilyInfo(
        "sparse-point-robot",
        "hyperbench.envs.point_robot:SparsePointRobotFamily",
        "hyperbench/SparsePointRobot-v0",
        20,
        "2-D point, reward 1 within 0.2 of the goal; 80 train / 20 test (PEARL)",
    ),
    FamilyInfo(
        "gridnavi",
        "hyperbench.envs.gridnavi:GridNaviFamily",
        "hyperbench/GridNavi-v0",
        15,
        "5×5 grid, hidden goal, 15 steps (VariBAD)",
    ),
    FamilyInfo(
        "ml1",
        "hyperbench.envs.meta_world:ML1Family",
        "hyperbench/ML1-v0",
        500,
        "Meta-World ML1 (env_name=..., default pick-place-v3); 50 train / 50 test goals",
    ),
    FamilyInfo(
        "ml10",
        "hyperbench.envs.meta_world:ML10Family",
        "hyperbench/ML10-v0",
        500,
        "Meta-World ML10: 10 train / 5 test environment classes",
    ),
    FamilyInfo(
        "ml45",
        "hyperbench.envs.meta_world:ML45Family",
        "hyperbench/ML45-v0",
        500,
        "Meta-World ML45: 45 train / 5 test environment classes",
    ),
)

#: name → :class:`FamilyInfo` of every registered task family.
FAMILIES: Mapping[str, FamilyInfo] = MappingProxyType({info.name: info for info in _INFOS})
#: Every Gymnasium id registered by :func:`register_envs`.
ENV_IDS: tuple[str, ...] = tuple(info.env_id for info in _INFOS)


def _resolve(name: str) -> tuple[FamilyInfo, dict[str, Any]]:
    """Look a family name up; ``"ml1/<env_name>"`` is shorthand for ``("ml1", env_name=<env_name>)``."""
    if not isinstance(name, str):
        raise TypeError(f"a family name must be a string, got {name!r}")
    key = name.strip().lower()
    extra: dict[str, Any] = {}
    if key.startswith("ml1/"):
        key, extra["env_name"] = "ml1", name.strip()[4:]
    if key not in FAMILIES:
        close = difflib.get_close_matches(key, list(FAMILIES), n=3, cutoff=0.5)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"unknown task family {name!r}.{hint} Registered families: {list(FAMILIES)}")
    return FAMILIES[key], extra


def make_family(name: str, seed: int = 0, **kwargs: Any) -> TaskFamily:
    """Build a task family by registry name.

    :param name: a key of :data:`FAMILIES` (case-insensitive), or ``"ml1/<env_name>"``
    :param seed: family seed (the task lists are a function of it)
    :param kwargs: family options (task counts, ranges, ``env_name`` for ML1, ...); see the family class
    :return: the family
    :raises ValueError: unknown name or option (the message lists the valid ones)
    """
    info, extra = _resolve(name)
    if extra and set(extra) & set(kwargs):
        raise ValueError(f"{name!r} already fixes {sorted(extra)}; do not pass it again")
    kwargs = {**extra, **kwargs}
    cls = info.load()
    valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "seed")]
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        hints = {k: difflib.get_close_matches(k, valid, n=1) for k in unknown}
        hint = "".join(f" ({k!r}: did you mean {v[0]!r}?)" for k, v in hints.items() if v)
        raise ValueError(f"unknown option(s) {unknown} for family {info.name!r}.{hint} Valid options: {valid}")
    return cls(seed, **kwargs)


def make_task_env(
    family_name: str,
    family: TaskFamily | None = None,
    family_seed: int = 0,
    **kwargs: Any,
) -> TaskEnv:
    """Gymnasium entry point of every ``hyperbench/`` id (``gym.make`` adds the time limit).

    :param family_name: set by the registration of the id
    :param family: an existing family object to bind to (its task lists and caches are shared)
    :param family_seed: seed of a newly built family (ignored when ``family`` is given)
    :param kwargs: environment options (:data:`ENV_KWARGS`) and family options (everything else)
    :return: the unwrapped :class:`TaskEnv`
    """
    if "seed" in kwargs:
        raise ValueError(
            "'seed' is ambiguous here: pass family_seed=... for the family (its task lists) and seed episodes "
            "with env.reset(seed=...)"
        )
    env_kwargs = {k: v for k, v in kwargs.items() if k in ENV_KWARGS}
    family_kwargs = {k: v for k, v in kwargs.items() if k not in ENV_KWARGS}
    if family is None:
        try:
            family = make_family(family_name, seed=family_seed, **family_kwargs)
        except ValueError as exc:
            raise ValueError(f"{exc}. Environment options are {list(ENV_KWARGS)} and family_seed.") from None
    else:
        if not isinstance(family, TaskFamily) or family.name != family_name:
            given = family.name if isinstance(family, TaskFamily) else type(family).__name__
            raise ValueError(
                f"this id belongs to family {family_name!r} but family=<{given}> was given; "
                f"use {FAMILIES[family_name].env_id!r} only with {family_name!r} families (or call family.make_env())"
            )
        if family_kwargs:
            raise ValueError(f"family options {sorted(family_kwargs)} cannot be combined with family=<object>")
    return family.make_core_env(**env_kwargs)


def register_envs() -> None:
    """Register every family's Gymnasium id (idempotent). Called on ``import hyperbench.envs``."""
    for info in _INFOS:
        if info.env_id in gym.registry:
            continue
        gym.register(
            id=info.env_id,
            entry_point=_ENTRY_POINT,
            max_episode_steps=info.max_episode_steps,
            kwargs={"family_name": info.name},
        )
