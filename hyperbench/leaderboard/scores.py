"""The board's numbers: the run records of a submission through ``hyperbench report``'s own code path.

:func:`compute_scores` lays the records out as a runs directory (``records/…`` plus the ``suite.json``
the runner writes) in a temporary directory and calls :func:`hyperbench.bench.report.make_report` on it,
so every number and plot of the board is what ``hyperbench report RUNS_DIR`` gives for the same runs
with the same bootstrap settings, by construction. Nothing is re-implemented here.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperbench.bench.files import atomic_write_json
from hyperbench.bench.record import record_path
from hyperbench.bench.suite import Suite

__all__ = [
    "SUMMARY_METRICS",
    "ScoreResult",
    "comparable_summary",
    "compute_scores",
    "suite_json",
    "summarise_scores",
    "summary_metrics",
]


def summary_metrics() -> tuple[str, ...]:
    """Numbers a submission's ``summary`` claims per method: one per registered metric
    (:mod:`hyperbench.bench.metrics`), as point estimates (they do not depend on the number of bootstrap
    replications, so the check is cheap and exact)."""
    from hyperbench.bench.metrics import metrics

    return tuple(m.name for m in metrics())


def _required() -> tuple[str, ...]:
    from hyperbench.bench.metrics import metrics

    return tuple(m.name for m in metrics() if m.required)


#: The summary metrics every submission must carry (``Metric.required``: those of submission schema 1).
SUMMARY_METRICS: tuple[str, ...] = _required()

#: Bootstrap replications used when only point estimates are needed (the summary check).
POINT_REPS = 10


@dataclass
class ScoreResult:
    """What ``make_report`` produced for one submission."""

    scores: dict[str, Any]
    """the content of ``scores.json``"""
    plots: dict[str, bytes]
    """plot name → PNG bytes"""


def suite_json(suite: Suite) -> dict[str, Any]:
    """The ``suite.json`` the runner writes next to the records (``Suite.to_dict()`` plus its hash).

    :param suite: the validated suite
    """
    return {**suite.to_dict(), "hash": suite.hash}


def compute_scores(
    suite: Suite, records: Sequence[Mapping[str, Any]], *, reps: int = 2000, seed: int = 0, plots: bool = True
) -> ScoreResult:
    """Run ``hyperbench report``'s :func:`make_report` on the records of a submission.

    :param suite: the suite the records belong to
    :param records: record dicts (the JSON form of :class:`hyperbench.bench.record.RunRecord`)
    :param reps: bootstrap replications (``hyperbench report`` default: 2000)
    :param seed: bootstrap seed (``hyperbench report`` default: 0)
    :param plots: also draw the PNG plots
    :return: ``scores.json`` and the plots
    """
    from hyperbench.bench.report import make_report

    with tempfile.TemporaryDirectory(prefix="hyperbench-board-") as tmp:
        runs = Path(tmp) / "runs"
        for rec in records:
            atomic_write_json(record_path(runs, rec["method"], rec["task"], rec["seed"]), rec)
        atomic_write_json(runs / "suite.json", suite_json(suite))
        result = make_report(runs, runs / "report", reps=reps, seed=seed, plots=plots)
        scores = json.loads(result.scores.read_text(encoding="utf-8"))
        pngs = {name: path.read_bytes() for name, path in result.plots.items()}
    return ScoreResult(scores=scores, plots=pngs)


def summarise_scores(scores: Mapping[str, Any]) -> dict[str, Any]:
    """The point estimates a submission's ``summary`` carries, taken from ``scores.json``.

    :param scores: ``scores.json`` content
    :return: ``{"grid": {...}, "methods": {method: {metric: float | None, "final_return_mean": {task: float}}}}``
        with one key per registered metric
    """
    from hyperbench.bench.metrics import metrics

    methods: dict[str, Any] = {}
    for name, entry in scores["methods"].items():
        methods[name] = {m.name: m.point(entry) for m in metrics()}
        methods[name]["final_return_mean"] = {
            t: row.get("final_return_mean") for t, row in (entry.get("per_task") or {}).items()
        }
    return {"grid": dict(scores["grid"]), "methods": methods}


def comparable_summary(actual: Mapping[str, Any], claimed: Any) -> dict[str, Any]:
    """The recomputed summary, without the optional metrics a claimed summary does not carry.

    A metric registered after an entry was packed (``Metric.required`` false) is absent from that entry's
    summary; it is recomputed from the records for the board, so its absence is not a problem. A claimed
    value of it is still checked.

    :param actual: :func:`summarise_scores` of the records
    :param claimed: the submission's ``summary``
    :return: ``actual`` with the optional metrics missing from ``claimed`` removed
    """
    from hyperbench.bench.metrics import metrics

    optional = {m.name for m in metrics() if not m.required}
    claimed_methods = claimed.get("methods") if isinstance(claimed, Mapping) else None
    out = {**actual, "methods": {}}
    for method, values in actual["methods"].items():
        have = claimed_methods.get(method) if isinstance(claimed_methods, Mapping) else None
        if isinstance(have, Mapping):
            values = {k: v for k, v in values.items() if k not in optional or k in have}
        out["methods"][method] = values
    return out
