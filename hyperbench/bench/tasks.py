"""Tasks of a suite: single Gymnasium environments or hyperbench task families, and how to build their envs.

A suite names a task either by

- a **Gymnasium id** (``Hopper-v5``): a single task; training and evaluation use separate instances of the
  environment with different seeds; the task entry's ``env_kwargs`` go to ``gym.make``; or
- a **task family** of :mod:`hyperbench.envs`, by family name (``point-robot``, ``halfcheetah-vel``,
  ``ml1/pick-place-v3``) or by its Gymnasium id (``hyperbench/PointRobot-v0``). The family is built with
  ``make_family(name, seed=env_kwargs["family_seed"] (default 0), **other env_kwargs)``, so every method and
  seed sees the same fixed train/test task lists. SB3 methods train on the training tasks (a new task at
  every reset; ``context_obs=True`` for context-conditioned methods) and are evaluated on the held-out
  ``test_tasks``; meta learners get the family object (``ctx.task.family``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym

if TYPE_CHECKING:  # pragma: no cover
    from hyperbench.bench.registry import TaskCapabilities

__all__ = ["FAMILY_NAMESPACE", "TaskHandle", "UnknownTaskError", "known_tasks", "resolve_task"]

FAMILY_NAMESPACE = "hyperbench"


class UnknownTaskError(KeyError):
    """A task name that is neither a registered Gymnasium id nor a hyperbench task family."""

    def __str__(self) -> str:
        return str(self.args[0])


def _families() -> Mapping[str, Any]:
    """Family name → registry info (empty if ``hyperbench.envs`` defines no families)."""
    import hyperbench.envs as envs  # registers the hyperbench/ ids

    return dict(getattr(envs, "FAMILIES", {}))


def known_tasks() -> list[str]:
    """Every task name a suite may use: family names and Gymnasium ids, sorted."""
    return sorted(_families()) + sorted(gym.registry)


def resolve_task(name: str, env_kwargs: Mapping[str, Any] | None = None) -> TaskHandle:
    """Check that ``name`` is a task family or a registered Gymnasium id and describe it.

    :param name: family name (``"point-robot"``, ``"ml1/push-v3"``), family id (``"hyperbench/PointRobot-v0"``)
        or any Gymnasium id (``"Hopper-v5"``)
    :param env_kwargs: family options (and ``family_seed``) for families, ``gym.make`` keyword arguments otherwise
    :return: a handle that builds the task's environments
    :raises UnknownTaskError: naming the closest valid names
    """
    families = _families()
    kwargs = dict(env_kwargs or {})
    family_name: str | None = None
    key = name.strip().lower()
    if key.split("/")[0] in families and not name.startswith(FAMILY_NAMESPACE + "/"):
        family_name = key
    elif name in gym.registry:
        spec = gym.spec(name)
        if spec.namespace == FAMILY_NAMESPACE:
            family_name = spec.kwargs.get("family_name") or next(
                (n for n, info in families.items() if getattr(info, "env_id", None) == name), None
            )
            if family_name is None:
                raise UnknownTaskError(f"{name!r} is in the hyperbench namespace but is not a known task family")
    else:
        options = known_tasks()
        close = difflib.get_close_matches(name, options, n=4, cutoff=0.6) or difflib.get_close_matches(
            key, options, n=4, cutoff=0.6
        )
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        fam = f" Task families: {', '.join(sorted(families))}." if families else ""
        raise UnknownTaskError(
            f"unknown task {name!r}{hint} Tasks are Gymnasium ids (e.g. 'Hopper-v5') or task families.{fam}"
        )
    return TaskHandle(name=name, family_name=family_name, env_kwargs=kwargs)


@dataclass
class TaskHandle:
    """A task as the runner and method factories see it."""

    name: str
    """the name the suite uses"""
    family_name: str | None = None
    """registry name of the task family (``"ml1/<env>"`` style names included), ``None`` for a single task"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """family options and ``family_seed`` (families) or ``gym.make`` keyword arguments (single tasks)"""
    _family: Any = field(default=None, repr=False, compare=False)

    @property
    def is_family(self) -> bool:
        """Whether the task is a task family with train/test tasks."""
        return self.family_name is not None

    def capabilities(self) -> TaskCapabilities:
        """What this task offers to methods, read from the family class without building anything.

        Single Gymnasium tasks report an unknown action kind (finding out would mean building the env).
        """
        from hyperbench.bench.registry import TaskCapabilities

        if self.family_name is None:
            return TaskCapabilities(is_family=False, action_kind=None, has_context=False, multi_episode=True)
        cls = _families()[self.family_name.split("/")[0]].load()
        return TaskCapabilities(
            is_family=True,
            action_kind=str(getattr(cls, "action_kind", "box")),
            has_context=bool(getattr(cls, "has_oracle_context", True)),
            multi_episode=bool(getattr(cls, "multi_episode", True)),
        )

    @property
    def reference_name(self) -> str:
        """The name under which ``hyperbench.envs.reference`` keeps this task's scores."""
        if self.family_name is None:
            return self.name
        if self.family_name == "ml1" and "env_name" in self.env_kwargs:
            return f"ml1/{self.env_kwargs['env_name']}"
        return self.family_name

    @property
    def horizon(self) -> int:
        """Maximum episode length (the registered time limit; 1000 if none is registered)."""
        if self.family_name is None:
            steps = gym.spec(self.name).max_episode_steps
        else:
            info = _families().get(self.family_name.split("/")[0])
            steps = getattr(info, "max_episode_steps", None)
        return int(steps) if steps else 1000

    @property
    def family(self) -> Any:
        """The :class:`hyperbench.envs.TaskFamily` (built once; ``None`` for a single task)."""
        if self.family_name is None:
            return None
        if self._family is None:
            from hyperbench.envs import make_family

            options = dict(self.env_kwargs)
            seed = int(options.pop("family_seed", 0))
            self._family = make_family(self.family_name, seed=seed, **options)
        return self._family

    def make_env(self, *, context: bool = False, train: bool = True, task: Any = None) -> gym.Env:
        """Build one environment of this task.

        :param context: Dict observation ``{"observation", "context"}`` (task families only)
        :param train: for a family, draw a new training task at every reset (ignored when ``task`` is given)
        :param task: for a family, fix this task
        :return: the environment (not seeded; SB3 or the evaluator seeds it)
        """
        if self.family_name is None:
            if context:
                raise ValueError(f"task {self.name!r} is a single task: it has no context observation")
            return gym.make(self.name, **self.env_kwargs)
        if task is not None:
            return self.family.make_env(task=task, context_obs=context)
        return self.family.make_env(split="train", resample_on_reset=train, context_obs=context)

    def set_task(self, env: gym.Env, task: Any) -> None:
        """Switch an environment built by :meth:`make_env` to ``task`` (takes effect at the next reset).

        :param env: the environment (possibly wrapped)
        :param task: a task of the family
        """
        env.unwrapped.set_task(task)  # type: ignore[attr-defined]

    def train_tasks(self) -> list[Any]:
        """The family's training tasks (``[None]`` for a single task)."""
        return [None] if self.family is None else list(self.family.train_tasks)

    def test_tasks(self, max_tasks: int | None = None, split: str = "test") -> list[Any]:
        """The family's held-out test tasks, the first ``max_tasks`` of them (``[None]`` for a single task).

        :param max_tasks: keep at most this many (``None``: all)
        :param split: ``"test"`` (held out from the training distribution) or ``"ood_test"`` (out of
            distribution, where the family defines it: :attr:`has_ood_split`)
        """
        if split not in ("test", "ood_test"):
            raise ValueError(f"split must be 'test' or 'ood_test', got {split!r}")
        if split == "ood_test" and not self.has_ood_split:
            raise ValueError(f"task {self.name!r} defines no out-of-distribution test tasks")
        if self.family is None:
            tasks: list[Any] = [None]
        else:
            tasks = list(self.family.test_tasks if split == "test" else self.family.ood_test_tasks)
        return tasks if max_tasks is None else tasks[:max_tasks]

    @property
    def has_ood_split(self) -> bool:
        """Whether the family has out-of-distribution test tasks apart from its test tasks (HalfCheetah-Vel-Medium)."""
        return self.family is not None and bool(self.family.ood_test_tasks)
