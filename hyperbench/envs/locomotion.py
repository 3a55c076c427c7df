"""MuJoCo locomotion task families on Gymnasium's v5 HalfCheetah and Ant (no mujoco-py).

The task reward is recomputed from the v5 environment's ``info`` and the action; the simulator itself is the
unmodified Gymnasium class, built with the cost weights each family needs so that its ``reward_ctrl``,
``reward_contact`` and ``reward_survive`` entries are exactly the family's cost terms. ``info["reward_task"]``
holds the task term; the v5 ``reward_forward`` entry (plain forward velocity) is removed because the families
do not use it. Horizon 200 for every family (PEARL / MAML protocol).

Families (reward per step; task distribution):

* ``halfcheetah-vel``: −|v_x − v*| − 0.05‖a‖²; v* ~ U[0, 3].
* ``halfcheetah-vel-medium``: as above; train v* ~ U[0, 2.5], test (out of distribution) v* ~ U[2.5, 3].
* ``halfcheetah-dir``: d·v_x − 0.05‖a‖²; d ∈ {+1, −1}.
* ``ant-fwd-back``: d·v_x − 0.5‖a‖² − 5e-4‖clip(cfrc)‖² + 1 (healthy), ends if unhealthy; d ∈ {+1, −1}.
* ``ant-dir``: v_xy·(cos θ, sin θ) − 0.5‖a‖² − 5e-4‖clip(cfrc)‖² + 1, ends if unhealthy; θ ~ U[0, 2π).
* ``ant-vel``: −|v_x − v*| − 0.5‖a‖² − 5e-4‖clip(cfrc)‖² + 1, ends if unhealthy; v* ~ U[0, 3].
* ``ant-goal``: −‖xy − g‖₁ − 0.1‖a‖² − 5e-4‖clip(cfrc)‖², never terminates; goal angle U[0, 2π), radius 3·√U.

Sources: PEARL (Rakelly et al. 2019, ``rlkit/envs``) for the Cheetah and Ant families, MAML (Finn et al. 2017)
for the velocity tasks, Fakoor et al. 2019 (MQL) for Vel-Medium. Ant-Vel has no single canonical definition;
ours keeps the Ant-Dir cost terms and replaces the forward term by the velocity error. Returns will not match
mujoco-py-era numbers exactly (different simulator and model versions).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from hyperbench.envs.base import TaskEnv, TaskFamily, _check_count
from hyperbench.envs.tasks import AngleTask, DirectionTask, GoalTask, Task, VelocityTask

__all__ = [
    "AntDirFamily",
    "AntFwdBackFamily",
    "AntGoalFamily",
    "AntVelFamily",
    "HalfCheetahDirFamily",
    "HalfCheetahVelFamily",
    "HalfCheetahVelMediumFamily",
    "LocomotionFamily",
    "LocomotionTaskEnv",
]

_TWO_PI = 2.0 * math.pi


def _check_range(value: Any, what: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a pair (low, high), got {value!r}") from exc
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{what} must satisfy low < high (finite), got ({low}, {high})")
    return low, high


class LocomotionTaskEnv(TaskEnv):
    """A :class:`~hyperbench.envs.base.TaskEnv` around one Gymnasium v5 MuJoCo environment instance."""

    def __init__(self, family: LocomotionFamily, *, render_mode: str | None = None, **kwargs: Any) -> None:
        self._family: LocomotionFamily = family
        self._inner = family.make_simulator(render_mode=render_mode)
        self.metadata = dict(self._inner.metadata)
        super().__init__(
            family,
            observation_space=self._inner.observation_space,
            action_space=self._inner.action_space,
            render_mode=render_mode,
            **kwargs,
        )

    @property
    def simulator(self) -> Any:
        """The underlying Gymnasium MuJoCo environment (``MujocoEnv`` instance)."""
        return self._inner

    def _apply_task(self, task: Task) -> None:
        pass  # the task only enters the reward

    def _reset_model(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        return self._inner.reset(seed=seed)

    def _step_model(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self._inner.step(action)
        del info["reward_forward"]
        task_term = self._family.task_reward(self._task, info)
        info["reward_task"] = task_term
        reward = task_term + info["reward_ctrl"] + info.get("reward_contact", 0.0) + info.get("reward_survive", 0.0)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def render(self) -> Any:
        """Render through the MuJoCo environment (needs an OpenGL backend, e.g. ``MUJOCO_GL=egl``)."""
        return self._inner.render()

    def close(self) -> None:
        """Close the MuJoCo environment."""
        self._inner.close()


class LocomotionFamily(TaskFamily):
    """Common part of the MuJoCo locomotion families: simulator construction and the task-reward hook."""

    horizon: ClassVar[int] = 200
    #: the Gymnasium id of the underlying environment (used by the speed benchmark for comparison)
    simulator_id: ClassVar[str]
    #: keyword arguments given to the Gymnasium environment class
    simulator_kwargs: ClassVar[dict[str, Any]] = {}

    def make_simulator(self, render_mode: str | None = None) -> Any:
        """A fresh Gymnasium v5 MuJoCo environment with this family's cost weights (no wrappers)."""
        if self.simulator_id.startswith("HalfCheetah"):
            from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

            return HalfCheetahEnv(render_mode=render_mode, **self.simulator_kwargs)
        from gymnasium.envs.mujoco.ant_v5 import AntEnv

        return AntEnv(render_mode=render_mode, **self.simulator_kwargs)

    def task_reward(self, task: Task, info: dict[str, Any]) -> float:
        """The task-dependent reward term from a v5 step ``info`` (cost terms are added by the env)."""
        raise NotImplementedError

    def _make_core_env(self, **env_kwargs: Any) -> LocomotionTaskEnv:
        return LocomotionTaskEnv(self, **env_kwargs)


# ------------------------------------------------------------------------------------------------ velocity
class _VelocityFamily(LocomotionFamily):
    """Target-velocity tasks; the oracle context is the target velocity itself (Sarafian et al.: [0, 3])."""

    task_type = VelocityTask
    split_by_range = True  # any velocity inside a split's range belongs to it

    def _init_velocity(self, ranges: dict[str, tuple[float, float]], counts: dict[str, int]) -> None:
        self._ranges = ranges
        gens = dict(zip(("train", "test", "ood_test"), self._split_generators()))
        lists: dict[str, list[Task]] = {}
        for split, (low, high) in ranges.items():
            values = gens[split].uniform(low, high, size=counts[split])
            lists[split] = [VelocityTask(float(v)) for v in values]
        self._set_tasks(lists["train"], lists["test"], lists.get("ood_test"))

    @property
    def domain(self) -> tuple[float, float]:
        """The union of all split ranges (what ``split=None`` accepts)."""
        return min(r[0] for r in self._ranges.values()), max(r[1] for r in self._ranges.values())

    def _ranges_text(self) -> str:
        return ", ".join(f"{s} [{lo:g}, {hi:g}]" for s, (lo, hi) in self._ranges.items())

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, VelocityTask)
        low, high = self._ranges[split] if split is not None else self.domain
        if not low <= task.velocity <= high:
            where = f"the {split} range" if split is not None else "the domain"
            raise ValueError(
                f"{self.name}: target velocity {task.velocity:g} is outside {where} [{low:g}, {high:g}] "
                f"(ranges: {self._ranges_text()})"
            )

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, VelocityTask)
        return np.array([task.velocity], dtype=np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.domain
        return np.array([low]), np.array([high])

    def task_from_context(self, context: Any) -> Task:
        """The velocity task whose context is ``context`` (a 1-vector)."""
        return self.validate_task(VelocityTask(float(self._check_context_size(context)[0])))

    def task_reward(self, task: Task, info: dict[str, Any]) -> float:
        """−|v_x − v*| (PEARL's ``HalfCheetahVelEnv``; MAML's velocity tasks)."""
        return -abs(info["x_velocity"] - task.velocity)  # type: ignore[attr-defined]


class HalfCheetahVelFamily(_VelocityFamily):
    """HalfCheetah-Vel: run at a target velocity v* ~ U[low, high] (default U[0, 3], PEARL; MAML used U[0, 2]).

    Reward −|v_x − v*| − 0.05‖a‖², horizon 200. Defaults: 100 train / 30 test tasks (PEARL).

    :param seed: family seed
    :param n_train: number of train tasks
    :param n_test: number of test tasks
    :param low: lowest target velocity
    :param high: highest target velocity
    """

    name = "halfcheetah-vel"
    env_id = "hyperbench/HalfCheetahVel-v0"
    simulator_id = "HalfCheetah-v5"
    simulator_kwargs: ClassVar[dict[str, Any]] = {"ctrl_cost_weight": 0.05}

    def __init__(self, seed: int = 0, *, n_train: int = 100, n_test: int = 30, low: float = 0.0, high: float = 3.0) -> None:
        super().__init__(seed)
        low, high = _check_range((low, high), "(low, high)")
        counts = {"train": _check_count(n_train, "n_train"), "test": _check_count(n_test, "n_test")}
        self.config = {"n_train": counts["train"], "n_test": counts["test"], "low": low, "high": high}
        self._init_velocity({"train": (low, high), "test": (low, high)}, counts)


class HalfCheetahVelMediumFamily(_VelocityFamily):
    """HalfCheetah-Vel-Medium (Fakoor et al. 2019): train on v* ~ U[0, 2.5], test out of distribution on U[2.5, 3].

    Three fixed lists: ``train_tasks`` from the train range, ``test_tasks`` held out from the *same* range
    (in-distribution generalisation, the headline of a run) and ``ood_test_tasks`` from the out-of-distribution
    range (what Sarafian et al.'s Fig. 7 reports). The suite runner evaluates the out-of-distribution list at the
    end of every run and reports it apart (``final.ood`` in the run record, the report's out-of-distribution
    table). With ``split="train"`` or ``"test"`` a task outside [0, 2.5] is rejected. Defaults: 100 train / 30
    test / 30 out-of-distribution test tasks.

    :param seed: family seed
    :param n_train: number of train tasks
    :param n_test: number of held-out in-distribution test tasks
    :param n_ood_test: number of out-of-distribution test tasks
    :param train_range: train (and in-distribution test) velocity range
    :param ood_range: out-of-distribution test velocity range
    """

    name = "halfcheetah-vel-medium"
    env_id = "hyperbench/HalfCheetahVelMedium-v0"
    simulator_id = "HalfCheetah-v5"
    simulator_kwargs: ClassVar[dict[str, Any]] = {"ctrl_cost_weight": 0.05}

    def __init__(
        self,
        seed: int = 0,
        *,
        n_train: int = 100,
        n_test: int = 30,
        n_ood_test: int = 30,
        train_range: tuple[float, float] = (0.0, 2.5),
        ood_range: tuple[float, float] = (2.5, 3.0),
    ) -> None:
        super().__init__(seed)
        train_r = _check_range(train_range, "train_range")
        ood_r = _check_range(ood_range, "ood_range")
        counts = {
            "train": _check_count(n_train, "n_train"),
            "test": _check_count(n_test, "n_test"),
            "ood_test": _check_count(n_ood_test, "n_ood_test"),
        }
        self.config = {
            "n_train": counts["train"],
            "n_test": counts["test"],
            "n_ood_test": counts["ood_test"],
            "train_range": train_r,
            "ood_range": ood_r,
        }
        self._init_velocity({"train": train_r, "test": train_r, "ood_test": ood_r}, counts)


class AntVelFamily(_VelocityFamily):
    """Ant-Vel: the ant runs at a target velocity v* ~ U[low, high] (default U[0, 3]) along +x.

    Reward −|v_x − v*| − 0.5‖a‖² − 5e-4‖clip(cfrc_ext, −1, 1)‖² + 1 (while healthy); the episode ends when the
    torso leaves z ∈ [0.2, 1.0]. Defaults: 100 train / 30 test tasks.

    :param seed: family seed
    :param n_train: number of train tasks
    :param n_test: number of test tasks
    :param low: lowest target velocity
    :param high: highest target velocity
    """

    name = "ant-vel"
    env_id = "hyperbench/AntVel-v0"
    simulator_id = "Ant-v5"

    def __init__(self, seed: int = 0, *, n_train: int = 100, n_test: int = 30, low: float = 0.0, high: float = 3.0) -> None:
        super().__init__(seed)
        low, high = _check_range((low, high), "(low, high)")
        counts = {"train": _check_count(n_train, "n_train"), "test": _check_count(n_test, "n_test")}
        self.config = {"n_train": counts["train"], "n_test": counts["test"], "low": low, "high": high}
        self._init_velocity({"train": (low, high), "test": (low, high)}, counts)


# ----------------------------------------------------------------------------------------- forward / back
class _FwdBackFamily(LocomotionFamily):
    """Two tasks, forward (d = +1) and backward (d = −1); both splits hold both. Context: 1 forward, 0 backward."""

    task_type = DirectionTask

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        both: list[Task] = [DirectionTask(1), DirectionTask(-1)]
        self._set_tasks(list(both), list(both))

    def _check_task(self, task: Task, split: str | None) -> None:
        pass  # DirectionTask itself only admits +1 / -1

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, DirectionTask)
        return np.array([1.0 if task.direction > 0 else 0.0], dtype=np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(1), np.ones(1)

    def task_from_context(self, context: Any) -> Task:
        """1 → forward, 0 → backward (the binary indicator of Sarafian et al.)."""
        value = float(self._check_context_size(context)[0])
        if value not in (0.0, 1.0):
            raise ValueError(f"{self.name}: the context is a binary indicator (1 forward, 0 backward), got {value:g}")
        return DirectionTask(1 if value == 1.0 else -1)

    def task_reward(self, task: Task, info: dict[str, Any]) -> float:
        """d·v_x."""
        return float(task.direction * info["x_velocity"])  # type: ignore[attr-defined]


class HalfCheetahDirFamily(_FwdBackFamily):
    """HalfCheetah-Dir (Fwd-Back): reward d·v_x − 0.05‖a‖², d ∈ {+1, −1}, horizon 200 (PEARL ``cheetah-dir``).

    :param seed: family seed (the two tasks do not depend on it)
    """

    name = "halfcheetah-dir"
    env_id = "hyperbench/HalfCheetahDir-v0"
    simulator_id = "HalfCheetah-v5"
    simulator_kwargs: ClassVar[dict[str, Any]] = {"ctrl_cost_weight": 0.05}


class AntFwdBackFamily(_FwdBackFamily):
    """Ant-Fwd-Back: reward d·v_x − 0.5‖a‖² − 5e-4‖clip(cfrc)‖² + 1, ends if unhealthy (PEARL ``ant-dir``, 2 tasks).

    :param seed: family seed (the two tasks do not depend on it)
    """

    name = "ant-fwd-back"
    env_id = "hyperbench/AntFwdBack-v0"
    simulator_id = "Ant-v5"


# ------------------------------------------------------------------------------------------ full circle
class AntDirFamily(LocomotionFamily):
    """Ant-Dir on the full circle: run in direction θ ~ U[0, 2π); context (cos θ, sin θ).

    Reward v_xy·(cos θ, sin θ) − 0.5‖a‖² − 5e-4‖clip(cfrc)‖² + 1, ends if unhealthy. Defaults: 100 train / 30
    test directions (no published fixed count; PEARL's Cheetah-Vel counts).

    :param seed: family seed
    :param n_train: number of train tasks
    :param n_test: number of test tasks
    """

    name = "ant-dir"
    env_id = "hyperbench/AntDir-v0"
    simulator_id = "Ant-v5"
    task_type = AngleTask

    def __init__(self, seed: int = 0, *, n_train: int = 100, n_test: int = 30) -> None:
        super().__init__(seed)
        n_train, n_test = _check_count(n_train, "n_train"), _check_count(n_test, "n_test")
        self.config = {"n_train": n_train, "n_test": n_test}
        g_train, g_test, _ = self._split_generators()
        self._set_tasks(
            [AngleTask(float(a)) for a in g_train.uniform(0.0, _TWO_PI, n_train)],
            [AngleTask(float(a)) for a in g_test.uniform(0.0, _TWO_PI, n_test)],
        )

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, AngleTask)
        if not 0.0 <= task.angle < _TWO_PI:
            raise ValueError(f"{self.name}: angle {task.angle:g} is outside [0, 2π) (radians)")

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, AngleTask)
        return np.array([math.cos(task.angle), math.sin(task.angle)], dtype=np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return -np.ones(2), np.ones(2)

    def task_from_context(self, context: Any) -> Task:
        """The direction (cos θ, sin θ) → θ; the vector must have unit length."""
        c = self._check_context_size(context)
        if abs(math.hypot(c[0], c[1]) - 1.0) > 1e-3:
            raise ValueError(f"{self.name}: the context is a unit direction vector, got norm {math.hypot(c[0], c[1]):g}")
        return AngleTask(math.atan2(c[1], c[0]) % _TWO_PI)

    def task_reward(self, task: Task, info: dict[str, Any]) -> float:
        """v_xy·(cos θ, sin θ)."""
        angle = task.angle  # type: ignore[attr-defined]
        return float(math.cos(angle) * info["x_velocity"] + math.sin(angle) * info["y_velocity"])


class AntGoalFamily(LocomotionFamily):
    """Ant-Goal (PEARL, from ProMP): reach g = r(cos α, sin α), α ~ U[0, 2π), r = max_radius·√U.

    Reward −‖xy − g‖₁ − 0.1‖a‖² − 5e-4‖clip(cfrc)‖², no termination, no healthy bonus. The observation includes
    the torso's x, y (without them the goal could not be located). Defaults: 150 train / 30 test (PEARL).

    :param seed: family seed
    :param n_train: number of train tasks
    :param n_test: number of test tasks
    :param max_radius: radius of the goal disc
    """

    name = "ant-goal"
    env_id = "hyperbench/AntGoal-v0"
    simulator_id = "Ant-v5"
    simulator_kwargs: ClassVar[dict[str, Any]] = {
        "ctrl_cost_weight": 0.1,
        "contact_cost_weight": 5e-4,
        "healthy_reward": 0.0,
        "terminate_when_unhealthy": False,
        "exclude_current_positions_from_observation": False,
    }
    task_type = GoalTask

    def __init__(self, seed: int = 0, *, n_train: int = 150, n_test: int = 30, max_radius: float = 3.0) -> None:
        super().__init__(seed)
        n_train, n_test = _check_count(n_train, "n_train"), _check_count(n_test, "n_test")
        max_radius = float(max_radius)
        if not (math.isfinite(max_radius) and max_radius > 0):
            raise ValueError(f"max_radius must be a positive number, got {max_radius!r}")
        self.max_radius = max_radius
        self.config = {"n_train": n_train, "n_test": n_test, "max_radius": max_radius}
        g_train, g_test, _ = self._split_generators()
        self._set_tasks(self._draw(g_train, n_train), self._draw(g_test, n_test))

    def _draw(self, rng: np.random.Generator, n: int) -> list[Task]:
        angle = rng.uniform(0.0, _TWO_PI, n)
        radius = self.max_radius * np.sqrt(rng.uniform(0.0, 1.0, n))
        return [GoalTask((float(r * math.cos(a)), float(r * math.sin(a)))) for a, r in zip(angle, radius)]

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, GoalTask)
        if len(task.goal) != 2:
            raise ValueError(f"{self.name}: a goal has 2 coordinates (x, y), got {len(task.goal)}: {task.goal}")
        if math.hypot(*task.goal) > self.max_radius + 1e-9:
            raise ValueError(
                f"{self.name}: goal {task.goal} is outside the disc of radius {self.max_radius:g} around the origin"
            )

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, GoalTask)
        return np.array(task.goal, dtype=np.float32)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return -np.full(2, self.max_radius), np.full(2, self.max_radius)

    def task_from_context(self, context: Any) -> Task:
        """The goal task whose context (the goal) is ``context``."""
        return self.validate_task(GoalTask(tuple(self._check_context_size(context))))

    def task_reward(self, task: Task, info: dict[str, Any]) -> float:
        """−‖xy − g‖₁ with xy the torso position."""
        gx, gy = task.goal  # type: ignore[attr-defined]
        return -(abs(info["x_position"] - gx) + abs(info["y_position"] - gy))
