"""``hyperbench envs ...``: list and inspect task families, check them, show or re-measure reference scores."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``envs`` command to the ``hyperbench`` parser.

    :param subparsers: the ``add_subparsers()`` object of the main parser
    """
    parser = subparsers.add_parser("envs", help="task families: list, show, check, reference scores")
    sub = parser.add_subparsers(dest="envs_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _print_help(parser))

    p_list = sub.add_parser("list", help="list the registered task families and their Gymnasium ids")
    p_list.set_defaults(func=_cmd_list)

    p_show = sub.add_parser("show", help="describe one family (options, task counts, first tasks) as JSON")
    p_show.add_argument("name", help="family name, e.g. halfcheetah-vel or ml1/push-v3")
    p_show.add_argument("--seed", type=int, default=0, help="family seed")
    p_show.add_argument("--tasks", type=int, default=3, help="tasks to print per split")
    p_show.set_defaults(func=_cmd_show)

    p_check = sub.add_parser("check", help="run Gymnasium's check_env on family environments")
    p_check.add_argument("names", nargs="*", help="families (default: all but ml10 and ml45, which are slow to build)")
    p_check.set_defaults(func=_cmd_check)

    p_ref = sub.add_parser("reference", help="show the reference-score table, or re-measure its measured columns")
    p_ref.add_argument("names", nargs="*", help="tasks (default: all rows)")
    p_ref.add_argument(
        "--measure", action="store_true", help="re-measure random returns, measured references and zero-action returns"
    )
    p_ref.add_argument(
        "--columns",
        default="random,reference,zero_action",
        help="with --measure: comma-separated columns to re-measure (random, reference, zero_action; default: all)",
    )
    p_ref.add_argument("--write", action="store_true", help="with --measure: write the new values to the table")
    p_ref.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p_ref.set_defaults(func=_cmd_reference)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from hyperbench.envs.registry import FAMILIES

    width = max(len(n) for n in FAMILIES)
    for info in FAMILIES.values():
        print(f"{info.name:<{width}}  {info.env_id:<34} H={info.max_episode_steps:<4} {info.summary}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from hyperbench.envs.registry import make_family

    family = make_family(args.name, seed=args.seed)
    out = family.describe()
    out["context_space"] = {"low": family.context_space.low.tolist(), "high": family.context_space.high.tolist()}
    out["tasks"] = {s: [t.to_dict() for t in family.tasks(s)[: args.tasks]] for s in family.splits}
    print(json.dumps(out, indent=2, default=str))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    from hyperbench.envs.registry import FAMILIES, _resolve

    names = args.names or [n for n in FAMILIES if n not in ("ml10", "ml45")]
    failed = 0
    for name in names:
        info, extra = _resolve(name)
        for context_obs in (False, True):
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                env = gym.make(info.env_id, disable_env_checker=True, context_obs=context_obs, **extra).unwrapped
                try:
                    # Rendering needs an OpenGL backend; the render path is MuJoCo's own.
                    check_env(env, skip_render_check=True)
                    status = "ok"
                except Exception as exc:  # report every family, then fail
                    status, failed = f"FAILED: {exc}", failed + 1
                env.close()
            notes = sorted({str(w.message) for w in caught})
            print(f"{name:<22} context_obs={context_obs!s:<5} {status} ({time.perf_counter() - start:.1f} s)")
            for note in notes:
                print(f"    warning: {note}")
    return 1 if failed else 0


def _cmd_reference(args: argparse.Namespace) -> int:
    from hyperbench.envs.reference import (
        REFERENCE_FILE,
        _fmt,
        _lookup,
        load_reference_table,
        remeasure,
        write_reference_table,
    )

    table = load_reference_table()
    names = [_lookup(n, table).task for n in args.names] if args.names else list(table)
    if args.write and not args.measure:
        print("--write needs --measure")
        return 2
    if args.measure:
        columns = [c.strip().replace("-", "_") for c in args.columns.split(",") if c.strip()]
        try:
            remeasure(table, [], columns)  # checks the column names before anything runs
        except ValueError as exc:
            print(f"error: --columns: {exc}", file=sys.stderr)
            return 2
        start = time.perf_counter()
        new_rows: dict[str, Any] = {}
        for name in names:
            t0 = time.perf_counter()
            new_rows.update(remeasure(table, [name], columns))
            row, old = new_rows[name], table[name]
            print(
                f"{name:<26} random {_fmt(old.random):>10} -> {_fmt(row.random):>10}   "
                f"reference {_fmt(old.reference):>10} -> {_fmt(row.reference):>10}   "
                f"zero-action {_fmt(old.zero_action):>10} -> {_fmt(row.zero_action):>10}   ({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
        print(f"measured {len(new_rows)} task(s) in {time.perf_counter() - start:.0f} s")
        if args.write:
            table.update(new_rows)
            write_reference_table(table)
            print(f"wrote {REFERENCE_FILE}")
        return 0
    rows = [table[n] for n in names]
    if args.json:
        print(json.dumps({r.task: {k: v for k, v in vars(r).items() if k != "task"} for r in rows}, indent=2))
        return 0
    print(f"{'task':<26} {'random':>10} {'zero-act.':>10} {'reference':>10}  kind        source")
    for r in rows:
        print(
            f"{r.task:<26} {_fmt(r.random):>10} {_fmt(r.zero_action):>10} {_fmt(r.reference):>10}  "
            f"{r.reference_kind:<10}  {r.reference_source}"
        )
    print(f"\ntable: {REFERENCE_FILE}\nregenerate the measured columns: hyperbench envs reference --measure --write")
    return 0
