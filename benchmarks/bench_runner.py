"""Step costs of the methods of a suite, for ``hyperbench run --dry-run`` estimates (and for sizing suites).

For every (method, preset, task) of the suite: seconds per training step once learning has started
(environment step + one gradient update at the method's batch size) and per evaluation step, one torch
thread, printed with the ratio to the MLP critic of the same algorithm measured in the same run.
``--write`` merges the numbers into ``hyperbench/bench/step_costs.json``.

    python benchmarks/bench_runner.py --suite mini-rl --write
    python benchmarks/bench_runner.py --suite paper-rl --tasks Hopper-v5 --train-steps 40 --write
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from hyperbench.bench.costs import CostTable, cost_key, machine_info, measure_step_cost
from hyperbench.bench.registry import get_method
from hyperbench.bench.suite import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", action="append", required=True, help="suite name or file (repeatable)")
    parser.add_argument("--tasks", nargs="*", help="only these tasks")
    parser.add_argument("--methods", nargs="*", help="only these method labels")
    parser.add_argument("--train-steps", type=int, default=300, help="timed training steps per measurement")
    parser.add_argument("--eval-steps", type=int, default=500, help="timed evaluation steps per measurement")
    parser.add_argument("--write", action="store_true", help="merge into hyperbench/bench/step_costs.json")
    args = parser.parse_args()

    specs = {}
    for name in args.suite:
        for spec in load_suite(name).grid():
            if args.tasks and spec.task not in args.tasks:
                continue
            if args.methods and spec.method not in args.methods:
                continue
            if get_method(spec.method_id).kind == "sb3":
                specs.setdefault((cost_key(spec), spec.task), spec)

    table = CostTable.load()
    measured: dict[tuple[str, str], tuple[float, float]] = {}
    print(f"{'method':28s} {'task':28s} {'train ms/step':>14s} {'eval ms/step':>13s} {'× MLP':>7s}")
    for (key, task), spec in specs.items():
        t0 = time.perf_counter()
        try:
            train_s, eval_s = measure_step_cost(spec, train_steps=args.train_steps, eval_steps=args.eval_steps)
        except Exception as exc:
            print(f"{key:28s} {task:28s} failed: {type(exc).__name__}: {exc}")
            continue
        measured[(key, task)] = (train_s, eval_s)
        mlp = measured.get((f"{spec.method_id.split('-')[0]}-mlp", task))
        ratio = f"{train_s / mlp[0]:7.2f}" if mlp else "      –"
        print(
            f"{key:28s} {task:28s} {1e3 * train_s:14.2f} {1e3 * eval_s:13.3f} {ratio}  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        table.train.setdefault(key, {})[task] = train_s
        table.eval.setdefault(key, {})[task] = eval_s
    if args.write:
        command = "python benchmarks/bench_runner.py " + " ".join(sys.argv[1:])
        commands = [c for c in table.meta.get("commands", []) if c != command] + [command]
        load = [round(x, 2) for x in os.getloadavg()]
        table.meta = {**machine_info(), "commands": commands, "load_average_at_end": load}
        table.save()
        print("written to hyperbench/bench/step_costs.json")


if __name__ == "__main__":
    main()
