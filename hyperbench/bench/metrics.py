"""One declaration per statistic: the metric registry read by the report, the plots, the leaderboard and validation.

A :class:`Metric` says everything the rest of hyperbench needs to know about one number of a method: its
name (its key in ``scores.json`` and in a submission's ``summary``), the function that computes it from the
score data, whether higher or lower is better, how it is printed, whether it has a confidence interval,
and a description. ``hyperbench report`` (``report.md`` and ``scores.json``), the aggregate plot, the
leaderboard's columns and sort order, and the summary check of a submission all loop over
:func:`metrics`; none of them names a metric. Registering a metric (:func:`register_metric`) adds it to
all of them.

Three ways of computing a metric:

* ``ci=True, versus_baseline=False``: ``statistic(matrix) -> float`` over a method's ``(num_runs, num_tasks)``
  matrix of normalised final scores (``source="final"``) or of normalised learning-curve means
  (``source="auc"``); point and 95% stratified-bootstrap CI by rliable. Metrics of one source share one
  rliable call (the same bootstrap resamples), so adding one does not move the others' intervals.
* ``ci=True, versus_baseline=True``: ``statistic(x, y) -> float`` over the method's and its baseline's
  matrices (same tasks, same order); rliable's independent stratified bootstrap of the pair.
* ``ci=False``: ``compute(view) -> dict | None`` over a :class:`MethodView` (raw returns, curves, the
  baseline, references, budgets); the dict is stored as is and ``point_key`` names its headline number.

Where a value lives in a method's ``scores.json`` entry is ``path`` (default ``(name,)``); the four rliable
aggregates of schema 1 live under ``aggregates``. A metric added after schema 1 is *optional* in a
submission's summary (``required=False``): entries packed before it existed stay valid, and the board
recomputes it from their records anyway.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "MethodView",
    "Metric",
    "UnknownMetricError",
    "get_metric",
    "metric_table",
    "metrics",
    "register_metric",
    "registered",
    "unregister_metric",
]

Direction = Literal["higher", "lower"]
#: Width below which a CI counts as zero-width (degenerate).
DEGENERATE_WIDTH = 1e-12


class UnknownMetricError(KeyError):
    """A metric name that is not registered (the message names the closest)."""


@dataclass(frozen=True)
class MethodView:
    """What a ``ci=False`` metric sees of one method.

    ``scores`` and ``baseline_scores`` are :class:`hyperbench.bench.stats.MethodScores`; the baseline's
    columns are restricted to the method's tasks, in the method's order.
    """

    method: str
    scores: Any
    baseline: str
    baseline_scores: Any | None
    """``None`` when the baseline has no usable runs"""
    reference: Mapping[str, tuple[float, float] | None]
    """task → (random, reference) return, or ``None`` where the task is not normalised"""
    budgets: Mapping[str, int]
    """task → run budget (steps)"""


@dataclass(frozen=True)
class Metric:
    """One statistic of a method.

    :param name: key in ``scores.json`` and in a submission's ``summary`` (lowercase, ``_``)
    :param title: column title (report and board)
    :param description: one sentence for tooltips and the report's legend
    :param direction: ``"higher"`` or ``"lower"`` is better (sort order, ``↓`` in titles)
    :param ci: whether the metric carries a 95% bootstrap CI (``{"point", "ci"}`` in ``scores.json``)
    :param statistic: ``ci=True``: function of the score matrix (or of the method's and the baseline's)
    :param compute: ``ci=False``: function of a :class:`MethodView` returning a JSON-able dict or ``None``
    :param versus_baseline: the metric compares the method with its baseline (undefined for the baseline itself
        when ``ci=True``)
    :param source: ``ci=True`` and not versus the baseline: ``"final"`` (normalised final scores) or ``"auc"``
        (mean normalised score over each learning curve)
    :param fmt: format of the point and the CI bounds (``str.format`` spec, e.g. ``"{:.2f}"``, ``"{:+.0%}"``)
    :param text: ``ci=False``: cell text from the stored dict (default: the point through ``fmt``)
    :param path: keys of the value in a method's ``scores.json`` entry (default: ``(name,)``)
    :param point_key: ``ci=False``: the key of the headline number in the stored dict
    :param table: the report table it appears in: ``"aggregate"`` or ``"baseline"`` (the papers' measures)
    :param board: shown as a leaderboard column
    :param plot: drawn in ``aggregates.png`` (``ci=True`` metrics of final scores)
    :param required: a submission's summary must carry it (metrics of summary schema 1 only; new ones are
        optional so that stored entries stay valid)
    """

    name: str
    title: str
    description: str
    direction: Direction
    ci: bool
    statistic: Callable[..., float] | None = None
    compute: Callable[[MethodView], dict[str, Any] | None] | None = None
    versus_baseline: bool = False
    source: Literal["final", "auc"] = "final"
    fmt: str = "{:.2f}"
    text: Callable[[Mapping[str, Any]], str] | None = None
    path: tuple[str, ...] = ()
    point_key: str = "point"
    table: Literal["aggregate", "baseline"] = "aggregate"
    board: bool = True
    plot: bool = False
    required: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"metric {self.name!r}: direction must be 'higher' or 'lower', got {self.direction!r}")
        if self.ci and self.statistic is None:
            raise ValueError(f"metric {self.name!r}: a metric with a CI needs a statistic(matrix) function")
        if not self.ci and self.compute is None:
            raise ValueError(f"metric {self.name!r}: a metric without a CI needs a compute(view) function")
        if self.source not in ("final", "auc"):
            raise ValueError(f"metric {self.name!r}: source must be 'final' or 'auc', got {self.source!r}")
        if self.table not in ("aggregate", "baseline"):
            raise ValueError(f"metric {self.name!r}: table must be 'aggregate' or 'baseline', got {self.table!r}")

    @property
    def key_path(self) -> tuple[str, ...]:
        """Keys of the value in a method's ``scores.json`` entry."""
        return self.path or (self.name,)

    @property
    def lower_is_better(self) -> bool:
        """``direction == "lower"``."""
        return self.direction == "lower"

    @property
    def header(self) -> str:
        """Column title, with ``↓`` when lower is better."""
        return self.title + (" ↓" if self.lower_is_better else "")

    def value(self, entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The stored value in a method's ``scores.json`` entry (``None`` if absent).

        :param entry: ``scores.json["methods"][method]``
        """
        node: Any = entry
        for key in self.key_path:
            if not isinstance(node, Mapping) or node.get(key) is None:
                return None
            node = node[key]
        return node if isinstance(node, Mapping) else None

    def point(self, entry: Mapping[str, Any]) -> float | None:
        """The headline number (the point estimate, or ``point_key`` of a ``ci=False`` value).

        :param entry: ``scores.json["methods"][method]``
        """
        value = self.value(entry)
        point = None if value is None else value.get(self.point_key)
        return None if point is None else float(point)

    def degenerate(self, entry: Mapping[str, Any]) -> bool:
        """Whether the metric's CI has zero width (every bootstrap resample gives the same value).

        :param entry: ``scores.json["methods"][method]``
        """
        value = self.value(entry)
        if not self.ci or value is None or value.get("point") is None:
            return False
        lo, hi = value.get("ci") or (None, None)
        return lo is not None and hi is not None and abs(float(hi) - float(lo)) <= DEGENERATE_WIDTH

    def format(self, x: float | None) -> str:
        """One number through ``fmt`` (``–`` for a missing one)."""
        return "–" if x is None or not math.isfinite(x) else self.fmt.format(x)

    def cell(self, entry: Mapping[str, Any]) -> str:
        """Display text of the metric for one method: ``point [low, high]`` (``⚠ zero-width CI`` when
        degenerate) for CI metrics, the ``text`` function (or the point) otherwise; ``–`` when absent.

        :param entry: ``scores.json["methods"][method]``
        """
        value = self.value(entry)
        if value is None:
            return "–"
        if self.ci:
            if value.get("point") is None:
                return "–"
            lo, hi = value.get("ci") or (None, None)
            out = f"{self.format(value['point'])} [{self.format(lo)}, {self.format(hi)}]"
            return out + (" ⚠ zero-width CI" if self.degenerate(entry) else "")
        if self.text is not None:
            return self.text(value)
        return self.format(self.point(entry))


_REGISTRY: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add a metric; report, plots, board and validation pick it up.

    :param metric: the declaration
    :return: the metric
    :raises ValueError: the name is taken
    """
    if metric.name in _REGISTRY:
        raise ValueError(f"metric {metric.name!r} is already registered (unregister_metric it first)")
    _REGISTRY[metric.name] = metric
    return metric


def unregister_metric(name: str) -> Metric:
    """Remove a metric.

    :param name: its name
    :return: the removed metric
    :raises UnknownMetricError: not registered
    """
    get_metric(name)
    return _REGISTRY.pop(name)


@contextmanager
def registered(metric: Metric) -> Iterator[Metric]:
    """Register a metric for the duration of a ``with`` block (tests, one-off analyses).

    :param metric: the declaration
    """
    register_metric(metric)
    try:
        yield metric
    finally:
        _REGISTRY.pop(metric.name, None)


def get_metric(name: str) -> Metric:
    """A registered metric by name.

    :param name: its name
    :raises UnknownMetricError: naming the closest registered names
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownMetricError(f"no metric {name!r}{hint} (registered: {', '.join(_REGISTRY)})")


def metrics(
    *, ci: bool | None = None, source: str | None = None, versus_baseline: bool | None = None, table: str | None = None
) -> list[Metric]:
    """Registered metrics in registration order, optionally filtered.

    :param ci: only metrics with (``True``) or without (``False``) a CI
    :param source: only ``ci`` metrics of this source
    :param versus_baseline: only metrics that do (not) compare with the baseline
    :param table: only metrics of this report table
    """
    out = list(_REGISTRY.values())
    if ci is not None:
        out = [m for m in out if m.ci == ci]
    if source is not None:
        out = [m for m in out if m.ci and not m.versus_baseline and m.source == source]
    if versus_baseline is not None:
        out = [m for m in out if m.versus_baseline == versus_baseline]
    if table is not None:
        out = [m for m in out if m.table == table]
    return out


def metric_table() -> dict[str, dict[str, Any]]:
    """The registry as data (``scores.json["metrics"]``): name → title, description, direction, ci,
    versus_baseline, path, point_key, required."""
    return {
        m.name: {
            "title": m.title,
            "description": m.description,
            "direction": m.direction,
            "ci": m.ci,
            "versus_baseline": m.versus_baseline,
            "path": list(m.key_path),
            "point_key": m.point_key,
            "required": m.required,
        }
        for m in _REGISTRY.values()
    }


# ----------------------------------------------------------------------------------------------------
# The built-in metrics (summary schema 1: all required)


def _rliable(name: str) -> Callable[[np.ndarray], float]:
    def statistic(x: np.ndarray) -> float:
        from rliable import metrics as rm

        return float(getattr(rm, name)(x))

    statistic.__name__ = name
    return statistic


def _improvement(x: np.ndarray, y: np.ndarray) -> float:
    from hyperbench.bench.stats import improvement_probability

    return improvement_probability(x, y)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _gain(view: MethodView) -> dict[str, Any] | None:
    from hyperbench.bench.stats import final_score_gain

    base = view.baseline_scores
    if base is None:
        return None
    ms = view.scores
    randoms = [None if view.reference.get(t) is None else view.reference[t][0] for t in ms.tasks]  # type: ignore[index]
    g = final_score_gain(ms.final_raw, base.final_raw, randoms)
    return {
        "mean": _num(np.nanmean(g)) if np.isfinite(g).any() else None,
        "per_task": dict(zip(ms.tasks, map(_num, g))),
    }


def _steps(view: MethodView) -> dict[str, Any] | None:
    from hyperbench.bench.stats import steps_to_reach

    base = view.baseline_scores
    if base is None:
        return None
    ms = view.scores
    per_task: dict[str, float | None] = {}
    for j, t in enumerate(ms.tasks):
        target = float(np.mean(base.final_raw[:, j]))
        steps, raw = ms.curve_raw[t]
        per_task[t] = steps_to_reach(steps, raw.mean(axis=0), target, view.budgets[t]) if raw.size else None
    reached = [v for v in per_task.values() if v is not None]
    return {
        "per_task": per_task,
        "mean_where_reached": _num(np.mean(reached)) if reached else None,
        "reached": len(reached),
        "tasks": len(per_task),
    }


def _steps_text(value: Mapping[str, Any]) -> str:
    point = value.get("mean_where_reached")
    where = f"({value.get('reached', 0)}/{value.get('tasks', 0)} tasks)"
    return f"not reached {where}" if point is None else f"{point:.2f} {where}"


def _builtin() -> Sequence[Metric]:
    return (
        Metric(
            "iqm",
            "IQM",
            "interquartile mean of normalised final scores (25% trimmed mean over runs × tasks)",
            "higher",
            ci=True,
            statistic=_rliable("aggregate_iqm"),
            path=("aggregates", "iqm"),
            plot=True,
            required=True,
        ),
        Metric(
            "mean",
            "Mean",
            "mean normalised final score",
            "higher",
            ci=True,
            statistic=_rliable("aggregate_mean"),
            path=("aggregates", "mean"),
            plot=True,
            board=False,
            required=True,
        ),
        Metric(
            "median",
            "Median",
            "median over tasks of the mean normalised final score per task",
            "higher",
            ci=True,
            statistic=_rliable("aggregate_median"),
            path=("aggregates", "median"),
            plot=True,
            board=False,
            required=True,
        ),
        Metric(
            "optimality_gap",
            "Optimality gap",
            "mean shortfall below a normalised score of 1 (γ = 1)",
            "lower",
            ci=True,
            statistic=_rliable("aggregate_optimality_gap"),
            path=("aggregates", "optimality_gap"),
            plot=True,
            required=True,
        ),
        Metric(
            "auc_iqm",
            "AUC (IQM)",
            "IQM over runs × tasks of the mean normalised score over each learning curve",
            "higher",
            ci=True,
            statistic=_rliable("aggregate_iqm"),
            source="auc",
            required=True,
        ),
        Metric(
            "probability_of_improvement",
            "P(> baseline)",
            "probability that a run of the method beats a run of its baseline on the same task (Mann–Whitney U / "
            "(n_x·n_y), ties ½, averaged over tasks)",
            "higher",
            ci=True,
            statistic=_improvement,
            versus_baseline=True,
            required=True,
        ),
        Metric(
            "final_score_gain",
            "Final-score gain",
            "Sarafian et al. (2021): (R̄ − R̄_baseline) / |R̄_baseline − R_random| per task, mean over tasks",
            "higher",
            ci=False,
            compute=_gain,
            versus_baseline=True,
            fmt="{:+.0%}",
            point_key="mean",
            table="baseline",
            required=True,
        ),
        Metric(
            "steps_to_baseline_final",
            "Steps to baseline's final",
            "Sarafian et al. (2021): fraction of the budget at which the mean curve first reaches the baseline's "
            "mean final return (mean over the tasks where it does)",
            "lower",
            ci=False,
            compute=_steps,
            versus_baseline=True,
            text=_steps_text,
            point_key="mean_where_reached",
            table="baseline",
            required=True,
        ),
    )


for _metric in _builtin():
    register_metric(_metric)
