"""Task objects: small, frozen, JSON-serialisable descriptions of one MDP of a task family.

Run records and the leaderboard store tasks as ``task.to_dict()``; :func:`task_from_dict` rebuilds them. Every
task type normalises its fields to plain Python values (``float``/``int``/``str``/``tuple``) in
``__post_init__``, so a task built from NumPy scalars or a JSON list compares equal to the original and
``json.dumps(task.to_dict())`` always works.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "TASK_TYPES",
    "AngleTask",
    "DirectionTask",
    "GoalTask",
    "GridGoalTask",
    "MetaWorldTask",
    "Task",
    "VelocityTask",
    "task_from_dict",
]

#: ``kind`` string → task class; filled by :meth:`Task.__init_subclass__`.
TASK_TYPES: dict[str, type[Task]] = {}


def _finite_float(value: Any, what: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be a real number, got {value!r}") from exc
    if not math.isfinite(result):
        raise ValueError(f"{what} must be finite, got {result}")
    return result


def _float_tuple(values: Any, what: str) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what} must be a sequence of numbers, got {values!r}")
    return tuple(_finite_float(v, f"{what}[{i}]") for i, v in enumerate(values))


@dataclass(frozen=True)
class Task:
    """Base class of all task types. Subclasses set the class attribute ``kind`` (the JSON tag)."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            TASK_TYPES[cls.kind] = cls

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict ``{"kind": ..., <field>: <value>, ...}`` (tuples become lists)."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        """Rebuild a task from :meth:`to_dict` output (the ``kind`` key is optional when called on a subclass).

        :param data: mapping of field names to values
        :return: the task
        """
        if cls is Task:
            return task_from_dict(data)
        kind = data.get("kind", cls.kind)
        if kind != cls.kind:
            raise ValueError(f"cannot build a {cls.__name__} (kind {cls.kind!r}) from a task of kind {kind!r}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names) - {"kind"})
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise ValueError(
                f"bad {cls.__name__} fields: unknown {unknown}, missing {missing}; expected exactly {names} (plus 'kind')"
            )
        return cls(**{n: data[n] for n in names})


@dataclass(frozen=True)
class VelocityTask(Task):
    """Track a target forward velocity (HalfCheetah-Vel, HalfCheetah-Vel-Medium, Ant-Vel).

    :param velocity: target velocity v* along +x, in m/s
    """

    kind: ClassVar[str] = "velocity"
    velocity: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "velocity", _finite_float(self.velocity, "velocity"))


@dataclass(frozen=True)
class DirectionTask(Task):
    """Run forward (+1) or backward (-1) along x (HalfCheetah-Dir, Ant-Fwd-Back).

    :param direction: +1 or -1
    """

    kind: ClassVar[str] = "direction"
    direction: int

    def __post_init__(self) -> None:
        value = self.direction
        if isinstance(value, bool) or value not in (1, -1):
            raise ValueError(f"direction must be +1 (forward) or -1 (backward), got {value!r}")
        object.__setattr__(self, "direction", int(value))


@dataclass(frozen=True)
class AngleTask(Task):
    """Run in the planar direction (cos θ, sin θ) (Ant-Dir, full circle).

    :param angle: θ in radians, in [0, 2π)
    """

    kind: ClassVar[str] = "angle"
    angle: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "angle", _finite_float(self.angle, "angle"))


@dataclass(frozen=True)
class GoalTask(Task):
    """Reach a goal position in the plane (Ant-Goal, Point-Robot, Sparse-Point-Robot).

    :param goal: goal coordinates (x, y)
    """

    kind: ClassVar[str] = "goal"
    goal: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "goal", _float_tuple(self.goal, "goal"))


@dataclass(frozen=True)
class GridGoalTask(Task):
    """A hidden goal cell of GridNavi.

    :param goal: goal cell (x, y), integers
    """

    kind: ClassVar[str] = "grid-goal"
    goal: tuple[int, ...]

    def __post_init__(self) -> None:
        goal = self.goal
        if isinstance(goal, (str, bytes)) or not hasattr(goal, "__iter__"):
            raise TypeError(f"goal must be a pair of integers (x, y), got {goal!r}")
        cells = []
        for v in goal:
            if isinstance(v, bool) or float(v) != int(v):
                raise ValueError(f"goal cells must be integers, got {goal!r}")
            cells.append(int(v))
        object.__setattr__(self, "goal", tuple(cells))


@dataclass(frozen=True)
class MetaWorldTask(Task):
    """One Meta-World task: an environment class and one of its goal configurations.

    The task is identified by ``(split, env_name, index)`` inside the Meta-World benchmark object that the
    family builds from its seed; ``rand_vec`` (Meta-World's object/goal position vector) is stored too so a
    record can be read without Meta-World and so a task from a family built with another seed is rejected.

    :param env_name: Meta-World environment name, e.g. ``"pick-place-v3"``
    :param split: ``"train"`` or ``"test"`` (Meta-World's own train/test goals or classes)
    :param index: index of the goal among that class's goals in that split
    :param rand_vec: Meta-World's task vector (initial object position(s) and goal position)
    """

    kind: ClassVar[str] = "metaworld"
    env_name: str
    split: str
    index: int
    rand_vec: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.env_name, str) or not isinstance(self.split, str):
            raise TypeError("env_name and split must be strings")
        if isinstance(self.index, bool) or int(self.index) != self.index:
            raise TypeError(f"index must be an integer, got {self.index!r}")
        object.__setattr__(self, "index", int(self.index))
        object.__setattr__(self, "rand_vec", _float_tuple(self.rand_vec, "rand_vec"))


def task_from_dict(data: Mapping[str, Any]) -> Task:
    """Rebuild any task from its :meth:`Task.to_dict` form, dispatching on ``data["kind"]``.

    :param data: mapping with a ``"kind"`` key naming one of :data:`TASK_TYPES`
    :return: the task
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"a task dict must be a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in TASK_TYPES:
        close = difflib.get_close_matches(str(kind), list(TASK_TYPES), n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(f"unknown task kind {kind!r}{hint} (valid kinds: {sorted(TASK_TYPES)})")
    return TASK_TYPES[kind].from_dict(data)
