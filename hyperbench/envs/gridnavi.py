"""GridNavi (VariBAD, Zintgraf et al. 2020): find a hidden goal cell on a 5×5 grid in 15 steps. Pure NumPy.

The agent starts in cell (0, 0); actions are 0 stay, 1 up (+y), 2 right (+x), 3 down (−y), 4 left (−x),
clipped at the walls. Reward +1 in the goal cell (after the move), −0.1 anywhere else; the goal is not
terminal. Observation: the agent's cell (x, y) as float32. VariBAD's meta-episode is 4 such episodes in the
same task; that is the learner's business (``resample_on_reset=False`` keeps the task across resets).

Goals follow VariBAD's code: every cell except the start and its three neighbours (0, 1), (1, 0), (1, 1) —
21 goals on the 5×5 grid (``exclude_start_neighbours=False`` allows all 24 non-start cells). By default
both splits hold every goal (VariBAD samples training and evaluation goals from the same set); ``n_train`` /
``n_test`` pick that many goals without replacement with the family seed. ``is_success``: the goal cell was
reached at some step of the episode.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from hyperbench.envs.base import TaskEnv, TaskFamily, _check_count
from hyperbench.envs.tasks import GridGoalTask, Task
from hyperbench.envs.vector import VectorStep, VectorTaskEnv

__all__ = ["GridNaviEnv", "GridNaviFamily", "GridNaviVectorEnv"]

#: (dx, dy) of actions 0 stay, 1 up, 2 right, 3 down, 4 left (VariBAD's numbering)
MOVES: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))
START: tuple[int, int] = (0, 0)


class GridNaviEnv(TaskEnv):
    """The GridNavi simulator (see the module docstring)."""

    def __init__(self, family: GridNaviFamily, **kwargs: Any) -> None:
        self._family: GridNaviFamily = family
        self._cell = START
        self._goal = START
        high = float(family.grid_size - 1)
        super().__init__(
            family,
            observation_space=spaces.Box(0.0, high, shape=(2,), dtype=np.float32),
            action_space=spaces.Discrete(len(MOVES)),
            **kwargs,
        )

    def _apply_task(self, task: Task) -> None:
        assert isinstance(task, GridGoalTask)
        self._goal = (task.goal[0], task.goal[1])

    def _obs(self) -> np.ndarray:
        return np.array(self._cell, dtype=np.float32)

    def _reset_model(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        self._cell = START
        return self._obs(), {"position": self._obs()}

    def _step_model(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        array = np.asarray(action)
        if array.size != 1 or not np.issubdtype(array.dtype, np.integer) or not 0 <= int(array.item()) < len(MOVES):
            raise ValueError(f"GridNavi actions are integers in [0, {len(MOVES) - 1}], got {action!r}")
        dx, dy = MOVES[int(array.item())]
        top = self._family.grid_size - 1
        self._cell = (min(max(self._cell[0] + dx, 0), top), min(max(self._cell[1] + dy, 0), top))
        at_goal = self._cell == self._goal
        reward = 1.0 if at_goal else -0.1
        return self._obs(), reward, False, False, {"position": self._obs(), "success": at_goal}


class GridNaviVectorEnv(VectorTaskEnv):
    """``n`` GridNavi grids on integer arrays: the dynamics and rewards of :class:`GridNaviEnv`."""

    def __init__(self, family: GridNaviFamily) -> None:
        super().__init__(family)
        self._moves = np.array(MOVES, dtype=np.int64)
        self._cell = np.zeros((0, 2), dtype=np.int64)
        self._goal = np.zeros((0, 2), dtype=np.int64)
        self._succeeded = np.zeros(0, dtype=bool)

    def reset(self, tasks: Any, seeds: Any) -> np.ndarray:
        if len(tasks) != len(seeds):
            raise ValueError(f"need one seed per task, got {len(tasks)} tasks and {len(seeds)} seeds")
        goals = []
        for task in tasks:
            checked = self.family.validate_task(task)
            assert isinstance(checked, GridGoalTask)
            goals.append(checked.goal)
        self.num_envs = len(tasks)
        self._goal = np.array(goals, dtype=np.int64).reshape(self.num_envs, 2)
        self._cell = np.tile(np.array(START, dtype=np.int64), (self.num_envs, 1))
        self._succeeded = np.zeros(self.num_envs, dtype=bool)
        return self._cell.astype(np.float32)

    def step(self, actions: np.ndarray, active: np.ndarray) -> VectorStep:
        n = self.num_envs
        array = np.asarray(actions).reshape(n)
        if not np.issubdtype(array.dtype, np.integer) or (array[active] < 0).any() or (array[active] >= len(MOVES)).any():
            raise ValueError(f"GridNavi actions are integers in [0, {len(MOVES) - 1}], got {array!r}")
        top = self.family.grid_size - 1
        moved = np.clip(self._cell + self._moves[np.where(active, array, 0)], 0, top)
        self._cell = np.where(active[:, None], moved, self._cell)
        at_goal = (self._cell == self._goal).all(axis=1) & active
        reward = np.where(active, np.where(at_goal, 1.0, -0.1), 0.0)
        self._succeeded |= at_goal
        none = np.zeros(n, dtype=bool)
        return VectorStep(self._cell.astype(np.float32), reward, none, none.copy(), self._succeeded & active)


class GridNaviFamily(TaskFamily):
    """GridNavi (VariBAD): 5×5 grid, 15 steps, −0.1 per step and +1 in the hidden goal cell.

    :param seed: family seed (only matters when ``n_train``/``n_test`` select a subset of the goals)
    :param grid_size: side of the grid
    :param exclude_start_neighbours: exclude (0,1), (1,0), (1,1) from the goals as VariBAD's code does
    :param n_train: number of train goals (default: all)
    :param n_test: number of test goals (default: all)
    """

    name = "gridnavi"
    env_id = "hyperbench/GridNavi-v0"
    task_type = GridGoalTask
    horizon: ClassVar[int] = 15
    has_success: ClassVar[bool] = True
    action_kind: ClassVar[str] = "discrete"

    def __init__(
        self,
        seed: int = 0,
        *,
        grid_size: int = 5,
        exclude_start_neighbours: bool = True,
        n_train: int | None = None,
        n_test: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.grid_size = _check_count(grid_size, "grid_size", minimum=3, maximum=1000)
        excluded = {START} | ({(0, 1), (1, 0), (1, 1)} if exclude_start_neighbours else set())
        self.excluded = frozenset(excluded)
        goals: list[Task] = [
            GridGoalTask((x, y)) for x in range(self.grid_size) for y in range(self.grid_size) if (x, y) not in self.excluded
        ]
        self.all_goals = goals
        g_train, g_test, _ = self._split_generators()
        lists = []
        for rng, n, what in ((g_train, n_train, "n_train"), (g_test, n_test, "n_test")):
            if n is None:
                lists.append(list(goals))
                continue
            n = _check_count(n, what)
            if n > len(goals):
                side = self.grid_size
                raise ValueError(f"{what}={n} exceeds the {len(goals)} possible goals of a {side}×{side} grid")
            lists.append([goals[i] for i in sorted(rng.choice(len(goals), size=n, replace=False))])
        self.config = {
            "grid_size": self.grid_size,
            "exclude_start_neighbours": bool(exclude_start_neighbours),
            "n_train": n_train,
            "n_test": n_test,
        }
        self._set_tasks(lists[0], lists[1])

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, GridGoalTask)
        goal = task.goal
        if len(goal) != 2 or not all(0 <= v < self.grid_size for v in goal):
            raise ValueError(f"{self.name}: goal {goal} must be a cell (x, y) with 0 <= x, y <= {self.grid_size - 1}")
        if goal in self.excluded:
            raise ValueError(f"{self.name}: goal {goal} is not allowed (excluded cells: {sorted(self.excluded)})")

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, GridGoalTask)
        return np.array(task.goal, dtype=np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(2), np.full(2, float(self.grid_size - 1))

    def task_from_context(self, context: Any) -> Task:
        """The goal cell whose context is ``context`` (two integer-valued coordinates)."""
        c = self._check_context_size(context)
        if not np.all(c == np.round(c)):
            raise ValueError(f"{self.name}: context must hold integer cell coordinates, got {c.tolist()}")
        return self.validate_task(GridGoalTask((int(c[0]), int(c[1]))))

    def _make_core_env(self, **env_kwargs: Any) -> GridNaviEnv:
        return GridNaviEnv(self, **env_kwargs)

    def make_vector_env(self) -> GridNaviVectorEnv:
        """``n`` grids stepped on arrays (the same numbers as :class:`GridNaviEnv`)."""
        return GridNaviVectorEnv(self)
