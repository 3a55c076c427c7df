"""The task-family interface: :class:`TaskFamily` (fixed task lists + oracle context) and :class:`TaskEnv`.

A *task family* is a distribution of MDPs that share state and action spaces and differ in a task parameter
(a target velocity, a direction, a goal, a Meta-World goal or environment class). A family object owns:

* fixed task lists ``train_tasks``, ``test_tasks`` and ``ood_test_tasks`` (empty where the family defines no
  out-of-distribution split), generated from the family ``seed`` with the family's own generators;
* ``oracle_context(task)`` — the fixed-size vector the papers feed to Context-/Hyper-MAML;
* ``make_env(...)`` — a Gymnasium environment (the registered ``hyperbench/<Name>-v0`` id) bound to it;
* for single-environment learners, ``set_task`` / ``get_task`` / ``reset_task`` on a default environment
  (``family.env``).

:class:`TaskEnv` is the Gymnasium environment every family returns. Its options:

* ``task``: the initial task (a task object or its ``to_dict()``); default: the first task of ``split``
  (or of ``train_tasks`` when ``split`` is ``None``);
* ``split``: ``None`` (accept any task in the family's domain, resample from ``train_tasks``) or one of
  ``"train"``, ``"test"``, ``"ood_test"`` (resample from that list and reject tasks outside its range);
* ``resample_on_reset``: draw a new task from the split at every ``reset()`` with the env's seeded
  generator ``np_random``; ``reset(options={"task": t})`` sets a task explicitly for one reset;
* ``context_obs``: observations become ``{"observation": <base obs>, "context": oracle_context(task)}``
  (a ``gymnasium.spaces.Dict``; the key ``"context"`` is what context-conditioned policies read);
* ``success_info``: families with a success notion (Meta-World, point robots, GridNavi) put
  ``info["is_success"]`` in every step's info: ``True`` once the episode has succeeded at any step, the way
  SB3's ``EvalCallback`` counts success from the last step of an episode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from hyperbench.envs.tasks import Task, task_from_dict
from hyperbench.envs.vector import SerialVectorEnv, VectorTaskEnv

__all__ = ["CONTEXT_KEY", "OBSERVATION_KEY", "SPLITS", "TaskEnv", "TaskFamily"]

#: The three task splits a family may define.
SPLITS: tuple[str, ...] = ("train", "test", "ood_test")
#: Key of the oracle context in a contextual (Dict) observation.
CONTEXT_KEY = "context"
#: Key of the environment's own observation in a contextual (Dict) observation.
OBSERVATION_KEY = "observation"

_ENV_OPTIONS = ("task",)


#: Most tasks a family generates per split (task lists are built eagerly; PEARL uses at most 100).
MAX_TASKS = 100_000


def _check_count(value: Any, what: str, minimum: int = 1, maximum: int = MAX_TASKS) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not minimum <= value <= maximum:
        raise ValueError(f"{what} must be an integer >= {minimum} and <= {maximum:,}, got {value!r}")
    return int(value)


class TaskFamily(ABC):
    """Base class of the task families (see the module docstring for the contract).

    Subclasses set the class attributes below, call ``super().__init__(seed)``, record their constructor
    arguments in ``self.config`` and finish with :meth:`_set_tasks`.

    :param seed: family seed; the task lists are a deterministic function of it and of the family options
    """

    #: registry name, e.g. ``"halfcheetah-vel"``
    name: ClassVar[str]
    #: Gymnasium id, e.g. ``"hyperbench/HalfCheetahVel-v0"``
    env_id: ClassVar[str]
    #: the task class of this family
    task_type: ClassVar[type[Task]]
    #: episode length (the registered ``max_episode_steps``)
    horizon: ClassVar[int]
    #: whether episodes have a success flag (reported as ``info["is_success"]``)
    has_success: ClassVar[bool] = False
    #: ``"box"`` or ``"discrete"``: the kind of action space (read by the suite validator)
    action_kind: ClassVar[str] = "box"
    #: ``oracle_context(task)`` exists (context-conditioned methods need it)
    has_oracle_context: ClassVar[bool] = True
    #: an environment keeps its task across resets, so a meta-episode may hold several episodes of one task
    multi_episode: ClassVar[bool] = True

    #: ``True`` when :meth:`_check_task` enforces each split's own range (velocity families, Meta-World); else a
    #: task belongs to a split only if it is one of that split's fixed tasks.
    split_by_range: ClassVar[bool] = False

    def __init__(self, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"family seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        #: constructor options, stored in run records by :meth:`describe`
        self.config: dict[str, Any] = {}
        self.train_tasks: list[Task] = []
        self.test_tasks: list[Task] = []
        self.ood_test_tasks: list[Task] = []
        self.context_dim: int = 0
        # the family's own generator, used by ``reset_task`` on the default env (never the global np.random)
        self.np_random = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5EED]))
        self._env: gym.Env[Any, Any] | None = None
        self._current_task: Task | None = None

    # ----------------------------------------------------------------------------------------- construction
    def _split_generators(self) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
        """Independent generators for the train / test / ood_test lists, so changing one count keeps the others."""
        seqs = np.random.SeedSequence(self.seed).spawn(3)
        return (np.random.default_rng(seqs[0]), np.random.default_rng(seqs[1]), np.random.default_rng(seqs[2]))

    def _set_tasks(self, train: list[Task], test: list[Task], ood_test: list[Task] | None = None) -> None:
        if not train or not test:
            raise ValueError(f"{self.name}: a family needs at least one train and one test task")
        self.train_tasks = list(train)
        self.test_tasks = list(test)
        self.ood_test_tasks = list(ood_test or [])
        self.context_dim = int(self._context(self.train_tasks[0]).shape[0])

    # ------------------------------------------------------------------------------------ subclass contract
    @abstractmethod
    def _check_task(self, task: Task, split: str | None) -> None:
        """Raise ``ValueError`` naming the valid range if ``task`` is outside the family (or ``split``)."""

    @abstractmethod
    def _context(self, task: Task) -> np.ndarray:
        """The oracle context of a (validated) task, shape ``(context_dim,)``."""

    @abstractmethod
    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the oracle context over the family's task domain."""

    @abstractmethod
    def _make_core_env(self, **env_kwargs: Any) -> TaskEnv:
        """Build the unwrapped :class:`TaskEnv` (no ``TimeLimit``) bound to this family."""

    # --------------------------------------------------------------------------------------------- tasks
    def tasks(self, split: str) -> list[Task]:
        """The fixed task list of ``split`` (``"train"``, ``"test"`` or ``"ood_test"``).

        :param split: split name
        :return: the list (shared, do not mutate)
        """
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {list(SPLITS)}")
        return {"train": self.train_tasks, "test": self.test_tasks, "ood_test": self.ood_test_tasks}[split]

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this family defines (non-empty task lists)."""
        return tuple(s for s in SPLITS if self.tasks(s))

    def validate_task(self, task: Task | Mapping[str, Any], split: str | None = None) -> Task:
        """Check a task (or its ``to_dict()``) against the family and, if given, a split.

        :param task: task object or dict
        :param split: ``None`` to accept anything in the family's domain, else a split whose range is enforced
        :return: the task object
        :raises TypeError: wrong task type
        :raises ValueError: task outside the valid range (the message names the range or the valid names)
        """
        if isinstance(task, Mapping):
            task = task_from_dict(task)
        if not isinstance(task, self.task_type):
            raise TypeError(
                f"{self.name} expects a {self.task_type.__name__} (kind {self.task_type.kind!r}), "
                f"got {type(task).__name__}: {task!r}"
            )
        if split is not None:
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r}; valid splits: {list(SPLITS)}")
            if not self.tasks(split):
                raise ValueError(f"{self.name} has no {split!r} split; its splits are {list(self.splits)}")
        self._check_task(task, split)
        if split is not None and not self.split_by_range:
            members = self.tasks(split)
            if task not in members:
                raise ValueError(
                    f"{self.name}: {task.to_dict()} is not one of the {len(members)} {split!r} tasks (e.g. "
                    f"{members[0].to_dict()}); pass split=None to use any task of the family's domain"
                )
        return task

    def sample_task(self, rng: np.random.Generator | None = None, split: str = "train") -> Task:
        """Draw one task uniformly from a split's fixed list.

        :param rng: generator to draw with (default: the family's own ``np_random``)
        :param split: split to draw from
        :return: the task
        """
        tasks = self.tasks(split)
        if not tasks:
            raise ValueError(f"{self.name} has no {split!r} split; its splits are {list(self.splits)}")
        rng = self.np_random if rng is None else rng
        return tasks[int(rng.integers(len(tasks)))]

    # ------------------------------------------------------------------------------------------ contexts
    def oracle_context(self, task: Task | Mapping[str, Any]) -> np.ndarray:
        """The oracle context of ``task``: a float32 vector of shape ``(context_dim,)``.

        :param task: task object or dict
        :return: a new array
        """
        context = np.asarray(self._context(self.validate_task(task)), dtype=np.float32)
        if context.shape != (self.context_dim,):  # pragma: no cover - a family bug, not a user error
            raise RuntimeError(f"{self.name}: context has shape {context.shape}, expected ({self.context_dim},)")
        return context

    @property
    def context_space(self) -> spaces.Box:
        """The Box the oracle contexts live in (the ``"context"`` entry of a contextual observation)."""
        low, high = self._context_bounds()
        return spaces.Box(low=np.asarray(low, np.float32), high=np.asarray(high, np.float32), dtype=np.float32)

    def _check_context_size(self, context: Any) -> np.ndarray:
        array = np.asarray(context, dtype=np.float64)
        if array.ndim != 1 or array.shape[0] != self.context_dim:
            raise ValueError(
                f"{self.name}: a context must be a vector of {self.context_dim} value(s) (context_dim), "
                f"got shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{self.name}: context values must be finite, got {array.tolist()}")
        return array

    def task_from_context(self, context: Any) -> Task:
        """Inverse of :meth:`oracle_context` where the context determines the task.

        :param context: vector of size ``context_dim``
        :return: the task (validated against the family's domain)
        :raises ValueError: wrong size or out-of-range values
        """
        raise NotImplementedError(f"{self.name} cannot rebuild a task from its context")

    # ----------------------------------------------------------------------------------------------- envs
    def make_env(
        self,
        task: Task | Mapping[str, Any] | None = None,
        *,
        split: str | None = None,
        resample_on_reset: bool = False,
        context_obs: bool = False,
        success_info: bool = True,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
    ) -> gym.Env[Any, Any]:
        """A Gymnasium environment bound to this family (``gym.make`` of :attr:`env_id`, with its time limit).

        :param task: initial task (default: the first task of ``split``, or of ``train_tasks``)
        :param split: ``None`` or a split name (see :class:`TaskEnv`)
        :param resample_on_reset: draw a new task from the split at every reset
        :param context_obs: Dict observations ``{"observation", "context"}``
        :param success_info: report ``info["is_success"]`` (families with success only)
        :param render_mode: passed to the underlying simulator
        :param max_episode_steps: override the family horizon
        :return: the wrapped environment; ``env.unwrapped`` is the :class:`TaskEnv`
        """
        from hyperbench.envs.registry import register_envs

        register_envs()
        kwargs: dict[str, Any] = {
            "family": self,
            "task": task,
            "split": split,
            "resample_on_reset": resample_on_reset,
            "context_obs": context_obs,
            "success_info": success_info,
            "render_mode": render_mode,
        }
        if max_episode_steps is not None:
            kwargs["max_episode_steps"] = max_episode_steps
        return gym.make(self.env_id, **kwargs)

    def make_core_env(self, **env_kwargs: Any) -> TaskEnv:
        """The unwrapped :class:`TaskEnv` (no time limit); keyword arguments as in :meth:`make_env`."""
        return self._make_core_env(**env_kwargs)

    def make_vector_env(self) -> VectorTaskEnv:
        """Environments of this family stepped together (:mod:`hyperbench.envs.vector`): the family's own
        array implementation where it has one, else a pool of :meth:`make_core_env` environments."""
        return SerialVectorEnv(self)

    # ------------------------------------------------------------ current task on the default environment
    @property
    def env(self) -> gym.Env[Any, Any]:
        """A default environment of this family (built on first use) that ``set_task``/``reset_task`` act on."""
        if self._env is None:
            self._env = self.make_env(task=self.get_task())
        return self._env

    def set_task(self, task: Task | Mapping[str, Any]) -> None:
        """Make ``task`` the current task (of :attr:`env`, if built). Call ``env.reset()`` afterwards.

        :param task: task object or dict
        """
        task = self.validate_task(task)
        self._current_task = task
        if self._env is not None:
            self._env.unwrapped.set_task(task)  # type: ignore[attr-defined]

    def get_task(self) -> Task:
        """The current task (initially ``train_tasks[0]``)."""
        return self._current_task if self._current_task is not None else self.train_tasks[0]

    def reset_task(self, task: Task | Mapping[str, Any] | None = None, split: str = "train") -> Task:
        """Set ``task``, or a task drawn from ``split`` with the family generator, as the current task.

        :param task: task to set, or ``None`` to draw one
        :param split: split to draw from
        :return: the new current task
        """
        new_task = self.sample_task(split=split) if task is None else self.validate_task(task)
        self.set_task(new_task)
        return new_task

    # --------------------------------------------------------------------------------------------- records
    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description for run records (name, seed, options, task counts, ids)."""
        return {
            "family": self.name,
            "seed": self.seed,
            "config": dict(self.config),
            "env_id": self.env_id,
            "horizon": self.horizon,
            "context_dim": self.context_dim,
            "has_success": self.has_success,
            "n_tasks": {s: len(self.tasks(s)) for s in SPLITS},
        }

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}(seed={self.seed}{', ' + opts if opts else ''})"


class TaskEnv(gym.Env[Any, Any]):
    """Gymnasium environment of one task family (see the module docstring for the options).

    Subclasses build their simulator, then call ``super().__init__`` with the base observation and action
    spaces, and implement :meth:`_apply_task`, :meth:`_reset_model` and :meth:`_step_model`. Step infos may
    carry ``"success"``; this class turns it into the episode-level ``info["is_success"]``.

    :param family: the family this environment belongs to
    :param observation_space: the base (non-contextual) observation space
    :param action_space: the action space
    :param task: initial task
    :param split: ``None`` or a split name
    :param resample_on_reset: draw a task from the split at every reset
    :param context_obs: Dict observations with the oracle context under ``"context"``
    :param success_info: report ``info["is_success"]`` (ignored for families without success)
    :param render_mode: a mode of ``metadata["render_modes"]`` or ``None``
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  (Gymnasium's class-level convention)

    def __init__(
        self,
        family: TaskFamily,
        *,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        task: Task | Mapping[str, Any] | None = None,
        split: str | None = None,
        resample_on_reset: bool = False,
        context_obs: bool = False,
        success_info: bool = True,
        render_mode: str | None = None,
    ) -> None:
        if split is not None and split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid values: None or one of {list(SPLITS)}")
        if split is not None and not family.tasks(split):
            raise ValueError(f"{family.name} has no {split!r} split; its splits are {list(family.splits)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode {render_mode!r} is not supported by {family.name}; "
                f"valid: {self.metadata['render_modes'] or 'none'}"
            )
        self.family = family
        self.split = split
        self.resample_on_reset = bool(resample_on_reset)
        self.context_obs = bool(context_obs)
        self.success_info = bool(success_info) and family.has_success
        self.render_mode = render_mode
        self.base_observation_space = observation_space
        self.action_space = action_space
        if self.context_obs:
            self.observation_space = spaces.Dict({OBSERVATION_KEY: observation_space, CONTEXT_KEY: family.context_space})
        else:
            self.observation_space = observation_space
        self._task: Task = family.tasks(split or "train")[0]
        self._context_value = family.oracle_context(self._task)
        self._episode_success = False
        self.set_task(self._task if task is None else task)

    # ------------------------------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _apply_task(self, task: Task) -> None:
        """Make the simulator use ``task`` (called with validated tasks only)."""

    @abstractmethod
    def _reset_model(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        """Reset the simulator (seeding it with ``seed`` if given); return ``(base_obs, info)``."""

    @abstractmethod
    def _step_model(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the simulator; return ``(base_obs, task_reward, terminated, truncated, info)``."""

    # ------------------------------------------------------------------------------------------- tasks
    @property
    def task(self) -> Task:
        """The current task."""
        return self._task

    def get_task(self) -> Task:
        """The current task."""
        return self._task

    def set_task(self, task: Task | Mapping[str, Any]) -> None:
        """Switch to ``task`` (validated against the family and this env's split). Takes effect at once;
        call ``reset()`` to start an episode in it.

        :param task: task object or dict
        """
        task = self.family.validate_task(task, self.split)
        self._apply_task(task)
        self._task = task
        self._context_value = self.family.oracle_context(task)

    def reset_task(self, task: Task | Mapping[str, Any] | None = None) -> Task:
        """Set ``task``, or one drawn from the split with this env's ``np_random``; return it.

        :param task: task to set, or ``None`` to draw one
        :return: the new task
        """
        if task is None:
            task = self.family.sample_task(self.np_random, self.split or "train")
        self.set_task(task)
        return self._task

    @property
    def context(self) -> np.ndarray:
        """The oracle context of the current task (a copy)."""
        return self._context_value.copy()

    # ----------------------------------------------------------------------------------------- gym API
    def _observation(self, obs: Any) -> Any:
        if self.context_obs:
            return {OBSERVATION_KEY: obs, CONTEXT_KEY: self._context_value.copy()}
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode.

        :param seed: seeds ``np_random`` (task resampling) and, through it, the simulator
        :param options: ``{"task": task}`` to set a task for this episode (overrides resampling)
        :return: ``(observation, info)``; ``info["task"]`` is the task's ``to_dict()``
        """
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - set(_ENV_OPTIONS))
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; valid options: {list(_ENV_OPTIONS)}")
        # One draw from np_random seeds the simulator, so ``reset(seed=s)`` fixes the whole episode.
        model_seed = None if seed is None else int(self.np_random.integers(2**31 - 1))
        if "task" in options:
            self.set_task(options["task"])
        elif self.resample_on_reset:
            self.reset_task()
        obs, info = self._reset_model(model_seed)
        self._episode_success = False
        info["task"] = self._task.to_dict()
        if self.success_info:
            info["is_success"] = False
        return self._observation(obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step with ``action``; the reward is the family's task reward (see the family docstring)."""
        obs, reward, terminated, truncated, info = self._step_model(action)
        if self.success_info:
            self._episode_success = self._episode_success or bool(info.get("success", False))
            info["is_success"] = self._episode_success
        return self._observation(obs), reward, terminated, truncated, info
