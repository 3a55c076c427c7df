"""RunRecord: the unit of truth of a suite, one JSON file per (suite, method, task, seed).

A record is written once, atomically (temporary file + ``fsync`` + ``os.replace``), by the run that
produced it, and holds everything needed to recompute every table of a report without re-running
anything. The leaderboard consumes this format; any change of meaning bumps :data:`SCHEMA_VERSION`.

Location inside a runs directory: ``records/<method>/<task-slug>/seed-<seed>.json`` where ``task-slug`` is
the task name with ``/`` replaced by ``__`` (see :func:`record_path`).

Schema (``schema_version`` 2), every key always present::

    {
      "schema_version": 2,
      "kind": "hyperbench.RunRecord",
      "suite": {"name": str, "version": int, "hash": str},   # hash of the validated suite (16 hex)
      "method": str,            # the suite's label for the method (e.g. "td3-sa-hyper-paper")
      "method_id": str,         # the registry name it resolves to (e.g. "td3-sa-hyper")
      "task": str,              # the suite's task name (a Gymnasium id or a hyperbench family)
      "seed": int,
      "status": "ok" | "failed",
      "failure": null | {"reason": str, "error_type": str, "traceback": str, "step": int},
      "budget": int,            # total environment steps the run was asked for
      "steps_done": int,        # environment steps actually taken
      "eval": {"frequency": int, "episodes": int, "max_tasks": int | null},
      "curve": {                # one entry per evaluation, in step order (the final one included)
        "steps": [int], "return_mean": [float], "return_std": [float],
        "success_rate": [float] | null          # null when the task has no notion of success
      },
      "final": null | {         # the evaluation at the end of the budget (null when the run failed)
        "step": int, "return_mean": float, "return_std": float, "returns": [float],
        "success_rate": float | null,
        "per_task_return": {str: float} | null,  # mean return per held-out task (task families)
        "episodes": null | {    # every episode of the final evaluation (schema 2)
          "returns": [[float]],          # (held-out tasks × episodes of one meta-episode), in order
          "successes": [[float]] | null, # same shape, 1.0 / 0.0
          "phases": [str],               # phase label of each column ("episode"; MAML: "pre-adaptation", …)
          "headline": {"phases": [str], "per": "episode" | "meta-episode", "description": str},
          "scores": {str: float} | null  # the headline and the method's secondary scores (means)
        },
        # optional, only for tasks with an out-of-distribution split (HalfCheetah-Vel-Medium): the same
        # evaluation on the out-of-distribution test tasks, reported apart from the headline
        "ood": {"return_mean": float, "return_std": float, "returns": [float], "per_task_return": {str: float}}
      },
      "config": {               # what the run was given
        "hyperparameters": {...},   # the method's resolved settings (registry defaults ← suite overrides)
        "env_kwargs": {...},        # family options / gym.make keyword arguments of the task
        "kind": "sb3" | "meta" | null, "observation": "plain" | "context" | null
      },
      "config_hash": str,       # hash of the run specification (method, task, seed, budget, eval, config)
      "timing": {"wall_s": float, "cpu_s": float, "started_at": str, "finished_at": str,
                 "attempts": int, "resumed_from": [int],    # resumed_from: checkpoint steps resumed at
                 # optional (absent in older records): where the wall time went, adding up to wall_s
                 "setup_s": float, "learn_s": float, "eval_s": float, "checkpoint_s": float, "finish_s": float},
      "provenance": {"hyperbench": str, "git": {"commit": str | null, "dirty": bool | null},
                     "packages": {str: str | null}, "python": str, "platform": str, "machine": str,
                     "hostname": str, "cpu_count": int | null},
      "artifacts": {str: str}   # optional files next to the records, paths relative to the runs dir
    }

``final.returns`` are the headline samples: the method's declared score (every evaluation episode for SB3
methods; e.g. the post-adaptation episodes for MAML, one meta-episode return per task for a recurrent
learner), so ``return_mean`` is the score whatever the method. Version-1 records (no ``episodes``) are still
read, and written back as version 1.

Scores are raw (undiscounted) returns; normalisation happens in :mod:`hyperbench.bench.stats`. Curves hold
finite numbers only: an evaluation that returns NaN/inf ends the run as ``failed`` before it is recorded.
Meta learners train in whole iterations, so ``steps_done`` (and the last curve step) may exceed ``budget``.
Wall and CPU time of an attempt that was killed count up to its last checkpoint. The optional ``timing`` phases
split ``wall_s`` into the learner's work (``learn_s``, inside ``learn``; ``eval_s``, evaluations) and the runner's
own overhead (``setup_s``, ``checkpoint_s``, ``finish_s``; see :attr:`Timing.runner_overhead_s`); records written
before they were measured, or resumed from such a run's checkpoint, do not have them, and still load unchanged.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hyperbench.bench.bounded import load_json
from hyperbench.bench.files import TMP_PREFIX, atomic_write_json, json_safe

__all__ = [
    "SCHEMA_VERSION",
    "EvalSummary",
    "Failure",
    "LearningCurve",
    "OodSummary",
    "RecordError",
    "RunRecord",
    "SuiteRef",
    "Timing",
    "iter_record_paths",
    "load_record",
    "load_records",
    "record_path",
    "task_slug",
]

#: Version of the record format; bump it on any change of meaning.
SCHEMA_VERSION = 2
#: Versions this hyperbench reads (1: before the per-episode matrix).
READABLE_SCHEMA_VERSIONS = (1, 2)
#: Optional ``timing`` keys: where the wall time went (absent in records written before they were measured).
TIMING_PHASES: tuple[str, ...] = ("setup_s", "learn_s", "eval_s", "checkpoint_s", "finish_s")

RECORDS_DIR = "records"

Status = Literal["ok", "failed"]


class RecordError(ValueError):
    """A record file is missing, truncated, not JSON, or does not follow the schema."""


@dataclass(frozen=True)
class SuiteRef:
    """Which suite a record belongs to."""

    name: str
    """suite name"""
    version: int
    """suite version (bumped by its authors on any change of protocol)"""
    hash: str
    """content hash of the validated suite"""


@dataclass(frozen=True)
class LearningCurve:
    """Evaluation results over training, one entry per evaluation."""

    steps: tuple[int, ...]
    """environment steps at each evaluation"""
    return_mean: tuple[float, ...]
    """mean evaluation return"""
    return_std: tuple[float, ...]
    """standard deviation of the evaluation returns"""
    success_rate: tuple[float, ...] | None = None
    """fraction of successful evaluation episodes, or ``None`` if the task has no success signal"""

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class EvalSummary:
    """The final evaluation of a run."""

    step: int
    """environment steps when it was taken"""
    return_mean: float
    """mean return over every evaluation episode (and held-out task)"""
    return_std: float
    """standard deviation of those returns"""
    returns: tuple[float, ...]
    """every evaluation episode's return"""
    success_rate: float | None = None
    """fraction of successful episodes, or ``None``"""
    per_task_return: Mapping[str, float] | None = None
    """mean return per held-out task, for task families"""
    episodes: Mapping[str, Any] | None = None
    """every episode of the evaluation and the headline declaration (schema 2; see the module docstring)"""
    ood: OodSummary | None = None
    """the same evaluation on the family's out-of-distribution test tasks (families that define them)"""


@dataclass(frozen=True)
class OodSummary:
    """The final evaluation on a family's out-of-distribution test tasks (the headline samples, as in
    :attr:`EvalSummary.returns`)."""

    return_mean: float
    """mean of ``returns``"""
    return_std: float
    """standard deviation of ``returns``"""
    returns: tuple[float, ...]
    """the headline samples on the out-of-distribution tasks"""
    per_task_return: Mapping[str, float]
    """mean return per out-of-distribution task (``ood_test-0``, …)"""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the record's ``final.ood``)."""
        return {
            "return_mean": self.return_mean,
            "return_std": self.return_std,
            "returns": list(self.returns),
            "per_task_return": dict(self.per_task_return),
        }


@dataclass(frozen=True)
class Failure:
    """Why a run failed."""

    reason: str
    """one-line human-readable reason"""
    error_type: str
    """exception class name"""
    traceback: str = ""
    """formatted traceback (may be empty)"""
    step: int = 0
    """environment steps taken when it failed"""


@dataclass(frozen=True)
class Timing:
    """Compute used by a run, summed over every attempt (resumes included)."""

    wall_s: float
    """wall-clock seconds"""
    cpu_s: float
    """CPU seconds of the process that ran it"""
    started_at: str
    """ISO-8601 UTC time of the first attempt's start"""
    finished_at: str
    """ISO-8601 UTC time the record was written"""
    attempts: int = 1
    """number of attempts (1 + number of resumes)"""
    resumed_from: tuple[int, ...] = ()
    """environment steps of each checkpoint the run resumed from"""
    setup_s: float | None = None
    """wall seconds reading checkpoints and building the learner, its evaluator and logger (``None``: not measured)"""
    learn_s: float | None = None
    """wall seconds inside the learner's ``learn``, evaluations and checkpoints excluded"""
    eval_s: float | None = None
    """wall seconds evaluating (periodic and final evaluations)"""
    checkpoint_s: float | None = None
    """wall seconds writing checkpoints"""
    finish_s: float | None = None
    """wall seconds after the final evaluation: closing environments, saving the policy, assembling the record"""

    @property
    def runner_overhead_s(self) -> float | None:
        """Wall seconds of the run not spent learning or evaluating (``None`` for records without the phases)."""
        if self.learn_s is None or self.eval_s is None:
            return None
        return max(self.wall_s - self.learn_s - self.eval_s, 0.0)

    def phases(self) -> dict[str, float]:
        """The measured phases by key (empty for records written before hyperbench measured them)."""
        return {k: v for k in TIMING_PHASES if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class RunRecord:
    """One finished (or failed) run of one method on one task with one seed. See the module docstring."""

    suite: SuiteRef
    method: str
    method_id: str
    task: str
    seed: int
    status: Status
    budget: int
    steps_done: int
    eval_frequency: int
    eval_episodes: int
    curve: LearningCurve
    config: Mapping[str, Any]
    config_hash: str
    timing: Timing
    provenance: Mapping[str, Any]
    final: EvalSummary | None = None
    failure: Failure | None = None
    eval_max_tasks: int | None = None
    artifacts: Mapping[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """Whether the run finished its budget with finite results."""
        return self.status == "ok"

    @property
    def final_score(self) -> float | None:
        """The final mean evaluation return (raw), or ``None`` for a failed run."""
        return None if self.final is None else self.final.return_mean

    @property
    def key(self) -> tuple[str, str, int]:
        """``(method, task, seed)``: unique within a suite."""
        return (self.method, self.task, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form documented in the module docstring."""
        curve = self.curve
        return json_safe(
            {
                "schema_version": self.schema_version,
                "kind": "hyperbench.RunRecord",
                "suite": {"name": self.suite.name, "version": self.suite.version, "hash": self.suite.hash},
                "method": self.method,
                "method_id": self.method_id,
                "task": self.task,
                "seed": self.seed,
                "status": self.status,
                "failure": None
                if self.failure is None
                else {
                    "reason": self.failure.reason,
                    "error_type": self.failure.error_type,
                    "traceback": self.failure.traceback,
                    "step": self.failure.step,
                },
                "budget": self.budget,
                "steps_done": self.steps_done,
                "eval": {"frequency": self.eval_frequency, "episodes": self.eval_episodes, "max_tasks": self.eval_max_tasks},
                "curve": {
                    "steps": list(curve.steps),
                    "return_mean": list(curve.return_mean),
                    "return_std": list(curve.return_std),
                    "success_rate": None if curve.success_rate is None else list(curve.success_rate),
                },
                "final": None
                if self.final is None
                else {
                    "step": self.final.step,
                    "return_mean": self.final.return_mean,
                    "return_std": self.final.return_std,
                    "returns": list(self.final.returns),
                    "success_rate": self.final.success_rate,
                    "per_task_return": None if self.final.per_task_return is None else dict(self.final.per_task_return),
                    **(
                        {"episodes": None if self.final.episodes is None else dict(self.final.episodes)}
                        if self.schema_version >= 2
                        else {}
                    ),
                    **({"ood": self.final.ood.to_dict()} if self.final.ood is not None else {}),
                },
                "config": dict(self.config),
                "config_hash": self.config_hash,
                "timing": {
                    "wall_s": self.timing.wall_s,
                    "cpu_s": self.timing.cpu_s,
                    "started_at": self.timing.started_at,
                    "finished_at": self.timing.finished_at,
                    "attempts": self.timing.attempts,
                    "resumed_from": list(self.timing.resumed_from),
                    **self.timing.phases(),
                },
                "provenance": dict(self.provenance),
                "artifacts": dict(self.artifacts),
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<record>") -> RunRecord:
        """Parse and validate the JSON form.

        :param data: decoded JSON
        :param source: where it came from, for error messages
        :return: the record
        :raises RecordError: naming ``source`` and the first problem found
        """
        return _parse_record(data, source)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the record atomically (temporary file + fsync + ``os.replace``).

        :param path: destination, usually :func:`record_path`
        """
        atomic_write_json(path, self.to_dict())


# ----------------------------------------------------------------------------------------------------
# Paths


def task_slug(task: str) -> str:
    """File-system friendly form of a task name (``hyperbench/HalfCheetahVel-v0`` → ``hyperbench__HalfCheetahVel-v0``).

    :param task: task name as written in the suite
    :return: the slug
    """
    return task.replace("/", "__")


def record_path(runs_dir: str | os.PathLike[str], method: str, task: str, seed: int) -> Path:
    """Where the record of ``(method, task, seed)`` lives inside ``runs_dir``.

    :param runs_dir: the suite's runs directory
    :param method: method label
    :param task: task name
    :param seed: seed
    :return: path of the JSON file
    """
    return Path(runs_dir) / RECORDS_DIR / method / task_slug(task) / f"seed-{seed}.json"


def iter_record_paths(runs_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Every record file under ``runs_dir/records`` (temporary files excluded), sorted.

    :param runs_dir: the suite's runs directory
    """
    root = Path(runs_dir) / RECORDS_DIR
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.json")):
        if not path.name.startswith(TMP_PREFIX):
            yield path


def load_record(path: str | os.PathLike[str]) -> RunRecord:
    """Load and validate one record.

    :param path: JSON file
    :return: the record
    :raises RecordError: if the file cannot be read, is not JSON, or does not follow the schema;
        the message names the file
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise RecordError(f"{path}: cannot read run record ({exc})") from exc
    try:
        data = load_json(text, str(path))
    except ValueError as exc:  # not JSON, or nested absurdly deep
        raise RecordError(f"{path}: corrupt run record, not valid JSON ({exc}); delete the file to re-run that run") from exc
    return _parse_record(data, str(path))


def load_records(runs_dir: str | os.PathLike[str]) -> list[RunRecord]:
    """Load every record of a runs directory.

    :param runs_dir: the suite's runs directory
    :return: records sorted by (method, task, seed)
    :raises RecordError: on the first corrupt record, naming its file
    """
    records = [load_record(p) for p in iter_record_paths(runs_dir)]
    return sorted(records, key=lambda r: (r.method, r.task, r.seed))


# ----------------------------------------------------------------------------------------------------
# Validation


class _Reader:
    """Typed access to a decoded JSON mapping with errors that name the file and the key."""

    def __init__(self, data: Any, source: str, where: str = "") -> None:
        if not isinstance(data, Mapping):
            raise RecordError(f"{source}: {where or 'record'} must be a JSON object, got {type(data).__name__}")
        self.data = data
        self.source = source
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, types: type | tuple[type, ...], optional: bool = False) -> Any:
        if key not in self.data:
            raise RecordError(f"{self.source}: missing key '{self._name(key)}'")
        value = self.data[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            raise RecordError(f"{self.source}: '{self._name(key)}' must be {_tname(types)}, got bool")
        if not isinstance(value, types):
            raise RecordError(f"{self.source}: '{self._name(key)}' must be {_tname(types)}, got {type(value).__name__}")
        return value

    def number(self, key: str, optional: bool = False, finite: bool = True) -> float | None:
        value = self.get(key, (int, float), optional)
        if value is None:
            return None
        if finite and not math.isfinite(value):
            raise RecordError(f"{self.source}: '{self._name(key)}' is not finite")
        return float(value)

    def numbers(self, key: str, optional: bool = False, integer: bool = False) -> tuple[Any, ...] | None:
        values = self.get(key, list, optional)
        if values is None:
            return None
        kind = int if integer else (int, float)
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, kind):
                raise RecordError(f"{self.source}: '{self._name(key)}[{i}]' must be a number, got {v!r}")
        return tuple(int(v) for v in values) if integer else tuple(float(v) for v in values)

    def sub(self, key: str, optional: bool = False) -> _Reader | None:
        value = self.get(key, Mapping, optional)
        return None if value is None else _Reader(value, self.source, self._name(key))


def _tname(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


def _parse_ood(f: _Reader, source: str) -> OodSummary:
    """The optional ``final.ood`` block."""
    o = f.sub("ood")
    assert o is not None
    returns = o.numbers("returns")
    assert returns is not None
    if not returns or not all(math.isfinite(x) for x in returns):
        raise RecordError(f"{source}: 'final.ood.returns' must be a non-empty list of finite numbers")
    per_task = o.get("per_task_return", Mapping)
    for k, v in per_task.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise RecordError(f"{source}: 'final.ood.per_task_return.{k}' must be a finite number")
    return OodSummary(
        return_mean=float(o.number("return_mean") or 0.0),
        return_std=float(o.number("return_std") or 0.0),
        returns=returns,
        per_task_return={str(k): float(v) for k, v in per_task.items()},
    )


def _parse_episodes(f: _Reader, source: str) -> dict[str, Any] | None:
    """The ``final.episodes`` block of a schema-2 record (``None`` allowed)."""
    e = f.sub("episodes", optional=True)
    if e is None:
        return None
    matrix = e.get("returns", list)
    rows: list[list[float]] = []
    for i, row in enumerate(matrix):
        if not isinstance(row, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
            raise RecordError(f"{source}: 'final.episodes.returns[{i}]' must be a list of numbers")
        if not all(math.isfinite(v) for v in row):
            raise RecordError(f"{source}: 'final.episodes.returns[{i}]' has non-finite values")
        rows.append([float(v) for v in row])
    phases = e.get("phases", list)
    if not all(isinstance(p, str) for p in phases) or any(len(row) != len(phases) for row in rows):
        raise RecordError(f"{source}: 'final.episodes.phases' must label every column of 'final.episodes.returns'")
    successes = e.get("successes", list, optional=True)
    if successes is not None and (
        len(successes) != len(rows) or any(not isinstance(s, list) or len(s) != len(phases) for s in successes)
    ):
        raise RecordError(f"{source}: 'final.episodes.successes' must have the shape of 'final.episodes.returns'")
    headline = e.get("headline", Mapping)
    scores = e.get("scores", Mapping, optional=True)
    return {
        "returns": rows,
        "successes": None if successes is None else [[float(v) for v in s] for s in successes],
        "phases": [str(p) for p in phases],
        "headline": dict(headline),
        "scores": None if scores is None else {str(k): float(v) for k, v in scores.items()},
    }


def _parse_record(data: Any, source: str) -> RunRecord:
    r = _Reader(data, source)
    version = r.get("schema_version", int)
    if version not in READABLE_SCHEMA_VERSIONS:
        raise RecordError(
            f"{source}: schema_version {version} is not supported (this hyperbench reads {list(READABLE_SCHEMA_VERSIONS)})"
        )
    if r.get("kind", str) != "hyperbench.RunRecord":
        raise RecordError(f"{source}: 'kind' must be 'hyperbench.RunRecord'")
    s = r.sub("suite")
    assert s is not None
    status = r.get("status", str)
    if status not in ("ok", "failed"):
        raise RecordError(f"{source}: 'status' must be 'ok' or 'failed', got {status!r}")
    c = r.sub("curve")
    assert c is not None
    steps = c.numbers("steps", integer=True)
    means = c.numbers("return_mean")
    stds = c.numbers("return_std")
    successes = c.numbers("success_rate", optional=True)
    assert steps is not None and means is not None and stds is not None
    if not (len(steps) == len(means) == len(stds)) or (successes is not None and len(successes) != len(steps)):
        raise RecordError(f"{source}: curve columns have different lengths")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise RecordError(f"{source}: curve.steps must be strictly increasing")
    if status == "ok" and not all(math.isfinite(x) for x in (*means, *stds)):
        raise RecordError(f"{source}: a run with status 'ok' has non-finite values in its curve")
    final = None
    f = r.sub("final", optional=True)
    if f is not None:
        per_task = f.get("per_task_return", Mapping, optional=True)
        if per_task is not None:
            for k, v in per_task.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise RecordError(f"{source}: 'final.per_task_return.{k}' must be a finite number")
            per_task = {str(k): float(v) for k, v in per_task.items()}
        returns = f.numbers("returns")
        assert returns is not None
        episodes = _parse_episodes(f, source) if version >= 2 else None
        ood = _parse_ood(f, source) if "ood" in f.data else None
        final = EvalSummary(
            step=int(f.get("step", int)),
            return_mean=float(f.number("return_mean") or 0.0),
            return_std=float(f.number("return_std") or 0.0),
            returns=returns,
            success_rate=f.number("success_rate", optional=True),
            per_task_return=per_task,
            episodes=episodes,
            ood=ood,
        )
    if status == "ok" and final is None:
        raise RecordError(f"{source}: a run with status 'ok' must have a 'final' evaluation")
    failure = None
    fl = r.sub("failure", optional=True)
    if fl is not None:
        failure = Failure(
            reason=fl.get("reason", str),
            error_type=fl.get("error_type", str),
            traceback=fl.get("traceback", str),
            step=fl.get("step", int),
        )
    if status == "failed" and failure is None:
        raise RecordError(f"{source}: a run with status 'failed' must say why in 'failure'")
    e = r.sub("eval")
    t = r.sub("timing")
    assert e is not None and t is not None
    resumed = t.numbers("resumed_from", integer=True)
    artifacts = r.get("artifacts", Mapping)
    return RunRecord(
        schema_version=version,
        suite=SuiteRef(name=s.get("name", str), version=s.get("version", int), hash=s.get("hash", str)),
        method=r.get("method", str),
        method_id=r.get("method_id", str),
        task=r.get("task", str),
        seed=r.get("seed", int),
        status=status,
        failure=failure,
        budget=r.get("budget", int),
        steps_done=r.get("steps_done", int),
        eval_frequency=e.get("frequency", int),
        eval_episodes=e.get("episodes", int),
        eval_max_tasks=e.get("max_tasks", int, optional=True),
        curve=LearningCurve(steps=steps, return_mean=means, return_std=stds, success_rate=successes),
        final=final,
        config=dict(r.get("config", Mapping)),
        config_hash=r.get("config_hash", str),
        timing=Timing(
            wall_s=float(t.number("wall_s") or 0.0),
            cpu_s=float(t.number("cpu_s") or 0.0),
            started_at=t.get("started_at", str),
            finished_at=t.get("finished_at", str),
            attempts=t.get("attempts", int),
            resumed_from=resumed or (),
            **{k: t.number(k) for k in TIMING_PHASES if k in t.data},
        ),
        provenance=dict(r.get("provenance", Mapping)),
        artifacts={str(k): str(v) for k, v in artifacts.items()},
    )
