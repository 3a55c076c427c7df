"""``hyperbench run`` and ``hyperbench report``.

::

    hyperbench run SUITE [--out DIR] [--workers N] [--executor local|ray] [--address ADDR]
                         [--dry-run [--measure]] [--retry-failed] [--plugin MODULE ...]
                         [--keep-checkpoints] [--save-policies] [--tensorboard] [--no-report]
    hyperbench run --list-methods
    hyperbench report RUNS_DIR [--out DIR] [--reps N] [--seed S] [--baseline METHOD]
                               [--failed-as exclude|random] [--no-plots]

``SUITE`` is a YAML file or the name of a suite in ``$HYPERBENCH_SUITES``, ``./suites`` or shipped with
hyperbench (``hyperbench run --help`` lists them). Exit codes:
0 done (failed runs are recorded and listed, not fatal; ``--strict`` makes them fatal), 1 some runs have no
record yet (re-run to continue), 2 invalid suite or arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["register"]


class _KeepNamesWhole(argparse.HelpFormatter):
    """Help text wrapped between words only, so suite names such as ``mini-hyperinit`` stay copyable."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def register(subparsers: Any) -> None:
    """Add the ``run`` and ``report`` sub-commands.

    :param subparsers: the ``hyperbench`` command's sub-parsers
    """
    run = subparsers.add_parser(
        "run",
        help="run a benchmark suite (methods × tasks × seeds), resumably, then write its report",
        description="Run every missing run of a suite, locally or on Ray, then write the report. "
        "Re-running continues where it stopped.",
        formatter_class=_KeepNamesWhole,
    )
    from hyperbench.bench.suite import available_suites

    names = ", ".join(sorted(available_suites())) or "none found"
    run.add_argument("suite", nargs="?", help=f"suite YAML file, or the name of a suite found here ({names})")
    run.add_argument("--out", type=Path, default=None, help="runs directory (default: runs/<suite name>)")
    run.add_argument("--workers", type=int, default=1, help="parallel runs (0 = in this process; default 1)")
    run.add_argument("--executor", choices=("local", "ray"), default="local", help="local process pool or Ray")
    run.add_argument(
        "--address", default=None, help="Ray cluster address ('auto' or host:port); default: start a local instance"
    )
    run.add_argument(
        "--gpus-per-run",
        type=_gpu_share,
        default=0.0,
        help="ray executor: GPUs each run asks Ray for (0.25: four runs share a GPU; default 0, and Ray then "
        "hides the GPUs from the runs)",
    )
    run.add_argument("--dry-run", action="store_true", help="print the grid and the estimated compute, run nothing")
    run.add_argument("--measure", action="store_true", help="with --dry-run: measure step costs missing from the table")
    run.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    run.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="import MODULE first (registers methods)")
    run.add_argument("--keep-checkpoints", action="store_true", help="keep each run's last checkpoint")
    run.add_argument("--save-policies", action="store_true", help="store final policy weights (safetensors) under policies/")
    run.add_argument("--tensorboard", action="store_true", help="also write SB3 tensorboard logs")
    run.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--strict", action="store_true", help="exit with status 1 if any run failed")
    run.add_argument("--reps", type=int, default=2000, help="bootstrap replications of the report (default 2000)")
    run.add_argument("--list-methods", action="store_true", help="list registered methods and exit")
    run.set_defaults(func=_cmd_run)

    report = subparsers.add_parser(
        "report",
        help="statistics, plots and report.md of a runs directory",
        description="Recompute every number from the run records: rliable aggregates with CIs, performance "
        "profiles, probability of improvement, sample-efficiency curves and the papers' measures.",
    )
    report.add_argument("runs_dir", type=Path, help="runs directory written by `hyperbench run`")
    report.add_argument("--out", type=Path, default=None, help="output directory (default: RUNS_DIR/report)")
    report.add_argument("--reps", type=int, default=2000, help="bootstrap replications (default 2000)")
    report.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    report.add_argument("--baseline", default=None, help="baseline method (default: the suite's)")
    report.add_argument(
        "--failed-as", choices=("exclude", "random"), default="exclude", help="failed runs: leave out, or score as random"
    )
    report.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    report.add_argument("--no-progress", action="store_true", help="no progress display")
    report.set_defaults(func=_cmd_report)


def _gpu_share(text: str) -> float:
    """``--gpus-per-run``: a finite number ≥ 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (e.g. 0.25: four runs share a GPU), got {text!r}")
    return value


def _list_methods() -> int:
    from hyperbench.bench.registry import get_method, list_methods

    for name in list_methods():
        spec = get_method(name)
        status = spec.availability()
        flag = "" if status is None else "  [unavailable here]"
        print(f"{name:24s} {spec.kind:4s}  {spec.description}{flag}")
    return 0


def _print_plan(suite: Any, plan: Any, runs_dir: Path, workers: int, measure: bool) -> None:
    from hyperbench.bench.costs import CostTable, cost_key, estimate_run, format_duration, measure_step_cost, summarise
    from hyperbench.bench.registry import get_method

    table = CostTable.load()
    local = runs_dir / "step_costs.json"
    if local.exists():
        extra = CostTable.load(local)
        for key, per_task in extra.train.items():
            table.train.setdefault(key, {}).update(per_task)
        for key, per_task in extra.eval.items():
            table.eval.setdefault(key, {}).update(per_task)
    if measure:
        measured = CostTable.load(local) if local.exists() else CostTable(train={}, eval={}, meta={})
        for spec in {(cost_key(s), s.task): s for s in plan.grid}.values():
            key = cost_key(spec)
            if spec.task in table.train.get(key, {}) or get_method(spec.method_id).kind != "sb3":
                continue
            print(f"measuring {key} on {spec.task} …", flush=True)
            try:
                train_s, eval_s = measure_step_cost(spec)
            except Exception as exc:
                print(f"  could not measure: {type(exc).__name__}: {exc}")
                continue
            for tab in (table, measured):
                tab.train.setdefault(key, {})[spec.task] = train_s
                tab.eval.setdefault(key, {})[spec.task] = eval_s
            print(f"  {1000 * train_s:.2f} ms per training step, {1000 * eval_s:.3f} ms per evaluation step")
        runs_dir.mkdir(parents=True, exist_ok=True)
        measured.save(local)

    todo = {s.run_id for s in plan.todo}
    print(f"suite {suite.name} v{suite.version} (hash {suite.hash}) from {suite.source}")
    n_m, n_t, n_s = len(suite.methods), len(suite.tasks), len(suite.seeds)
    print(
        f"{len(plan.grid)} runs = {n_m} methods × {n_t} tasks × {n_s} seeds"
        + (" (some methods restricted to some tasks)" if len(plan.grid) != n_m * n_t * n_s else "")
    )
    print(f"runs directory {runs_dir}: {len(plan.done)} done ({len(plan.failed_before)} failed), {len(plan.todo)} to run")
    print()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for spec in plan.grid:
        groups[(spec.method, spec.task)].append(spec)
    header = f"{'method':28s} {'task':30s} {'budget':>9s} {'eval':>12s} {'seeds':>5s} {'to run':>6s} {'per run':>10s}"
    print(header)
    print("-" * len(header))
    estimates = []
    for (method, task), specs in groups.items():
        est = estimate_run(specs[0], table)
        n_todo = sum(s.run_id in todo for s in specs)
        estimates.extend([est] * n_todo)
        per_run = format_duration(est.seconds) + ("" if est.exact or est.seconds is None else " ~")
        ev = f"{specs[0].eval.frequency}×{specs[0].eval.episodes}"
        print(f"{method:28s} {task:30s} {specs[0].budget:>9d} {ev:>12s} {len(specs):>5d} {n_todo:>6d} {per_run:>10s}")
    total = summarise(estimates, workers)
    print()
    print(
        f"estimated compute still to run: {total['known_s'] / 3600:.2f} core-hours, about "
        f"{format_duration(total['wall_s'])} wall with {max(workers, 1)} worker(s)"
    )
    if total["approx_runs"]:
        print(f"  ~ {total['approx_runs']} run(s) estimated from the method's costs on other tasks")
    if total["unknown_runs"]:
        missing = sorted({cost_key(e.spec) for e in estimates if e.seconds is None})
        print(
            f"  + {total['unknown_runs']} run(s) with no measured step cost ({', '.join(missing)}); "
            "measure them with --dry-run --measure"
        )
    meta = table.meta
    if meta:
        print(
            f"  step costs measured on {meta.get('cpu_count')} CPU(s), {meta.get('processor')}, "
            f"{meta.get('date')}, one torch thread"
        )
        if meta.get("note"):
            print(f"  ({meta['note']})")
    unavailable = {}
    for m in suite.methods:
        reason = get_method(m.method).availability()
        if reason is not None:
            unavailable[m.name] = reason
    for name, reason in unavailable.items():
        print(f"warning: {name} cannot run here: {reason}")


def _cmd_run(args: argparse.Namespace) -> int:
    from hyperbench.bench.runner import RunOptions, import_plugins

    import_plugins(args.plugin)
    if args.list_methods:
        return _list_methods()
    if not args.suite:
        print("hyperbench run: give a suite file or name (e.g. `hyperbench run smoke`)", file=sys.stderr)
        return 2
    if args.gpus_per_run and args.executor != "ray":
        print("hyperbench run: --gpus-per-run applies to --executor ray (local runs see every GPU)", file=sys.stderr)
        return 2

    from hyperbench.bench.executors import ClusterResourceError, SuiteConflictError, plan_suite, run_suite
    from hyperbench.bench.record import RecordError
    from hyperbench.bench.suite import SuiteError, load_suite

    try:
        suite = load_suite(args.suite)
    except (SuiteError, FileNotFoundError) as exc:
        print(f"hyperbench run: {exc}", file=sys.stderr)
        return 2
    runs_dir = args.out if args.out is not None else Path("runs") / suite.name
    try:
        if args.dry_run:
            _print_plan(suite, plan_suite(suite, runs_dir), runs_dir, args.workers, args.measure)
            return 0
        unavailable = [f"{m.name}: {r}" for m in suite.methods if (r := _availability(m.method)) is not None]
        if unavailable:
            print("hyperbench run: some methods cannot run here:\n  " + "\n  ".join(unavailable), file=sys.stderr)
            return 2
        options = RunOptions(
            keep_checkpoints=args.keep_checkpoints,
            save_policy=args.save_policies,
            tensorboard=args.tensorboard,
            plugins=tuple(args.plugin),
        )
        result = run_suite(
            suite,
            runs_dir,
            workers=args.workers,
            executor=args.executor,
            address=args.address,
            gpus_per_run=args.gpus_per_run,
            retry_failed=args.retry_failed,
            options=options,
            progress=not args.no_progress,
        )
    except (SuiteConflictError, RecordError, ClusterResourceError) as exc:
        print(f"hyperbench run: {exc}", file=sys.stderr)
        return 2
    print(
        f"{suite.name}: {result.total} runs, {result.skipped} already done, {len(result.ok)} finished now, "
        f"{len(result.failed)} failed now, {len(result.not_run)} without a record"
    )
    for run_id, reason in result.failed:
        print(f"  failed: {run_id}: {reason}")
    for run_id, reason in result.not_run:
        print(f"  not finished: {run_id}: {reason}")
    print(f"records: {runs_dir / 'records'}")
    if not args.no_report:
        from hyperbench.bench.report import make_report

        with _report_progress(args.reps, enabled=not args.no_progress):
            report = make_report(runs_dir, reps=args.reps)
        print(f"report: {report.markdown}")
    if not result.complete:
        print("some runs have no record yet; run the same command again to continue", file=sys.stderr)
        return 1
    return 1 if args.strict and (result.failed or _any_failed(runs_dir)) else 0


@contextlib.contextmanager
def _report_progress(reps: int, enabled: bool = True) -> Iterator[None]:
    """Show the report's bootstrap estimates as they run (2000 replications take a while for many methods)."""
    from tqdm.auto import tqdm

    from hyperbench.bench.stats import bootstrap_progress

    started = time.monotonic()
    print(f"report: statistics with {reps} bootstrap replications per estimate …", flush=True)
    bar = tqdm(desc="report: bootstrap estimates", unit=" estimates", disable=not enabled, file=sys.stdout)
    with bar, bootstrap_progress(lambda: bar.update(1)):
        yield
    print(f"report: done in {time.monotonic() - started:.1f} s", flush=True)


def _availability(method_id: str) -> str | None:
    from hyperbench.bench.registry import get_method

    return get_method(method_id).availability()


def _any_failed(runs_dir: Path) -> bool:
    from hyperbench.bench.record import load_records

    return any(not r.ok for r in load_records(runs_dir))


def _cmd_report(args: argparse.Namespace) -> int:
    from hyperbench.bench.record import RecordError
    from hyperbench.bench.report import make_report

    if not (args.runs_dir / "records").is_dir():
        print(f"hyperbench report: {args.runs_dir} has no records/ directory (is it a runs directory?)", file=sys.stderr)
        return 2
    try:
        with _report_progress(args.reps, enabled=not args.no_progress):
            report = make_report(
                args.runs_dir,
                args.out,
                reps=args.reps,
                seed=args.seed,
                failed_as=args.failed_as,
                baseline=args.baseline,
                plots=not args.no_plots,
            )
    except (RecordError, ValueError) as exc:
        print(f"hyperbench report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {report.markdown}")
    print(f"scores: {report.scores}")
    return 0
