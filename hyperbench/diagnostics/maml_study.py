"""The mini MAML study: MAML vs Context-MAML vs Hyper-MAML, and the meta-gradient variance at one checkpoint.

``hyperbench diagnose maml-study --out results/mini-maml`` trains every (family, variant, seed) at a small
budget, evaluates the pre- and post-adaptation return on held-out test tasks along the way, runs
:func:`~hyperbench.diagnostics.variance.meta_gradient_variance` on one checkpoint per variant, and writes
``report.md``, ``curves.png``, ``variance.png`` and ``summary.json``. It checks the three MAML claims of
Sarafian, Keynan & Kraus (ICML 2021; docs/sources.md §5) at this scale, with the decision rules written into
the report.

Resumable: every run writes ``runs/<family>/<variant>/seed-<k>.json`` (atomically) when it finishes and the
variance study writes ``variance/<family>-<variant>.json``; a re-run skips what exists. Checkpoints go to
``checkpoints/`` (ignored by git). Everything runs in this process, one torch thread.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["StudyConfig", "run_study", "write_report"]

_DEFAULT_ITERATIONS = {"point-robot": 40, "halfcheetah-vel": 20}
_DEFAULT_MAML = {
    "point-robot": {"meta_batch_size": 20, "episodes_per_task": 10},
    "halfcheetah-vel": {"meta_batch_size": 8, "episodes_per_task": 4},
}
_DEFAULT_EVAL = {"point-robot": (20, 5), "halfcheetah-vel": (8, 2)}  # (test tasks, post-adaptation episodes)
_LABEL = {"maml": "MAML", "context-maml": "Context-MAML", "hyper-maml": "Hyper-MAML"}


@dataclass
class StudyConfig:
    """What the study runs (defaults: the committed ``results/mini-maml`` report)."""

    families: tuple[str, ...] = ("point-robot",)
    """task families, in order"""
    variants: tuple[str, ...] = ("maml", "context-maml", "hyper-maml")
    """MAML variants"""
    seeds: tuple[int, ...] = (0, 1, 2)
    """training seeds"""
    iterations: dict[str, int] = field(default_factory=lambda: dict(_DEFAULT_ITERATIONS))
    """meta-iterations per family"""
    maml: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: dict(v) for k, v in _DEFAULT_MAML.items()})
    """:class:`~hyperbench.meta.MAMLConfig` overrides per family (everything else: the published defaults)"""
    eval_every: int = 5
    """evaluate on the test tasks every this many meta-iterations (and at 0 and the end)"""
    eval_tasks: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(_DEFAULT_EVAL))
    """per family: (number of test tasks, post-adaptation episodes per task)"""
    variance_family: str | None = "point-robot"
    """family of the variance study (``None``: skip it)"""
    variance_seed: int = 0
    """training seed whose checkpoint the variance study uses"""
    variance_iteration: int = 10
    """meta-iteration of that checkpoint (mid-training: at convergence every variant's spread is small)"""
    variance_estimates: int = 50
    """K, independent meta-gradient estimates (the paper: 50)"""
    variance_eval: tuple[int, int] = (10, 5)
    """test tasks and post-adaptation episodes to evaluate each updated policy"""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _atomic_write(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _run_path(out: Path, family: str, variant: str, seed: int) -> Path:
    return out / "runs" / family / variant / f"seed-{seed}.json"


def _ckpt_path(out: Path, family: str, variant: str, seed: int, iteration: int) -> Path:
    return out / "checkpoints" / family / variant / f"seed-{seed}" / f"iter-{iteration:04d}.safetensors"


def _evaluate(learner: Any, tasks: Sequence[Any], episodes: int) -> dict[str, Any]:
    result = learner.evaluate(tasks, episodes, seed=12345)
    return {
        "pre": float(result.pre_adaptation_mean_return),
        "post": float(result.mean_return),
        "post_per_task": result.per_task_return.tolist(),
        "pre_per_task": result.pre_adaptation_returns.mean(1).tolist(),
    }


def _train_one(config: StudyConfig, out: Path, family_name: str, variant: str, seed: int, log: Any) -> dict[str, Any]:
    import torch as th
    from stable_baselines3.common.callbacks import BaseCallback

    from hyperbench.envs import make_family
    from hyperbench.meta import MAML

    th.set_num_threads(1)
    start, cpu0 = time.time(), time.process_time()
    family = make_family(family_name, seed=0)
    learner = MAML(family, variant=variant, config=dict(config.maml.get(family_name, {})), seed=seed)
    n_tasks, episodes = config.eval_tasks.get(family_name, (10, 2))
    tasks = list(family.test_tasks)[:n_tasks]
    iterations = config.iterations[family_name]
    curve: dict[str, list[Any]] = {"iteration": [], "steps": [], "pre": [], "post": []}
    train: dict[str, list[float]] = {"pre": [], "post": [], "kl": [], "step_accepted": []}
    ckpts = {}

    def record_eval(it: int) -> None:
        ev = _evaluate(learner, tasks, episodes)
        for key, value in (("iteration", it), ("steps", learner.num_timesteps), ("pre", ev["pre"]), ("post", ev["post"])):
            curve[key].append(value)
        log(f"    iter {it:3d} steps {learner.num_timesteps:8d}  test pre {ev['pre']:9.2f}  post {ev['post']:9.2f}")

    class Study(BaseCallback):
        """Once per meta-iteration: keep the training statistics, evaluate, checkpoint, stop at the budget."""

        def _on_step(self) -> bool:
            it, stats = learner.n_iterations, learner.last_update
            for key in ("pre", "post"):
                train[key].append(stats[f"train/{key}_adaptation_return"])
            train["kl"].append(stats["train/kl"])
            train["step_accepted"].append(stats["train/step_accepted"])
            if it % config.eval_every == 0 or it == iterations:
                record_eval(it)
            if family_name == config.variance_family and seed == config.variance_seed and it == config.variance_iteration:
                ckpts[str(it)] = str(learner.save(_ckpt_path(out, family_name, variant, seed, it)).relative_to(out))
            return it < iterations

    record_eval(0)
    learner.learn(total_timesteps=10**12, callback=Study())
    ckpts["final"] = str(learner.save(_ckpt_path(out, family_name, variant, seed, iterations)).relative_to(out))
    final = _evaluate(learner, tasks, episodes)
    return {
        "family": family_name,
        "variant": variant,
        "seed": seed,
        "iterations": iterations,
        "steps": learner.num_timesteps,
        "maml_config": learner.config.to_dict(),
        "n_parameters": sum(p.numel() for p in learner.policy.parameters()),
        "eval": {"tasks": len(tasks), "episodes": episodes, "adaptation_episodes": learner.config.episodes_per_task},
        "curve": curve,
        "train": train,
        "final": final,
        "checkpoints": ckpts,
        "wall_s": time.time() - start,
        "cpu_s": time.process_time() - cpu0,
    }


def run_study(config: StudyConfig, out: str | Path, log: Any = print) -> dict[str, Any]:
    """Run (or resume) the study and write its report.

    :param config: what to run
    :param out: output directory (e.g. ``results/mini-maml``)
    :param log: ``str -> None`` progress printer
    :return: the summary written to ``summary.json``
    """
    from hyperbench.diagnostics.variance import VarianceResult, meta_gradient_variance

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "study_config.json", config.to_dict())
    for family_name in config.families:
        if family_name not in config.iterations:
            raise ValueError(f"no iteration budget for family {family_name!r}; give one with --iterations {family_name}=N")
        for seed in config.seeds:  # seed-major: an interrupted study has every variant at the first seeds
            for variant in config.variants:
                path = _run_path(out, family_name, variant, seed)
                if path.exists():
                    log(f"  skip {family_name}/{variant}/seed-{seed} (done)")
                    continue
                log(f"  run  {family_name}/{variant}/seed-{seed}")
                _atomic_write(path, _train_one(config, out, family_name, variant, seed, log))
    if config.variance_family is not None:
        for variant in config.variants:
            path = out / "variance" / f"{config.variance_family}-{variant}.json"
            if path.exists():
                log(f"  skip variance {variant} (done)")
                continue
            ckpt = _ckpt_path(out, config.variance_family, variant, config.variance_seed, config.variance_iteration)
            if not ckpt.exists():
                log(f"  variance {variant}: no checkpoint {ckpt} (delete the run's JSON to retrain it); skipped")
                continue
            log(f"  variance {variant} at {ckpt.relative_to(out)} (K={config.variance_estimates})")
            result = meta_gradient_variance(
                str(ckpt),
                n_estimates=config.variance_estimates,
                eval_tasks=config.variance_eval[0],
                eval_episodes=config.variance_eval[1],
                label=_LABEL.get(variant, variant),
            )
            result.settings["checkpoint"] = str(ckpt.relative_to(out))
            _atomic_write(path, result.to_dict())
            assert isinstance(result, VarianceResult)
    return write_report(out)


# ------------------------------------------------------------------------------------------------------ report
def _normalise(family: str, value: float) -> float:
    from hyperbench.envs.reference import normalized_score

    return float(normalized_score(family, value))


def _load_runs(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*/*/seed-*.json"))]


def _plot_curves(runs: list[dict[str, Any]], families: list[str], variants: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(5.5 * len(families), 4.0), squeeze=False)
    for ax, family in zip(axes[0], families):
        for i, variant in enumerate(variants):
            rs = [r for r in runs if r["family"] == family and r["variant"] == variant]
            if not rs:
                continue
            steps = np.asarray(rs[0]["curve"]["steps"], dtype=float)
            n = min(len(r["curve"]["post"]) for r in rs)
            color = f"C{i}"
            for key, style in (("post", "-"), ("pre", "--")):
                vals = np.array([[_normalise(family, v) for v in r["curve"][key][:n]] for r in rs])
                mean, std = vals.mean(0), vals.std(0)
                label = f"{_LABEL.get(variant, variant)} ({'post' if key == 'post' else 'pre'})"
                ax.plot(steps[:n], mean, style, color=color, label=label)
                if key == "post":
                    ax.fill_between(steps[:n], mean - std, mean + std, color=color, alpha=0.15)
        ax.set_title(f"{family}: normalised test return (mean ± std over seeds)", fontsize=9)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("normalised return (0 = random, 1 = reference)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.3f} ± {std:.3f}"


def write_report(out: str | Path) -> dict[str, Any]:
    """Write ``summary.json``, ``curves.png``, ``variance.png`` (if measured) and ``report.md`` from the JSONs.

    :param out: the study directory
    :return: the summary
    """
    from hyperbench.diagnostics.variance import VarianceResult, plot_variance

    out = Path(out)
    runs = _load_runs(out)
    if not runs:
        raise FileNotFoundError(f"no finished runs under {out / 'runs'}")
    cfg = json.loads((out / "study_config.json").read_text()) if (out / "study_config.json").exists() else {}
    families = [f for f in cfg.get("families", []) if any(r["family"] == f for r in runs)] or sorted(
        {r["family"] for r in runs}
    )
    variants = [v for v in cfg.get("variants", []) if any(r["variant"] == v for r in runs)] or sorted(
        {r["variant"] for r in runs}
    )
    summary: dict[str, Any] = {"families": {}, "variance": {}, "claims": {}}
    for family in families:
        fam: dict[str, Any] = {}
        for variant in variants:
            rs = sorted((r for r in runs if r["family"] == family and r["variant"] == variant), key=lambda r: r["seed"])
            if not rs:
                continue
            post = np.array([_normalise(family, r["final"]["post"]) for r in rs])
            pre = np.array([_normalise(family, r["final"]["pre"]) for r in rs])
            auc = np.array([np.mean([_normalise(family, v) for v in r["curve"]["post"]]) for r in rs])
            fam[variant] = {
                "seeds": [r["seed"] for r in rs],
                "final_post_raw": [r["final"]["post"] for r in rs],
                "final_pre_raw": [r["final"]["pre"] for r in rs],
                "final_post": post.tolist(),
                "final_pre": pre.tolist(),
                "post_mean": float(post.mean()),
                "post_std": float(post.std(ddof=1)) if post.size > 1 else 0.0,
                "pre_mean": float(pre.mean()),
                "pre_std": float(pre.std(ddof=1)) if pre.size > 1 else 0.0,
                "adaptation_gain_mean": float((post - pre).mean()),
                "auc_mean": float(auc.mean()),
                "auc_std": float(auc.std(ddof=1)) if auc.size > 1 else 0.0,
                "steps": rs[0]["steps"],
                "iterations": rs[0]["iterations"],
                "n_parameters": rs[0]["n_parameters"],
                "wall_s_mean": float(np.mean([r["wall_s"] for r in rs])),
            }
        summary["families"][family] = fam
    var_results, var_returns = [], {}
    variance_family = cfg.get("variance_family", StudyConfig.variance_family)
    for variant in variants:
        path = out / "variance" / f"{variance_family}-{variant}.json"
        if path.exists():
            res = VarianceResult.from_dict(json.loads(path.read_text()))
            var_results.append(res)
            var_returns[variant] = res.returns
            summary["variance"][variant] = {**res.summary(), "settings": res.settings}
    if var_results:
        plot_variance(var_results, out / "variance.png")
    _plot_curves(runs, families, variants, out / "curves.png")
    summary["claims"] = _claims(summary, var_returns)
    summary["total_wall_s"] = float(sum(r["wall_s"] for r in runs)) + float(
        sum(v["settings"].get("wall_s", 0.0) for v in summary["variance"].values())
    )
    summary["environment"] = {"python": sys.version.split()[0], "platform": platform.platform()}
    _atomic_write(out / "summary.json", summary)
    (out / "report.md").write_text(_markdown(summary, cfg, runs, out))
    return summary


def _std_ratio_ci(a: np.ndarray, b: np.ndarray, reps: int = 5000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of std(a) / std(b) (independent resampling of both)."""
    rng = np.random.default_rng(seed)
    ra = rng.choice(a, size=(reps, a.size)).std(axis=1, ddof=1)
    rb = rng.choice(b, size=(reps, b.size)).std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of identical values has std 0
        ratios = ra / rb
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def _claims(summary: Mapping[str, Any], var_returns: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for family, fam in summary["families"].items():
        if "hyper-maml" not in fam or "context-maml" not in fam:
            continue
        h, c = fam["hyper-maml"], fam["context-maml"]
        # Nothing to compare if no method got clearly above the random policy (e.g. too small a budget).
        learned = max(v["post_mean"] for v in fam.values()) > 0.05
        ratio = h["post_mean"] / c["post_mean"] if c["post_mean"] > 0 else float("nan")
        wins = sum(a > b for a, b in zip(h["final_post"], c["final_post"]))
        if not learned:
            verdict = "inconclusive (no method learned: every final score ≤ 0.05)"
        elif ratio >= 1.25 and wins == len(h["final_post"]):
            verdict = "supported"
        elif ratio < 1.1:
            verdict = "not supported"
        else:
            verdict = "inconclusive"
        claims[f"{family}: hyper ≈ +50% over context"] = {
            "ratio_of_normalised_final_post": ratio,
            "ratio_of_normalised_curve_mean": h["auc_mean"] / c["auc_mean"] if c["auc_mean"] > 0 else float("nan"),
            "hyper_wins_seeds": f"{wins}/{len(h['final_post'])}",
            "verdict": verdict,
            "rule": "on the final post-adaptation score: supported if ratio >= 1.25 and Hyper-MAML is ahead on every "
            "seed; not supported if ratio < 1.1",
        }
        gain_h, gain_c = h["adaptation_gain_mean"], c["adaptation_gain_mean"]
        if not learned or gain_c <= 0.03:
            verdict = "inconclusive (adaptation does not help Context-MAML here either)"
        else:
            verdict = "supported" if abs(gain_h) <= 0.03 else "not supported"
        claims[f"{family}: hyper needs no adaptation (pre ≈ post)"] = {
            "hyper_post_minus_pre": gain_h,
            "context_post_minus_pre": gain_c,
            "verdict": verdict,
            "rule": "supported if |post − pre| of Hyper-MAML is at most 0.03 normalised (1 = reference) while "
            "Context-MAML gains more than 0.03. Note: with the paper's inner step 5e-5 Hyper-MAML's step is small "
            "by construction",
        }
    var = summary.get("variance", {})
    if "hyper-maml" in var and "context-maml" in var:
        sh, sc = var["hyper-maml"]["std"], var["context-maml"]["std"]
        entry: dict[str, Any] = {"std_hyper": sh, "std_context": sc, "ratio": sh / sc if sc > 0 else float("nan")}
        if var_returns and "hyper-maml" in var_returns and "context-maml" in var_returns:
            lo, hi = _std_ratio_ci(var_returns["hyper-maml"], var_returns["context-maml"])
            entry["ratio_95ci"] = f"[{lo:.2f}, {hi:.2f}]"
            verdict = "supported" if hi < 1.0 else ("not supported" if lo >= 1.0 else "inconclusive")
        else:
            lo, hi = float("nan"), float("nan")
            verdict = "supported" if sh < 0.8 * sc else ("not supported" if sh >= sc else "inconclusive")
        claims["lower meta-gradient variance (hyper vs context)"] = {
            **entry,
            "verdict": verdict,
            "rule": "std of the K updated policies' returns, hyper / context: supported if the 95% bootstrap interval "
            "of the ratio lies below 1, not supported if it lies at or above 1, else inconclusive",
        }
    return claims


def _command(cfg: Mapping[str, Any], out: str | Path) -> str:
    """The ``hyperbench diagnose maml-study`` command line that reproduces a study config into ``out``."""
    d = StudyConfig()
    parts = [f"hyperbench diagnose maml-study --out {out}"]
    families = cfg.get("families", list(d.families))
    if list(families) != list(d.families):
        parts.append("--families " + " ".join(families))
    if list(cfg.get("seeds", d.seeds)) != list(d.seeds):
        parts.append("--seeds " + " ".join(str(x) for x in cfg["seeds"]))
    its = {f: n for f, n in cfg.get("iterations", {}).items() if f in families and d.iterations.get(f) != n}
    if its:
        parts.append("--iterations " + " ".join(f"{f}={n}" for f, n in its.items()))
    if cfg.get("variance_estimates", d.variance_estimates) != d.variance_estimates:
        parts.append(f"--variance-estimates {cfg['variance_estimates']}")
    return " ".join(parts)


def _markdown(summary: Mapping[str, Any], cfg: Mapping[str, Any], runs: list[dict[str, Any]], out: str | Path) -> str:
    lines = [
        "# Mini MAML study: MAML vs Context-MAML vs Hyper-MAML",
        "",
        "Generated by `hyperbench diagnose maml-study` (hyperbench/diagnostics/maml_study.py) from the per-run JSON",
        "files in `runs/` and `variance/`; do not edit by hand. Claims checked: Sarafian, Keynan & Kraus (ICML 2021)",
        "— Hyper-MAML ≈ +50% over Context-MAML, Hyper-MAML needs no adaptation step, lower meta-gradient variance.",
        "",
        "**Scale caveat.** These are CPU-sized runs (a few dozen meta-iterations with small meta-batches; the paper",
        "used 40 tasks × 20 episodes per meta-batch for hundreds of iterations on MuJoCo). Returns come from",
        "hyperbench's Gymnasium-v5 task families and will not match the paper's numbers.",
        "",
        "## Setup",
        "",
        "| family | meta-iterations | env steps per run | MAML overrides | test evaluation |",
        "| --- | --- | --- | --- | --- |",
    ]
    for family, fam in summary["families"].items():
        any_v = next(iter(fam.values()))
        overrides = cfg.get("maml", {}).get(family, {})
        ev = next(r["eval"] for r in runs if r["family"] == family)
        lines.append(
            f"| {family} | {any_v['iterations']} | {any_v['steps']:,} | `{json.dumps(overrides)}` | "
            f"{ev['tasks']} test tasks × ({ev['adaptation_episodes']} adaptation + {ev['episodes']} post) episodes |"
        )
    lines += [
        "",
        "Everything else is the published MAML setup (MAMLConfig defaults): policy 2×100 ReLU (Hyper-MAML: the same",
        "2×100 network generated by a `lite` primary from the oracle context, Bias-HyperInit), one inner policy-gradient",
        "step of 0.1 (Hyper-MAML: 5e-5, the paper's value), TRPO meta-step with max KL 0.01, 10 CG iterations,",
        "γ = 0.99, GAE λ = 1 with a linear feature baseline. Seeds: " + ", ".join(str(s) for s in cfg.get("seeds", [])) + ".",
        "Scores are normalised with hyperbench's reference table (0 = uniform-random policy, 1 = reference return).",
        "",
        "## Final test return (normalised; mean ± std over seeds)",
        "",
        "| family | method | post-adaptation | pre-adaptation | post − pre | mean over the curve | parameters |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for family, fam in summary["families"].items():
        for variant, v in fam.items():
            lines.append(
                f"| {family} | {_LABEL.get(variant, variant)} | {_fmt(v['post_mean'], v['post_std'])} | "
                f"{_fmt(v['pre_mean'], v['pre_std'])} | {v['adaptation_gain_mean']:+.3f} | "
                f"{_fmt(v['auc_mean'], v['auc_std'])} | {v['n_parameters']:,} |"
            )
    lines += ["", "Raw final post-adaptation returns per seed:", ""]
    for family, fam in summary["families"].items():
        for variant, v in fam.items():
            vals = ", ".join(f"{x:.2f}" for x in v["final_post_raw"])
            lines.append(f"- {family} / {_LABEL.get(variant, variant)}: {vals}")
    lines += ["", "![learning curves](curves.png)", ""]
    if summary.get("variance"):
        lines += [
            "## Meta-gradient variance",
            "",
            "At one checkpoint per variant, K independent meta-steps (each from its own freshly sampled meta-batch) are",
            "applied one at a time and each updated policy is evaluated on the same test tasks with the same seed.",
            "",
            "| method | checkpoint | K | mean return | std | IQR | before the step | steps accepted | rel. step variance |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for variant, v in summary["variance"].items():
            s = v["settings"]
            lines.append(
                f"| {_LABEL.get(variant, variant)} | `{s.get('checkpoint', '?')}` | {s['n_estimates']} | {v['mean']:.2f} | "
                f"{v['std']:.3f} | {v['iqr']:.3f} | {v['base_return']:.2f} | {v['accepted_fraction']:.0%} | "
                f"{v['relative_step_variance']:.2f} |"
            )
        lines += [
            "",
            "Returns here are raw (not normalised). The relative step variance E‖s−s̄‖²/‖s̄‖² is in parameter space and",
            "only comparable within one architecture.",
            "",
            "![variance](variance.png)",
            "",
        ]
    lines += ["## The paper's claims at this scale", "", "| claim | numbers | rule | verdict |", "| --- | --- | --- | --- |"]
    for claim, c in summary["claims"].items():
        nums = ", ".join(
            f"{k} = {v:.3f}" if isinstance(v, float) else f"{k} = {v}" for k, v in c.items() if k not in ("verdict", "rule")
        )
        rule = str(c["rule"]).replace("|", "\\|")  # a literal pipe would end the table cell
        lines.append(f"| {claim} | {nums} | {rule} | **{c['verdict']}** |")
    lines += [
        "",
        f"Total compute: {summary.get('total_wall_s', 0.0) / 60:.1f} min wall on one core "
        f"({summary['environment']['platform']}, Python {summary['environment']['python']}).",
        "",
        "Reproduce (resumable; delete a file under `runs/` or `variance/` to recompute it):",
        "",
        f"    {_command(cfg, out)}",
        "",
    ]
    return "\n".join(lines)
