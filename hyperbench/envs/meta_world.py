"""Meta-World ML1 / ML10 / ML45 as task families (Meta-World ≥ 3.1, ``-v3`` environments).

The families are built from Meta-World's benchmark objects — ``metaworld.ML1(env_name, seed=seed)``,
``metaworld.ML10(seed=seed)``, ``metaworld.ML45(seed=seed)`` — and each environment gets its task through
``env.set_task(task)``. We do not use the ``Meta-World/ML1-train`` Gymnasium id: in Meta-World 3.1 its
registration lambda closes over the loop variable ``split``, so ``ML1-train`` yields the *test* goals
(docs/sources.md §9). ML1's train and test goals come from different seeds (Meta-World's own protocol), and the
tests check that they differ.

Reward, observation (39-dim, goal hidden) and success are Meta-World's own; episodes truncate at 500 steps.
``info["success"]`` is Meta-World's per-step flag, ``info["is_success"]`` is ``True`` once any step of the
episode succeeded. The oracle context is Meta-World's task vector ``rand_vec`` (object and goal positions;
ML1), preceded for ML10/ML45 by a one-hot of the environment class over train + test classes, with
``rand_vec`` zero-padded to 6 values.

Building a benchmark object is slow (ML1 ≈ 1 s, ML10 ≈ 6 s, ML45 ≈ 20 s here); they are cached per process
by ``(benchmark, env_name, seed)``, so many environments of one family share one. Meta-World stores a task's
parameters pickled inside its own ``Task`` objects; we unpickle only those bytes, which Meta-World has just
produced in this process, never anything read from a user file.
"""

from __future__ import annotations

import difflib
import functools
import pickle
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from hyperbench.envs.base import TaskEnv, TaskFamily, _check_count
from hyperbench.envs.tasks import MetaWorldTask, Task

__all__ = ["ML1Family", "ML10Family", "ML45Family", "MetaWorldFamily", "MetaWorldTaskEnv", "ml1_env_names"]

_RAND_VEC_PAD = 6
_MW_SPLITS = ("train", "test")


def _widen_degenerate(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Widen zero-width Box dimensions to [v − 1, v + 1].

    Constant coordinates (the hidden goal slots, a fixed table height in ``rand_vec``) would otherwise give a
    degenerate Box, which Gymnasium's checker flags and which breaks (x − low) / (high − low) normalisation.
    """
    low, high = np.array(low, dtype=np.float64), np.array(high, dtype=np.float64)
    same = low == high
    low[same] -= 1.0
    high[same] += 1.0
    return low, high


@functools.lru_cache(maxsize=8)
def _benchmark(kind: str, env_name: str | None, seed: int) -> Any:
    import metaworld

    if kind == "ML1":
        return metaworld.ML1(env_name, seed=seed)
    return {"ML10": metaworld.ML10, "ML45": metaworld.ML45}[kind](seed=seed)


def ml1_env_names() -> list[str]:
    """All Meta-World environment names valid for ML1 (``metaworld.ML1.ENV_NAMES``)."""
    import metaworld

    return list(metaworld.ML1.ENV_NAMES)


class MetaWorldTaskEnv(TaskEnv):
    """A :class:`~hyperbench.envs.base.TaskEnv` over Meta-World environments, one instance per environment class
    (built when a task of that class is first set)."""

    def __init__(
        self,
        family: MetaWorldFamily,
        *,
        task: Task | Any = None,
        split: str | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._family: MetaWorldFamily = family
        self._envs: dict[str, Any] = {}
        self._render_mode = render_mode
        first = family.validate_task(task, split) if task is not None else family.tasks(split or "train")[0]
        assert isinstance(first, MetaWorldTask)
        self._inner = self._env_for(first)
        self.metadata = dict(self._inner.metadata)
        # Partially observable Meta-World envs share one observation space (hand bounds, ±inf objects, and
        # [0, 0] for the three hidden-goal slots, which are always 0).
        mw_space = self._inner.observation_space
        low, high = _widen_degenerate(mw_space.low, mw_space.high)
        super().__init__(
            family,
            observation_space=spaces.Box(low, high, dtype=mw_space.dtype),
            action_space=self._inner.action_space,
            task=first,
            split=split,
            render_mode=render_mode,
            **kwargs,
        )

    def _env_for(self, task: MetaWorldTask) -> Any:
        env = self._envs.get(task.env_name)
        if env is None:
            env = self._family.env_class(task.env_name)(render_mode=self._render_mode)
            self._envs[task.env_name] = env
        env.set_task(self._family._mw_tasks[(task.split, task.env_name, task.index)])
        return env

    def _apply_task(self, task: Task) -> None:
        assert isinstance(task, MetaWorldTask)
        self._inner = self._env_for(task)

    def _reset_model(self, seed: int | None) -> tuple[Any, dict[str, Any]]:
        # Meta-World's reset ignores ``seed``: with a task set, its object and goal positions are fixed.
        obs, info = self._inner.reset()
        return obs, dict(info)

    def _step_model(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self._inner.step(action)
        return obs, float(reward), bool(terminated), bool(truncated), dict(info)

    @property
    def simulator(self) -> Any:
        """The Meta-World environment of the current task."""
        return self._inner

    def render(self) -> Any:
        """Render through Meta-World (needs an OpenGL backend)."""
        return self._inner.render()

    def close(self) -> None:
        """Close every Meta-World environment this env built."""
        for env in self._envs.values():
            env.close()


class MetaWorldFamily(TaskFamily):
    """Common part of ML1 / ML10 / ML45 (see the module docstring).

    :param seed: family seed (Meta-World's benchmark seed)
    :param n_train: goals per environment class in the train split (default: all 50)
    :param n_test: goals per environment class in the test split (default: all 50)
    """

    task_type = MetaWorldTask
    horizon: ClassVar[int] = 500
    has_success: ClassVar[bool] = True
    split_by_range = True  # _check_task compares the task's own split
    benchmark_name: ClassVar[str]

    def __init__(
        self, seed: int = 0, *, n_train: int | None = None, n_test: int | None = None, env_name: str | None = None
    ) -> None:
        super().__init__(seed)
        limits = {
            "train": None if n_train is None else _check_count(n_train, "n_train"),
            "test": None if n_test is None else _check_count(n_test, "n_test"),
        }
        self.benchmark = _benchmark(self.benchmark_name, env_name, self.seed)
        self._classes: dict[str, Any] = {**dict(self.benchmark.train_classes), **dict(self.benchmark.test_classes)}
        self.class_names: dict[str, list[str]] = {
            "train": list(self.benchmark.train_classes),
            "test": list(self.benchmark.test_classes),
        }
        #: every environment class of the benchmark, train first (the order of the context one-hot)
        self.all_class_names: list[str] = list(self._classes)
        self._mw_tasks: dict[tuple[str, str, int], Any] = {}
        self._by_key: dict[tuple[str, str, int], MetaWorldTask] = {}
        lists: dict[str, list[Task]] = {}
        for split, mw_tasks in (("train", self.benchmark.train_tasks), ("test", self.benchmark.test_tasks)):
            counters: dict[str, int] = {}
            lists[split] = []
            for mw_task in mw_tasks:
                index = counters.get(mw_task.env_name, 0)
                counters[mw_task.env_name] = index + 1
                if limits[split] is not None and index >= limits[split]:  # type: ignore[operator]
                    continue
                # Meta-World's own bytes, produced in this process (see the module docstring).
                rand_vec = pickle.loads(mw_task.data)["rand_vec"]
                task = MetaWorldTask(mw_task.env_name, split, index, tuple(np.asarray(rand_vec).tolist()))
                lists[split].append(task)
                self._mw_tasks[(split, mw_task.env_name, index)] = mw_task
                self._by_key[(split, mw_task.env_name, index)] = task
        self.config = {"n_train": limits["train"], "n_test": limits["test"]}
        self._set_tasks(lists["train"], lists["test"])
        # The family's tasks are a fixed finite set, so their min / max bound every context exactly.
        contexts = np.stack([self._context(t) for t in self.train_tasks + self.test_tasks])
        self._bounds = _widen_degenerate(contexts.min(axis=0), contexts.max(axis=0))

    # ------------------------------------------------------------------------------------- Meta-World
    def env_class(self, env_name: str) -> Any:
        """The Meta-World environment class of ``env_name``."""
        return self._classes[env_name]

    def metaworld_task(self, task: MetaWorldTask) -> Any:
        """Meta-World's ``Task`` object behind ``task`` (validated)."""
        task = self.validate_task(task)  # type: ignore[assignment]
        return self._mw_tasks[(task.split, task.env_name, task.index)]

    def _check_task(self, task: Task, split: str | None) -> None:
        assert isinstance(task, MetaWorldTask)
        if task.split not in _MW_SPLITS:
            raise ValueError(f"{self.name}: task split must be one of {list(_MW_SPLITS)}, got {task.split!r}")
        if split is not None and task.split != split:
            raise ValueError(f"{self.name}: a {task.split!r} task was given where the {split!r} split is required")
        names = self.class_names[task.split]
        if task.env_name not in names:
            close = difflib.get_close_matches(task.env_name, names, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(f"{self.name}: unknown {task.split} environment {task.env_name!r}.{hint} Valid names: {names}")
        key = (task.split, task.env_name, task.index)
        if key not in self._mw_tasks:
            count = sum(1 for k in self._mw_tasks if k[:2] == key[:2])
            raise ValueError(
                f"{self.name}: {task.env_name} has {count} {task.split} goals (index 0..{count - 1}), got index {task.index}"
            )
        if not np.allclose(self._by_key[key].rand_vec, task.rand_vec, rtol=0.0, atol=1e-9):
            raise ValueError(
                f"{self.name}: task {key} does not match this family's goal (family seed {self.seed}); "
                "Meta-World goals depend on the benchmark seed, build the family with the seed the task came from"
            )

    # --------------------------------------------------------------------------------------- contexts
    def _rand_part(self, task: MetaWorldTask) -> np.ndarray:
        return np.asarray(task.rand_vec, dtype=np.float32)

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, MetaWorldTask)
        return self._rand_part(task)

    def _context_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self._bounds

    def _make_core_env(self, **env_kwargs: Any) -> MetaWorldTaskEnv:
        return MetaWorldTaskEnv(self, **env_kwargs)


class ML1Family(MetaWorldFamily):
    """Meta-World ML1: one manipulation environment, 50 train and 50 test goal configurations.

    The docs name ``pick-place-v3`` (the default), ``push-v3`` and ``reach-v3``; any name in
    :func:`ml1_env_names` works. Oracle context: the task's ``rand_vec``.

    :param seed: family seed (train goals from ``seed``, test goals from ``seed + 1``: Meta-World's protocol)
    :param env_name: Meta-World environment name
    :param n_train: train goals to keep (default: all 50)
    :param n_test: test goals to keep (default: all 50)
    """

    name = "ml1"
    env_id = "hyperbench/ML1-v0"
    benchmark_name = "ML1"

    def __init__(
        self, seed: int = 0, *, env_name: str = "pick-place-v3", n_train: int | None = None, n_test: int | None = None
    ) -> None:
        valid = ml1_env_names()
        if env_name not in valid:
            close = difflib.get_close_matches(str(env_name), valid, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(f"ml1: unknown Meta-World environment {env_name!r}.{hint} Valid names: {valid}")
        self.env_name = env_name
        super().__init__(seed, n_train=n_train, n_test=n_test, env_name=env_name)
        self.config = {"env_name": env_name, **self.config}

    def __repr__(self) -> str:
        return f"ML1Family(seed={self.seed}, env_name={self.env_name!r})"


class _MultiClassFamily(MetaWorldFamily):
    """ML10 / ML45: context = one-hot(environment class) ++ rand_vec zero-padded to 6 values."""

    def __init__(self, seed: int = 0, *, n_train: int | None = None, n_test: int | None = None) -> None:
        super().__init__(seed, n_train=n_train, n_test=n_test)

    def _context(self, task: Task) -> np.ndarray:
        assert isinstance(task, MetaWorldTask)
        one_hot = np.zeros(len(self.all_class_names), dtype=np.float32)
        one_hot[self.all_class_names.index(task.env_name)] = 1.0
        rand = np.zeros(_RAND_VEC_PAD, dtype=np.float32)
        rand[: len(task.rand_vec)] = task.rand_vec
        return np.concatenate([one_hot, rand])


class ML10Family(_MultiClassFamily):
    """Meta-World ML10: 10 train environment classes, 5 held-out test classes, 50 goals each.

    :param seed: family seed (Meta-World's benchmark seed)
    :param n_train: train goals per class to keep (default: all 50)
    :param n_test: test goals per class to keep (default: all 50)
    """

    name = "ml10"
    env_id = "hyperbench/ML10-v0"
    benchmark_name = "ML10"


class ML45Family(_MultiClassFamily):
    """Meta-World ML45: 45 train environment classes, 5 held-out test classes, 50 goals each.

    :param seed: family seed (Meta-World's benchmark seed)
    :param n_train: train goals per class to keep (default: all 50)
    :param n_test: test goals per class to keep (default: all 50)
    """

    name = "ml45"
    env_id = "hyperbench/ML45-v0"
    benchmark_name = "ML45"
