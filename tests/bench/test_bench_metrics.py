"""The metric registry (one declaration per statistic) and the report's honest-statistics sections."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hb_bench_helpers import stub_reference, write_synthetic_runs

from hyperbench.bench.metrics import Metric, UnknownMetricError, get_metric, metrics, register_metric, registered
from hyperbench.bench.report import make_report
from hyperbench.bench.stats import iqm_window


def _best_run(x: np.ndarray) -> float:
    return float(np.max(np.mean(x, axis=1)))


BEST_RUN = Metric(
    "best_run",
    "Best run",
    "mean over tasks of the best seed (a test metric)",
    "higher",
    ci=True,
    statistic=_best_run,
)


def _zero_action(task: str) -> tuple[float | None, str]:
    return {"task-a": (70.0, "stub do-nothing policy")}.get(task, (None, "not measured (stub)"))


@pytest.fixture
def synthetic_runs(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    progress = np.linspace(0.25, 1.0, 4)
    scores = {
        "mlp": 60 * progress * (1 + 0.1 * rng.random((5, 2, 1))),
        "hyper": 80 * progress * (1 + 0.1 * rng.random((5, 2, 1))),
    }
    runs = tmp_path / "runs"
    write_synthetic_runs(runs, scores, ["task-a", "task-b"], baseline="mlp")
    return runs


def test_registry_errors():
    with pytest.raises(UnknownMetricError, match="did you mean 'optimality_gap'"):
        get_metric("optimality_gp")
    with pytest.raises(ValueError, match="already registered"):
        register_metric(get_metric("iqm"))
    with pytest.raises(ValueError, match="direction must be 'higher' or 'lower'"):
        Metric("x", "X", "", "up", ci=True, statistic=_best_run)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a statistic"):
        Metric("x", "X", "", "higher", ci=True)
    with pytest.raises(ValueError, match="needs a compute"):
        Metric("x", "X", "", "higher", ci=False)
    assert [m.name for m in metrics(table="baseline")] == ["final_score_gain", "steps_to_baseline_final"]
    assert get_metric("optimality_gap").lower_is_better and get_metric("optimality_gap").header == "Optimality gap ↓"


def test_a_registered_metric_reaches_scores_json_and_report_md(synthetic_runs: Path):
    with registered(BEST_RUN):
        result = make_report(synthetic_runs, reps=100, reference=stub_reference, zero_action=_zero_action, plots=False)
    scores = json.loads(result.scores.read_text())
    md = result.markdown.read_text()
    assert "best_run" not in [m.name for m in metrics()]  # unregistered again
    entry = scores["methods"]["hyper"]
    point, (low, high) = entry["best_run"]["point"], entry["best_run"]["ci"]
    assert low <= point <= high
    assert scores["metrics"]["best_run"] == {
        "title": "Best run",
        "description": "mean over tasks of the best seed (a test metric)",
        "direction": "higher",
        "ci": True,
        "versus_baseline": False,
        "path": ["best_run"],
        "point_key": "point",
        "required": False,
    }
    header = next(line for line in md.splitlines() if line.startswith("| method | tasks × runs |"))
    assert header.endswith("| Best run |")
    row = next(line for line in md.splitlines() if line.startswith("| `hyper` | 2 × 5 |"))
    assert row.rstrip(" |").endswith(f"{point:.2f} [{low:.2f}, {high:.2f}]")
    # adding a metric moves no other number: the same bootstrap resamples
    plain = json.loads(
        make_report(
            synthetic_runs, synthetic_runs / "plain", reps=100, reference=stub_reference, plots=False
        ).scores.read_text()
    )
    assert plain["methods"]["hyper"]["aggregates"] == entry["aggregates"]


def test_report_sections_for_few_tasks_and_runs(synthetic_runs: Path):
    result = make_report(synthetic_runs, reps=100, reference=stub_reference, zero_action=_zero_action, plots=False)
    scores = json.loads(result.scores.read_text())
    md = result.markdown.read_text()
    hyper = scores["methods"]["hyper"]
    assert hyper["rests_on"] == {"tasks": 2, "runs_per_task": 5, "scores": 10}
    assert "Every aggregate rests on 2 tasks × 5 runs = 10 scores per method" in md
    assert "Few runs (5 per task, < 10): percentile-bootstrap intervals under-cover" in md
    # few tasks: the per-task results and tests lead, the aggregates follow
    assert md.index("## Per task") < md.index("### Each method against its baseline") < md.index("## Aggregate")
    # every hyper run beats every mlp run: P = 1.00 [1.00, 1.00] is flagged as a zero-width interval
    assert hyper["probability_of_improvement"] == {"point": 1.0, "ci": [1.0, 1.0]}
    assert hyper["degenerate_intervals"] == ["probability_of_improvement"]
    assert "1.00 [1.00, 1.00] ⚠ zero-width CI vs `mlp`" in md and "⚠ Zero-width intervals: `hyper` P(> baseline)" in md
    # the permutation test on each task: 5 vs 5 completely separated → p = 2 / C(10, 5)
    test = hyper["per_task"]["task-a"]["permutation_test"]
    assert test["versus"] == "mlp" and test["exact"] and test["relabellings"] == 252
    assert test["p_value"] == pytest.approx(2 / 252) and test["min_p_value"] == pytest.approx(2 / 252)
    assert "smallest attainable p-value is above 0.05" not in md
    assert test["difference_normalised"] == pytest.approx(test["difference"] / 100.0)
    assert scores["methods"]["mlp"]["per_task"]["task-a"]["permutation_test"] is None  # the baseline itself
    assert "| `hyper` | `mlp` | `task-a` |" in md and "| 0.008 | all 252 (exact); min p 0.008, n = 5 vs 5 |" in md
    # standard deviations state their ddof
    assert scores["statistics"]["std_ddof"] == 0 and "mean ± std (ddof = 0)" in md
    finals = np.array(
        [
            json.loads(p.read_text())["final"]["return_mean"]
            for p in sorted((synthetic_runs / "records" / "hyper" / "task-a").glob("*.json"))
        ]
    )
    assert hyper["per_task"]["task-a"]["final_return_std"] == pytest.approx(np.std(finals, ddof=0))
    # the zero-action anchor sits next to random and reference, and a task where doing nothing beats a method is flagged
    norm = scores["normalisation"]["task-a"]
    assert norm["zero_action"] == 70.0 and norm["zero_action_normalised"] == pytest.approx(0.7)
    assert norm["zero_action_protocol"] == "stub do-nothing policy"
    assert scores["normalisation"]["task-b"]["zero_action"] is None
    assert "| `task-a` | 0.0 / 70.0 (norm 0.70) / 100.0 |" in md
    assert "⚠ Doing nothing is a strong baseline" in md and "on: `task-a`: doing nothing scores 70.0" in md
    assert "at or below it: `mlp`" in md  # mlp ends near 63 on task-a


def test_iqm_window_by_hand():
    # 4 runs × 2 tasks: sorted 0, 1, 2, 3 (task a) and 10, 11, 12, 13 (task b); 25% cut = 2 each side →
    # window holds 2, 3 (task a) and 10, 11 (task b)
    m = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0]])
    assert iqm_window(m, ["a", "b"]) == {"a": 2, "b": 2}
    # task b far above: the window is 2 runs of a, 2 of b whatever b's values are
    assert iqm_window(np.array([[0.0, 100.0], [1.0, 200.0], [2.0, 300.0], [3.0, 400.0]]), ["a", "b"]) == {"a": 2, "b": 2}
    assert iqm_window(np.array([[5.0, 0.0], [5.0, 1.0], [5.0, 9.0], [5.0, 10.0]]), ["a", "b"]) == {"a": 4, "b": 0}
