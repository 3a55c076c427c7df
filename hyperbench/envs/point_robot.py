"""Point-Robot and Sparse-Point-Robot (PEARL): a point on the plane moving towards a hidden goal. Pure NumPy.

The point starts at the origin; an action a ∈ [−1, 1]² moves it by ``max_step · a`` (default 0.1 per step,
PEARL's action bound, rescaled so the action space is the normalised box SB3 recommends). Horizon 20.

* **point-robot**: reward −‖p − g‖ (dense).
* **sparse-point-robot**: reward 1 if ‖p − g‖ < ``goal_radius`` (0.2) else 0. (PEARL's sparse variant pays
  1 − ‖p − g‖ inside the radius; we follow the table in docs/sources.md §6.) ``info["dense_reward"]``
  carries −‖p − g‖ for both.

Goals: by default on the unit upper half-circle at evenly spaced angles, shuffled with the family seed, the
first ``n_train`` for training and the rest for testing (PEARL's ``SparsePointEnv``; 80 train / 20 test as
in PEARL's configs). ``goal_sampling="square"`` draws goals uniformly from [−1, 1]² instead (PEARL's dense
``PointEnv``). Both families report ``is_success`` (goal radius reached at some step of the episode).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from hyperbench.envs.base import TaskEnv, TaskFamily, _check_count
from hyperbench.envs.tasks import GoalTask, Task
from hyperbench.envs.vector import VectorStep, VectorTaskEnv

__all__ = ["PointRobotEnv", "PointRobotFamily", "PointRobotVectorEnv", "SparsePointRobotFamily"]

_GOAL_SAMPLINGS = ("half-circle", "square")


class PointRobotEnv(TaskEnv):
    """The point-robot simulator (see the module docstring)."""

    def __init__(self, family: PointRobotFamily, **kwargs: Any) -> None:
        self._family: PointRobotFamily = family
        self._position = np.zeros(2)
        self._goal = np.zeros(2)
        super().__init__(
            family,
            observation_space=spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32),
            action_space=spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32),
            **kwargs,
        )

    def _apply_task(self, task: Task) -> None:
        assert isinstance(task, GoalTask)
        self._goal = np.array(task.goal, dtype=np.float64)

    def _reset_model(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        self._position = np.zeros(2)
        return self._position.astype(np.float32), {"position": self._position.copy()}

    def _step_model(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        step = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0) * self._family.max_step
        self._position = self._position + step
        distance = float(np.linalg.norm(self._position - self._goal))
        success = distance < self._family.goal_radius
        reward = float(success) if self._family.sparse else -distance
        info = {"position": self._position.copy(), "distance": distance, "dense_reward": -distance, "success": success}
        return self._position.astype(np.float32), reward, False, False, info


class PointRobotVectorEnv(VectorTaskEnv):
    """``n`` point robots on arrays: the arithmetic of :class:`PointRobotEnv`, row by row (bit-identical)."""

    def __init__(self, family: PointRobotFamily) -> None:
        super().__init__(family)
        self._position = np.zeros((0, 2))
        self._goal = np.zeros((0, 2))
        self._succeeded = np.zeros(0, dtype=bool)

    def reset(self, tasks: Any, seeds: Any) -> np.ndarray:
        if len(tasks) != len(seeds):
            raise ValueError(f"need one seed per task, got {len(tasks)} tasks and {len(seeds)} seeds")
        goals = []
        for task in tasks:
            checked = self.family.validate_task(task)
            assert isinstance(checked, GoalTask)
            goals.append(checked.goal)
        self.num_envs = len(tasks)
        self._goal = np.array(goals, dtype=np.float64).reshape(self.num_envs, 2)
        self._position = np.zeros((self.num_envs, 2))
        self._succeeded = np.zeros(self.num_envs, dtype=bool)
        return self._position.astype(np.float32)

    def step(self, actions: np.ndarray, active: np.ndarray) -> VectorStep:
        family = self.family
        n = self.num_envs
        step = np.clip(np.asarray(actions, dtype=np.float64).reshape(n, 2), -1.0, 1.0) * family.max_step
        self._position = np.where(active[:, None], self._position + step, self._position)
        diff = self._position - self._goal
        # a (n, 1, 2) @ (n, 2, 1) product is the same dot product np.linalg.norm takes of one vector
        distance = np.sqrt((diff[:, None, :] @ diff[:, :, None])[:, 0, 0])
        success = (distance < family.goal_radius) & active
        reward = success.astype(np.float64) if family.sparse else -distance
        reward = np.where(active, reward, 0.0)
        self._succeeded |= success
        none = np.zeros(n, dtype=bool)
        return VectorStep(self._position.astype(np.float32), reward, none, none.copy(), self._succeeded & active)


class PointRobotFamily(TaskFamily):
    """Point-Robot (PEARL): dense reward −‖p − g‖, horizon 20 (see the module docstring).

    :param seed: family seed
    :param n_train: number of train goals (PEARL: 80)
    :param n_test: number of test goals (PEARL: 20)
    :param goal_sampling: ``"half-circle"`` (unit upper half-circle, evenly spaced then shuffled) or ``"square"``
    :param goal_radius: success radius (and the sparse reward radius)
    :param max_step: distance moved per step by a unit action
    """

    name = "point-robot"
    env_id = "hyperbench/PointRobot-v0"
    task_type = GoalTask
    horizon: ClassVar[int] = 20
    has_success: ClassVar[bool] = True
    sparse: ClassVar[bool] = False

    def __init__(
        self,
        seed: int = 0,
        *,
        n_train: int = 80,
        n_test: int = 20,
        goal_sampling: str = "half-circle",
        goal_radius: float = 0.2,
        max_step: float = 0.1,
    ) -> None:
        super().__init__(seed)
        n_train, n_test = _check_count(n_train, "n_train"), _check_count(n_test, "n_test")
        if goal_sampling not in _GOAL_SAMPLINGS:
            raise ValueError(f"goal_sampling must be one of {list(_GOAL_SAMPLINGS)}, got {goal_sampling!r}")
        for what, value in (("goal_radius", goal_radius), ("max_step", max_step)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{what} must be a positive number, got {value!r}")
        self.goal_radius = float(goal_radius)
        self.max_step = float(max_step)
        #: goals farther than this (per coordinate) cannot be reached within the horizon
        self.reach = self.max_step * self.horizon
        self.config = {
            "n_train": n_train,
            "n_test": n_test,
            "goal_sampling": goal_sampling,
            "goal_radius": self.goal_radius,
            "max_step": self.max_step,
        }
        g_train, g_test, _ = self._split_generators()
        if goal_sampling == "half-circle":
            angles = np.linspace(0.0, math.pi, n_train + n_test)
            g_train.shuffle(angles)
            goals = [GoalTask((float(math.cos(a)), float(math.sin(a)))) for a in angles]
            train, test = goals[:n_train], goals[n_train:]
        else:
            train = [GoalTask((float(x), float(y))) for x, y in g_train.uniform(-1.0, 1.0, (n_train, 2))]
            test = [GoalTask((float(x), float(y))) for x, y in g_test.uniform(-1.0, 1.0, (n_test, 2))]
        self._set_tasks(list(train), list(test))

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, GoalTask)
        if len(task.goal) != 2:
            raise ValueError(f"{self.name}: a goal has 2 coordinates (x, y), got {len(task.goal)}: {task.goal}")
        if max(abs(v) for v in task.goal) > self.reach + 1e-9:
            raise ValueError(
                f"{self.name}: goal {task.goal} is outside the reachable square [{-self.reach:g}, {self.reach:g}]² "
                f"(max_step {self.max_step:g} × horizon {self.horizon})"
            )

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, GoalTask)
        return np.array(task.goal, dtype=np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return -np.full(2, self.reach), np.full(2, self.reach)

    def task_from_context(self, context: Any) -> Task:
        """The goal task whose context (the goal) is ``context``."""
        return self.validate_task(GoalTask(tuple(self._check_context_size(context))))

    def _make_core_env(self, **env_kwargs: Any) -> PointRobotEnv:
        return PointRobotEnv(self, **env_kwargs)

    def make_vector_env(self) -> PointRobotVectorEnv:
        """``n`` point robots stepped on arrays (the same numbers as :class:`PointRobotEnv`)."""
        return PointRobotVectorEnv(self)


class SparsePointRobotFamily(PointRobotFamily):
    """Sparse-Point-Robot (PEARL): reward 1 inside the goal radius (0.2), else 0; horizon 20.

    Same options as :class:`PointRobotFamily`.
    """

    name = "sparse-point-robot"
    env_id = "hyperbench/SparsePointRobot-v0"
    sparse: ClassVar[bool] = True
