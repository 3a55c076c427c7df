"""Statistics of a suite: normalised score matrices, rliable aggregates with CIs, and the papers' measures.

The data contract is rliable's: per method a score matrix of shape ``(num_runs, num_tasks)`` (seeds ×
tasks), or ``(num_runs, num_tasks, num_points)`` for learning curves, holding **normalised** scores

    normalised = (return − random_return) / (reference_return − random_return)

with the per-task (random, reference) returns of ``hyperbench.envs.reference`` (or the suite's own
``reference`` for tasks missing there). Every bootstrap goes through rliable; because rliable's bootstrap
indices come from the global ``np.random`` whatever ``random_state`` says (docs/sources.md §9), the global
generator is seeded right before each call, once per method, so a method's interval does not depend on
which other methods are in the report.

The papers' own measures (Sarafian et al. 2021) are computed on raw returns:

- **final-score gain** over the baseline on task t: ``(R̄_m − R̄_b) / |R̄_b − R_random|`` with R̄ the mean
  final return over seeds (the paper's ``(R̄_m − R̄_b) / R̄_b`` when the random return is 0), averaged over
  tasks;
- **fraction of steps to reach the baseline's final score**: the first evaluation step at which the
  method's mean learning curve (mean over seeds) reaches R̄_b, divided by the budget (``None`` if it never
  does; resolution = the evaluation frequency).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hyperbench.bench.record import RunRecord

__all__ = [
    "METRIC_NAMES",
    "ScoreData",
    "aggregate_intervals",
    "bootstrap_progress",
    "build_scores",
    "default_reference",
    "final_score_gain",
    "improvement_probability",
    "interval_estimates",
    "iqm_window",
    "normalise",
    "pair_interval_estimates",
    "performance_profiles",
    "probability_of_improvement",
    "sample_efficiency",
    "steps_to_reach",
]

#: rliable's four aggregates, in the order :func:`aggregate_intervals` returns them (the report's metrics are
#: those of the registry in :mod:`hyperbench.bench.metrics`).
METRIC_NAMES: tuple[str, ...] = ("median", "iqm", "mean", "optimality_gap")

Reference = Callable[[str], "tuple[float, float] | None"]


def default_reference(task: str) -> tuple[float, float] | None:
    """(random, reference) return of a task from ``hyperbench.envs.reference``, or ``None`` if it is not there.

    :param task: task name
    """
    try:
        from hyperbench.envs.reference import reference_scores
    except ImportError:
        return None
    try:
        random_return, reference_return = reference_scores(task)
    except (KeyError, ValueError, LookupError):
        return None
    return float(random_return), float(reference_return)


def normalise(returns: np.ndarray | float, random_return: float, reference_return: float) -> np.ndarray:
    """``(returns − random) / (reference − random)``.

    :param returns: raw returns (any shape)
    :param random_return: random-policy return of the task
    :param reference_return: reference return of the task
    :return: normalised scores, same shape
    """
    return (np.asarray(returns, dtype=float) - random_return) / (reference_return - random_return)


#: Called before every bootstrap estimate (see :func:`bootstrap_progress`).
_bootstrap_listeners: list[Callable[[], None]] = []


@contextlib.contextmanager
def bootstrap_progress(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback()`` before each bootstrap estimate made inside the ``with`` block (progress display).

    :param callback: called with no arguments
    """
    _bootstrap_listeners.append(callback)
    try:
        yield
    finally:
        _bootstrap_listeners.remove(callback)


def _seed_global(seed: int) -> None:
    for callback in _bootstrap_listeners:
        callback()
    # rliable 1.2.0's StratifiedBootstrap draws indices from the global np.random (docs/sources.md), so the
    # global generator is seeded right before each call.
    np.random.seed(seed)


def aggregate_intervals(
    scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0, confidence: float = 0.95
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Median, IQM, mean and optimality gap with stratified-bootstrap CIs (rliable).

    :param scores: method → ``(num_runs, num_tasks)`` normalised scores
    :param reps: bootstrap replications
    :param seed: seed of the global generator before each method's bootstrap
    :param confidence: CI coverage
    :return: method → metric → ``(point, low, high)``
    """
    from rliable import metrics

    statistics = {name: getattr(metrics, f"aggregate_{name}") for name in METRIC_NAMES}
    return interval_estimates(scores, statistics, reps=reps, seed=seed, confidence=confidence)


def iqm_interval(
    scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[float, float, float]]:
    """IQM with its stratified-bootstrap CI for each method (rliable).

    :param scores: method → ``(num_runs, num_tasks)`` scores
    :param reps: bootstrap replications
    :param seed: seed of the global generator before each method's bootstrap
    :param confidence: CI coverage
    :return: method → ``(point, low, high)``
    """
    from rliable import library as rly
    from rliable import metrics

    out = {}
    for method, matrix in scores.items():
        _seed_global(seed)
        points, intervals = rly.get_interval_estimates(
            {method: np.asarray(matrix, dtype=float)},
            lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=reps,
            confidence_interval_size=confidence,
        )
        out[method] = (float(points[method][0]), float(intervals[method][0, 0]), float(intervals[method][1, 0]))
    return out


def improvement_probability(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y): per task, the fraction of run pairs where X beats Y (ties count ½), averaged over tasks.

    This is the Mann–Whitney U statistic over ``n_x · n_y`` that ``rliable.metrics.probability_of_improvement``
    computes through ``scipy.stats.mannwhitneyu``, counted directly with array comparisons (about 50× faster
    inside a bootstrap; equal values, checked by the tests).

    :param scores_x: ``(runs_x, tasks)`` scores of X
    :param scores_y: ``(runs_y, tasks)`` scores of Y
    :return: the probability
    """
    x = np.asarray(scores_x, dtype=float)[:, None, :]
    y = np.asarray(scores_y, dtype=float)[None, :, :]
    per_task = (x > y).mean(axis=(0, 1)) + 0.5 * (x == y).mean(axis=(0, 1))
    return float(per_task.mean())


def probability_of_improvement(
    scores: Mapping[str, np.ndarray], baseline: str, reps: int = 2000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[float, float, float]]:
    """P(X > baseline) for every other method X, with stratified independent-bootstrap CIs (rliable).

    Both matrices must cover the same tasks in the same order (pass the baseline restricted to X's tasks
    through ``scores`` by calling once per task set, as :func:`build_scores` does).

    :param scores: method → ``(num_runs, num_tasks)`` scores; must contain ``baseline``
    :param baseline: the reference method
    :param reps: bootstrap replications
    :param seed: seed of the global generator before each pair's bootstrap
    :param confidence: CI coverage
    :return: method → ``(point, low, high)`` (the baseline itself is omitted)
    """
    from rliable import library as rly

    base = np.asarray(scores[baseline], dtype=float)
    out = {}
    for method, matrix in scores.items():
        if method == baseline:
            continue
        pair = f"{method},{baseline}"
        _seed_global(seed)
        points, intervals = rly.get_interval_estimates(
            {pair: [np.asarray(matrix, dtype=float), base]},
            lambda x, y: np.array([improvement_probability(x, y)]),
            reps=reps,
            confidence_interval_size=confidence,
        )
        out[method] = (float(points[pair][0]), float(intervals[pair][0, 0]), float(intervals[pair][1, 0]))
    return out


def _score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    # rliable's default profile (fraction of runs above τ, ``np.vectorize`` over τ), computed in one comparison
    return (np.asarray(scores).reshape(-1, 1) > np.asarray(taus).reshape(1, -1)).mean(axis=0)


def performance_profiles(
    scores: Mapping[str, np.ndarray], taus: np.ndarray, reps: int = 2000, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Score distributions (fraction of runs with normalised score > τ) with bootstrap CIs (rliable).

    :param scores: method → ``(num_runs, num_tasks)`` scores
    :param taus: thresholds
    :param reps: bootstrap replications
    :param seed: seed of the global generator before each method's bootstrap
    :return: method → ``(profile (len(taus),), ci (2, len(taus)))``
    """
    from rliable import library as rly

    out = {}
    for method, matrix in scores.items():
        _seed_global(seed)
        profiles, cis = rly.create_performance_profile(
            {method: np.asarray(matrix, dtype=float)}, taus, reps=reps, custom_profile_func=_score_distribution
        )
        out[method] = (np.asarray(profiles[method]), np.asarray(cis[method]))
    return out


def sample_efficiency(
    curves: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """IQM of normalised scores at each evaluation point, with stratified-bootstrap CIs (rliable).

    :param curves: method → ``(num_runs, num_tasks, num_points)`` normalised scores
    :param reps: bootstrap replications
    :param seed: seed of the global generator before each method's bootstrap
    :param confidence: CI coverage
    :return: method → ``(iqm (num_points,), ci (2, num_points))``
    """
    import scipy.stats
    from rliable import library as rly

    out = {}
    for method, array in curves.items():
        array = np.asarray(array, dtype=float)

        def func(x: np.ndarray) -> np.ndarray:
            # metrics.aggregate_iqm(x[..., t]) for every t at once (IQM = 25% trimmed mean over runs × tasks)
            return scipy.stats.trim_mean(x.reshape(-1, x.shape[-1]), proportiontocut=0.25, axis=0)

        _seed_global(seed)
        points, intervals = rly.get_interval_estimates({method: array}, func, reps=reps, confidence_interval_size=confidence)
        out[method] = (np.asarray(points[method]), np.asarray(intervals[method]))
    return out


def final_score_gain(
    method_final: np.ndarray, baseline_final: np.ndarray, random_returns: Sequence[float | None]
) -> np.ndarray:
    """Per-task final-score gain over the baseline (see the module docstring).

    :param method_final: ``(runs_m, tasks)`` raw final returns of the method
    :param baseline_final: ``(runs_b, tasks)`` raw final returns of the baseline
    :param random_returns: random-policy return per task (``None``: use 0, i.e. the paper's formula)
    :return: ``(tasks,)`` gains (``nan`` where the baseline does not beat random)
    """
    m = np.mean(np.asarray(method_final, dtype=float), axis=0)
    b = np.mean(np.asarray(baseline_final, dtype=float), axis=0)
    r = np.array([0.0 if x is None else x for x in random_returns], dtype=float)
    denom = np.abs(b - r)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (m - b) / denom, np.nan)


def steps_to_reach(steps: np.ndarray, mean_curve: np.ndarray, target: float, budget: int) -> float | None:
    """Fraction of the budget at which a mean learning curve first reaches ``target``.

    :param steps: ``(points,)`` evaluation steps
    :param mean_curve: ``(points,)`` mean return over seeds at those steps
    :param target: the baseline's mean final return
    :param budget: the run budget
    :return: ``step / budget`` of the first point ≥ target, or ``None`` if never reached
    """
    reached = np.nonzero(np.asarray(mean_curve, dtype=float) >= target)[0]
    if reached.size == 0:
        return None
    return float(np.asarray(steps)[reached[0]] / budget)


# ----------------------------------------------------------------------------------------------------
# From records to matrices and the full score summary


@dataclass
class MethodScores:
    """One method's data over its tasks."""

    tasks: list[str]
    seeds: list[int]
    """seeds (rows) complete on every task"""
    final_raw: np.ndarray
    """(runs, tasks) raw final returns"""
    final: np.ndarray
    """(runs, tasks) normalised final scores"""
    auc: np.ndarray
    """(runs, tasks) mean normalised score over the learning curve"""
    curve_raw: dict[str, tuple[np.ndarray, np.ndarray]]
    """task → (steps, (runs, points) raw curve)"""
    dropped: list[str] = field(default_factory=list)
    """run ids left out of the matrices and why"""


@dataclass
class ScoreData:
    """Normalised matrices of every method and what went into them."""

    methods: dict[str, MethodScores]
    tasks: list[str]
    budgets: dict[str, int]
    normalisation: dict[str, dict[str, Any]]
    failures: list[dict[str, Any]]
    missing: list[str]


def build_matrices(
    records: Sequence[RunRecord],
    methods: Mapping[str, Sequence[str]],
    seeds: Sequence[int],
    reference: Mapping[str, tuple[float, float] | None],
    failed_as: str = "exclude",
) -> ScoreData:
    """Arrange records into per-method score matrices.

    A seed is a row of a method's matrix only if it has a usable record on every task of the method.
    Failed runs are left out (``failed_as="exclude"``) or scored as the random policy
    (``failed_as="random"``: normalised score 0 at every point of the curve).

    :param records: the suite's records
    :param methods: method label → its tasks, in suite order
    :param seeds: the suite's seeds
    :param reference: task → (random, reference) returns, or ``None`` to keep raw returns for that task
    :param failed_as: ``"exclude"`` or ``"random"``
    :return: matrices and bookkeeping
    """
    if failed_as not in ("exclude", "random"):
        raise ValueError(f"failed_as must be 'exclude' or 'random', got {failed_as!r}")
    by_key = {(r.method, r.task, r.seed): r for r in records}
    all_tasks: list[str] = []
    for tasks in methods.values():
        all_tasks.extend(t for t in tasks if t not in all_tasks)
    budgets: dict[str, int] = {}
    for r in records:
        budgets.setdefault(r.task, r.budget)
    failures = [
        {
            "run": f"{r.method}/{r.task}/seed-{r.seed}",
            "reason": r.failure.reason if r.failure else "",
            "step": r.failure.step if r.failure else 0,
        }
        for r in records
        if not r.ok
    ]
    missing: list[str] = []
    out: dict[str, MethodScores] = {}
    for method, tasks in methods.items():
        rows_raw, rows_auc, used, dropped = [], [], [], []
        curve_rows: dict[str, list[np.ndarray]] = {t: [] for t in tasks}
        curve_steps: dict[str, np.ndarray] = {}
        for seed in seeds:
            row, auc_row, curves, ok_row = [], [], {}, True
            for task in tasks:
                rec = by_key.get((method, task, seed))
                run_id = f"{method}/{task}/seed-{seed}"
                if rec is None:
                    missing.append(run_id)
                    dropped.append(f"{run_id}: no record")
                    ok_row = False
                    continue
                ref = reference.get(task)
                if rec.ok:
                    assert rec.final is not None
                    row.append(rec.final.return_mean)
                    steps = np.asarray(rec.curve.steps)
                    curve = np.asarray(rec.curve.return_mean, dtype=float)
                elif failed_as == "random" and ref is not None:
                    row.append(ref[0])
                    steps = np.asarray(eval_steps_of(rec))
                    curve = np.full(len(steps), ref[0])
                else:
                    dropped.append(f"{run_id}: failed ({rec.failure.reason if rec.failure else '?'})")
                    ok_row = False
                    continue
                if task in curve_steps and not np.array_equal(curve_steps[task], steps):
                    dropped.append(f"{run_id}: evaluation steps differ from the other seeds")
                    ok_row = False
                    continue
                curve_steps.setdefault(task, steps)
                curves[task] = curve
                norm_curve = normalise(curve, *ref) if ref is not None else curve
                auc_row.append(float(np.mean(norm_curve)))
            if ok_row:
                used.append(seed)
                rows_raw.append(row)
                rows_auc.append(auc_row)
                for task in tasks:
                    curve_rows[task].append(curves[task])
        final_raw = np.asarray(rows_raw, dtype=float).reshape(len(used), len(tasks))
        final = final_raw.copy()
        for j, task in enumerate(tasks):
            ref = reference.get(task)
            if ref is not None:
                final[:, j] = normalise(final_raw[:, j], *ref)
        out[method] = MethodScores(
            tasks=list(tasks),
            seeds=used,
            final_raw=final_raw,
            final=final,
            auc=np.asarray(rows_auc, dtype=float).reshape(len(used), len(tasks)),
            curve_raw={t: (curve_steps.get(t, np.zeros(0, dtype=int)), np.asarray(curve_rows[t], dtype=float)) for t in tasks},
            dropped=dropped,
        )
    normalisation = {
        t: (
            {"random": reference[t][0], "reference": reference[t][1], "normalised": True}  # type: ignore[index]
            if reference.get(t) is not None
            else {"random": None, "reference": None, "normalised": False}
        )
        for t in all_tasks
    }
    return ScoreData(
        methods=out, tasks=all_tasks, budgets=budgets, normalisation=normalisation, failures=failures, missing=missing
    )


def eval_steps_of(record: RunRecord) -> list[int]:
    """The evaluation steps a record's run was scheduled for (its full curve, even if it failed early).

    :param record: a record
    """
    from hyperbench.bench.runner import eval_points

    return eval_points(record.budget, record.eval_frequency)


def _curve_tensor(ms: MethodScores, reference: Mapping[str, tuple[float, float] | None]) -> tuple[np.ndarray, str, np.ndarray]:
    """(runs, tasks, points) normalised curves; x in steps if every task shares them, else budget fractions."""
    steps = [ms.curve_raw[t][0] for t in ms.tasks]
    same = all(np.array_equal(steps[0], s) for s in steps)
    if same:
        x, unit = np.asarray(steps[0], dtype=float), "steps"
    else:
        n = min(len(s) for s in steps)
        x, unit = np.linspace(0, 1, n + 1)[1:], "fraction of budget"
    runs = len(ms.seeds)
    out = np.zeros((runs, len(ms.tasks), len(x)))
    for j, task in enumerate(ms.tasks):
        s, raw = ms.curve_raw[task]
        ref = reference.get(task)
        norm = normalise(raw, *ref) if ref is not None else raw
        for i in range(runs):
            out[i, j] = norm[i] if same else np.interp(x, s / s[-1], norm[i])
    return out, unit, x


def _triple(t: tuple[float, float, float]) -> dict[str, Any]:
    return {"point": _num(t[0]), "ci": [_num(t[1]), _num(t[2])]}


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def interval_estimates(
    scores: Mapping[str, np.ndarray],
    statistics: Mapping[str, Callable[[np.ndarray], float]],
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Point and stratified-bootstrap CI (rliable) of several statistics of each method's score matrix.

    All statistics of a method share one rliable call, so they see the same bootstrap resamples, and the
    global generator is seeded before each method's call: a statistic's interval depends neither on the other
    statistics nor on the other methods.

    :param scores: method → ``(num_runs, num_tasks)`` scores
    :param statistics: name → function of a ``(num_runs, num_tasks)`` matrix returning a float
    :param reps: bootstrap replications
    :param seed: seed of the global generator before each method's bootstrap
    :param confidence: CI coverage
    :return: method → statistic name → ``(point, low, high)``
    """
    from rliable import library as rly

    names, funcs = list(statistics), list(statistics.values())

    def func(x: np.ndarray) -> np.ndarray:
        return np.array([f(x) for f in funcs])

    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for method, matrix in scores.items():
        _seed_global(seed)
        points, intervals = rly.get_interval_estimates(
            {method: np.asarray(matrix, dtype=float)}, func, reps=reps, confidence_interval_size=confidence
        )
        out[method] = {
            name: (float(points[method][i]), float(intervals[method][0, i]), float(intervals[method][1, i]))
            for i, name in enumerate(names)
        }
    return out


def pair_interval_estimates(
    x: np.ndarray,
    y: np.ndarray,
    statistics: Mapping[str, Callable[[np.ndarray, np.ndarray], float]],
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float, float]]:
    """Point and CI (rliable's independent stratified bootstrap of both matrices) of statistics of a pair.

    :param x: ``(runs_x, tasks)`` scores of a method
    :param y: ``(runs_y, tasks)`` scores of its baseline, same tasks in the same order
    :param statistics: name → function ``(x, y) -> float``
    :param reps: bootstrap replications
    :param seed: seed of the global generator before the bootstrap
    :param confidence: CI coverage
    :return: statistic name → ``(point, low, high)``
    """
    from rliable import library as rly

    names, funcs = list(statistics), list(statistics.values())
    _seed_global(seed)
    points, intervals = rly.get_interval_estimates(
        {"pair": [np.asarray(x, dtype=float), np.asarray(y, dtype=float)]},
        lambda a, b: np.array([f(a, b) for f in funcs]),
        reps=reps,
        confidence_interval_size=confidence,
    )
    return {
        name: (float(points["pair"][i]), float(intervals["pair"][0, i]), float(intervals["pair"][1, i]))
        for i, name in enumerate(names)
    }


def iqm_window(matrix: np.ndarray, tasks: Sequence[str]) -> dict[str, int]:
    """How many runs of each task fall inside the IQM's middle 50% (the 25% trimmed mean over runs × tasks).

    With few tasks the IQM can be fixed by the task mix (e.g. the window holding only runs of one task whose
    scores sit in the middle of the range); this count shows it. Ties at the window's edges are assigned in
    run order.

    :param matrix: ``(num_runs, num_tasks)`` scores
    :param tasks: the task names of the columns
    :return: task → runs inside the window
    """
    m = np.asarray(matrix, dtype=float)
    flat = m.ravel()
    labels = np.tile(np.arange(m.shape[1]), m.shape[0])
    cut = int(0.25 * flat.size)  # scipy.stats.trim_mean's (and so rliable's) cut on each side
    kept = labels[np.argsort(flat, kind="stable")[cut : flat.size - cut]]
    return {t: int(np.count_nonzero(kept == j)) for j, t in enumerate(tasks)}


def _restrict(ms: MethodScores, tasks: Sequence[str]) -> MethodScores:
    """A method's scores restricted to ``tasks`` (columns in that order)."""
    cols = [ms.tasks.index(t) for t in tasks]
    return MethodScores(
        tasks=list(tasks),
        seeds=ms.seeds,
        final_raw=ms.final_raw[:, cols],
        final=ms.final[:, cols],
        auc=ms.auc[:, cols],
        curve_raw={t: ms.curve_raw[t] for t in tasks},
        dropped=ms.dropped,
    )


#: Fewer runs per task than this: reports say that percentile-bootstrap intervals under-cover.
FEW_RUNS = 10
#: Fewer tasks than this: per-task results lead the report and aggregates say what they rest on.
FEW_TASKS = 5
#: ddof of every standard deviation ``scores.json`` stores (``final_return_std``: spread over seeds).
STD_DDOF = 0


def _permutation_rows(
    ms: MethodScores, base: MethodScores, reference: Mapping[str, tuple[float, float] | None], baseline: str
) -> dict[str, dict[str, Any]]:
    from hyperbench.bench.permutation import permutation_test

    out: dict[str, dict[str, Any]] = {}
    for j, t in enumerate(ms.tasks):
        result = permutation_test(ms.final_raw[:, j], base.final_raw[:, j])
        ref = reference.get(t)
        row = {"versus": baseline, **result.to_dict()}
        row["difference_normalised"] = _num(result.difference / (ref[1] - ref[0])) if ref is not None else None
        out[t] = row
    return out


def build_scores(
    records: Sequence[RunRecord],
    methods: Mapping[str, Sequence[str]],
    seeds: Sequence[int],
    baseline: str,
    reference: Mapping[str, tuple[float, float] | None],
    reps: int = 2000,
    seed: int = 0,
    failed_as: str = "exclude",
    taus: np.ndarray | None = None,
    baselines: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], ScoreData, dict[str, Any]]:
    """Everything a report shows, as JSON-able data (``scores.json``), plus the arrays the plots need.

    Every metric of :mod:`hyperbench.bench.metrics` is computed here (the registry decides which); per task,
    each method's final returns are compared with its baseline's by an exact permutation test
    (:mod:`hyperbench.bench.permutation`).

    :param records: the suite's records
    :param methods: method label → its tasks
    :param seeds: the suite's seeds
    :param baseline: the suite's baseline method label
    :param reference: task → (random, reference) returns or ``None``
    :param reps: bootstrap replications
    :param seed: bootstrap seed
    :param failed_as: how failed runs enter the matrices (see :func:`build_matrices`)
    :param taus: thresholds of the performance profiles (default: 81 points from min(0, lowest score) to
        max(1, highest score))
    :param baselines: method → the method it is compared with, where it is not ``baseline``
    :return: ``(scores_json, score_data, plot_data)``
    """
    from hyperbench.bench.metrics import MethodView, metric_table, metrics
    from hyperbench.bench.permutation import MAX_EXACT, MONTE_CARLO_RESAMPLES

    data = build_matrices(records, methods, seeds, reference, failed_as)
    usable = {m: ms for m, ms in data.methods.items() if len(ms.seeds) > 0}
    finals = {m: ms.final for m, ms in usable.items()}
    compared_with = {m: (baselines or {}).get(m) or baseline for m in data.methods}

    values: dict[str, dict[str, Any]] = {m: {} for m in data.methods}
    triples: dict[str, dict[str, tuple[float, float, float]]] = {m: {} for m in data.methods}
    for source, matrices in (("final", finals), ("auc", {m: ms.auc for m, ms in usable.items()})):
        group = metrics(source=source)
        if group and matrices:
            for m, est in interval_estimates(matrices, {g.name: g.statistic for g in group}, reps, seed).items():  # type: ignore[misc]
                triples[m].update(est)
    paired = metrics(ci=True, versus_baseline=True)
    views: dict[str, MethodView] = {}
    permutation: dict[str, dict[str, dict[str, Any]]] = {}
    for m, ms in usable.items():
        b = compared_with[m]
        base = usable.get(b)
        base_view = _restrict(base, ms.tasks) if base is not None else None
        views[m] = MethodView(m, ms, b, base_view, reference, data.budgets)
        if base_view is not None and m != b:
            if paired:
                triples[m].update(
                    pair_interval_estimates(ms.final, base_view.final, {g.name: g.statistic for g in paired}, reps, seed)  # type: ignore[misc]
                )
            permutation[m] = _permutation_rows(ms, base_view, reference, b)
    for metric in metrics():
        for m in data.methods:
            if metric.ci:
                values[m][metric.name] = _triple(triples[m][metric.name]) if metric.name in triples[m] else None
            else:
                values[m][metric.name] = metric.compute(views[m]) if m in views else None  # type: ignore[misc]

    if taus is None:
        top = max([float(np.max(ms.final)) for ms in usable.values()] + [1.0])
        bottom = min([float(np.min(ms.final)) for ms in usable.values()] + [0.0])
        taus = np.linspace(bottom, top, 81)
    profiles = performance_profiles(finals, taus, reps=reps, seed=seed) if finals else {}
    curves, units, xs = {}, {}, {}
    for m, ms in usable.items():
        curves[m], units[m], xs[m] = _curve_tensor(ms, reference)
    efficiency = sample_efficiency(curves, reps=reps, seed=seed) if curves else {}

    compute = {"wall_h": sum(r.timing.wall_s for r in records) / 3600, "cpu_h": sum(r.timing.cpu_s for r in records) / 3600}
    scores: dict[str, Any] = {
        "baseline": baseline,
        "bootstrap": {"reps": reps, "seed": seed, "confidence": 0.95, "failed_as": failed_as},
        "tasks": data.tasks,
        "normalisation": data.normalisation,
        "methods": {},
        "profiles": {"taus": [float(t) for t in taus], "methods": {}},
        "sample_efficiency": {"methods": {}},
        "failures": data.failures,
        "missing": data.missing,
        "compute": compute,
        "metrics": metric_table(),
        "statistics": {
            "std_ddof": STD_DDOF,
            "few_runs": FEW_RUNS,
            "few_tasks": FEW_TASKS,
            "permutation_test": {
                "statistic": "mean(method's final returns) − mean(baseline's), per task, seeds as units",
                "p_value": "two-sided: fraction of relabellings with |T*| ≥ |T| (observed included)",
                "max_exact": MAX_EXACT,
                "monte_carlo_resamples": MONTE_CARLO_RESAMPLES,
                "effect_size": "Cohen's d, pooled standard deviation with ddof 1",
            },
        },
    }
    for m, ms in data.methods.items():
        task_rows: dict[str, dict[str, Any]] = {}
        for j, t in enumerate(ms.tasks):
            col = ms.final_raw[:, j] if len(ms.seeds) else np.zeros(0)
            task_rows[t] = {
                "final_return_mean": _num(col.mean()) if col.size else None,
                "final_return_std": _num(col.std(ddof=STD_DDOF)) if col.size else None,
                "normalised_mean": _num(ms.final[:, j].mean()) if col.size else None,
                "auc_normalised_mean": _num(ms.auc[:, j].mean()) if col.size else None,
                "runs": int(col.size),
                "permutation_test": permutation.get(m, {}).get(t),
            }
        entry: dict[str, Any] = {
            "tasks": ms.tasks,
            "baseline": compared_with[m],
            "seeds_used": ms.seeds,
            "runs_used": len(ms.seeds) * len(ms.tasks),
            "dropped": ms.dropped,
            "aggregates": {},
        }
        for metric in metrics():
            *parents, leaf = metric.key_path
            node = entry
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = values[m][metric.name]
        entry["per_task"] = task_rows
        entry["rests_on"] = {"tasks": len(ms.tasks), "runs_per_task": len(ms.seeds), "scores": len(ms.seeds) * len(ms.tasks)}
        entry["iqm_window"] = iqm_window(ms.final, ms.tasks) if len(ms.seeds) else None
        entry["degenerate_intervals"] = [metric.name for metric in metrics(ci=True) if metric.degenerate(entry)]
        scores["methods"][m] = entry
        if m in profiles:
            scores["profiles"]["methods"][m] = {"profile": profiles[m][0].tolist(), "ci": profiles[m][1].tolist()}
        if m in efficiency:
            scores["sample_efficiency"]["methods"][m] = {
                "x": xs[m].tolist(),
                "x_unit": units[m],
                "iqm": efficiency[m][0].tolist(),
                "ci": efficiency[m][1].tolist(),
            }
    final_names = {g.name for g in metrics(source="final")}
    plot_data = {
        "aggregates": {m: {k: v for k, v in t.items() if k in final_names} for m, t in triples.items() if t},
        "poi": {m: t["probability_of_improvement"] for m, t in triples.items() if "probability_of_improvement" in t},
        "compared_with": compared_with,
        "profiles": profiles,
        "taus": taus,
        "efficiency": efficiency,
        "efficiency_x": xs,
        "efficiency_unit": units,
    }
    return scores, data, plot_data
