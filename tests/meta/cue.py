"""A test task family that needs memory, and a tiny reference learner for the meta-learner contract.

**Cue** (horizon 4): the task is a sign ``s`` ∈ {−1, +1}. At every step the reward is ``match(a, s)``
(+1 for the action that matches ``s``, −1 for the other; Box actions: ``1 − |a − s|``), plus ``2s`` at step 0
(the cue: the sign of step 0's reward is ``s`` whatever the action). Observations carry only the time step.
A learner that remembers the reward of step 0 of the meta-episode acts right from step 1 of the first episode
and from step 0 of every later episode (return ``2s + 4``); one without memory does not.

:class:`MemoryLearner` is that learner, per task row and lane; ``remember=False`` makes it forget (control).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch as th
from gymnasium import spaces

from hyperbench.envs.base import TaskEnv, TaskFamily
from hyperbench.envs.tasks import GoalTask, Task
from hyperbench.meta import Headline, MetaLearner, Phase, Transition

HORIZON = 4


class CueEnv(TaskEnv):
    def __init__(self, family: CueFamily, **kwargs: Any) -> None:
        self._sign = 1.0
        self._t = 0
        action_space: spaces.Space[Any] = spaces.Discrete(2) if family.action_kind == "discrete" else spaces.Box(-1, 1, (1,))
        super().__init__(
            family, observation_space=spaces.Box(0, HORIZON, (1,), np.float32), action_space=action_space, **kwargs
        )

    def _apply_task(self, task: Task) -> None:
        assert isinstance(task, GoalTask)
        self._sign = float(task.goal[0])

    def _reset_model(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        self._t = 0
        return np.zeros(1, np.float32), {}

    def _step_model(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self.family.action_kind == "discrete":
            match = 1.0 if (2 * int(np.asarray(action).item()) - 1) == self._sign else -1.0
        else:
            match = 1.0 - abs(float(np.asarray(action).reshape(-1)[0]) - self._sign)
        reward = match + (2.0 * self._sign if self._t == 0 else 0.0)
        self._t += 1
        return np.array([self._t], np.float32), reward, False, False, {}


class CueFamily(TaskFamily):
    name = "cue"
    env_id = "hb/Cue-v0"
    task_type = GoalTask
    horizon: ClassVar[int] = HORIZON

    def __init__(self, seed: int = 0, action_kind: str = "discrete") -> None:
        super().__init__(seed)
        self.action_kind = action_kind  # type: ignore[misc]
        self.config = {"action_kind": action_kind}
        tasks: list[Task] = [GoalTask((1.0,)), GoalTask((-1.0,))]
        self._set_tasks(tasks, tasks)

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, GoalTask) and task.goal[0] in (-1.0, 1.0)

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, GoalTask)
        return np.array(task.goal, np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return -np.ones(1), np.ones(1)

    def _make_core_env(self, **env_kwargs: Any) -> CueEnv:
        return CueEnv(self, **env_kwargs)


class MemoryLearner(MetaLearner):
    """Remembers the reward of step 0 of the meta-episode (per row and lane) and acts on its sign."""

    headline = Headline(("first", "later"), "meta-episode", "meta-episode return")
    secondary_scores: ClassVar[dict[str, Headline]] = {"first-episode": Headline(("first",))}

    def __init__(self, family: Any, remember: bool = True, seed: int = 0, max_envs: int = 1024, lanes: int = 1) -> None:
        super().__init__(family, seed=seed)
        self.remember = remember
        self.max_envs_ = max_envs
        self.lanes = lanes
        self.discrete = family.action_kind == "discrete"
        self.begun = 0

    def _max_envs(self) -> int:
        return self.max_envs_

    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        return (Phase("first", self.lanes), *(Phase("later", self.lanes) for _ in range(n_episodes - 1)))

    def begin_meta_episode(self, tasks: Sequence[Any]) -> th.Tensor:
        self.begun += 1
        return th.zeros(len(tasks), self.lanes)  # 0: nothing remembered yet

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor:
        cue = state[rows]
        if self.discrete:
            return (cue > 0).long()  # unknown (0) -> action 0
        return cue.unsqueeze(-1).clone()  # unknown -> 0.0

    def observe(self, state: Any, transition: Transition, rows: slice, phase: int) -> Any:
        if self.remember and phase == 0 and transition.step == 0:
            state[rows] = th.sign(transition.reward)
        return state

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        raise NotImplementedError

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> Any:
        raise NotImplementedError

    def _get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_config(cls, config: Any, family: Any) -> MemoryLearner:
        return cls(family)

    def _get_tensors(self) -> dict[str, th.Tensor]:
        return {}

    def _set_tensors(self, tensors: Any) -> None:
        pass
