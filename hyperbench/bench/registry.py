"""The method registry: a name (``td3-sa-hyper``, ``hyper-maml``, …) → how to build the learner.

Suites refer to methods only by name. A method has a **kind**, an object (:mod:`hyperbench.bench.kinds`) that
tells the runner how to set it up, evaluate it and checkpoint it:

- ``kind="sb3"``: the factory returns a stable-baselines3 algorithm built on the training environment the
  runner passes in (``ctx.env``); it is evaluated with SB3's ``evaluate_policy`` on held-out episodes (and
  held-out tasks for task families);
- ``kind="meta"``: the factory returns a :class:`hyperbench.meta.MetaLearner` for the family
  ``ctx.task.family``; it is evaluated with its own ``evaluate(tasks, n_episodes, seed)`` on the family's
  held-out test tasks, and its score is the headline it declares (``docs/meta-learners.md``).

A method also states what it can run on (:class:`Requirements`: action-space kinds, the oracle context,
several episodes per task); the suite validator rejects a method × task pair that does not fit, saying why,
before anything runs.

Register a method with :func:`register_method`::

    from hyperbench.bench import register_method

    def make_my_td3(ctx):
        from stable_baselines3 import TD3
        return TD3("MlpPolicy", ctx.env, learning_rate=ctx.config["learning_rate"], seed=ctx.seed)

    register_method("my-td3", make_my_td3, defaults={"learning_rate": 1e-3}, action_kinds=("box",),
                    description="TD3, my way")

``defaults`` is the method's whole configuration surface: suites may override exactly these keys, with
plain values of a compatible type, and the resolved values reach the factory as ``ctx.config``. Factories
should import heavy dependencies inside the function (or be given as a lazy ``"module:function"`` string)
so that listing and validating suites stays fast. Run ``hyperbench run SUITE --plugin my_module`` to
import a module that registers extra methods before the suite is validated (the workers import it too).
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from stable_baselines3.common.vec_env import VecEnv

    from hyperbench.bench.kinds import MethodKind
    from hyperbench.bench.tasks import TaskHandle

__all__ = [
    "BuildContext",
    "MethodSpec",
    "Requirements",
    "TaskCapabilities",
    "UnknownMethodError",
    "check_override",
    "get_method",
    "list_methods",
    "register_method",
    "unregister_method",
]

Observation = Literal["plain", "context"]


class UnknownMethodError(KeyError):
    """A method name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


@dataclass
class BuildContext:
    """What a method factory receives."""

    config: Mapping[str, Any]
    """resolved configuration: the method's ``defaults`` with the suite's overrides applied"""
    seed: int
    """the run's seed"""
    task: TaskHandle
    """the task (single Gymnasium env or task family), see :class:`hyperbench.bench.tasks.TaskHandle`"""
    env: VecEnv | None = None
    """SB3 methods: the training ``VecEnv`` built by the runner (``None`` for meta learners)"""
    log_dir: Path | None = None
    """directory for the learner's own logs, if it keeps any"""


@dataclass(frozen=True)
class Requirements:
    """What a method needs from a task (checked by the suite validator before anything runs)."""

    action_kinds: tuple[str, ...] = ("box", "discrete")
    """action spaces it can act in (``"box"``, ``"discrete"``)"""
    needs_context: bool = False
    """it reads the task's oracle context"""
    episodes_per_task: int = 1
    """episodes of one task inside one meta-episode (e.g. MAML: adaptation + post-adaptation ≥ 2)"""

    def problems(self, method: str, task: str, caps: TaskCapabilities) -> list[str]:
        """Why ``method`` cannot run on ``task`` (empty if it can).

        :param method: the method's name (for the messages)
        :param task: the task's name
        :param caps: what the task offers
        """
        out: list[str] = []
        if caps.action_kind is not None and caps.action_kind not in self.action_kinds:
            out.append(
                f"{method} acts in {' or '.join(self.action_kinds)} action spaces, but {task!r} has a "
                f"{caps.action_kind} action space"
            )
        if self.needs_context and not caps.has_context:
            out.append(f"{method} conditions on the task's oracle context, which {task!r} does not provide")
        if self.episodes_per_task > 1 and not caps.multi_episode:
            out.append(
                f"{method} needs {self.episodes_per_task} episodes of one task per meta-episode, but {task!r} "
                "does not keep its task across episodes"
            )
        return out


@dataclass(frozen=True)
class TaskCapabilities:
    """What a task offers to methods (see :meth:`hyperbench.bench.tasks.TaskHandle.capabilities`)."""

    is_family: bool
    """a task family with train / test tasks"""
    action_kind: str | None
    """``"box"``, ``"discrete"``, or ``None`` when unknown without building the environment"""
    has_context: bool
    """an oracle context per task"""
    multi_episode: bool
    """an environment keeps its task across resets"""


Factory = Callable[[BuildContext], Any]
Loader = Callable[[str, BuildContext], Any]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method."""

    name: str
    """registry name"""
    factory: Factory | str
    """``ctx -> learner``, or a lazy ``"module:function"`` entry point"""
    kind: str = "sb3"
    """name of the method's kind (:mod:`hyperbench.bench.kinds`): ``"sb3"``, ``"meta"`` or a plugin's"""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """the configurable hyperparameters and their default values (plain values)"""
    observation: Observation = "plain"
    """``"context"``: the method needs the Dict observation with the task context (task families only)"""
    needs_family: bool = False
    """the method only runs on task families (meta learners, context-conditioned methods)"""
    description: str = ""
    """one line shown by ``hyperbench run --list-methods`` and in reports"""
    loader: Loader | str | None = None
    """restore a learner from a checkpoint for resuming: ``(path, ctx) -> learner``; defaults to the kind's
    ``load_learner`` (SB3: a freshly built learner filled in by :func:`hyperbench.sb3.persistence.load_training_state`,
    never SB3's pickle-based ``load``; meta learners:
    :func:`hyperbench.meta.load_learner`, whatever the checkpoint's class)"""
    requires: tuple[str, ...] = ()
    """modules that must import for the method to be available (checked before a suite runs)"""
    check: Callable[[], str | None] | None = None
    """extra availability check run after the imports: returns a reason the method cannot run, or ``None``"""
    requirements: Requirements = field(default_factory=Requirements)
    """what the method needs from a task (checked by the suite validator)"""

    @property
    def kind_object(self) -> MethodKind:
        """The kind as an object (:func:`hyperbench.bench.kinds.get_kind`)."""
        from hyperbench.bench.kinds import get_kind

        return get_kind(self.kind)

    def build(self, ctx: BuildContext) -> Any:
        """Build a fresh learner.

        :param ctx: build context
        :return: the learner
        """
        return _resolve_callable(self.factory)(ctx)

    def load(self, path: str, ctx: BuildContext) -> Any:
        """Restore a learner from a checkpoint (SB3: the directory ``save_training_state`` wrote; meta: its ``save``).

        :param path: checkpoint directory (SB3) or file (meta learners)
        :param ctx: build context (same as for :meth:`build`)
        :return: the learner
        """
        if self.loader is not None:
            return _resolve_callable(self.loader)(path, ctx)
        return self.kind_object.load_learner(self, path, ctx)

    def availability(self) -> str | None:
        """Why the method cannot run here, or ``None`` if it can.

        :return: a reason naming the module that failed to import, or ``None``
        """
        for module in self.requires:
            try:
                importlib.import_module(module)
            except Exception as exc:  # ImportError, or an error inside a half-finished plugin module
                return f"method '{self.name}' needs module '{module}', which failed to import: {exc}"
        return None if self.check is None else self.check()


_REGISTRY: dict[str, MethodSpec] = {}
_BUILTINS_LOADED = False


def _resolve_callable(target: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"entry point {target!r} must look like 'package.module:function'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ValueError(f"entry point {target!r}: module '{module_name}' has no attribute '{attr}'") from exc


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        importlib.import_module("hyperbench.bench.methods")


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Turn frozen configuration values (mapping proxies, tuples) back into plain dicts and lists.

    :param value: a value from a frozen configuration
    :return: a mutable plain copy
    """
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def register_method(
    name: str,
    factory: Factory | str,
    *,
    kind: str = "sb3",
    defaults: Mapping[str, Any] | None = None,
    observation: Observation = "plain",
    needs_family: bool | None = None,
    description: str = "",
    loader: Loader | str | None = None,
    requires: Sequence[str] = (),
    check: Callable[[], str | None] | None = None,
    action_kinds: Sequence[str] | None = None,
    needs_context: bool | None = None,
    episodes_per_task: int = 1,
    replace: bool = False,
) -> MethodSpec:
    """Register a method under ``name`` so suites can use it.

    :param name: lowercase name made of letters, digits, ``-``, ``_`` and ``.`` (e.g. ``"sac-sa-hyper"``)
    :param factory: ``BuildContext -> learner`` or a lazy ``"module:function"`` string. For ``kind="sb3"``
        return an SB3 algorithm built on ``ctx.env`` with ``seed=ctx.seed``; for ``kind="meta"`` return a
        :class:`MetaLearner` for the family ``ctx.task.family``.
    :param kind: ``"sb3"``, ``"meta"``, or a kind registered with :func:`hyperbench.bench.kinds.register_kind`
    :param defaults: every configurable hyperparameter with its default (plain JSON-like values); suites
        can override only these keys
    :param observation: ``"context"`` if the method needs the Dict observation carrying the task context
    :param needs_family: the method runs only on task families (default: ``True`` for meta learners and
        context methods)
    :param description: one line for listings and reports
    :param loader: how to restore from a checkpoint (see :attr:`MethodSpec.loader`)
    :param requires: modules that must import for the method to run (e.g. ``("hyperbench.sb3",)``)
    :param check: extra availability check after the imports, returning a reason or ``None``
    :param action_kinds: action spaces the method can act in (default: both ``"box"`` and ``"discrete"``)
    :param needs_context: the method reads the oracle context (default: ``observation == "context"``)
    :param episodes_per_task: episodes of one task per meta-episode the method needs (checked against the
        task family)
    :param replace: allow replacing an existing registration
    :return: the registered spec
    :raises ValueError: on a bad name, kind or default value, or a duplicate name without ``replace``
    """
    _ensure_builtins()
    if not name or name != name.lower() or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"method name {name!r} must be lowercase letters, digits, '-', '_' or '.'")
    from hyperbench.bench.kinds import get_kind

    get_kind(kind)  # raises naming the registered kinds
    kinds = tuple(action_kinds) if action_kinds is not None else ("box", "discrete")
    bad = [k for k in kinds if k not in ("box", "discrete")]
    if bad or not kinds:
        raise ValueError(f"method '{name}': action_kinds must be a non-empty subset of ('box', 'discrete'), got {kinds}")
    if episodes_per_task < 1:
        raise ValueError(f"method '{name}': episodes_per_task must be >= 1, got {episodes_per_task}")
    if observation not in ("plain", "context"):
        raise ValueError(f"observation must be 'plain' or 'context', got {observation!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"method '{name}' is already registered (pass replace=True to override it)")
    defaults = dict(defaults or {})
    for key, value in defaults.items():
        if not _is_plain(value):
            raise ValueError(f"method '{name}': default for '{key}' must be a plain value (number, string, list…)")
    if needs_family is None:
        needs_family = kind == "meta" or observation == "context"
    spec = MethodSpec(
        name=name,
        factory=factory,
        kind=kind,
        defaults=_freeze(defaults),
        observation=observation,
        needs_family=needs_family,
        description=description,
        loader=loader,
        requires=tuple(requires),
        check=check,
        requirements=Requirements(
            action_kinds=kinds,
            needs_context=observation == "context" if needs_context is None else bool(needs_context),
            episodes_per_task=int(episodes_per_task),
        ),
    )
    _REGISTRY[name] = spec
    return spec


def unregister_method(name: str) -> None:
    """Remove a registration (mostly for tests).

    :param name: registered name
    """
    _REGISTRY.pop(name, None)


def list_methods() -> list[str]:
    """Names of every registered method, sorted."""
    _ensure_builtins()
    return sorted(_REGISTRY)


def get_method(name: str) -> MethodSpec:
    """Look a method up by name.

    :param name: registered name
    :return: its spec
    :raises UnknownMethodError: naming the closest registered names
    """
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownMethodError(f"unknown method {name!r}{hint} Registered methods: {', '.join(sorted(_REGISTRY))}") from None


def check_override(method: str, key: str, value: Any, default: Any) -> None:
    """Check that ``value`` may replace the default ``default`` of ``method``'s setting ``key``.

    Numbers may replace numbers (an ``int`` may replace a ``float``, not the reverse), strings strings,
    booleans booleans, lists lists, mappings mappings; a ``None`` default accepts any plain value.

    :param method: method name (for the message)
    :param key: setting name
    :param value: the override
    :param default: the registered default
    :raises ValueError: when the value is not plain or its type does not fit
    """
    if not _is_plain(value):
        raise ValueError(f"method '{method}': override '{key}' must be a plain value (number, string, list, mapping)")
    if default is None or value is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool))
        # numbers are allowed where a string default has a numeric alternative (e.g. SAC ent_coef "auto" or 0.05)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    elif isinstance(default, Mapping):
        ok = isinstance(value, Mapping)
    else:  # pragma: no cover - defaults are validated as plain at registration
        ok = True
    if not ok:
        raise ValueError(
            f"method '{method}': override '{key}' = {value!r} has type {type(value).__name__}, "
            f"expected the type of its default {default!r} ({type(default).__name__})"
        )
