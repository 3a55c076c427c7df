"""Cost of one grad-cs measurement at the paper's defaults (15 states × 15 actions), against training steps.

Builds a suite method (default: ``mini-rl-lr``'s ``td3-sa-hyper-lite-lr3e-4`` on Hopper-v5) through the
registry, trains it, and at each ``--at`` step times one :func:`hyperbench.diagnostics.grad_cs.grad_cs` at the
defaults. The baseline, measured in the same process just after each measurement, is the CPU time of
``--baseline-steps`` training steps of the same model (with gradient updates: measure at or after
``learning_starts``), so the cost is also printed as "equivalent training steps" (a ratio that the load of a
shared machine disturbs far less than wall time). Times are CPU seconds of this process
(``time.process_time``); the cost of a measurement grows with the policy's episode lengths (rollouts run to
the episode's end), so the script also prints the CPU time per environment step of the rollouts and the
worst case of a policy that never falls (every rollout to the 1000-step limit).

    python benchmarks/bench_grad_cs.py                          # measures at 1000 and 10000 steps
    python benchmarks/bench_grad_cs.py --at 2000 --method td3-mlp
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="mini-rl-lr")
    parser.add_argument("--method", default="td3-sa-hyper-lite-lr3e-4", help="method label of the suite")
    parser.add_argument("--task", default="Hopper-v5")
    parser.add_argument("--at", nargs="+", type=int, default=[1000, 10000], help="training steps to measure at")
    parser.add_argument("--baseline-steps", type=int, default=500, help="training steps timed as the baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from hyperbench.bench.registry import BuildContext, get_method
    from hyperbench.bench.suite import load_suite
    from hyperbench.bench.tasks import resolve_task
    from hyperbench.diagnostics.grad_cs import GradCSConfig, grad_cs

    torch.set_num_threads(1)
    spec = load_suite(args.suite).run_spec(args.method, args.task, args.seed)
    task = resolve_task(spec.task, spec.env_kwargs)
    env = DummyVecEnv([lambda: Monitor(task.make_env())])
    model = get_method(spec.method_id).build(BuildContext(config=dict(spec.config), seed=args.seed, task=task, env=env))
    measure_env = task.make_env()
    rows: list[dict[str, Any]] = []
    print(f"{spec.method} ({spec.method_id}, {dict(spec.config).get('preset')}) on {spec.task}; grad-cs at {GradCSConfig()}")
    header = ("step", "cpu s", "wall s", "env steps", "µs/step", "train ms/step", "≙ train steps", "mean CS")
    widths = (7, 8, 8, 10, 8, 14, 14, 8)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths)))
    for at in sorted(args.at):
        remaining = at - model.num_timesteps
        if remaining > 0:
            model.learn(remaining, reset_num_timesteps=False)
        step = int(model.num_timesteps)
        c0, w0 = time.process_time(), time.perf_counter()
        result = grad_cs(model, measure_env, GradCSConfig(), seed=args.seed)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        c0 = time.process_time()
        model.learn(args.baseline_steps, reset_num_timesteps=False)
        train_cpu = (time.process_time() - c0) / args.baseline_steps
        steps = result.summary()["env_steps"]
        row = {
            "step": step,
            "cpu_s": round(cpu, 2),
            "wall_s": round(wall, 2),
            "env_steps": int(steps),
            "cpu_us_per_env_step": round(1e6 * cpu / steps, 1),
            "train_cpu_ms_per_step": round(1e3 * train_cpu, 2),
            "equivalent_train_steps": round(cpu / train_cpu),
            "worst_case_cpu_s": round(cpu / steps * (15 * 15 * 1000 + 15 * 1000), 1),
            "mean_cs": round(result.mean, 3),
            "mean_episode_steps_remaining": round(float(result.rollout_steps.mean()), 1),
        }
        rows.append(row)
        print(
            f"{row['step']:>7} {cpu:>8.1f} {wall:>8.1f} {steps:>10d} {row['cpu_us_per_env_step']:>8.1f} "
            f"{row['train_cpu_ms_per_step']:>14.2f} {row['equivalent_train_steps']:>14d} {result.mean:>8.3f}"
        )
    for row in rows:
        print(
            f"step {row['step']}: mean rollout length {row['mean_episode_steps_remaining']} steps; a policy that never falls "
            f"(every rollout 1000 steps) would take ≈ {row['worst_case_cpu_s']} CPU s"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"method": spec.method, "task": spec.task, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
