"""One run: build the task and the learner, train with periodic evaluation and checkpoints, write the record.

:func:`run_one` is idempotent and crash-safe:

- if the run's record exists it is returned untouched;
- at every evaluation point the method's kind (:mod:`hyperbench.bench.kinds`) saves the learner, its weights
  and its large state (the replay buffer of off-policy SB3 algorithms, a meta learner's declared buffers), into
  a temporary directory that is renamed into ``checkpoints/<method>/<task>/seed-<k>/step-<N>`` only once it
  is complete, so a run killed at any moment resumes from its last complete checkpoint; a checkpoint holding
  any other file (a pickle, a symlink) is refused with :class:`UnsafeCheckpointError`, never opened;
- the record is written atomically at the end, then the checkpoints are deleted;
- an exception, or a non-finite evaluation return or parameter, ends the run with a ``failed`` record that
  says why (the suite carries on);
- a lock file (``flock``) keeps two processes from running the same run at once.

Evaluation uses SB3's own machinery: a :class:`~stable_baselines3.common.callbacks.BaseCallback` triggers it
every ``eval.frequency`` steps and :func:`~stable_baselines3.common.evaluation.evaluate_policy` runs the
episodes (deterministic actions, ``info["is_success"]`` counted like SB3's ``EvalCallback``); results also go
to the SB3 logger (CSV in ``logs/``). Task families are evaluated on their held-out test tasks; meta
learners through their own ``evaluate(tasks, n_episodes, seed)``, scored by the headline they declare (the
record also keeps every episode of every meta-episode). Every evaluation of a run uses the same episode
seeds (common random numbers), so the learning curve moves only when the policy does. Everything that
differs between kinds of method (set-up, evaluator, checkpoint and policy files) is the kind object's.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import importlib
import json
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperbench.bench.bounded import load_json
from hyperbench.bench.evaluators import EvalOutcome, MetaEvaluator, Sb3Evaluator, derived_seed
from hyperbench.bench.files import (
    atomic_publish_dir,
    json_safe,
    new_tmp_dir,
    provenance,
    remove_stale_tmp,
)
from hyperbench.bench.kinds import MethodKind
from hyperbench.bench.record import (
    TIMING_PHASES,
    EvalSummary,
    Failure,
    LearningCurve,
    OodSummary,
    RunRecord,
    SuiteRef,
    Timing,
    load_record,
    record_path,
    task_slug,
)
from hyperbench.bench.registry import BuildContext, MethodSpec, get_method
from hyperbench.bench.suite import RunSpec
from hyperbench.bench.tasks import resolve_task

__all__ = [
    "EvalOutcome",
    "MetaEvaluator",
    "RunBusyError",
    "RunOptions",
    "Sb3Evaluator",
    "UnsafeCheckpointError",
    "checkpoint_dir",
    "eval_points",
    "import_plugins",
    "run_one",
]

CHECKPOINTS_DIR = "checkpoints"
LOCKS_DIR = ".locks"
LOGS_DIR = "logs"
POLICIES_DIR = "policies"
DIAGNOSTICS_DIR = "diagnostics"


class RunBusyError(RuntimeError):
    """Another process holds the lock of this run."""


class NonFiniteError(FloatingPointError):
    """An evaluation return or a learner parameter became NaN or infinite."""


@dataclass(frozen=True)
class RunOptions:
    """Runner settings that do not change the experiment (not part of the record's ``config_hash``)."""

    keep_checkpoints: bool = False
    """keep the last checkpoint after the record is written"""
    save_policy: bool = False
    """store the final policy weights (safetensors) under ``policies/`` and name them in ``artifacts``"""
    tensorboard: bool = False
    """also write SB3 tensorboard logs"""
    plugins: tuple[str, ...] = ()
    """modules imported before the run (they register extra methods or environments)"""


def import_plugins(plugins: Sequence[str]) -> None:
    """Import modules that register extra methods or environments.

    :param plugins: module names
    """
    for module in plugins:
        importlib.import_module(module)


def checkpoint_dir(runs_dir: str | os.PathLike[str], spec: RunSpec) -> Path:
    """Directory holding the checkpoints of one run.

    :param runs_dir: runs directory
    :param spec: the run
    """
    return Path(runs_dir) / CHECKPOINTS_DIR / spec.method / task_slug(spec.task) / f"seed-{spec.seed}"


def eval_points(budget: int, frequency: int) -> list[int]:
    """Environment steps at which a run is evaluated: every ``frequency`` steps and at the end.

    :param budget: total steps
    :param frequency: evaluation period
    :return: increasing steps, the last one equal to ``budget``
    """
    points = list(range(frequency, budget, frequency))
    return [*points, budget]


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@contextlib.contextmanager
def _run_lock(runs_dir: Path, spec: RunSpec) -> Iterator[None]:
    path = runs_dir / LOCKS_DIR / spec.method / task_slug(spec.task) / f"seed-{spec.seed}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunBusyError(f"run {spec.run_id} is already running in another process (lock {path})") from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------------------------
# Evaluation


def _check_finite_learner(learner: Any) -> None:
    """Raise :class:`NonFiniteError` if any torch parameter of the learner is NaN or infinite."""
    import torch

    modules: list[tuple[str, torch.nn.Module]] = []
    policy = getattr(learner, "policy", None)
    if isinstance(policy, torch.nn.Module):
        modules.append(("policy", policy))
    elif isinstance(learner, torch.nn.Module):
        modules.append(("learner", learner))
    for owner, module in modules:
        for name, param in module.named_parameters():
            if not torch.isfinite(param).all():
                raise NonFiniteError(f"non-finite values in parameter {owner}.{name}")


# ----------------------------------------------------------------------------------------------------
# The SB3 callback that evaluates and checkpoints


@dataclass
class _Progress:
    """What a checkpoint stores besides the learner (JSON in ``state.json``)."""

    steps: list[int] = field(default_factory=list)
    return_mean: list[float] = field(default_factory=list)
    return_std: list[float] = field(default_factory=list)
    success_rate: list[float | None] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    setup_s: float = 0.0
    learn_s: float = 0.0
    eval_s: float = 0.0
    checkpoint_s: float = 0.0
    finish_s: float = 0.0
    phases_measured: bool = True
    """False when the run resumed from a checkpoint written before the phases were measured"""
    started_at: str = ""
    attempts: int = 0
    resumed_from: list[int] = field(default_factory=list)

    def add(self, step: int, outcome: EvalOutcome) -> None:
        self.steps.append(step)
        self.return_mean.append(outcome.mean)
        self.return_std.append(outcome.std)
        self.success_rate.append(outcome.success_rate)

    def curve(self) -> LearningCurve:
        has_success = bool(self.success_rate) and all(s is not None for s in self.success_rate)
        return LearningCurve(
            steps=tuple(self.steps),
            return_mean=tuple(self.return_mean),
            return_std=tuple(self.return_std),
            success_rate=tuple(float(s) for s in self.success_rate if s is not None) if has_success else None,
        )


def _make_callback(
    evaluate_at: Callable[[Any, int], EvalOutcome],
    points: list[int],
    progress: _Progress,
    on_evaluated: Callable[[Any, int], None],
) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class PeriodicEvalCallback(BaseCallback):
        """Evaluate at the given step counts (except the last, done after ``learn``) and checkpoint after each."""

        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.pending = [p for p in points[:-1] if not progress.steps or p > progress.steps[-1]]

        def _on_step(self) -> bool:
            step = int(self.model.num_timesteps)
            if step >= points[-1]:  # an iteration overshot the budget: learn() ends, the final evaluation follows
                return True
            if self.pending and step >= self.pending[0]:
                while self.pending and step >= self.pending[0]:
                    self.pending.pop(0)
                evaluate_at(self.model, step)
                on_evaluated(self.model, step)
            return True

    return PeriodicEvalCallback()


#: Called with the run's step count at every evaluation (the executors set it to show steps in progress bars).
step_listener: Callable[[int], None] | None = None


def _check_finite_returns(outcome: EvalOutcome, what: str) -> None:
    if not outcome.returns or not all(math.isfinite(r) for r in outcome.returns):
        raise NonFiniteError(f"non-finite {what}: {outcome.returns[:5]}")


def _evaluate_ood(learner: Any, kind: MethodKind, method: MethodSpec, task: Any, spec: RunSpec) -> OodSummary:
    """The final evaluation on the family's out-of-distribution test tasks (the same protocol and seeds)."""
    evaluator = kind.evaluator(method, task, spec.eval, spec.seed, fresh=False, split="ood_test")
    try:
        outcome = evaluator(learner)
    finally:
        evaluator.close()
    _check_finite_returns(outcome, "out-of-distribution evaluation return")
    return OodSummary(
        return_mean=outcome.mean,
        return_std=outcome.std,
        returns=tuple(outcome.returns),
        per_task_return=dict(outcome.per_task or {}),
    )


def _evaluate_and_log(learner: Any, evaluate: Callable[[Any], EvalOutcome], step: int, progress: _Progress) -> EvalOutcome:
    if step_listener is not None:
        step_listener(step)
    outcome = evaluate(learner)
    _check_finite_returns(outcome, f"evaluation return at step {step}")
    _check_finite_learner(learner)
    progress.add(step, outcome)
    logger = getattr(learner, "logger", None)
    if logger is not None and hasattr(logger, "record"):
        logger.record("eval/mean_reward", outcome.mean)
        logger.record("eval/std_reward", outcome.std)
        if outcome.success_rate is not None:
            logger.record("eval/success_rate", outcome.success_rate)
        logger.record("time/total_timesteps", step, exclude="tensorboard")
        logger.dump(step)
    return outcome


# ----------------------------------------------------------------------------------------------------
# Checkpoints


def _latest_checkpoint(ckpt_root: Path) -> Path | None:
    if not ckpt_root.is_dir():
        return None
    complete = sorted(p for p in ckpt_root.iterdir() if p.is_dir() and p.name.startswith("step-"))
    return complete[-1] if complete else None


def _save_checkpoint(ckpt_root: Path, learner: Any, kind: MethodKind, step: int, progress: _Progress) -> None:
    """The kind writes the learner (weights and large state) into a temporary directory, renamed into place."""
    tmp = new_tmp_dir(ckpt_root, f"step-{step:012d}")
    try:
        kind.save_checkpoint(learner, tmp)
        (tmp / "state.json").write_text(json.dumps(json_safe(vars(progress)), indent=1), encoding="utf-8")
        final = ckpt_root / f"step-{step:012d}"
        if final.exists():  # same step saved by an earlier attempt: keep that one
            shutil.rmtree(tmp, ignore_errors=True)
            return
        atomic_publish_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in ckpt_root.iterdir():
        if old.is_dir() and old.name.startswith("step-") and old.name < final.name:
            shutil.rmtree(old, ignore_errors=True)


#: The only files a checkpoint may hold (relative to ``step-N/``): JSON progress, the SB3 training state
#: (safetensors), a meta learner's ``save(".../learner")`` output (safetensors, JSON, or the bare name) and its
#: large state.
CHECKPOINT_FILES: frozenset[str] = frozenset(
    {
        "state.json",
        "learner/training_state.safetensors",
        "learner/replay_buffer.safetensors",
        "learner.safetensors",
        "learner.json",
        "learner",
        "large_state.safetensors",
    }
)


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint directory holding a file hyperbench did not write there (pickle, symlink, anything else)."""


def _refuse_unsafe_checkpoint(ckpt: Path) -> None:
    """Raise :class:`UnsafeCheckpointError` unless ``ckpt`` holds only the files hyperbench writes, none a symlink.

    A pickled replay buffer or an SB3 zip archive (what older versions wrote) would run code when loaded, so it
    is refused, never opened: whoever can write into a runs directory must not be able to run code in the runner.
    """
    found = sorted(ckpt.rglob("*"))
    bad = (
        [ckpt]
        if ckpt.is_symlink()
        else [p for p in found if p.is_symlink() or (p.is_file() and p.relative_to(ckpt).as_posix() not in CHECKPOINT_FILES)]
    )
    if bad:
        names = ", ".join(
            (p.name if p == ckpt else p.relative_to(ckpt).as_posix()) + (" (a symlink)" if p.is_symlink() else "")
            for p in bad[:5]
        )
        raise UnsafeCheckpointError(
            f"checkpoint {ckpt} holds files hyperbench does not write: {names}. Only safetensors and JSON are read "
            "(never pickle; older versions wrote SB3 zip archives and pickled replay buffers, which are refused). "
            f"Delete {ckpt.parent} to restart this run from scratch (its record is written only when it finishes)."
        )


# ----------------------------------------------------------------------------------------------------
# The run


def _failure_from(exc: BaseException, step: int) -> Failure:
    reason = f"{type(exc).__name__}: {exc}".strip()
    first_line = reason.splitlines()[0] if reason else type(exc).__name__
    return Failure(
        reason=first_line[:500],
        error_type=type(exc).__name__,
        traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:],
        step=step,
    )


def _save_policy(runs_dir: Path, spec: RunSpec, learner: Any, kind: MethodKind) -> dict[str, str]:
    rel = Path(POLICIES_DIR) / spec.method / task_slug(spec.task) / f"seed-{spec.seed}"
    target = runs_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_tmp_dir(target.parent, target.name)
    try:
        kind.save_policy(learner, tmp)
        (tmp / "spec.json").write_text(json.dumps(spec.to_dict(), indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        atomic_publish_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"policy": str(rel)}


def _diagnostic_callbacks(spec: RunSpec, runs_dir: Path, learner: Any, make_env: Callable[[], Any]) -> dict[str, Any]:
    """The callbacks the suite's ``diagnostics`` block asks for in this run, by artifact name.

    Grad-cs applies to SB3 TD3 / SAC / TQC learners; it writes ``diagnostics/<method>/<task>/seed-<k>/grad_cs.json``
    (:class:`hyperbench.diagnostics.grad_cs_callback.GradCSCallback`), named in the record's ``artifacts``.
    """
    block = spec.diagnostics.get("grad_cs")
    if not block:
        return {}
    from hyperbench.diagnostics.grad_cs_callback import suite_grad_cs_callback

    rel = Path(DIAGNOSTICS_DIR) / spec.method / task_slug(spec.task) / f"seed-{spec.seed}" / "grad_cs.json"
    callback = suite_grad_cs_callback(
        block, learner, make_env=make_env, target=runs_dir / rel, seed=derived_seed(spec.seed, 0x6C5), label=spec.method
    )
    return {} if callback is None else {str(rel): callback}


def run_one(
    spec: RunSpec,
    runs_dir: str | os.PathLike[str],
    options: RunOptions | None = None,
    *,
    _after_checkpoint: Callable[[int], None] | None = None,
) -> RunRecord:
    """Run one (method, task, seed) to completion (resuming from its checkpoint) and write its record.

    :param spec: the run
    :param runs_dir: the suite's runs directory
    :param options: runner settings
    :param _after_checkpoint: test hook called with the step after each checkpoint
    :return: the record (read back from disk if it already existed)
    :raises RunBusyError: if another process is running the same run
    """
    options = options or RunOptions()
    runs_dir = Path(runs_dir)
    path = record_path(runs_dir, spec.method, spec.task, spec.seed)
    if path.exists():
        return load_record(path)
    import_plugins(options.plugins)
    import torch

    torch.set_num_threads(1)
    with _run_lock(runs_dir, spec):
        if path.exists():  # finished by another process while we waited for the lock
            return load_record(path)
        return _run_locked(spec, runs_dir, path, options, _after_checkpoint)


#: Where a run's wall time goes (the ``timing`` phases of its record; they add up to ``wall_s``).
PHASES = TIMING_PHASES


class _Clock:
    """Wall and CPU time of this attempt, split into :data:`PHASES`, added to the run's totals at each checkpoint
    and at the end.

    The attempt is always in exactly one phase: ``setup_s`` (reading the checkpoint, building the learner, the
    evaluator and the logger), ``learn_s`` (inside the learner's ``learn``, the suite's diagnostic callbacks
    included), ``eval_s`` (every evaluation), ``checkpoint_s`` (writing checkpoints), ``finish_s`` (closing the
    environments, saving the policy, assembling the record). Runner overhead is everything but ``learn_s`` and
    ``eval_s``.
    """

    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.added_wall = self.added_cpu = 0.0
        self.phase = "setup_s"
        self.phase_t0 = self.wall0
        self.spent = dict.fromkeys(PHASES, 0.0)
        self.added = dict.fromkeys(PHASES, 0.0)

    def switch(self, phase: str) -> str:
        """Enter ``phase``; the time since the last switch goes to the phase being left, which is returned."""
        now = time.perf_counter()
        self.spent[self.phase] += now - self.phase_t0
        left, self.phase, self.phase_t0 = self.phase, phase, now
        return left

    @contextlib.contextmanager
    def within(self, phase: str) -> Iterator[None]:
        """Spend the block in ``phase``, then return to the phase it interrupted."""
        left = self.switch(phase)
        try:
            yield
        finally:
            self.switch(left)

    def flush_into(self, progress: _Progress) -> None:
        self.switch(self.phase)  # close the running phase's interval so the phases add up to the wall time
        wall, cpu = self.phase_t0 - self.wall0, time.process_time() - self.cpu0
        progress.wall_s += wall - self.added_wall
        progress.cpu_s += cpu - self.added_cpu
        self.added_wall, self.added_cpu = wall, cpu
        for phase in PHASES:
            setattr(progress, phase, getattr(progress, phase) + self.spent[phase] - self.added[phase])
        self.added = dict(self.spent)


def _run_locked(
    spec: RunSpec,
    runs_dir: Path,
    path: Path,
    options: RunOptions,
    after_checkpoint: Callable[[int], None] | None,
) -> RunRecord:
    clock = _Clock()
    ckpt_root = checkpoint_dir(runs_dir, spec)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(ckpt_root)
    progress = _Progress(started_at=_utcnow())
    latest = _latest_checkpoint(ckpt_root)
    if latest is not None:
        _refuse_unsafe_checkpoint(latest)
        state = load_json((latest / "state.json").read_bytes(), str(latest / "state.json"))
        progress = _Progress(**state)
        progress.phases_measured = progress.phases_measured and all(p in state for p in PHASES)
        progress.resumed_from.append(progress.steps[-1] if progress.steps else 0)
    progress.attempts += 1

    learner: Any = None
    evaluator: Any = None
    logger: Any = None
    method: MethodSpec | None = None
    kind: MethodKind | None = None
    status = "ok"
    failure: Failure | None = None
    final: EvalSummary | None = None
    artifacts: dict[str, str] = {}
    try:
        method = get_method(spec.method_id)
        reason = method.availability()
        if reason is not None:
            raise RuntimeError(reason)
        task = resolve_task(spec.task, spec.env_kwargs)
        kind = method.kind_object
        log_dir = (
            runs_dir / LOGS_DIR / spec.method / task_slug(spec.task) / f"seed-{spec.seed}" / f"attempt-{progress.attempts}"
        )
        ctx = BuildContext(config=dict(spec.config), seed=spec.seed, task=task, log_dir=log_dir)
        kind.prepare(method, ctx)
        evaluator = kind.evaluator(method, task, spec.eval, spec.seed, fresh=False)
        if latest is not None:
            learner = kind.load_checkpoint(method, latest, ctx, progress.attempts)
        else:
            learner = kind.build(method, ctx)
        if hasattr(learner, "set_logger"):
            from stable_baselines3.common.logger import configure

            formats = ["csv", "tensorboard"] if options.tensorboard else ["csv"]
            logger = configure(str(log_dir), formats)
            learner.set_logger(logger)

        points = eval_points(spec.budget, spec.eval.frequency)

        def evaluate_at(model: Any, step: int) -> EvalOutcome:
            with clock.within("eval_s"):
                return _evaluate_and_log(model, evaluator, step, progress)

        def on_evaluated(model: Any, step: int) -> None:
            with clock.within("checkpoint_s"):
                clock.flush_into(progress)
                _save_checkpoint(ckpt_root, model, kind, step, progress)
            if after_checkpoint is not None:
                after_checkpoint(step)

        done = int(getattr(learner, "num_timesteps", 0)) if latest is not None else 0
        remaining = spec.budget - done
        # the diagnostic decides whether it applies to the learner (grad-cs: SB3 TD3 / SAC / TQC only)
        context = method.observation == "context"
        diagnostics = _diagnostic_callbacks(spec, runs_dir, learner, lambda: task.make_env(context=context, train=True))
        if remaining > 0:
            callback = _make_callback(evaluate_at, points, progress, on_evaluated)
            if diagnostics:  # measured before the evaluation at the same step, so its logger dump includes them
                from stable_baselines3.common.callbacks import CallbackList

                callback = CallbackList([*diagnostics.values(), callback])
            clock.switch("learn_s")
            learner.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=latest is None)
        artifacts.update({Path(rel).stem: rel for rel in diagnostics if (runs_dir / rel).is_file()})
        outcome = evaluate_at(learner, int(learner.num_timesteps))
        ood = None
        if task.has_ood_split:
            with clock.within("eval_s"):
                ood = _evaluate_ood(learner, kind, method, task, spec)
        clock.switch("finish_s")
        final = EvalSummary(
            step=int(learner.num_timesteps),
            return_mean=outcome.mean,
            return_std=outcome.std,
            returns=tuple(outcome.returns),
            success_rate=outcome.success_rate,
            per_task_return=outcome.per_task,
            episodes=outcome.episodes_dict(),
            ood=ood,
        )
        if options.save_policy:
            artifacts.update(_save_policy(runs_dir, spec, learner, kind))
    except Exception as exc:  # the run fails, the suite goes on
        clock.switch("finish_s")
        status = "failed"
        failure = _failure_from(exc, int(getattr(learner, "num_timesteps", 0) or 0))
        final = None
    finally:
        if evaluator is not None:
            evaluator.close()
        if kind is not None and learner is not None:
            with contextlib.suppress(Exception):
                kind.close(learner)
        if logger is not None:  # its CSV / TensorBoard files stay open otherwise
            logger.close()

    prov = provenance()
    clock.flush_into(progress)
    phases = {p: round(getattr(progress, p), 3) for p in PHASES} if progress.phases_measured else {}
    record = RunRecord(
        suite=SuiteRef(name=spec.suite_name, version=spec.suite_version, hash=spec.suite_hash),
        method=spec.method,
        method_id=spec.method_id,
        task=spec.task,
        seed=spec.seed,
        status=status,  # type: ignore[arg-type]
        failure=failure,
        budget=spec.budget,
        steps_done=int(getattr(learner, "num_timesteps", 0) or 0),
        eval_frequency=spec.eval.frequency,
        eval_episodes=spec.eval.episodes,
        eval_max_tasks=spec.eval.max_tasks,
        curve=progress.curve(),
        final=final,
        config={
            "hyperparameters": dict(spec.config),
            "env_kwargs": dict(spec.env_kwargs),
            "kind": None if method is None else method.kind,
            "observation": None if method is None else method.observation,
        },
        config_hash=spec.config_hash,
        timing=Timing(
            wall_s=round(progress.wall_s, 3),
            cpu_s=round(progress.cpu_s, 3),
            started_at=progress.started_at,
            finished_at=_utcnow(),
            attempts=progress.attempts,
            resumed_from=tuple(progress.resumed_from),
            **phases,
        ),
        provenance=prov,
        artifacts=artifacts,
    )
    record.save(path)
    if not options.keep_checkpoints:
        shutil.rmtree(ckpt_root, ignore_errors=True)
    return record


def cleanup_finished_checkpoints(runs_dir: str | os.PathLike[str], specs: Sequence[RunSpec]) -> None:
    """Delete checkpoints of runs whose record exists (left behind by a kill between the two steps).

    :param runs_dir: runs directory
    :param specs: the runs to check
    """
    for spec in specs:
        if record_path(runs_dir, spec.method, spec.task, spec.seed).exists():
            ckpt = checkpoint_dir(runs_dir, spec)
            if ckpt.exists():
                shutil.rmtree(ckpt, ignore_errors=True)
