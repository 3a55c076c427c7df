"""Decide each claim from the results directories of this repository.

One :class:`Finding` per (claim, evidence): our figure with its 95% CI, the scale of the run, and a verdict.

Verdicts: ``supported`` / ``not supported`` / ``inconclusive at this scale`` (only for confirmatory
evidence: a complete grid of a suite that pre-registered the claim for these methods in its ``claims:``
field), ``exploratory`` (any other result: the rule is applied to describe it, never to support it),
``not yet run`` (nothing to read yet, a partial grid, or no learner to run).

Rule kinds (``Rule.kind``):

- ``better`` / ``worse``: Δ = mean normalised final return of the method − its baseline (per-task means
  averaged over tasks), 95% stratified-bootstrap CI resampling each method's runs within each task
  (rliable), and rliable's probability of improvement P(method > baseline) with its CI;
- ``fewer-steps``: per task, the fraction of the budget at which the method's mean curve first reaches the
  baseline's mean final return (∞ if never), percentile-bootstrap CI over each method's seeds;
- ``order``: P(better > worse) for each consecutive pair of ``Evidence.methods``;
- ``no-adaptation``: the maml-study's normalised post − pre-adaptation score, bootstrap CI over seeds;
- ``lower-variance``: ratio of the return standard deviations after K meta-gradient steps, bootstrap CI
  over the K estimates (the maml-variance JSON files);
- ``higher-grad-cs``: per run, the mean gradient cosine similarity over the states of each grad-cs
  measurement the suite took during training (``diagnostics/<method>/<task>/seed-<k>/grad_cs.json``),
  averaged over the measurements; Δ = mean over seeds of the method minus the baseline, percentile-bootstrap
  CI resampling each method's seeds independently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperbench.claims.registry import CLAIMS, Claim, Evidence

__all__ = ["VERDICTS", "Finding", "evaluate_claim", "evaluate_claims"]

#: Every verdict a finding can have.
VERDICTS: tuple[str, ...] = (
    "supported",
    "not supported",
    "inconclusive at this scale",
    "exploratory",
    "not yet run",
)

Reference = Callable[[str], "tuple[float, float] | None"]


@dataclass(frozen=True)
class Finding:
    """What one results directory says about one claim."""

    claim: str
    evidence: str
    """the evidence's label (``—`` when there is none)"""
    kind: str
    """``confirmatory``, ``exploratory`` or ``none``"""
    figure: str
    """our figure with its CI, in words (``—`` if not run)"""
    scale: str
    """the scale of our run (tasks, seeds, budget)"""
    verdict: str
    """one of :data:`VERDICTS`"""
    rule_verdict: str | None = None
    """what the rule says about these numbers (for exploratory evidence: what it *would* say)"""
    values: Mapping[str, Any] | None = None
    """the numbers behind ``figure`` (JSON-able)"""

    def to_dict(self) -> dict[str, Any]:
        """Plain form."""
        return asdict(self)


class _NotReady(Exception):
    """The evidence cannot be evaluated (yet); the message says why."""


# ----------------------------------------------------------------------------------------------------
# Reading a suite's runs


@dataclass
class _SuiteRuns:
    name: str
    seeds: list[int]
    expected: int
    done: int
    finals: dict[str, np.ndarray]
    """method → (runs, tasks) normalised final scores over ``tasks``"""
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]
    """method → task → (steps, (runs, points) raw returns)"""
    finals_raw: dict[str, np.ndarray]
    tasks: list[str]
    budgets: dict[str, int]
    preregistered: set[tuple[str, str, str]]
    """(claim id, method, baseline) the suite file pre-registered"""
    directory: Path
    """the results directory (diagnostics live under it)"""


def _references(info: Any, reference: Reference | None) -> dict[str, tuple[float, float] | None]:
    from hyperbench.bench.stats import default_reference
    from hyperbench.bench.tasks import UnknownTaskError, resolve_task

    lookup = reference or default_reference
    refs: dict[str, tuple[float, float] | None] = {}
    for task in info.tasks:
        try:
            name = resolve_task(task, info.env_kwargs.get(task, {})).reference_name
        except UnknownTaskError:
            name = task
        value = lookup(name)
        refs[task] = value if value is not None else info.references.get(task)
    return refs


def _read_suite_runs(
    directory: Path, methods: Sequence[str], tasks: Sequence[str] | None, reference: Reference | None
) -> _SuiteRuns:
    from hyperbench.bench.record import load_records
    from hyperbench.bench.report import SuiteInfo
    from hyperbench.bench.stats import build_matrices

    suite_file = directory / "suite.json"
    if not suite_file.is_file():
        raise _NotReady(f"no runs yet ({suite_file} does not exist)")
    raw = json.loads(suite_file.read_text(encoding="utf-8"))
    info = SuiteInfo.from_json(raw)
    unknown = [m for m in methods if m not in info.methods]
    if unknown:
        raise ValueError(f"{directory}: methods {unknown} are not in its suite (it has {', '.join(info.methods)})")
    shared = [t for t in info.methods[methods[0]] if all(t in info.methods[m] for m in methods)]
    if tasks is not None:
        missing = [t for t in tasks if t not in shared]
        if missing:
            raise ValueError(f"{directory}: tasks {missing} are not run by all of {list(methods)}")
        shared = list(tasks)
    in_grid = {(m, t, s) for m in methods for t in shared for s in info.seeds}
    records = [r for r in load_records(directory) if (r.method, r.task, r.seed) in in_grid]
    done = sum(1 for r in records if r.ok)
    data = build_matrices(records, {m: shared for m in methods}, info.seeds, _references(info, reference))
    prereg = {(c["id"], c["method"], c["baseline"]) for c in raw.get("claims") or []}
    return _SuiteRuns(
        name=info.name,
        seeds=list(info.seeds),
        expected=len(in_grid),
        done=done,
        finals={m: data.methods[m].final for m in methods},
        finals_raw={m: data.methods[m].final_raw for m in methods},
        curves={m: data.methods[m].curve_raw for m in methods},
        tasks=shared,
        budgets=data.budgets,
        preregistered=prereg,
        directory=directory,
    )


def _fmt_steps(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)


def _suite_scale(runs: _SuiteRuns) -> str:
    n_runs = {m: a.shape[0] for m, a in runs.finals.items()}
    budgets = sorted({runs.budgets[t] for t in runs.tasks if t in runs.budgets})
    seeds = min(n_runs.values()) if n_runs else 0
    return (
        f"{len(runs.tasks)} task{'s' if len(runs.tasks) != 1 else ''} ({', '.join(runs.tasks)}) × {seeds} seeds, "
        f"{'/'.join(_fmt_steps(b) for b in budgets)} steps"
    )


# ----------------------------------------------------------------------------------------------------
# Statistics


def _seeded(seed: int) -> None:
    # rliable draws its bootstrap indices from the global np.random whatever random_state says
    np.random.seed(seed)


def mean_difference(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``x`` minus mean of ``y`` (each the average of per-task means) with a stratified-bootstrap CI.

    Each matrix is resampled independently within each task (rliable's independent stratified bootstrap).

    :param x: ``(runs_x, tasks)`` normalised scores
    :param y: ``(runs_y, tasks)`` normalised scores over the same tasks
    :param reps: bootstrap replications
    :param seed: seed of the global generator before the bootstrap
    :return: ``(point, low, high)`` of the 95% CI
    """
    from rliable import library as rly

    _seeded(seed)
    points, intervals = rly.get_interval_estimates(
        {"pair": [np.asarray(x, dtype=float), np.asarray(y, dtype=float)]},
        lambda a, b: np.array([np.mean(a.mean(axis=0)) - np.mean(b.mean(axis=0))]),
        reps=reps,
    )
    return float(points["pair"][0]), float(intervals["pair"][0, 0]), float(intervals["pair"][1, 0])


def poi(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """P(X > Y) with rliable's stratified-bootstrap CI (:func:`hyperbench.bench.stats.probability_of_improvement`).

    :param x: ``(runs_x, tasks)`` scores
    :param y: ``(runs_y, tasks)`` scores
    :param reps: bootstrap replications
    :param seed: bootstrap seed
    :return: ``(point, low, high)``
    """
    from hyperbench.bench.stats import probability_of_improvement

    return probability_of_improvement({"x": x, "y": y}, "y", reps=reps, seed=seed)["x"]


def steps_fraction(
    steps: np.ndarray, method_curves: np.ndarray, baseline_finals: np.ndarray, budget: int, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Fraction of the budget at which the method's mean curve first reaches the baseline's mean final return.

    :param steps: ``(points,)`` evaluation steps
    :param method_curves: ``(runs, points)`` raw returns of the method
    :param baseline_finals: ``(runs_b,)`` raw final returns of the baseline
    :param budget: the run budget
    :param reps: bootstrap replications (seeds of each method resampled independently)
    :param seed: seed of the bootstrap generator
    :return: ``(point, low, high)``; ``inf`` where the target is never reached
    """
    steps = np.asarray(steps, dtype=float)
    curves = np.asarray(method_curves, dtype=float)
    finals = np.asarray(baseline_finals, dtype=float)

    def first(mean_curve: np.ndarray, target: float) -> float:
        hit = np.nonzero(mean_curve >= target)[0]
        return float(steps[hit[0]] / budget) if hit.size else math.inf

    point = first(curves.mean(axis=0), float(finals.mean()))
    rng = np.random.default_rng(seed)
    boot = np.empty(reps)
    for i in range(reps):
        c = curves[rng.integers(0, len(curves), len(curves))].mean(axis=0)
        b = finals[rng.integers(0, len(finals), len(finals))].mean()
        boot[i] = first(c, float(b))
    # 'lower' / 'higher' pick actual bootstrap values, so "never" (inf) stays a valid bound
    low, high = np.percentile(boot, 2.5, method="lower"), np.percentile(boot, 97.5, method="higher")
    return point, float(low), float(high)


def bootstrap_mean(values: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean with a 95% percentile-bootstrap CI.

    :param values: samples
    :param reps: bootstrap replications
    :param seed: generator seed
    :return: ``(point, low, high)``
    """
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    boot = v[rng.integers(0, len(v), (reps, len(v)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(v.mean()), float(low), float(high)


def bootstrap_difference(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """mean(x) − mean(y) with a 95% percentile-bootstrap CI, each sample resampled independently.

    :param x: samples of the first group (e.g. one value per seed)
    :param y: samples of the second group
    :param reps: bootstrap replications
    :param seed: generator seed
    :return: ``(point, low, high)``
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    boot = a[rng.integers(0, len(a), (reps, len(a)))].mean(axis=1) - b[rng.integers(0, len(b), (reps, len(b)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(a.mean() - b.mean()), float(low), float(high)


def std_ratio(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """std(x) / std(y) (ddof = 1) with a 95% percentile-bootstrap CI, each sample resampled independently.

    :param x: samples of the numerator
    :param y: samples of the denominator
    :param reps: bootstrap replications
    :param seed: generator seed
    :return: ``(point, low, high)``
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    num = a[rng.integers(0, len(a), (reps, len(a)))].std(axis=1, ddof=1)
    den = b[rng.integers(0, len(b), (reps, len(b)))].std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = np.percentile(num / den, [2.5, 97.5])
    return float(a.std(ddof=1) / b.std(ddof=1)), float(low), float(high)


def _ci(t: tuple[float, float, float], digits: int = 2, signed: bool = False) -> str:
    def f(v: float) -> str:
        if math.isinf(v):
            return "never"
        return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"

    return f"{f(t[0])} [{f(t[1])}, {f(t[2])}]"


# ----------------------------------------------------------------------------------------------------
# Rules


def _decide_better(
    delta: tuple[float, float, float], p: tuple[float, float, float], params: Mapping[str, float], sign: int
) -> str:
    d0, p0 = params.get("delta", 0.0), params.get("poi", 0.5)
    if sign > 0:
        if delta[1] > d0 and p[1] > p0:
            return "supported"
        if delta[2] <= d0:
            return "not supported"
    else:
        if delta[2] < d0 and p[2] < p0:
            return "supported"
        if delta[1] >= d0:
            return "not supported"
    return "inconclusive at this scale"


def _eval_better(claim: Claim, ev: Evidence, runs: _SuiteRuns, reps: int, seed: int) -> tuple[str, str, dict[str, Any]]:
    method, baseline = ev.methods
    x, y = runs.finals[method], runs.finals[baseline]
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise _NotReady("no complete seed")
    delta = mean_difference(x, y, reps=reps, seed=seed)
    p = poi(x, y, reps=reps, seed=seed)
    per_task = {t: float(x[:, j].mean() - y[:, j].mean()) for j, t in enumerate(runs.tasks)}
    verdict = _decide_better(delta, p, claim.rule.params, +1 if claim.rule.kind == "better" else -1)
    figure = f"Δ {_ci(delta, signed=True)}, P {_ci(p)}"
    values = {"delta": list(delta), "poi": list(p), "per_task_delta": per_task, "runs": [int(x.shape[0]), int(y.shape[0])]}
    return figure, verdict, values


def _eval_steps(claim: Claim, ev: Evidence, runs: _SuiteRuns, reps: int, seed: int) -> tuple[str, str, dict[str, Any]]:
    method, baseline = ev.methods
    per_task: dict[str, tuple[float, float, float]] = {}
    for j, t in enumerate(runs.tasks):
        steps, curves = runs.curves[method][t]
        if curves.size == 0 or runs.finals_raw[baseline].shape[0] == 0:
            raise _NotReady("no complete seed")
        per_task[t] = steps_fraction(steps, curves, runs.finals_raw[baseline][:, j], runs.budgets[t], reps=reps, seed=seed)
    limit = claim.rule.params.get("fraction", 1.0)
    if all(v[2] < limit for v in per_task.values()):
        verdict = "supported"
    elif all(v[1] >= limit for v in per_task.values()):
        verdict = "not supported"
    else:
        verdict = "inconclusive at this scale"
    figure = "; ".join(f"{t}: f {_ci(v)}" for t, v in per_task.items())
    values = {"per_task": {t: [None if math.isinf(a) else a for a in v] for t, v in per_task.items()}}
    return figure, verdict, values


def _eval_order(claim: Claim, ev: Evidence, runs: _SuiteRuns, reps: int, seed: int) -> tuple[str, str, dict[str, Any]]:
    pairs = list(zip(ev.methods[:-1], ev.methods[1:]))
    ps = {}
    for a, b in pairs:
        if runs.finals[a].shape[0] == 0 or runs.finals[b].shape[0] == 0:
            raise _NotReady("no complete seed")
        ps[f"{a} > {b}"] = poi(runs.finals[a], runs.finals[b], reps=reps, seed=seed)
    p0 = claim.rule.params.get("poi", 0.5)
    if all(p[1] > p0 for p in ps.values()):
        verdict = "supported"
    elif any(p[2] < p0 for p in ps.values()):
        verdict = "not supported"
    else:
        verdict = "inconclusive at this scale"
    figure = "; ".join(f"P({k}) {_ci(v)}" for k, v in ps.items())
    return figure, verdict, {"poi": {k: list(v) for k, v in ps.items()}}


def _eval_no_adaptation(
    claim: Claim, ev: Evidence, directory: Path, reps: int, seed: int
) -> tuple[str, str, str, dict[str, Any]]:
    path = directory / "summary.json"
    if not path.is_file():
        raise _NotReady(f"no {path}")
    families = json.loads(path.read_text(encoding="utf-8"))["families"]
    family = (ev.tasks or ("point-robot",))[0]
    hyper, other = ev.methods
    try:
        h, o = families[family][hyper], families[family][other]
    except KeyError as exc:
        raise ValueError(f"{path}: no {exc} entry") from exc
    dh = bootstrap_mean(np.subtract(h["final_post"], h["final_pre"]), reps=reps, seed=seed)
    do = bootstrap_mean(np.subtract(o["final_post"], o["final_pre"]), reps=reps, seed=seed)
    m = claim.rule.params.get("margin", 0.03)
    if -m <= dh[1] and dh[2] <= m and do[1] > m:
        verdict = "supported"
    elif dh[2] < -m or dh[1] > m:
        verdict = "not supported"
    else:
        verdict = "inconclusive at this scale"
    figure = f"post − pre: {hyper} {_ci(dh, 3, True)}, {other} {_ci(do, 3, True)}"
    scale = f"{family}, {len(h['final_post'])} seeds, {h.get('iterations', '?')} meta-iterations"
    return figure, verdict, scale, {"hyper": list(dh), "other": list(do)}


def _eval_variance(claim: Claim, ev: Evidence, directory: Path, reps: int, seed: int) -> tuple[str, str, str, dict[str, Any]]:
    family = (ev.tasks or ("point-robot",))[0]
    returns = {}
    for m in ev.methods:
        path = directory / f"{family}-{m}.json"
        if not path.is_file():
            raise _NotReady(f"no {path}")
        returns[m] = np.asarray(json.loads(path.read_text(encoding="utf-8"))["returns"], dtype=float)
    a, b = ev.methods
    ratio = std_ratio(returns[a], returns[b], reps=reps, seed=seed)
    r0 = claim.rule.params.get("ratio", 1.0)
    if ratio[2] < r0:
        verdict = "supported"
    elif ratio[1] >= r0:
        verdict = "not supported"
    else:
        verdict = "inconclusive at this scale"
    figure = f"std ratio {a} / {b} {_ci(ratio)}"
    scale = f"{family}, K = {len(returns[a])} estimates at one checkpoint"
    return figure, verdict, scale, {"std_ratio": list(ratio)}


def _grad_cs_per_run(runs: _SuiteRuns, method: str) -> np.ndarray:
    """One value per (task, seed) run of ``method``: its grad-cs means averaged over the measurements."""
    from hyperbench.bench.record import task_slug
    from hyperbench.diagnostics.grad_cs_callback import load_curve

    values = []
    for task in runs.tasks:
        for s in runs.seeds:
            path = runs.directory / "diagnostics" / method / task_slug(task) / f"seed-{s}" / "grad_cs.json"
            if not path.is_file():
                raise _NotReady(f"no grad-cs measurement for {method} on {task}, seed {s} ({path})")
            means = [m["summary"]["mean_cs"] for m in load_curve(path)["measurements"]]
            finite = [float(v) for v in means if v is not None and math.isfinite(float(v))]
            if finite:
                values.append(float(np.mean(finite)))
    if not values:
        raise _NotReady(f"no defined grad-cs measurement for {method}")
    return np.asarray(values)


def _eval_grad_cs(claim: Claim, ev: Evidence, runs: _SuiteRuns, reps: int, seed: int) -> tuple[str, str, dict[str, Any]]:
    method, baseline, *others = ev.methods
    cs = {m: _grad_cs_per_run(runs, m) for m in ev.methods}
    delta = bootstrap_difference(cs[method], cs[baseline], reps=reps, seed=seed)
    d0 = claim.rule.params.get("delta", 0.0)
    if delta[1] > d0:
        verdict = "supported"
    elif delta[2] <= d0:
        verdict = "not supported"
    else:
        verdict = "inconclusive at this scale"
    figure = f"mean CS {method} {np.mean(cs[method]):.2f}, {baseline} {np.mean(cs[baseline]):.2f}; Δ {_ci(delta, signed=True)}"
    values: dict[str, Any] = {
        "delta": list(delta),
        "mean_cs": {m: float(np.mean(v)) for m, v in cs.items()},
        "runs": {m: int(v.size) for m, v in cs.items()},
    }
    for other in others:  # reported alongside, not deciding
        d = bootstrap_difference(cs[method], cs[other], reps=reps, seed=seed)
        figure += f"; vs {other} Δ {_ci(d, signed=True)}"
        values[f"delta_vs_{other}"] = list(d)
    return figure, verdict, values


_SUITE_RULES = {
    "better": _eval_better,
    "worse": _eval_better,
    "fewer-steps": _eval_steps,
    "order": _eval_order,
    "higher-grad-cs": _eval_grad_cs,
}


def _evaluate_one(claim: Claim, ev: Evidence, root: Path, reps: int, seed: int, reference: Reference | None) -> Finding:
    directory = root / ev.results
    kind = "confirmatory" if ev.confirmatory else "exploratory"
    try:
        if ev.source == "suite":
            runs = _read_suite_runs(directory, ev.methods, ev.tasks, reference)
            scale = _suite_scale(runs)
            if ev.confirmatory:
                if (claim.id, ev.methods[0], ev.methods[1]) not in runs.preregistered:
                    kind = "exploratory"  # the suite that ran did not fix this rule in advance
                elif runs.done < runs.expected:
                    raise _NotReady(f"{runs.done} of {runs.expected} runs done")
            figure, rule_verdict, values = _SUITE_RULES[claim.rule.kind](claim, ev, runs, reps, seed)
        elif ev.source == "maml-study":
            figure, rule_verdict, scale, values = _eval_no_adaptation(claim, ev, directory, reps, seed)
        elif ev.source == "maml-variance":
            figure, rule_verdict, scale, values = _eval_variance(claim, ev, directory, reps, seed)
        else:
            raise ValueError(f"claim {claim.id!r}: unknown evidence source {ev.source!r}")
    except _NotReady as exc:  # paths in the message relative to the root, so the table does not depend on it
        return Finding(claim.id, ev.label, kind, "—", str(exc).replace(str(directory), ev.results), "not yet run")
    verdict = rule_verdict if kind == "confirmatory" else "exploratory"
    return Finding(claim.id, ev.label, kind, figure, scale, verdict, rule_verdict, values)


def evaluate_claim(
    claim: Claim, root: str | Path = ".", *, reps: int = 2000, seed: int = 0, reference: Reference | None = None
) -> list[Finding]:
    """Every finding of one claim (one ``not yet run`` finding if it has no evidence).

    :param claim: the claim
    :param root: the repository root its evidence paths are relative to
    :param reps: bootstrap replications
    :param seed: bootstrap seed
    :param reference: task → (random, reference) returns (default: ``hyperbench.envs.reference``, then the
        suite file's own references)
    :return: findings, in the claim's evidence order
    """
    if not claim.evidence:
        return [Finding(claim.id, "—", "none", "—", claim.test, "not yet run")]
    return [_evaluate_one(claim, ev, Path(root), reps, seed, reference) for ev in claim.evidence]


def evaluate_claims(
    root: str | Path = ".",
    claims: Mapping[str, Claim] | None = None,
    *,
    reps: int = 2000,
    seed: int = 0,
    reference: Reference | None = None,
) -> list[Finding]:
    """Findings of every claim.

    :param root: repository root
    :param claims: the claims (default: :data:`hyperbench.claims.registry.CLAIMS`)
    :param reps: bootstrap replications
    :param seed: bootstrap seed
    :param reference: see :func:`evaluate_claim`
    :return: findings, claim by claim
    """
    out: list[Finding] = []
    for claim in (claims if claims is not None else CLAIMS).values():
        out.extend(evaluate_claim(claim, root, reps=reps, seed=seed, reference=reference))
    return out
