"""The one contract every hyperbench meta-RL learner follows, shaped like a stable-baselines3 algorithm.

A user who knows SB3 knows this class::

    learner = MAML("point-robot", variant="hyper-maml", seed=0, tensorboard_log="runs/tb")
    learner.learn(total_timesteps=200_000, callback=CheckpointCallback(...), progress_bar=True)
    result = learner.evaluate(learner.family.test_tasks, n_episodes=10, seed=0)   # EvalResult
    learner.save("hyper-maml.safetensors")
    learner = MAML.load("hyper-maml.safetensors")                                  # or load_learner(path)

**Acting and observing.** A learner owns an *adaptation state* (MAML: adapted parameters; PEARL: collected
context and posterior; VariBAD / RL2: a recurrent belief) for a batch of task rows, and the shared rollout
loop (:mod:`hyperbench.meta.rollout`) drives it through four methods, for training and for evaluation:

- :meth:`MetaLearner.begin_meta_episode` (a meta-episode boundary: a fresh state for the tasks),
- :meth:`MetaLearner.act` (actions for a batch of observations, from the state),
- :meth:`MetaLearner.observe` (each transition ``(s, a, r, s', terminated, truncated)`` goes into the state),
- :meth:`MetaLearner.end_phase` (after each phase of the meta-episode: e.g. MAML's inner gradient step).

**Evaluation protocol as data.** :meth:`MetaLearner.meta_episode` says what one meta-episode is (a list of
:class:`~hyperbench.meta.rollout.Phase`), and :attr:`MetaLearner.headline` which of its episodes make the
method's score. :meth:`MetaLearner.evaluate` runs one meta-episode per task and returns an :class:`EvalResult`
holding every episode's return (and success) in meta-episode order; the suite runner, reports and the
leaderboard read the headline from it, and run records keep the whole matrix.

**Training loop.** :meth:`MetaLearner.learn` is the same for every method: each call to
:meth:`~MetaLearner._train_iteration` collects some environment steps (through the rollout loop) and updates
the learner; the loop adds them to ``num_timesteps``, records the returned statistics in SB3's logger
(stdout / CSV / TensorBoard via ``tensorboard_log`` or :meth:`~MetaLearner.set_logger`) and calls the SB3
callback's ``on_step`` once per iteration (the smallest unit after which the learner is consistent).

**Checkpoints.** :meth:`~MetaLearner.save` writes one safetensors file: the weights, the generator states, and
in its header a JSON config (class, hyperparameters, family, counters) plus a SHA-256 of the tensor bytes and of that header.
Large state (replay buffers, rollout storage: :meth:`~MetaLearner._get_large_state`) is declared apart from
the weights and written by :meth:`~MetaLearner.save_large_state` to a second safetensors file, without a
checksum (it can be large and is written at every checkpoint; the suite runner publishes both files together
atomically). Loading never unpickles anything; a file that is not such a checkpoint, or was corrupted, is
rejected with a :class:`CheckpointError` that says so.

**Registry.** Every subclass is registered under a qualified name (``module.QualName``, or its own
``registry_name``), which checkpoints store. Two different classes claiming one name, or a class that
takes the bare name of a built-in learner (older checkpoints store bare names), are refused with an error
naming both classes.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ConvertCallback, ProgressBarCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import configure_logger, get_device
from torch import nn

from hyperbench.digest import DIGEST_KEY, state_digest
from hyperbench.meta.rollout import EpisodeBatch, Headline, Phase, RolloutLoop, Transition

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "EvalResult",
    "MetaLearner",
    "check_config_keys",
    "load_learner",
    "make_family_from_spec",
    "observation_batch",
    "read_checkpoint",
    "resolve_variant_config",
]

#: Value of the ``format`` entry in the header of every meta-learner checkpoint.
CHECKPOINT_FORMAT = "hyperbench.meta-learner"
#: Version 3's SHA-256 covers the header (config, family, counters) as well as the tensors; version 2 stores the
#: qualified class name; versions 1 and 2 (tensor-only checksum; version 1: bare class names) are still read.
CHECKPOINT_VERSION = 3
_READABLE_VERSIONS = ("1", "2", "3")
#: ``format`` of the large-state file (replay buffers, rollout storage) written next to a checkpoint.
LARGE_STATE_FORMAT = "hyperbench.meta-learner-large-state"
#: Label of MAML-style adaptation phases collected before any adaptation (see :attr:`EvalResult.pre_adaptation_returns`).
PRE_ADAPTATION = "pre-adaptation"
#: Built-in learners by bare class name: the names version-1 checkpoints store, which no other class may take.
BUILTIN_LEARNERS: dict[str, str] = {"MAML": "hyperbench.meta.maml.MAML"}

SelfMetaLearner = TypeVar("SelfMetaLearner", bound="MetaLearner")


class CheckpointError(ValueError):
    """A file that is not a (valid, uncorrupted, compatible) hyperbench meta-learner checkpoint."""


@dataclass
class EvalResult:
    """Every episode of one meta-episode per task, and the method's headline score over them.

    Shapes: ``episode_returns`` and ``episode_successes`` are ``(n_tasks, n_episodes_in_meta_episode)``, columns
    in meta-episode order; ``phases`` labels every column with its phase (e.g. MAML: ``"pre-adaptation"`` × 20,
    then ``"post-adaptation"`` × 5). :attr:`returns` / :attr:`successes` are the headline samples ``(n_tasks, k)``
    selected by ``headline``.
    """

    episode_returns: np.ndarray
    """undiscounted return of every episode of the meta-episode ``(n_tasks, E)``"""
    tasks: list[dict[str, Any]]
    """the evaluated tasks, as ``task.to_dict()``"""
    phases: tuple[str, ...]
    """phase label of each column"""
    headline: Headline
    """which columns are the method's score"""
    episode_successes: np.ndarray | None = None
    """1.0 if the episode succeeded (families with a success notion), else ``None``"""
    secondary: Mapping[str, Headline] = field(default_factory=dict)
    """other scores the method reports (e.g. VariBAD's first episode)"""
    info: dict[str, Any] = field(default_factory=dict)
    """protocol details (episodes, inner steps, seed, ...)"""

    def __post_init__(self) -> None:
        self.episode_returns = np.asarray(self.episode_returns, dtype=float)
        self.phases = tuple(self.phases)
        if self.episode_returns.ndim != 2 or self.episode_returns.shape[1] != len(self.phases):
            raise ValueError(
                f"episode_returns must be (n_tasks, {len(self.phases)}) to match its phase labels, "
                f"got shape {self.episode_returns.shape}"
            )
        if self.episode_successes is not None:
            self.episode_successes = np.asarray(self.episode_successes, dtype=float)
            if self.episode_successes.shape != self.episode_returns.shape:
                raise ValueError(f"episode_successes {self.episode_successes.shape} must match {self.episode_returns.shape}")
        self.headline.columns(self.phases)  # the headline must select something

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access (``result["returns"]``) for code that treats results as dicts."""
        if key not in self.to_dict():
            raise KeyError(f"{key!r}; EvalResult keys: {sorted(self.to_dict())}")
        return getattr(self, key)

    @property
    def returns(self) -> np.ndarray:
        """Headline samples ``(n_tasks, k)`` (MAML: the post-adaptation episodes)."""
        return self.headline.samples(self.episode_returns, self.phases)

    @property
    def successes(self) -> np.ndarray | None:
        """Headline success samples ``(n_tasks, k)``, or ``None``."""
        if self.episode_successes is None:
            return None
        return self.headline.success_samples(self.episode_successes, self.phases)

    def phase_returns(self, label: str) -> np.ndarray | None:
        """Returns of the episodes of phase ``label`` ``(n_tasks, n)``, or ``None`` if the meta-episode has none."""
        cols = [i for i, lab in enumerate(self.phases) if lab == label]
        return self.episode_returns[:, cols] if cols else None

    def phase_successes(self, label: str) -> np.ndarray | None:
        """Successes of the episodes of phase ``label``, or ``None``."""
        cols = [i for i, lab in enumerate(self.phases) if lab == label]
        return None if not cols or self.episode_successes is None else self.episode_successes[:, cols]

    @property
    def pre_adaptation_returns(self) -> np.ndarray | None:
        """Returns of the ``"pre-adaptation"`` phase (MAML), or ``None``."""
        return self.phase_returns(PRE_ADAPTATION)

    @property
    def pre_adaptation_successes(self) -> np.ndarray | None:
        """Successes of the ``"pre-adaptation"`` phase, or ``None``."""
        return self.phase_successes(PRE_ADAPTATION)

    @property
    def per_task_return(self) -> np.ndarray:
        """Mean headline return of every task ``(n_tasks,)``."""
        return self.returns.mean(axis=1)

    @property
    def mean_return(self) -> float:
        """The headline score: mean over tasks and headline samples."""
        return float(self.returns.mean())

    @property
    def success_rate(self) -> float | None:
        """Fraction of successful headline samples, or ``None`` without a success notion."""
        succ = self.successes
        return None if succ is None else float(succ.mean())

    @property
    def pre_adaptation_mean_return(self) -> float | None:
        """Mean pre-adaptation return, or ``None`` for methods without that phase."""
        pre = self.pre_adaptation_returns
        return None if pre is None else float(pre.mean())

    def scores(self) -> dict[str, float]:
        """The headline (key ``"headline"``) and every secondary score, as means."""
        out = {"headline": self.mean_return}
        for name, head in self.secondary.items():
            out[name] = float(head.samples(self.episode_returns, self.phases).mean())
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (arrays become nested lists)."""

        def arr(a: np.ndarray | None) -> Any:
            return None if a is None else np.asarray(a, dtype=float).tolist()

        return {
            "episode_returns": arr(self.episode_returns),
            "episode_successes": arr(self.episode_successes),
            "phases": list(self.phases),
            "headline": self.headline.to_dict(),
            "returns": arr(self.returns),
            "successes": arr(self.successes),
            "scores": self.scores(),
            "tasks": list(self.tasks),
            "info": dict(self.info),
        }


def check_config_keys(config_cls: type, values: Mapping[str, Any]) -> None:
    """Refuse option names that are not fields of a learner's config dataclass, suggesting the closest ones.

    :param config_cls: the config dataclass
    :param values: option name → value
    :raises ValueError: naming every unknown option
    """
    names = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        hints = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
        hint = "".join(f" ({k!r}: did you mean {v[0]!r}?)" for k, v in hints.items() if v)
        raise ValueError(f"unknown {config_cls.__name__} option(s) {unknown}.{hint} Valid options: {names}")


_Config = TypeVar("_Config")


def resolve_variant_config(
    config_cls: type[_Config], config: _Config | Mapping[str, Any] | None, variant: str | None, default_variant: str
) -> _Config:
    """The config a learner runs with: ``config`` (a config object, a mapping of its fields, or ``None`` for the
    defaults), with ``variant`` taking precedence over the config's own variant when given.

    :param config_cls: the learner's config dataclass (with a ``variant`` field and a ``from_dict`` classmethod)
    :param config: config object, mapping or ``None``
    :param variant: variant name, or ``None`` to keep the config's
    :param default_variant: the variant when neither gives one
    :return: the resolved config object
    """
    if config is None:
        return config_cls(variant=variant or default_variant)  # type: ignore[call-arg]
    if isinstance(config, Mapping):
        return config_cls.from_dict({**config, **({"variant": variant} if variant else {})})  # type: ignore[attr-defined]
    if variant is not None and variant != config.variant:  # type: ignore[attr-defined]
        return dataclasses.replace(config, variant=variant)  # type: ignore[type-var]
    return config


def make_family_from_spec(spec: Mapping[str, Any]) -> Any:
    """Rebuild a task family from ``family.describe()`` (name, seed and options).

    :param spec: mapping with ``"family"``, ``"seed"`` and ``"config"``
    :return: the family
    """
    from hyperbench.envs import make_family

    return make_family(spec["family"], seed=int(spec["seed"]), **dict(spec.get("config", {})))


def _resolve_family(family: Any, family_seed: int, family_kwargs: Mapping[str, Any] | None) -> Any:
    if isinstance(family, str):
        from hyperbench.envs import make_family

        return make_family(family, seed=family_seed, **dict(family_kwargs or {}))
    for attr in ("train_tasks", "test_tasks", "oracle_context", "make_core_env", "horizon", "describe"):
        if not hasattr(family, attr):
            raise TypeError(
                f"family must be a hyperbench task family (hyperbench.envs.make_family) or its name, "
                f"got {type(family).__name__} without {attr!r}"
            )
    return family


class _TimestepProgressBar(ProgressBarCallback):
    """SB3's progress bar, advanced by the steps an iteration took (meta-learners have no ``training_env``)."""

    def _on_training_start(self) -> None:
        super()._on_training_start()
        self._last = self.model.num_timesteps

    def _on_step(self) -> bool:
        self.pbar.update(self.model.num_timesteps - self._last)
        self._last = self.model.num_timesteps
        return True


def observation_batch(observation: np.ndarray | Mapping[str, np.ndarray], obs_dim: int) -> tuple[np.ndarray, bool]:
    """A learner's ``predict`` input as a ``(B, obs_dim)`` float32 array, and whether it was a single observation.

    :param observation: ``(obs_dim,)``, ``(B, obs_dim)``, or a Dict observation with an ``"observation"`` key
    :param obs_dim: the learner's state size
    :raises ValueError: a Dict without that key, or an array of the wrong shape (the message gives the shape)
    """
    if isinstance(observation, Mapping):
        if "observation" not in observation:
            raise ValueError(f"a Dict observation needs an 'observation' key, got keys {sorted(observation)}")
        observation = observation["observation"]
    obs = np.asarray(observation, dtype=np.float32)
    single = obs.ndim == 1
    obs = obs.reshape(1, -1) if single else obs
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise ValueError(f"observation must have shape ({obs_dim},) or (batch, {obs_dim}), got {obs.shape}")
    return obs, single


class MetaLearner(ABC):
    """Base class of the meta-RL learners (see the module docstring for the protocol of each method).

    Subclasses implement :meth:`_train_iteration`, :meth:`predict`, :meth:`evaluate`, and the three
    persistence hooks :meth:`_get_config`, :meth:`_get_tensors`, :meth:`_set_tensors`, plus
    :meth:`_from_config` to rebuild an untrained learner from a config.

    :param family: a task family object, or a family name for :func:`hyperbench.envs.make_family`
    :param seed: seed of every random stream the learner owns (task draws, resets, action noise, init)
    :param verbose: 0 silent, 1 log iteration statistics to stdout
    :param tensorboard_log: directory for TensorBoard logs (SB3 convention), or ``None``
    :param family_seed: family seed when ``family`` is a name (fixes the train/test task lists)
    :param family_kwargs: family options when ``family`` is a name
    :param device: where the networks, replay data and update steps live (``"auto"``: CUDA when available,
        as in SB3). Environments step on the host; an update step makes no host round-trip, so statistics
        are gathered as tensors and read once after it. The device is not saved: ``load`` takes its own.
    """

    #: qualified name → class, for :func:`load_learner` (see the module docstring)
    registry: ClassVar[dict[str, type[MetaLearner]]] = {}
    #: the name this class is registered (and saved) under; default ``module.QualName``
    registry_name: ClassVar[str] = ""
    #: what the method's evaluation score is (see :class:`~hyperbench.meta.rollout.Headline`)
    headline: ClassVar[Headline] = Headline()
    #: other scores the method reports, by name
    secondary_scores: ClassVar[Mapping[str, Headline]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        key = cls.__dict__.get("registry_name") or f"{cls.__module__}.{cls.__qualname__}"
        cls.registry_name = key
        existing = MetaLearner.registry.get(key)
        if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(
                f"meta-learner name clash: {cls.__module__}.{cls.__qualname__} wants the registry name {key!r}, "
                f"which {existing.__module__}.{existing.__qualname__} already has; give one of them another "
                "registry_name"
            )
        builtin = BUILTIN_LEARNERS.get(cls.__name__)
        if builtin is not None and builtin != key:
            raise TypeError(
                f"meta-learner name clash: {cls.__module__}.{cls.__qualname__} is named like the built-in {builtin} "
                f"(checkpoints of older versions refer to it as {cls.__name__!r}); rename the class"
            )
        MetaLearner.registry[key] = cls

    def __init__(
        self,
        family: Any,
        seed: int = 0,
        verbose: int = 0,
        tensorboard_log: str | None = None,
        family_seed: int = 0,
        family_kwargs: Mapping[str, Any] | None = None,
        device: th.device | str = "auto",
    ) -> None:
        self.device = get_device(device)
        self._family = None if family is None else _resolve_family(family, family_seed, family_kwargs)
        self._family_spec: dict[str, Any] | None = None if self._family is None else self._family.describe()
        self.seed = int(seed)
        self.verbose = int(verbose)
        self.tensorboard_log = tensorboard_log
        self.num_timesteps = 0
        self.n_iterations = 0
        self._total_timesteps = 0
        self._logger: Logger | None = None
        self._custom_logger = False
        self._rollout: RolloutLoop | None = None
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x4D455441]))
        self.torch_rng = th.Generator().manual_seed(int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0]))

    # ------------------------------------------------------------------------------------ suite methods
    @classmethod
    def suite_defaults(cls, **fixed: Any) -> dict[str, Any]:
        """The hyperparameters a suite may override, with their defaults, as plain values.

        :param fixed: constructor arguments the suite method fixes (e.g. MAML's ``variant``)
        """
        raise NotImplementedError(f"{cls.__name__} does not declare suite defaults (implement suite_defaults)")

    @classmethod
    def from_suite(
        cls: type[SelfMetaLearner], family: Any, config: Mapping[str, Any], seed: int, **fixed: Any
    ) -> SelfMetaLearner:
        """Build the learner a suite run asks for.

        :param family: the task family
        :param config: resolved hyperparameters (keys of :meth:`suite_defaults`)
        :param seed: the run's seed
        :param fixed: constructor arguments the suite method fixes
        """
        raise NotImplementedError(f"{cls.__name__} cannot be built from a suite (implement from_suite)")

    # ------------------------------------------------------------------------------------------ family
    @property
    def family(self) -> Any:
        """The task family (rebuilt from the checkpoint's description on first use after ``load``)."""
        if self._family is None:
            if self._family_spec is None:
                raise RuntimeError("this learner has no task family; pass one to the constructor or to load()")
            self._family = make_family_from_spec(self._family_spec)
        return self._family

    def get_env(self) -> None:
        """SB3 compatibility: meta-learners own many environments and expose no single training env."""
        return None

    # ------------------------------------------------------------------------------------------ logging
    @property
    def logger(self) -> Logger:
        """SB3 logger (configured by :meth:`learn` unless set with :meth:`set_logger`)."""
        if self._logger is None:
            self._logger = configure_logger(self.verbose, None, "", True)
        return self._logger

    def set_logger(self, logger: Logger) -> None:
        """Use ``logger`` (e.g. ``stable_baselines3.common.logger.configure(folder, ["csv", "tensorboard"])``).

        :param logger: an SB3 logger
        """
        self._logger = logger
        self._custom_logger = True

    # ----------------------------------------------------------------------------------------- training
    @abstractmethod
    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        """Collect data and update the learner once.

        :return: environment steps taken and statistics to log (keys like ``"train/kl"``)
        """

    def _init_callback(self, callback: Any, progress_bar: bool) -> BaseCallback:
        if isinstance(callback, list):
            callback = CallbackList(callback)
        if callback is None:
            callback = CallbackList([])
        if not isinstance(callback, BaseCallback):
            callback = ConvertCallback(callback)
        if progress_bar:
            callback = CallbackList([callback, _TimestepProgressBar()])
        callback.init_callback(self)  # duck-typed like BaseAlgorithm: num_timesteps, logger, get_env()
        return callback

    def learn(
        self: SelfMetaLearner,
        total_timesteps: int,
        callback: Any = None,
        log_interval: int = 1,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMetaLearner:
        """Train for ``total_timesteps`` environment steps (whole iterations: the last one may overshoot).

        :param total_timesteps: environment steps to train for (added to ``num_timesteps`` when
            ``reset_num_timesteps=False``, as in SB3)
        :param callback: SB3 callback(s), called once per iteration; returning ``False`` stops training
        :param log_interval: dump the logger every this many iterations
        :param tb_log_name: TensorBoard run name (default: the class name)
        :param reset_num_timesteps: start counting from 0
        :param progress_bar: show a tqdm/rich progress bar
        :return: self
        """
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        if reset_num_timesteps:
            self.num_timesteps = 0
            self.n_iterations = 0
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        if not self._custom_logger:
            self._logger = configure_logger(
                self.verbose, self.tensorboard_log, tb_log_name or type(self).__name__, reset_num_timesteps
            )
        cb = self._init_callback(callback, progress_bar)
        start = time.time()
        start_steps = self.num_timesteps
        cb.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            cb.on_rollout_start()
            n_steps, stats = self._train_iteration()
            self.num_timesteps += int(n_steps)
            self.n_iterations += 1
            cb.on_rollout_end()
            for key, value in stats.items():
                self.logger.record(key, value)
            elapsed = max(time.time() - start, 1e-9)
            self.logger.record("time/iterations", self.n_iterations)
            self.logger.record("time/fps", int((self.num_timesteps - start_steps) / elapsed))
            self.logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
            self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
            if log_interval > 0 and self.n_iterations % log_interval == 0:
                self.logger.dump(step=self.num_timesteps)
            cb.update_locals(locals())
            if not cb.on_step():
                break
        cb.on_training_end()
        return self

    # ------------------------------------------------------------------------- acting and observing
    @property
    def rollout(self) -> RolloutLoop:
        """The shared rollout loop over this learner's family (built on first use)."""
        if self._rollout is None:
            self._rollout = RolloutLoop(self.family, max_envs=self._max_envs())
        return self._rollout

    def _max_envs(self) -> int:
        """Environments the rollout loop steps together (override to make it configurable)."""
        return 1024

    @abstractmethod
    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        """The phases of one evaluation meta-episode.

        :param n_episodes: the evaluation protocol's episodes per task (a suite's ``eval.episodes``); each
            method says how it uses them (MAML: post-adaptation episodes; a recurrent learner: the episodes
            of its meta-episode)
        :return: the phases, in order
        """

    @abstractmethod
    def begin_meta_episode(self, tasks: Sequence[Any]) -> Any:
        """A meta-episode boundary: the fresh adaptation state for a batch of task rows.

        :param tasks: one task per row (tasks may repeat)
        :return: the state (whatever the learner needs; the loop only passes it back)
        """

    @abstractmethod
    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor | tuple[th.Tensor, dict[str, th.Tensor]]:
        """Actions for the observations of task rows ``rows`` of the state.

        :param state: from :meth:`begin_meta_episode` (as updated by :meth:`observe` / :meth:`end_phase`)
        :param obs: ``(k, W, obs_dim)`` for the ``k`` rows of ``rows`` and ``W`` lanes
        :param rows: which rows of the state these are (the loop may run the rows in chunks)
        :param phase: index of the current phase
        :param deterministic: act without exploration noise
        :param generator: draw any randomness from it (reproducible rollouts)
        :return: ``(k, W, act_dim)`` float actions (Box; clipped by the loop before the environment sees
            them) or ``(k, W)`` integers (Discrete); optionally with a dict of per-step tensors ``(k, W, ...)``
            that the loop stores in the batch's ``extras``
        """

    def observe(self, state: Any, transition: Transition, rows: slice, phase: int) -> Any:
        """Take one step of ``k`` rows × ``W`` lanes into the state (default: nothing to remember).

        :param state: the state
        :param transition: the step (entries where ``transition.alive`` is false are padding)
        :param rows: which rows of the state
        :param phase: index of the current phase
        :return: the updated state
        """
        return state

    def end_phase(self, state: Any, phase: int, batch: EpisodeBatch) -> Any:
        """Called after each phase with all of its episodes (default: nothing to do).

        :param state: the state
        :param phase: index of the phase that ended
        :param batch: its episodes ``(T, W, H, ...)``
        :return: the updated state
        """
        return state

    def _eval_streams(self, seed: int) -> tuple[np.random.Generator, th.Generator]:
        """Evaluation's own random streams (never the training ones): a function of the learner's seed and ``seed``."""
        ss = np.random.SeedSequence([self.seed, int(seed), 0xE7A1])
        return np.random.default_rng(ss), th.Generator().manual_seed(int(ss.generate_state(1)[0]))

    def _evaluation_info(self) -> dict[str, Any]:
        """Protocol details stored in :attr:`EvalResult.info` (override to add the method's own)."""
        return {}

    def evaluate(self, tasks: Sequence[Any], n_episodes: int, seed: int = 0, deterministic: bool = False) -> EvalResult:
        """Run one meta-episode (:meth:`meta_episode`) of every task through the shared rollout loop.

        Evaluation draws from its own streams seeded by ``seed`` (and the learner's seed), so it never
        disturbs training and is reproducible.

        :param tasks: tasks of the learner's family (e.g. ``learner.family.test_tasks``)
        :param n_episodes: evaluation episodes per task, as :meth:`meta_episode` uses them
        :param seed: evaluation seed
        :param deterministic: act deterministically outside exploration phases
        :return: every episode's return (and success) per task, and the headline
        """
        tasks = list(tasks)
        if not tasks or n_episodes < 1:
            raise ValueError(f"evaluate needs at least one task and n_episodes >= 1, got {len(tasks)} and {n_episodes}")
        rng, gen = self._eval_streams(seed)
        rollout = self.rollout.run(self, tasks, self.meta_episode(n_episodes), rng, gen, deterministic=deterministic)
        return EvalResult(
            episode_returns=rollout.returns,
            tasks=[t.to_dict() if hasattr(t, "to_dict") else t for t in tasks],
            phases=rollout.labels,
            headline=self.headline,
            episode_successes=rollout.successes,
            secondary=dict(self.secondary_scores),
            info={**self._evaluation_info(), "seed": seed, "deterministic": deterministic},
        )

    # -------------------------------------------------------------------------------------- inference
    @abstractmethod
    def predict(
        self,
        observation: np.ndarray | Mapping[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for ``observation`` (SB3's signature; see the module docstring for what ``state`` holds).

        :return: ``(actions, next_state)``
        """

    # ------------------------------------------------------------------------------------ persistence
    @abstractmethod
    def _get_config(self) -> dict[str, Any]:
        """JSON-serialisable constructor configuration (everything :meth:`_from_config` needs)."""

    @classmethod
    @abstractmethod
    def _from_config(cls: type[SelfMetaLearner], config: Mapping[str, Any], family: Any) -> SelfMetaLearner:
        """Build a fresh learner from :meth:`_get_config` output (``family`` may be ``None``: built lazily)."""

    @abstractmethod
    def _get_tensors(self) -> dict[str, th.Tensor]:
        """Every tensor of the learner's state (parameters, buffers) by name."""

    @abstractmethod
    def _set_tensors(self, tensors: Mapping[str, th.Tensor]) -> None:
        """Load :meth:`_get_tensors` output; raise ``ValueError`` naming missing/unexpected/mis-shaped keys."""

    def _get_large_state(self) -> dict[str, th.Tensor]:
        """Large state kept apart from the weights (replay buffers, rollout storage), by name; default none.

        It is saved by :meth:`save_large_state` (the suite runner does so at every checkpoint) and never by
        :meth:`save`, so policy files stay small.
        """
        return {}

    def _set_large_state(self, tensors: Mapping[str, th.Tensor]) -> None:
        """Restore :meth:`_get_large_state` output; raise ``ValueError`` naming what does not fit."""
        if tensors:
            raise ValueError(f"{type(self).__name__} declares no large state, got {sorted(tensors)}")

    @property
    def has_large_state(self) -> bool:
        """Whether the learner currently holds large state to checkpoint."""
        return bool(self._get_large_state())

    def save_large_state(self, path: str | os.PathLike[str]) -> Path:
        """Write the large state (safetensors + a JSON header; no checksum: it may be large).

        :param path: file to write (``.safetensors`` is appended if ``path`` has no suffix)
        :return: the path written
        """
        from safetensors.torch import save_file

        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self._get_large_state().items()}
        header = {
            "format": LARGE_STATE_FORMAT,
            "format_version": "1",
            "class": self.registry_name,
            "num_timesteps": str(self.num_timesteps),
        }
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        save_file(tensors, str(tmp), metadata=header)
        os.replace(tmp, path)
        return path

    def load_large_state(self, path: str | os.PathLike[str]) -> None:
        """Restore the large state written by :meth:`save_large_state` for this learner at this step.

        :param path: the file
        :raises CheckpointError: not such a file, of another learner class, or of another training step
        """
        from safetensors import safe_open

        path = Path(path)
        if not path.exists() and not path.suffix and path.with_suffix(".safetensors").exists():
            path = path.with_suffix(".safetensors")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no __iter__)
        except Exception as exc:
            raise CheckpointError(
                f"{path} is not a meta-learner large-state file; the safetensors reader says: {exc}"
            ) from exc
        if meta.get("format") != LARGE_STATE_FORMAT:
            raise CheckpointError(f"{path}: not a meta-learner large-state file (no format={LARGE_STATE_FORMAT!r})")
        if meta.get("class") != self.registry_name:
            raise CheckpointError(f"{path}: large state of {meta.get('class')!r}, not of {self.registry_name!r}")
        if meta.get("num_timesteps") != str(self.num_timesteps):
            raise CheckpointError(
                f"{path}: large state saved at step {meta.get('num_timesteps')}, but the learner is at step "
                f"{self.num_timesteps}; the two files are not of one checkpoint"
            )
        try:
            self._set_large_state(tensors)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{path}: large state does not fit the learner: {exc}") from exc

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a checkpoint (safetensors; ``.safetensors`` is appended if ``path`` has no suffix).

        :param path: file to write (parent directories are created)
        :return: the path written
        """
        from safetensors.torch import save_file

        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"learner.{k}": v.detach().contiguous().cpu() for k, v in self._get_tensors().items()}
        tensors["rng.torch"] = self.torch_rng.get_state()
        state = {
            "num_timesteps": self.num_timesteps,
            "n_iterations": self.n_iterations,
            "numpy_rng": self.rng.bit_generator.state,
        }
        header = {
            "format": CHECKPOINT_FORMAT,
            "format_version": str(CHECKPOINT_VERSION),
            "class": self.registry_name,
            "config": json.dumps(self._get_config(), sort_keys=True),
            "family": json.dumps(self._family_spec, sort_keys=True),
            "state": json.dumps(state, sort_keys=True),
        }
        header[DIGEST_KEY] = state_digest(tensors, header)  # covers the config and counters too
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        save_file(tensors, str(tmp), metadata=header)
        os.replace(tmp, path)
        return path

    def _to_device(self, device: th.device) -> None:
        """Move every network, optimizer state and replay buffer to ``device`` (learners with tensors override)."""
        self.device = device

    @staticmethod
    def _move_to(device: th.device, modules: Iterable[nn.Module], optimizers: Iterable[th.optim.Optimizer]) -> None:
        """Move ``modules`` and the tensors in the states of ``optimizers`` to ``device`` (for :meth:`_to_device`)."""
        for module in modules:
            module.to(device)
        for opt in optimizers:
            for state in opt.state.values():
                for key, value in state.items():
                    if isinstance(value, th.Tensor):
                        state[key] = value.to(device)

    @classmethod
    def load(
        cls: type[SelfMetaLearner], path: str | os.PathLike[str], family: Any = None, device: th.device | str = "auto"
    ) -> SelfMetaLearner:
        """Restore a learner written by :meth:`save`.

        :param path: checkpoint file (``.safetensors`` is tried if ``path`` does not exist)
        :param family: the task family to attach (default: rebuilt lazily from the checkpoint's description)
        :param device: where to put the learner (``"auto"``: CUDA when available)
        :return: the learner, with its counters and random streams as they were when saved
        :raises CheckpointError: not a checkpoint, corrupted, or of another learner class
        """
        header, tensors = read_checkpoint(path)
        learner_cls = _learner_class(header["class"])
        assert learner_cls is not None  # read_checkpoint checked that it is known
        if not issubclass(learner_cls, cls):
            raise CheckpointError(
                f"{path}: this checkpoint holds a {learner_cls.__name__} learner, not a {cls.__name__}; "
                f"load it with hyperbench.meta.load_learner() or {learner_cls.__name__}.load()"
            )
        learner = learner_cls._restore(header, tensors, family, str(path))
        assert isinstance(learner, cls)
        learner._to_device(get_device(device))
        return learner

    @classmethod
    def _restore(cls, header: Mapping[str, Any], tensors: Mapping[str, th.Tensor], family: Any, path: str) -> MetaLearner:
        config, family_spec, state = header["config"], header["family"], header["state"]
        if family is not None:
            family = _resolve_family(family, 0, None)
            if family_spec is not None and family.describe().get("family") != family_spec.get("family"):
                raise CheckpointError(
                    f"{path}: saved for family {family_spec.get('family')!r}, but a {family.describe().get('family')!r} "
                    "family was given"
                )
        try:
            learner = cls._from_config(config, family)
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path}: cannot rebuild a {cls.__name__} from the saved config: {exc}") from exc
        learner._family_spec = family_spec
        own = {k.removeprefix("learner."): v for k, v in tensors.items() if k.startswith("learner.")}
        try:
            learner._set_tensors(own)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{path}: weights do not fit the saved config: {exc}") from exc
        if "rng.torch" in tensors:
            learner.torch_rng.set_state(tensors["rng.torch"])
        learner.num_timesteps = int(state.get("num_timesteps", 0))
        learner.n_iterations = int(state.get("n_iterations", 0))
        if "numpy_rng" in state:
            learner.rng.bit_generator.state = state["numpy_rng"]
        return learner


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, th.Tensor]]:
    """Read and verify a meta-learner checkpoint without building the learner.

    :param path: checkpoint file
    :return: the decoded header (``config``, ``family`` and ``state`` parsed from JSON) and the tensors
    :raises FileNotFoundError: no such file
    :raises CheckpointError: not a hyperbench meta-learner checkpoint, or corrupted
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.exists() and not path.suffix and path.with_suffix(".safetensors").exists():
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    expected = "a hyperbench meta-learner checkpoint (a safetensors file written by MetaLearner.save)"
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    except Exception as exc:  # safetensors raises SafetensorError / OSError with a low-level message
        raise CheckpointError(f"{path} is not {expected}; the safetensors reader says: {exc}") from exc
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not {expected}: its header has no format={CHECKPOINT_FORMAT!r} entry"
        )
    version = metadata.get("format_version")
    if version not in _READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}, this hyperbench reads {list(_READABLE_VERSIONS)}"
        )
    # Version 3 hashes the header (config, family, counters) with the tensors; versions 1-2 hashed the tensors only.
    header_covered = version not in ("1", "2")
    if metadata.get(DIGEST_KEY) != state_digest(tensors, metadata if header_covered else None):
        covered = "tensor data or header (config, counters)" if header_covered else "tensor data"
        raise CheckpointError(f"{path} is corrupted or was edited: its {covered} does not match the checksum in its header")
    header: dict[str, Any] = {"class": metadata.get("class", "")}
    for key in ("config", "family", "state"):
        try:
            header[key] = json.loads(metadata[key])
        except (KeyError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path} is corrupted: header entry {key!r} is missing or not JSON ({exc})") from exc
    if _learner_class(header["class"]) is None:
        import hyperbench.meta  # noqa: F401  (registers the built-in learners)

    if _learner_class(header["class"]) is None:
        names = [*MetaLearner.registry, *BUILTIN_LEARNERS]  # qualified names and the built-ins' bare names
        close = difflib.get_close_matches(str(header["class"]), names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CheckpointError(
            f"{path}: unknown learner class {header['class']!r}; known: {sorted(MetaLearner.registry)}.{hint} "
            "(a plugin learner's module must be imported before its checkpoints are loaded)"
        )
    return header, tensors


def _learner_class(name: str) -> type[MetaLearner] | None:
    """The registered class of a checkpoint's ``class`` entry (a qualified name, or a built-in's bare name)."""
    return MetaLearner.registry.get(name) or MetaLearner.registry.get(BUILTIN_LEARNERS.get(name, ""))


def load_learner(path: str | os.PathLike[str], family: Any = None, device: th.device | str = "auto") -> MetaLearner:
    """Load any meta-learner checkpoint, whatever its class.

    :param path: checkpoint file
    :param family: task family to attach (default: rebuilt lazily from the checkpoint)
    :param device: where to put the learner (``"auto"``: CUDA when available)
    :return: the learner
    """
    header, tensors = read_checkpoint(path)
    learner_cls = _learner_class(header["class"])
    assert learner_cls is not None
    learner = learner_cls._restore(header, tensors, family, str(path))
    learner._to_device(get_device(device))
    return learner
