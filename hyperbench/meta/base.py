"""The interface every hyperbench meta-RL learner follows, shaped like a stable-baselines3 algorithm.

A user who knows SB3 knows this class::

    learner = MAML("point-robot", variant="hyper-maml", seed=0, tensorboard_log="runs/tb")
    learner.learn(total_timesteps=200_000, callback=CheckpointCallback(...), progress_bar=True)
    result = learner.evaluate(learner.family.test_tasks, n_episodes=10)   # EvalResult
    learner.save("hyper-maml.safetensors")
    learner = MAML.load("hyper-maml.safetensors")                          # or load_learner(path)
    action, state = learner.predict(obs, state=learner.adapt(task))

**What each method puts in ``state``.** ``predict(obs, state, episode_start, deterministic)`` is SB3's call;
``state`` carries whatever the method adapts, and ``evaluate`` runs each method's own protocol:

- **MAML family** (this package): ``state`` holds the adapted parameters (and the oracle context for the
  contextual variants). ``adapt(task)`` collects episodes with the meta-parameters, takes the inner
  policy-gradient step(s) and returns that state; ``evaluate`` reports pre- and post-adaptation returns.
- **PEARL**: ``state`` holds the context transitions collected so far and the posterior over the latent
  ``z``; ``predict`` acts on a ``z`` sampled from it and appends nothing itself. ``evaluate`` follows PEARL's
  protocol: collect context with the prior for a few episodes, then act on the posterior (the returned
  :class:`EvalResult` keeps the prior-episode returns in ``pre_adaptation_returns``).
- **VariBAD / RL2**: ``state`` is the recurrent belief (hidden state, posterior mean/variance) over a
  multi-episode meta-episode; ``episode_start`` marks the first step of a *meta*-episode (reset the
  belief), exactly like ``RecurrentPPO`` in sb3-contrib. ``evaluate`` runs whole meta-episodes online and
  reports per-episode returns inside them (``returns[:, k]`` = the ``k``-th episode of the meta-episode).

**Training loop.** :meth:`MetaLearner.learn` is the same for every method: each call to
:meth:`~MetaLearner._train_iteration` collects some environment steps and updates the learner; the loop
adds them to ``num_timesteps``, records the returned statistics in SB3's logger (stdout / CSV /
TensorBoard via ``tensorboard_log`` or :meth:`~MetaLearner.set_logger`) and calls the SB3 callback's
``on_step`` once per iteration (an iteration is the smallest unit after which the learner is consistent).

**Checkpoints** are one safetensors file: the weights, the generator states, and in its header a JSON
config (class, hyperparameters, family, counters) plus a SHA-256 of the tensor bytes. Loading never
unpickles anything; a file that is not such a checkpoint, or was corrupted, is rejected with a
:class:`CheckpointError` that says so.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ConvertCallback, ProgressBarCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import configure_logger

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "EvalResult",
    "MetaLearner",
    "load_learner",
    "make_family_from_spec",
    "read_checkpoint",
]

#: Value of the ``format`` entry in the header of every meta-learner checkpoint.
CHECKPOINT_FORMAT = "hyperbench.meta-learner"
CHECKPOINT_VERSION = 1

SelfMetaLearner = TypeVar("SelfMetaLearner", bound="MetaLearner")


class CheckpointError(ValueError):
    """A file that is not a (valid, uncorrupted, compatible) hyperbench meta-learner checkpoint."""


@dataclass
class EvalResult:
    """Per-task results of a meta-learner's evaluation protocol.

    Shapes: ``returns`` and ``successes`` are ``(n_tasks, n_episodes)``; ``pre_adaptation_*`` are
    ``(n_tasks, n_pre_episodes)`` for methods that adapt (MAML: before the inner step; PEARL: the
    prior-context episodes) and ``None`` otherwise.
    """

    returns: np.ndarray
    """undiscounted returns of the method's protocol (MAML: after adaptation)"""
    tasks: list[dict[str, Any]]
    """the evaluated tasks, as ``task.to_dict()``"""
    successes: np.ndarray | None = None
    """1.0 if the episode succeeded (families with a success notion), else ``None``"""
    pre_adaptation_returns: np.ndarray | None = None
    """returns before adaptation, for methods that adapt"""
    pre_adaptation_successes: np.ndarray | None = None
    """successes before adaptation"""
    info: dict[str, Any] = field(default_factory=dict)
    """protocol details (episodes, inner steps, seed, ...)"""

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access (``result["returns"]``) for code that treats results as dicts."""
        if key not in self.to_dict():
            raise KeyError(f"{key!r}; EvalResult keys: {sorted(self.to_dict())}")
        return getattr(self, key)

    @property
    def per_task_return(self) -> np.ndarray:
        """Mean return of every task ``(n_tasks,)``."""
        return self.returns.mean(axis=1)

    @property
    def mean_return(self) -> float:
        """Mean over tasks and episodes."""
        return float(self.returns.mean())

    @property
    def success_rate(self) -> float | None:
        """Fraction of successful episodes, or ``None`` without a success notion."""
        return None if self.successes is None else float(self.successes.mean())

    @property
    def pre_adaptation_mean_return(self) -> float | None:
        """Mean pre-adaptation return, or ``None`` for methods that do not adapt."""
        return None if self.pre_adaptation_returns is None else float(self.pre_adaptation_returns.mean())

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (arrays become nested lists)."""

        def arr(a: np.ndarray | None) -> Any:
            return None if a is None else np.asarray(a, dtype=float).tolist()

        return {
            "returns": arr(self.returns),
            "successes": arr(self.successes),
            "pre_adaptation_returns": arr(self.pre_adaptation_returns),
            "pre_adaptation_successes": arr(self.pre_adaptation_successes),
            "tasks": list(self.tasks),
            "info": dict(self.info),
        }


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
    """

    #: class name → class, for :func:`load_learner`
    registry: ClassVar[dict[str, type[MetaLearner]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        MetaLearner.registry[cls.__name__] = cls

    def __init__(
        self,
        family: Any,
        seed: int = 0,
        verbose: int = 0,
        tensorboard_log: str | None = None,
        family_seed: int = 0,
        family_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
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
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x4D455441]))
        self.torch_rng = th.Generator().manual_seed(int(np.random.SeedSequence([self.seed, 1]).generate_state(1)[0]))

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

    @abstractmethod
    def evaluate(self, tasks: Sequence[Any], n_episodes: int) -> EvalResult:
        """Run the method's own adaptation protocol on every task.

        :param tasks: tasks of the learner's family (e.g. ``learner.family.test_tasks``)
        :param n_episodes: evaluation episodes per task
        :return: per-task returns (and successes)

        Implementations may also take a keyword ``seed`` for the evaluation's randomness (MAML does); the
        suite runner then passes it when it evaluates on fresh seeds (``hyperbench leaderboard verify``).
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
            "class": type(self).__name__,
            "config": json.dumps(self._get_config(), sort_keys=True),
            "family": json.dumps(self._family_spec, sort_keys=True),
            "state": json.dumps(state, sort_keys=True),
            "sha256": _tensor_digest(tensors),
        }
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        save_file(tensors, str(tmp), metadata=header)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls: type[SelfMetaLearner], path: str | os.PathLike[str], family: Any = None) -> SelfMetaLearner:
        """Restore a learner written by :meth:`save`.

        :param path: checkpoint file (``.safetensors`` is tried if ``path`` does not exist)
        :param family: the task family to attach (default: rebuilt lazily from the checkpoint's description)
        :return: the learner, with its counters and random streams as they were when saved
        :raises CheckpointError: not a checkpoint, corrupted, or of another learner class
        """
        header, tensors = read_checkpoint(path)
        learner_cls = MetaLearner.registry[header["class"]]  # read_checkpoint checked that it is known
        if not issubclass(learner_cls, cls):
            raise CheckpointError(
                f"{path}: this checkpoint holds a {learner_cls.__name__} learner, not a {cls.__name__}; "
                f"load it with hyperbench.meta.load_learner() or {learner_cls.__name__}.load()"
            )
        learner = learner_cls._restore(header, tensors, family, str(path))
        assert isinstance(learner, cls)
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


def _tensor_digest(tensors: Mapping[str, th.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().contiguous().cpu()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.view(-1).view(th.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


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
    if version != str(CHECKPOINT_VERSION):
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this hyperbench reads {CHECKPOINT_VERSION}")
    if metadata.get("sha256") != _tensor_digest(tensors):
        raise CheckpointError(f"{path} is corrupted: the tensor data does not match the checksum in its header")
    header: dict[str, Any] = {"class": metadata.get("class", "")}
    for key in ("config", "family", "state"):
        try:
            header[key] = json.loads(metadata[key])
        except (KeyError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path} is corrupted: header entry {key!r} is missing or not JSON ({exc})") from exc
    if header["class"] not in MetaLearner.registry:
        import hyperbench.meta  # noqa: F401  (registers the built-in learners)

    if header["class"] not in MetaLearner.registry:
        close = difflib.get_close_matches(str(header["class"]), list(MetaLearner.registry), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CheckpointError(
            f"{path}: unknown learner class {header['class']!r}; known: {sorted(MetaLearner.registry)}.{hint}"
        )
    return header, tensors


def load_learner(path: str | os.PathLike[str], family: Any = None) -> MetaLearner:
    """Load any meta-learner checkpoint, whatever its class.

    :param path: checkpoint file
    :param family: task family to attach (default: rebuilt lazily from the checkpoint)
    :return: the learner
    """
    header, tensors = read_checkpoint(path)
    return MetaLearner.registry[header["class"]]._restore(header, tensors, family, str(path))
