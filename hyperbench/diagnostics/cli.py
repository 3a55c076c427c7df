"""``hyperbench diagnose ...``: diagnostics of trained learners.

Sub-commands:

- ``maml-variance CHECKPOINT [CHECKPOINT ...]``: meta-gradient variance of MAML-family checkpoints
  (:func:`hyperbench.diagnostics.meta_gradient_variance`), a table on stdout, ``variance.json`` and
  ``variance.png`` in ``--out``;
- ``maml-study``: the mini MAML vs Context-MAML vs Hyper-MAML study with its report
  (:mod:`hyperbench.diagnostics.maml_study`);
- ``grad-cs MODEL [MODEL ...]``: gradient accuracy of TD3/SAC/TQC critics
  (:func:`hyperbench.diagnostics.grad_cs.grad_cs`), a table on stdout, ``grad_cs.json`` and ``grad_cs.png``
  in ``--out``;
- ``init``: a hypernetwork's initialisation measured on a sample of meta inputs
  (:func:`hyperbench.diagnostics.probe_init`), a table on stdout, ``init.json`` and ``init.png`` in ``--out``.

Other diagnostics add their sub-command to :data:`DIAGNOSE_COMMANDS`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["DIAGNOSE_COMMANDS", "register"]


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return n


def _family_iterations(value: str) -> tuple[str, int]:
    name, sep, n = value.partition("=")
    if not sep or not n.isdigit() or int(n) < 1:
        raise argparse.ArgumentTypeError(f"expected FAMILY=N (e.g. point-robot=40), got {value!r}")
    return name, int(n)


def _add_maml_variance(sub: Any) -> None:
    p = sub.add_parser(
        "maml-variance",
        help="spread of the returns after K independent meta-gradient steps (Sarafian et al. 2021, Fig. 5)",
        description="At each checkpoint, build K independent meta-gradient estimates from disjoint episode batches, "
        "apply each, evaluate each updated policy (same evaluation seed), and report the spread of the returns.",
    )
    p.add_argument("checkpoints", nargs="+", help="MAML-family checkpoints (.safetensors written by MAML.save)")
    p.add_argument("--labels", nargs="+", help="names for the table and plot (default: each checkpoint's variant)")
    p.add_argument("--n-estimates", "-k", type=_positive, default=50, help="K, independent estimates (default 50)")
    p.add_argument("--eval-tasks", type=_positive, default=10, help="test tasks per evaluation (default 10)")
    p.add_argument("--eval-episodes", type=_positive, default=5, help="post-adaptation episodes per task (default 5)")
    p.add_argument("--meta-batch-size", type=_positive, help="tasks per estimate (default: the checkpoint's)")
    p.add_argument("--episodes-per-task", type=_positive, help="episodes per task per estimate (default: the checkpoint's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the estimates and the evaluation")
    p.add_argument("--out", type=Path, default=Path("maml-variance"), help="directory for variance.json and variance.png")
    p.add_argument("--quiet", action="store_true", help="no per-estimate progress lines")
    p.set_defaults(func=_run_maml_variance)


def _run_maml_variance(args: argparse.Namespace) -> int:
    import torch as th

    from hyperbench.diagnostics.variance import meta_gradient_variance, plot_variance, save_results
    from hyperbench.meta import CheckpointError

    th.set_num_threads(1)
    if args.labels and len(args.labels) != len(args.checkpoints):
        print(f"error: {len(args.labels)} labels for {len(args.checkpoints)} checkpoints")
        return 2
    results = []
    for i, ckpt in enumerate(args.checkpoints):
        label = args.labels[i] if args.labels else None
        print(f"{ckpt}: {args.n_estimates} estimates")
        try:
            result = meta_gradient_variance(
                ckpt,
                n_estimates=args.n_estimates,
                eval_tasks=args.eval_tasks,
                eval_episodes=args.eval_episodes,
                meta_batch_size=args.meta_batch_size,
                episodes_per_task=args.episodes_per_task,
                seed=args.seed,
                label=label,
                progress=not args.quiet,
            )
        except (CheckpointError, FileNotFoundError, TypeError) as exc:
            print(f"error: {exc}")
            return 2
        result.settings["checkpoint"] = str(ckpt)
        results.append(result)
    save_results(results, args.out / "variance.json")
    plot_variance(results, args.out / "variance.png")
    print(f"\n{'label':<16} {'mean':>10} {'std':>8} {'iqr':>8} {'before':>10} {'accepted':>9}")
    for r in results:
        s = r.summary()
        print(
            f"{r.label:<16} {s['mean']:>10.2f} {s['std']:>8.3f} {s['iqr']:>8.3f} {s['base_return']:>10.2f} "
            f"{s['accepted_fraction']:>9.0%}"
        )
    print(f"\nwrote {args.out / 'variance.json'} and {args.out / 'variance.png'}")
    return 0


def _add_maml_study(sub: Any) -> None:
    from hyperbench.diagnostics.maml_study import StudyConfig

    d = StudyConfig()
    p = sub.add_parser(
        "maml-study",
        help="MAML vs Context-MAML vs Hyper-MAML at a CPU budget, plus the variance study; writes a report",
        description="Train every (family, variant, seed), evaluate pre/post adaptation on test tasks, measure the "
        "meta-gradient variance at one checkpoint, and write report.md, curves.png, variance.png and summary.json. "
        "Resumable: finished runs (one JSON each) are skipped.",
    )
    p.add_argument("--out", type=Path, default=Path("results/mini-maml"), help="output directory")
    p.add_argument("--families", nargs="+", default=list(d.families), help=f"task families (default {list(d.families)})")
    p.add_argument("--variants", nargs="+", default=list(d.variants), choices=list(d.variants), help="MAML variants")
    p.add_argument("--seeds", nargs="+", type=int, default=list(d.seeds), help="training seeds")
    p.add_argument(
        "--iterations",
        nargs="+",
        type=_family_iterations,
        default=[],
        metavar="FAMILY=N",
        help=f"meta-iterations per family (defaults {d.iterations})",
    )
    p.add_argument("--variance-estimates", type=_positive, default=d.variance_estimates, help="K of the variance study")
    p.add_argument("--variance-iteration", type=_positive, default=d.variance_iteration, help="checkpoint iteration")
    p.add_argument("--no-variance", action="store_true", help="skip the variance study")
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the existing JSON files")
    p.set_defaults(func=_run_maml_study)


def _run_maml_study(args: argparse.Namespace) -> int:
    from hyperbench.diagnostics.maml_study import StudyConfig, run_study, write_report

    if args.report_only:
        write_report(args.out)
        print(f"wrote {args.out / 'report.md'}")
        return 0
    config = StudyConfig(
        families=tuple(args.families),
        variants=tuple(args.variants),
        seeds=tuple(args.seeds),
        variance_estimates=args.variance_estimates,
        variance_iteration=args.variance_iteration,
    )
    config.iterations.update(dict(args.iterations))
    if args.no_variance:
        config.variance_family = None
    missing = [f for f in config.families if f not in config.iterations]
    if missing:
        print(f"error: no iteration budget for {missing}; pass --iterations {missing[0]}=N")
        return 2
    summary = run_study(config, args.out, log=lambda line: print(line, flush=True))
    for claim, c in summary["claims"].items():
        print(f"{claim}: {c['verdict']}")
    print(f"wrote {args.out / 'report.md'}")
    return 0


def _positive_float(value: str) -> float:
    x = float(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return x


def _add_grad_cs(sub: Any) -> None:
    from hyperbench.diagnostics.grad_cs import HEADS, GradCSConfig

    d = GradCSConfig()
    p = sub.add_parser(
        "grad-cs",
        help="cosine similarity of a critic's ∇ₐQ with the return's gradient (Sarafian et al. 2021, Fig. 3)",
        description="For N states from the policy's own state distribution, roll out M actions around the policy's "
        "action (the first unperturbed), each held for a few steps and then the policy to the episode's end "
        "(bootstrapped with the target critic at the time limit); fit the returns linearly in the action and "
        "compare the slope with the critic's ∇ₐQ. Defaults: the authors' public code.",
    )
    p.add_argument(
        "models",
        nargs="+",
        help="`hyperbench run --save-policies` directories (policy.safetensors + spec.json); SB3 .zip files are "
        "refused (their loader unpickles): call hyperbench.diagnostics.grad_cs on your model in Python instead",
    )
    p.add_argument("--task", "--env", dest="task", help="Gymnasium id or task family (default: the run spec's task)")
    p.add_argument("--labels", nargs="+", help="names for the table and plot (default: method label or file name)")
    p.add_argument("--states", type=_positive, default=d.states, help=f"N states (default {d.states})")
    p.add_argument("--actions", type=_positive, default=d.actions, help=f"M actions per state (default {d.actions})")
    p.add_argument("--std", type=_positive_float, default=d.std, help=f"action perturbation σ (default {d.std})")
    p.add_argument("--hold", type=_positive, default=d.hold, help=f"steps a perturbed action is held (default {d.hold})")
    p.add_argument("--gamma", type=float, help="discount of the returns (default: the model's gamma)")
    p.add_argument("--max-rollout-steps", type=_positive, help="cut rollouts earlier and bootstrap (default: time limit)")
    p.add_argument("--head", choices=list(HEADS), default=d.head, help="Q whose gradient is measured (default actor)")
    p.add_argument("--seed", type=int, default=0, help="seed of the states and perturbations")
    p.add_argument("--out", type=Path, default=Path("grad-cs"), help="directory for grad_cs.json and grad_cs.png")
    p.add_argument("--quiet", action="store_true", help="no per-state progress lines")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="import MODULE first (registers methods)")
    p.set_defaults(func=_run_grad_cs)


def _run_grad_cs(args: argparse.Namespace) -> int:
    import torch as th

    from hyperbench.bench.runner import import_plugins
    from hyperbench.diagnostics.env_state import EnvNotRestorableError
    from hyperbench.diagnostics.grad_cs import GradCSConfig, grad_cs, plot_grad_cs, save_results
    from hyperbench.diagnostics.loading import ModelLoadError, load_model

    th.set_num_threads(1)
    import_plugins(args.plugin)
    if args.labels and len(args.labels) != len(args.models):
        print(f"error: {len(args.labels)} labels for {len(args.models)} models")
        return 2
    try:
        config = GradCSConfig(
            states=args.states,
            actions=args.actions,
            std=args.std,
            hold=args.hold,
            gamma=args.gamma,
            max_rollout_steps=args.max_rollout_steps,
            head=args.head,
        )
        config.check()
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    results = []
    for i, source in enumerate(args.models):
        try:
            loaded = load_model(source, task=args.task)
            label = args.labels[i] if args.labels else loaded.label
            print(f"{source}: {config.states} states × {config.actions} actions")
            env = loaded.make_env()
            try:
                result = grad_cs(loaded.model, env, config, seed=args.seed, label=label, log=None if args.quiet else print)
            finally:
                env.close()
        except (ModelLoadError, FileNotFoundError, EnvNotRestorableError, TypeError, ValueError, KeyError) as exc:
            print(f"error: {source}: {exc}")
            return 2
        result.settings["model"] = str(source)
        results.append(result)
    save_results(results, args.out / "grad_cs.json")
    plot_grad_cs(results, args.out / "grad_cs.png")
    print(f"\n{'label':<24} {'mean CS':>8} {'median':>8} {'CS>0':>6} {'CS>0.5':>7} {'fit R²':>7} {'steps':>8} {'wall s':>7}")
    for r in results:
        s = r.summary()
        above = r.fraction_above([0.0, 0.5])
        print(
            f"{r.label:<24} {s['mean_cs']:>8.3f} {s['median_cs']:>8.3f} {above[0]:>6.0%} {above[1]:>7.0%} "
            f"{s['mean_fit_r2']:>7.2f} {s['env_steps']:>8d} {r.settings['wall_s']:>7.1f}"
        )
    print(f"\nwrote {args.out / 'grad_cs.json'} and {args.out / 'grad_cs.png'}")
    return 0


def _add_init(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="does a hypernetwork's generated network start at its target initialisation on your meta inputs?",
        description="Build the hypernetwork for each (preset, init), show it a sample of meta inputs, and print per "
        "generated layer the weight variance as a ratio to the scheme's target, the share of that variance that "
        "depends on the meta input, and the generated network's output variance against same-shape MLPs. "
        "Writes init.json and init.png.",
    )
    p.add_argument(
        "--meta",
        default="gaussian",
        help="meta-input source: 'gaussian' (with --meta-dim/--meta-mean/--meta-std), 'env:ID' (states of a random "
        "policy in a Gymnasium env, e.g. env:HalfCheetah-v5) or a .npy file of shape (n, meta_dim)",
    )
    p.add_argument("--meta-dim", type=_positive, default=17, help="size of the Gaussian meta input (default 17)")
    p.add_argument("--meta-mean", type=float, default=0.0, help="mean of every Gaussian feature (default 0)")
    p.add_argument("--meta-std", type=float, default=1.0, help="std of every Gaussian feature (default 1)")
    p.add_argument("--n", type=_positive, default=512, help="meta inputs to sample (gaussian, env; default 512)")
    p.add_argument("--preset", nargs="+", default=["lite", "paper"], help="primary presets or widths like 64,128")
    p.add_argument("--init", nargs="+", default=["all"], help="schemes (default: all of them)")
    p.add_argument("--base-init", default="kaiming-uniform", help="target of the HyperInit schemes")
    p.add_argument("--meta-norm", choices=["auto", "on", "off"], default="auto", help="meta-input normaliser")
    p.add_argument("--base-dim", type=_positive, default=6, help="base input size of the generated network")
    p.add_argument("--out-dim", type=_positive, default=1, help="output size of the generated network")
    p.add_argument("--dynamic-hidden", type=_positive, nargs="+", default=[256], help="hidden widths of the generated net")
    p.add_argument("--members", type=_positive, default=4, help="independent draws of each network, pooled")
    p.add_argument("--seed", type=int, default=0, help="seed of the network and of the sampled meta inputs")
    p.add_argument("--out", type=Path, default=Path("init-probe"), help="directory for init.json and init.png")
    p.set_defaults(func=_run_init)


def _preset(value: str) -> str | tuple[int, ...]:
    if "," in value or value.isdigit():
        widths = tuple(int(w) for w in value.split(",") if w)
        if not widths or min(widths) < 1:
            raise ValueError(f"custom primary widths must be positive integers like 64,128, got {value!r}")
        return widths
    return value


def _run_init(args: argparse.Namespace) -> int:
    import difflib

    import numpy as np
    import torch as th

    from hyperbench.diagnostics.init_probe import env_meta_inputs, load_meta_inputs, plot_probes, probe_init, save_probes
    from hyperbench.nn import BASE_INITS, INIT_SCHEMES, PRIMARY_PRESETS

    th.set_num_threads(1)
    inits = sorted(INIT_SCHEMES) if args.init == ["all"] else args.init
    try:
        for name in inits:
            if name not in INIT_SCHEMES:
                close = difflib.get_close_matches(name, INIT_SCHEMES, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"unknown init scheme {name!r}; valid: {sorted(INIT_SCHEMES)} or 'all'.{hint}")
        if args.base_init not in BASE_INITS:
            raise ValueError(f"unknown base init {args.base_init!r}; valid: {sorted(BASE_INITS)}")
        presets = [_preset(p) for p in args.preset]
        for p in presets:
            if isinstance(p, str) and p not in PRIMARY_PRESETS:
                raise ValueError(f"unknown primary preset {p!r}; valid: {sorted(PRIMARY_PRESETS)} or widths like 64,128")
        if args.meta == "gaussian":
            rng = np.random.default_rng(args.seed)
            meta = args.meta_mean + args.meta_std * rng.standard_normal((args.n, args.meta_dim))
            source = f"gaussian: {args.n} × {args.meta_dim}, mean {args.meta_mean}, std {args.meta_std}"
        elif args.meta.startswith("env:"):
            meta = env_meta_inputs(args.meta.removeprefix("env:"), n=args.n, seed=args.seed)
            source = f"{args.meta}: {meta.shape[0]} states of a uniform-random policy (seed {args.seed})"
        elif args.meta.endswith(".npy"):
            meta = load_meta_inputs(args.meta)
            source = f"file {args.meta}: {meta.shape[0]} × {meta.shape[1]}"
        else:
            raise ValueError(f"--meta must be 'gaussian', 'env:ID' or a .npy file, got {args.meta!r}")
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 2
    meta_norm = {"auto": None, "on": True, "off": False}[args.meta_norm]
    print(f"meta inputs: {source}\n")
    probes = []
    for preset in presets:
        for init in inits:
            probe = probe_init(
                meta,
                init,
                preset,
                base_dim=args.base_dim,
                out_dim=args.out_dim,
                dynamic_hidden=args.dynamic_hidden,
                base_init=args.base_init,
                meta_norm=meta_norm,
                n_members=args.members,
                seed=args.seed,
            )
            print(probe.table() + "\n", flush=True)
            probes.append(probe)
    save_probes(probes, args.out / "init.json", source=source)
    plot_probes(probes, args.out / "init.png", title=f"meta inputs: {source}")
    print(f"wrote {args.out / 'init.json'} and {args.out / 'init.png'}")
    return 0


#: ``(subparsers) -> None`` functions, one per ``hyperbench diagnose`` sub-command.
DIAGNOSE_COMMANDS: list[Callable[[Any], None]] = [_add_maml_variance, _add_maml_study, _add_grad_cs, _add_init]


def register(subparsers: Any) -> None:
    """Add ``hyperbench diagnose`` and its sub-commands to the top-level parser.

    :param subparsers: the ``add_subparsers()`` object of the ``hyperbench`` parser
    """
    parser = subparsers.add_parser("diagnose", help="diagnostics of trained learners (meta-gradient variance, grad-cs, ...)")
    sub = parser.add_subparsers(dest="diagnostic", metavar="DIAGNOSTIC")
    for add in DIAGNOSE_COMMANDS:
        add(sub)
    parser.set_defaults(func=lambda args: parser.print_help() or 0)
