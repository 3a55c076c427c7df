"""Kinds of method as objects: how the runner and ``leaderboard verify`` set up, evaluate and persist a learner.

A registered method names its kind (``"sb3"`` or ``"meta"``, or a kind a plugin registers with
:func:`register_kind`). Everything that differs between kinds lives in one :class:`MethodKind` object, so the
runner and the verifier have no ``kind == ...`` branches:

=====================  ===============================================  ================================================
step                   ``sb3`` (:class:`Sb3Kind`)                       ``meta`` (:class:`MetaKind`)
=====================  ===============================================  ================================================
``prepare``            the training ``VecEnv`` in ``ctx.env``           nothing (the learner owns its environments)
``evaluator``          SB3 ``evaluate_policy`` on held-out episodes      the learner's ``evaluate(tasks, n, seed)``
``save_checkpoint``    safetensors + JSON training state (+ buffer)     weights (``learner.safetensors``) + large state
``load_checkpoint``    the same, then a fresh seed per attempt          the same (buffers restored)
``save_policy``        ``policy.safetensors`` (weights only)            the learner's own checkpoint (weights only)
``load_policy``        build from the spec, load the weights            ``load`` from the checkpoint, fresh streams
=====================  ===============================================  ================================================

Checkpoint files are written into a directory the runner publishes atomically (a temporary directory renamed
into place), so the weights and the large state of one checkpoint are always seen together.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hyperbench.bench.evaluators import MetaEvaluator, Sb3Evaluator, derived_seed

if TYPE_CHECKING:  # pragma: no cover
    from hyperbench.bench.registry import BuildContext, MethodSpec
    from hyperbench.bench.suite import EvalProtocol
    from hyperbench.bench.tasks import TaskHandle

__all__ = ["MetaKind", "MethodKind", "Sb3Kind", "get_kind", "kind_names", "register_kind"]

#: File (inside a checkpoint directory) of a meta learner's large state.
LARGE_STATE_FILE = "large_state.safetensors"


class MethodKind(ABC):
    """What the runner needs to know about one kind of method (see the module docstring)."""

    #: the kind's name, as methods and run records name it
    name: ClassVar[str] = ""
    #: whether a learner of this kind advances its step count in whole iterations (many environment steps at
    #: a time), so that it is evaluated at the first iteration boundary at or after each protocol step
    #: rather than exactly at it; ``leaderboard`` validation accepts such steps (see
    #: :func:`hyperbench.leaderboard.validate.eval_steps_problem`)
    steps_in_iterations: ClassVar[bool] = False

    def prepare(self, method: MethodSpec, ctx: BuildContext) -> None:
        """Complete the build context before :meth:`build` or :meth:`load_checkpoint` (default: nothing).

        :param method: the method
        :param ctx: its build context (``ctx.task`` is the task)
        """
        return None

    def build(self, method: MethodSpec, ctx: BuildContext) -> Any:
        """A fresh learner from the method's factory.

        :param method: the method
        :param ctx: the prepared build context
        """
        learner = method.build(ctx)
        self.check_learner(method, learner)
        return learner

    def check_learner(self, method: MethodSpec, learner: Any) -> None:
        """Raise ``TypeError`` if the factory built something this kind cannot drive (default: accept)."""
        return None

    @abstractmethod
    def load_learner(self, method: MethodSpec, path: str, ctx: BuildContext) -> Any:
        """Restore a learner from a file its ``save`` wrote (used when the method has no own ``loader``)."""

    @abstractmethod
    def evaluator(
        self, method: MethodSpec, task: TaskHandle, protocol: EvalProtocol, seed: int, *, fresh: bool, split: str = "test"
    ) -> Any:
        """The evaluator of a run (a callable ``learner -> EvalOutcome`` with ``close()``).

        :param method: the method
        :param task: the task
        :param protocol: the suite's evaluation protocol
        :param seed: the run's seed, or (``fresh``) a verification seed
        :param fresh: evaluate on fresh seeds (``leaderboard verify``) instead of the run's own
        :param split: the held-out tasks to evaluate on: ``"test"``, or ``"ood_test"`` for a family with an
            out-of-distribution split (:attr:`hyperbench.bench.tasks.TaskHandle.has_ood_split`)
        """

    @abstractmethod
    def save_checkpoint(self, learner: Any, directory: Path) -> None:
        """Write everything a resumed run needs (weights and large state) into ``directory``."""

    @abstractmethod
    def load_checkpoint(self, method: MethodSpec, directory: Path, ctx: BuildContext, attempt: int) -> Any:
        """Restore a learner written by :meth:`save_checkpoint`.

        :param attempt: the number of this attempt of the run (a fresh seed per attempt where it matters)
        """

    @abstractmethod
    def save_policy(self, learner: Any, directory: Path) -> None:
        """Write the final policy's weights (what a leaderboard submission carries) into ``directory``."""

    @abstractmethod
    def load_policy(self, method: MethodSpec, weights: Path, ctx: BuildContext, eval_seed: int) -> Any:
        """Rebuild a learner from its policy weights for re-evaluation.

        :param weights: a file written by :meth:`save_policy`
        :param eval_seed: the verification seed
        """

    def close(self, learner: Any) -> None:
        """Release what the learner holds (environments)."""
        env = getattr(learner, "env", None)
        if env is not None:
            env.close()


class Sb3Kind(MethodKind):
    """Stable-baselines3 algorithms (``TD3(SAHyperPolicy, env)``): the runner owns the training env."""

    name = "sb3"

    def prepare(self, method: MethodSpec, ctx: BuildContext) -> None:
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        task, context = ctx.task, method.observation == "context"
        ctx.env = DummyVecEnv([lambda: Monitor(task.make_env(context=context, train=True))])

    def load_learner(self, method: MethodSpec, path: str, ctx: BuildContext) -> Any:
        # A fresh algorithm of the same config, filled in from safetensors + JSON: SB3's own pickle-based
        # ``load`` is never called (hyperbench.sb3.persistence).
        from hyperbench.sb3.persistence import load_training_state

        learner = method.build(ctx)
        load_training_state(learner, path)
        return learner

    def evaluator(
        self, method: MethodSpec, task: TaskHandle, protocol: EvalProtocol, seed: int, *, fresh: bool, split: str = "test"
    ) -> Any:
        return Sb3Evaluator(task, method.observation == "context", protocol.episodes, protocol.max_tasks, seed, split)

    # Weights, optimizers, counters, random streams and the replay buffer as safetensors + JSON, never pickle.
    def save_checkpoint(self, learner: Any, directory: Path) -> None:
        from hyperbench.sb3.persistence import save_training_state

        save_training_state(learner, directory / "learner")

    def load_checkpoint(self, method: MethodSpec, directory: Path, ctx: BuildContext, attempt: int) -> Any:
        learner = method.load(str(directory / "learner"), ctx)
        learner.set_random_seed(derived_seed(ctx.seed, attempt))
        return learner

    def save_policy(self, learner: Any, directory: Path) -> None:
        from safetensors.torch import save_model

        save_model(learner.policy, str(directory / "policy.safetensors"))

    def load_policy(self, method: MethodSpec, weights: Path, ctx: BuildContext, eval_seed: int) -> Any:
        from hyperbench.bench.rebuild import load_sb3_weights

        learner = self.build(method, ctx)
        # a submission may carry the actor's weights only (``actor.safetensors``) or the whole policy's
        load_sb3_weights(learner, weights)
        return learner


class MetaKind(MethodKind):
    """Meta learners (:class:`hyperbench.meta.MetaLearner`): they own their environments and evaluation protocol."""

    name = "meta"
    steps_in_iterations = True

    def check_learner(self, method: MethodSpec, learner: Any) -> None:
        from hyperbench.meta.base import MetaLearner

        if not isinstance(learner, MetaLearner):
            raise TypeError(
                f"method '{method.name}' is registered with kind='meta', so its factory must return a "
                f"hyperbench.meta.MetaLearner, got {type(learner).__name__} (see docs/meta-learners.md)"
            )

    def load_learner(self, method: MethodSpec, path: str, ctx: BuildContext) -> Any:
        from hyperbench.meta.base import load_learner

        return load_learner(path, family=ctx.task.family)

    def evaluator(
        self, method: MethodSpec, task: TaskHandle, protocol: EvalProtocol, seed: int, *, fresh: bool, split: str = "test"
    ) -> Any:
        # A run evaluates with seed 0 every time (common random numbers; the learner mixes in its own seed).
        return MetaEvaluator(task, protocol.episodes, protocol.max_tasks, seed if fresh else 0, split)

    def save_checkpoint(self, learner: Any, directory: Path) -> None:
        learner.save(directory / "learner")
        if learner.has_large_state:
            learner.save_large_state(directory / LARGE_STATE_FILE)

    def load_checkpoint(self, method: MethodSpec, directory: Path, ctx: BuildContext, attempt: int) -> Any:
        from hyperbench.meta.base import CheckpointError

        learner = method.load(str(directory / "learner"), ctx)
        self.check_learner(method, learner)
        if (directory / LARGE_STATE_FILE).exists():
            learner.load_large_state(directory / LARGE_STATE_FILE)
        elif learner.has_large_state:
            raise CheckpointError(
                f"{directory}: {type(learner).__name__} declares large state (e.g. a replay buffer) but the checkpoint "
                f"has no {LARGE_STATE_FILE}; delete the checkpoint directory to restart the run from scratch"
            )
        return learner

    def save_policy(self, learner: Any, directory: Path) -> None:
        learner.save(directory / "learner")

    def load_policy(self, method: MethodSpec, weights: Path, ctx: BuildContext, eval_seed: int) -> Any:
        import numpy as np

        learner = method.load(str(weights), ctx)
        self.check_learner(method, learner)
        # fresh training-side streams too (evaluation has its own, seeded by eval_seed)
        learner.rng = np.random.default_rng(np.random.SeedSequence([eval_seed, 0x5EED]))
        learner.torch_rng.manual_seed(eval_seed)
        return learner

    def close(self, learner: Any) -> None:
        loop = getattr(learner, "_rollout", None)
        if loop is not None:
            loop.close()


_KINDS: dict[str, MethodKind] = {"sb3": Sb3Kind(), "meta": MetaKind()}


def register_kind(kind: MethodKind, replace: bool = False) -> MethodKind:
    """Make a new kind of method available to :func:`hyperbench.bench.register_method`.

    :param kind: the kind object (its ``name`` is how methods refer to it)
    :param replace: allow replacing a kind of the same name
    :return: the kind
    """
    if not kind.name:
        raise ValueError(f"{type(kind).__name__} must set the class attribute 'name'")
    if kind.name in _KINDS and not replace:
        raise ValueError(f"method kind {kind.name!r} is already registered ({type(_KINDS[kind.name]).__name__})")
    _KINDS[kind.name] = kind
    return kind


def kind_names() -> list[str]:
    """Names of the registered kinds."""
    return sorted(_KINDS)


def get_kind(name: str) -> MethodKind:
    """The kind object of a name.

    :raises ValueError: naming the registered kinds
    """
    try:
        return _KINDS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_KINDS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown method kind {name!r}.{hint} Registered kinds: {kind_names()}") from None
