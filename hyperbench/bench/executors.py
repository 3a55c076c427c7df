"""Run a suite's grid: skip what is done, execute the rest locally or on Ray, show progress.

Both executors call the same idempotent :func:`hyperbench.bench.runner.run_one`, so they produce the same
records, and any of them may be killed at any moment: re-running the suite runs only what is missing and
resumes interrupted runs from their checkpoints.

- ``local`` (default): a process pool of ``workers`` processes (``spawn`` start method, one torch thread
  each, killed by the kernel if the runner dies so no orphan keeps training); ``workers=0`` runs in the
  calling process, which is handy for debugging.
- ``ray``: one Ray task per run (``num_cpus=1``, plus ``num_gpus=gpus_per_run``: Ray hides the GPUs from a
  task that asks for none, so on GPU nodes ask for a share, e.g. 0.25 for four runs per GPU). Without
  ``address`` a local Ray instance with ``workers`` CPUs (and the GPUs it detects) is started and stopped;
  with ``address`` (``auto`` or ``host:port``) the runs go to an existing cluster. Each task returns its
  record to the driver, which writes it if the worker's file system is not the driver's; checkpoints are
  written by the worker, so resuming after a node loss needs a shared file system for the runs directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import math
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperbench.bench.files import atomic_write_json, atomic_write_text, iter_tmp_entries
from hyperbench.bench.record import RunRecord, load_record, record_path
from hyperbench.bench.runner import RunBusyError, RunOptions, cleanup_finished_checkpoints, import_plugins, run_one
from hyperbench.bench.suite import RunSpec, Suite

__all__ = ["ClusterResourceError", "SuiteConflictError", "SuiteRunResult", "plan_suite", "run_suite"]

EXECUTORS = ("local", "ray")


class ClusterResourceError(RuntimeError):
    """The Ray cluster lacks a resource every run asks for (the runs could never be scheduled)."""


class SuiteConflictError(RuntimeError):
    """The runs directory holds records of a different experiment (another suite or changed settings)."""


@dataclass
class SuiteRunResult:
    """What :func:`run_suite` did."""

    total: int
    """runs in the grid"""
    skipped: int
    """runs that already had a record"""
    ok: list[str] = field(default_factory=list)
    """run ids finished now"""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(run id, reason) of runs that failed now"""
    not_run: list[tuple[str, str]] = field(default_factory=list)
    """(run id, reason) of runs that produced no record (busy elsewhere, worker crash)"""

    @property
    def complete(self) -> bool:
        """Every run of the grid has a record."""
        return not self.not_run


@dataclass
class Plan:
    """The grid split into done and to-do."""

    grid: list[RunSpec]
    done: list[RunSpec]
    todo: list[RunSpec]
    failed_before: list[RunSpec]


def _set_pdeathsig(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphan workers after the runner is killed).

    :param parent: pid of the process that started this one; if it is no longer the parent, the parent died
        before ``prctl`` took effect (while this worker was still importing) and the worker exits. Comparing
        with pid 1 is not enough: an orphan is re-parented to the nearest subreaper, which need not be init.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1 or (parent is not None and os.getppid() != parent):
            os._exit(1)


_steps_queue: Any = None  # in pool workers: where each run reports its step count (see _StepCounter)


def _worker_init(plugins: Sequence[str], steps_queue: Any = None, parent: int | None = None) -> None:
    global _steps_queue
    _set_pdeathsig(parent)
    import torch

    torch.set_num_threads(1)
    import_plugins(plugins)
    _steps_queue = steps_queue


def _run_in_worker(spec_dict: dict[str, Any], runs_dir: str, options: RunOptions) -> dict[str, Any]:
    from hyperbench.bench import runner

    spec = RunSpec.from_dict(spec_dict)
    if _steps_queue is not None:
        runner.step_listener = functools.partial(_put_steps, _steps_queue, spec.run_id)
    try:
        return {"record": run_one(spec, runs_dir, options).to_dict()}
    except RunBusyError as exc:
        return {"busy": str(exc)}
    finally:
        runner.step_listener = None


def _put_steps(queue: Any, run_id: str, step: int) -> None:
    queue.put((run_id, step))


class _StepCounter:
    """Environment steps of the runs still to do, for the progress bar (reported at each evaluation)."""

    def __init__(self, todo: Sequence[RunSpec]) -> None:
        self.total = sum(spec.budget for spec in todo)
        self.steps: dict[str, int] = {}

    def update(self, run_id: str, step: int) -> None:
        self.steps[run_id] = step

    def drain(self, queue: Any) -> None:
        while queue is not None and not queue.empty():
            self.update(*queue.get())

    def text(self) -> str:
        return f"{_short(sum(self.steps.values()))}/{_short(self.total)}"


def _show_in_process(steps: _StepCounter, run_id: str, show: Callable[[], None], step: int) -> None:
    steps.update(run_id, step)
    show()


def _short(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e4 else str(n)


def _ray_task(spec_dict: dict[str, Any], runs_dir: str, options: RunOptions) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    import_plugins(options.plugins)
    return _run_in_worker(spec_dict, runs_dir, options)


@contextlib.contextmanager
def _runs_dir_lock(runs_dir: Path) -> Iterator[None]:
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / ".runner.lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SuiteConflictError(
                f"another `hyperbench run` is using {runs_dir} (lock {runs_dir / '.runner.lock'})"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _check_suite_dir(suite: Suite, runs_dir: Path) -> None:
    meta = runs_dir / "suite.json"
    if meta.exists():
        try:
            previous = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SuiteConflictError(f"{meta}: unreadable ({exc}); delete it to continue") from exc
        if previous.get("name") != suite.name:
            raise SuiteConflictError(
                f"{runs_dir} holds results of suite {previous.get('name')!r}, not {suite.name!r}; choose another --out"
            )


def _write_suite_files(suite: Suite, runs_dir: Path) -> None:
    atomic_write_json(runs_dir / "suite.json", {**suite.to_dict(), "hash": suite.hash})
    if suite.source and Path(suite.source).is_file():
        atomic_write_text(runs_dir / "suite.yaml", Path(suite.source).read_text(encoding="utf-8"))


def plan_suite(suite: Suite, runs_dir: str | os.PathLike[str], retry_failed: bool = False) -> Plan:
    """Compare the grid with the records on disk.

    :param suite: the suite
    :param runs_dir: runs directory
    :param retry_failed: put failed runs back on the to-do list
    :return: the plan
    :raises SuiteConflictError: if a record was produced with different settings than the suite now asks for
    :raises RecordError: if a record file is corrupt (naming it)
    """
    grid = suite.grid()
    done: list[RunSpec] = []
    todo: list[RunSpec] = []
    failed: list[RunSpec] = []
    conflicts: list[str] = []
    for spec in grid:
        path = record_path(runs_dir, spec.method, spec.task, spec.seed)
        if not path.exists():
            todo.append(spec)
            continue
        record = load_record(path)
        if record.config_hash != spec.config_hash:
            conflicts.append(f"{path} (recorded config {record.config_hash}, suite now asks {spec.config_hash})")
            continue
        if record.status == "failed":
            failed.append(spec)
            if retry_failed:
                todo.append(spec)
                continue
        done.append(spec)
    if conflicts:
        listing = "\n  ".join(conflicts[:20])
        raise SuiteConflictError(
            f"{len(conflicts)} record(s) in {runs_dir} were produced with different settings than suite "
            f"{suite.name!r} now specifies; use another --out, or delete them to re-run:\n  {listing}"
        )
    return Plan(grid=grid, done=done, todo=todo, failed_before=failed)


def _progress_bar(total: int, initial: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="run", disable=not enabled, dynamic_ncols=True, file=sys.stderr)


def run_suite(
    suite: Suite,
    runs_dir: str | os.PathLike[str],
    *,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    gpus_per_run: float = 0.0,
    retry_failed: bool = False,
    options: RunOptions | None = None,
    progress: bool = True,
) -> SuiteRunResult:
    """Run every missing run of ``suite`` into ``runs_dir``.

    :param suite: validated suite
    :param runs_dir: where records, checkpoints and logs go
    :param workers: parallel runs (local processes, or CPUs of a local Ray instance); ``0`` = in-process
    :param executor: ``"local"`` or ``"ray"``
    :param address: Ray cluster address (``None``: start a local instance)
    :param gpus_per_run: Ray executor: GPUs each run asks for (a fraction shares a GPU; ``0``: none, and Ray
        then hides every GPU from the run)
    :param retry_failed: run failed runs again (their old record is replaced)
    :param options: runner settings
    :param progress: show a progress bar over the grid
    :return: what was done
    :raises SuiteConflictError: if the runs directory belongs to another suite or to other settings
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if not (math.isfinite(gpus_per_run) and gpus_per_run >= 0):
        raise ValueError(f"gpus_per_run must be a finite number >= 0 (e.g. 0.25 for four runs per GPU), got {gpus_per_run}")
    if gpus_per_run and executor != "ray":
        raise ValueError("gpus_per_run applies to the ray executor only (the local pool's runs see every GPU)")
    options = options or RunOptions()
    runs_dir = Path(runs_dir)
    with _runs_dir_lock(runs_dir):
        _check_suite_dir(suite, runs_dir)
        for tmp in list(iter_tmp_entries(runs_dir)):  # left by a killed writer; nobody else writes here now
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        plan = plan_suite(suite, runs_dir, retry_failed)
        _write_suite_files(suite, runs_dir)
        cleanup_finished_checkpoints(runs_dir, plan.done)
        for spec in plan.todo:
            if retry_failed:
                old = record_path(runs_dir, spec.method, spec.task, spec.seed)
                if old.exists():
                    old.unlink()
        result = SuiteRunResult(total=len(plan.grid), skipped=len(plan.done))
        bar = _progress_bar(len(plan.grid), len(plan.done), suite.name, progress)
        n_failed = 0
        steps = _StepCounter(plan.todo)
        shown: list[str] = []

        def show_steps() -> None:
            text = f"{n_failed} {steps.text()}"
            if shown != [text]:  # refresh only when something changed
                shown[:] = [text]
                bar.set_postfix(failed=n_failed, steps=steps.text())

        def finished(spec: RunSpec, outcome: dict[str, Any] | None, error: str | None) -> None:
            nonlocal n_failed
            steps.update(spec.run_id, spec.budget if outcome is not None and "record" in outcome else 0)
            if outcome is not None and "record" in outcome:
                record = RunRecord.from_dict(outcome["record"], source=spec.run_id)
                path = record_path(runs_dir, spec.method, spec.task, spec.seed)
                if not path.exists():  # a Ray worker on another machine wrote it there, not here
                    record.save(path)
                if record.ok:
                    result.ok.append(spec.run_id)
                else:
                    n_failed += 1
                    reason = record.failure.reason if record.failure else "unknown"
                    result.failed.append((spec.run_id, reason))
                    bar.write(f"run {spec.run_id} failed: {reason}")
                bar.update(1)
            else:
                reason = error or (outcome or {}).get("busy", "no record")
                result.not_run.append((spec.run_id, reason))
                bar.write(f"run {spec.run_id} did not finish: {reason}")
            show_steps()

        try:
            if not plan.todo:
                pass
            elif executor == "ray":
                _execute_ray(plan.todo, runs_dir, options, workers, address, gpus_per_run, finished)
            elif workers <= 0:
                from hyperbench.bench import runner

                for spec in plan.todo:
                    runner.step_listener = functools.partial(_show_in_process, steps, spec.run_id, show_steps)
                    try:
                        finished(spec, _run_in_worker(spec.to_dict(), str(runs_dir), options), None)
                    except Exception as exc:  # a crash outside the run's own error handling
                        finished(spec, None, f"{type(exc).__name__}: {exc}")
                    finally:
                        runner.step_listener = None
            else:
                _execute_local(plan.todo, runs_dir, options, workers, finished, steps, show_steps)
        finally:
            bar.close()
        return result


def _execute_local(
    todo: list[RunSpec],
    runs_dir: Path,
    options: RunOptions,
    workers: int,
    finished: Callable[[RunSpec, dict[str, Any] | None, str | None], None],
    steps: _StepCounter | None = None,
    show_steps: Callable[[], None] | None = None,
) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.SimpleQueue() if steps is not None else None
    init_args = (options.plugins, queue, os.getpid())
    with ProcessPoolExecutor(
        max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_worker_init, initargs=init_args
    ) as pool:
        pending: dict[Future[dict[str, Any]], RunSpec] = {
            pool.submit(_run_in_worker, spec.to_dict(), str(runs_dir), options): spec for spec in todo
        }
        while pending:
            done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            if steps is not None and show_steps is not None:
                steps.drain(queue)
                show_steps()
            for future in done:
                spec = pending.pop(future)
                try:
                    finished(spec, future.result(), None)
                except Exception as exc:  # e.g. BrokenProcessPool after a worker segfault
                    finished(spec, None, f"{type(exc).__name__}: {exc}")


def _execute_ray(
    todo: list[RunSpec],
    runs_dir: Path,
    options: RunOptions,
    workers: int,
    address: str | None,
    gpus_per_run: float,
    finished: Callable[[RunSpec, dict[str, Any] | None, str | None], None],
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("the ray executor needs Ray: pip install 'hyperbench[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:
            ray.init(num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        available = float(ray.cluster_resources().get("GPU", 0.0))
        if gpus_per_run > available:
            raise ClusterResourceError(
                f"each run asks for {gpus_per_run} GPU(s) but the Ray cluster has {available:g}: the runs could never "
                "be scheduled. Start the nodes with their GPUs (`ray start --num-gpus N`) or lower --gpus-per-run"
            )
        remote = ray.remote(num_cpus=1, num_gpus=gpus_per_run, max_retries=2)(_ray_task)
        refs = {remote.remote(spec.to_dict(), str(runs_dir.resolve()), options): spec for spec in todo}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                spec = refs.pop(ref)
                try:
                    finished(spec, ray.get(ref), None)
                except Exception as exc:  # task error or lost worker after retries
                    finished(spec, None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    finally:
        if started_here:
            ray.shutdown()


def load_suite_records(suite: Suite, runs_dir: str | os.PathLike[str]) -> list[RunRecord]:
    """The records of the suite's grid that exist in ``runs_dir``.

    :param suite: the suite
    :param runs_dir: runs directory
    :return: records in grid order
    :raises RecordError: on a corrupt record, naming its file
    """
    out = []
    for spec in suite.grid():
        path = record_path(runs_dir, spec.method, spec.task, spec.seed)
        if path.exists():
            out.append(load_record(path))
    return out
