"""Scaling of the suite runner: the same small suite with 1 and 2 local workers and on a local Ray cluster.

Runs ``hyperbench run`` (the real command, start-up and report included) on a suite of ``--runs`` seeds of
one method on one task, once per configuration, each into a fresh runs directory, and prints per
configuration: the suite's wall time, runs per hour, the speed-up over one local worker, and the runner's
overhead per run, measured two ways:

- *in the run*: from the records' ``timing`` phases, the time of a run spent neither in the learner's
  ``learn`` nor in evaluation (start-up of the run, checkpoints, closing), as % of the run's wall time;
- *whole suite*: worker-seconds the suite took (wall × workers) minus the runs' learn + evaluation time, per
  run, as % of a run's learn + evaluation time. This includes process start-up, imports, idle workers at the
  end of the grid (load imbalance), record writing and the report.

The Ray configuration starts a local cluster with ``ray start --head`` (temporary directory, ``--num-cpus``
= workers; :func:`hyperbench.bench.ray_cluster.local_ray_cluster`), runs the suite with ``--executor ray
--address 127.0.0.1:PORT`` and stops the cluster; the cluster's start-up is not timed, as on a cluster that
is already running. The line ``ray / local`` compares its wall time with the local pool at the same number
of workers.

Wall-time ratios mean something only if the machine's load stays the same through the whole benchmark
(each configuration's load average is printed; ``--repeats`` runs them round-robin and keeps the medians);
``busy``, the share of the workers' time spent inside runs, is less sensitive to the load: it shows the runner's
own cost.

The load average is printed before and after: on a machine where other jobs use the cores the speed-up
measures the contention, not the runner. Typical use (about 8 minutes on 2 idle cores)::

    OMP_NUM_THREADS=1 python benchmarks/bench_scaling.py
    OMP_NUM_THREADS=1 python benchmarks/bench_scaling.py --budget 1500 --configs local-1 local-2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

import hyperbench
from hyperbench.bench.ray_cluster import RAY_ENV, local_ray_cluster
from hyperbench.bench.record import RunRecord, load_records

CONFIGS = ("local-1", "local-2", "ray-2")


def suite_dict(method: str, task: str, runs: int, budget: int, eval_frequency: int, episodes: int) -> dict[str, object]:
    """The benchmark suite: ``runs`` seeds of one method on one task."""
    return {
        "name": "bench-scaling",
        "version": 1,
        "description": "runner scaling benchmark (benchmarks/bench_scaling.py)",
        "baseline": method,
        "seeds": runs,
        "budget": budget,
        "eval": {"frequency": eval_frequency, "episodes": episodes},
        "config": {"learning_starts": min(1000, budget // 4)},
        "methods": [method],
        "tasks": [task],
    }


@dataclass
class Measured:
    """One configuration's suite run."""

    config: str
    workers: int
    wall_s: float
    report_s: float | None
    records: list[RunRecord]
    load: float
    """1-minute load average when it ended"""

    @property
    def busy(self) -> float:
        """Fraction of the workers' time (wall × workers) spent inside runs: the rest is the runner's and idle."""
        return sum(r.timing.wall_s for r in self.records) / (self.wall_s * self.workers)

    @property
    def work_s(self) -> float:
        """Seconds the learners spent learning and evaluating, summed over the runs."""
        return sum((r.timing.learn_s or 0.0) + (r.timing.eval_s or 0.0) for r in self.records)


def run_config(config: str, suite_file: Path, tmp: Path, reps: int) -> Measured:
    """Run the suite once with ``config`` (``local-N`` or ``ray-N``) into a fresh directory."""
    kind, n = config.split("-")
    workers = int(n)
    out = tmp / config
    cmd = [sys.executable, "-m", "hyperbench.cli", "run", str(suite_file), "--out", str(out), "--workers", str(workers)]
    cmd += ["--no-progress", "--reps", str(reps)]
    env = {**os.environ, **RAY_ENV}
    with contextlib.ExitStack() as stack:
        if kind == "ray":  # the workers import the hyperbench this script imports
            cluster = stack.enter_context(local_ray_cluster(workers, env, python_path=[Path(hyperbench.__file__).parents[1]]))
            cmd += ["--executor", "ray", "--address", cluster.address]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{config}: `{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    match = re.search(r"report: done in ([0-9.]+) s", proc.stdout)
    report_s = float(match.group(1)) if match else None
    return Measured(config, workers, wall, report_s, load_records(out), os.getloadavg()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="td3-mlp", help="method of the suite (default td3-mlp)")
    parser.add_argument("--task", default="Pendulum-v1", help="task of the suite (default Pendulum-v1)")
    parser.add_argument("--runs", type=int, default=4, help="runs (seeds) in the suite (default 4)")
    parser.add_argument("--budget", type=int, default=4000, help="environment steps per run (default 4000)")
    parser.add_argument("--eval-frequency", type=int, default=1000, help="evaluation (and checkpoint) period")
    parser.add_argument("--episodes", type=int, default=5, help="evaluation episodes")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap replications of the report (default 2000)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help=f"configurations (default {' '.join(CONFIGS)})")
    parser.add_argument("--repeats", type=int, default=1, help="run the configurations round-robin this often; median")
    parser.add_argument("--keep", type=Path, default=None, help="keep the runs directories here")
    args = parser.parse_args()
    for config in args.configs:
        if not re.fullmatch(r"(local|ray)-[1-9][0-9]*", config):
            parser.error(f"configuration {config!r}: use local-N or ray-N (N workers), e.g. {' '.join(CONFIGS)}")
    if any(c.startswith("ray") for c in args.configs) and shutil.which("ray") is None:
        parser.error("the ray configurations need Ray's `ray` command: pip install 'hyperbench[ray]'")

    tmp = Path(tempfile.mkdtemp(prefix="bench-scaling-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    suite_file = tmp / "bench-scaling.yaml"
    data = suite_dict(args.method, args.task, args.runs, args.budget, args.eval_frequency, args.episodes)
    suite_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    print(f"suite: {args.runs} × {args.method} on {args.task}, {args.budget} steps, eval every {args.eval_frequency}")
    print(f"cores {os.cpu_count()}, load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    trials: dict[str, list[Measured]] = {c: [] for c in args.configs}
    try:
        for repeat in range(args.repeats):
            for config in args.configs:
                m = run_config(config, suite_file, tmp / f"repeat-{repeat}", args.reps)
                trials[config].append(m)
                print(f"  {config}: {m.wall_s:.1f} s (load average {m.load:.2f})", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    # the median trial of each configuration (by wall time)
    results = {c: sorted(ms, key=lambda m: m.wall_s)[(len(ms) - 1) // 2] for c, ms in trials.items()}

    base = results.get("local-1")
    print()
    header = (
        f"{'config':>8s} {'wall s':>8s} {'runs/h':>8s} {'speed-up':>9s} {'run s':>7s} {'learn+eval s':>13s} "
        f"{'in-run overhead':>16s} {'suite overhead/run':>19s} {'report s':>9s} {'busy':>6s} {'load':>5s}"
    )
    print(header)
    print("-" * len(header))
    for config, m in results.items():
        n = len(m.records)
        run_s = statistics.mean(r.timing.wall_s for r in m.records)
        work = m.work_s / n
        in_run = statistics.mean((r.timing.runner_overhead_s or 0.0) / r.timing.wall_s for r in m.records)
        suite_over = (m.wall_s * m.workers - m.work_s) / n
        speed = f"{base.wall_s / m.wall_s:8.2f}×" if base else "        –"
        report = f"{m.report_s:9.1f}" if m.report_s is not None else "        –"
        print(
            f"{config:>8s} {m.wall_s:8.1f} {3600 * n / m.wall_s:8.1f} {speed} {run_s:7.2f} {work:13.2f} "
            f"{100 * in_run:15.2f}% {suite_over:8.2f} s ({100 * suite_over / work:5.1f}%) {report} "
            f"{100 * m.busy:5.1f}% {m.load:5.2f}"
        )
    for config, m in results.items():
        kind, n = config.split("-")
        local = results.get(f"local-{n}")
        if kind == "ray" and local is not None:
            print(f"{config} / local-{n} wall time: {m.wall_s / local.wall_s:.3f}, busy {m.busy / local.busy:.3f}")
    print(
        "busy: worker time inside runs (sum of the records' wall_s / (wall × workers)); less sensitive than the wall\n"
        "time to how fast the runs went: compare it between configurations when the load average changed."
    )
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("command: OMP_NUM_THREADS=1 python benchmarks/bench_scaling.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
