"""Statistics on hand-computable score matrices, and against rliable called directly on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from hb_bench_helpers import make_record
from rliable import library as rly
from rliable import metrics

from hyperbench.bench.stats import (
    aggregate_intervals,
    build_matrices,
    build_scores,
    final_score_gain,
    improvement_probability,
    normalise,
    performance_profiles,
    probability_of_improvement,
    sample_efficiency,
    steps_to_reach,
)

# 2 runs × 2 tasks. Sorted values 0, 0.5, 4, 8: IQM = mean(0.5, 4) = 2.25; mean = 12.5 / 4 = 3.125;
# task means (0.25, 6) → median 3.125; optimality gap = 1 − mean(min(x, 1)) = 1 − 2.5 / 4 = 0.375.
HAND = np.array([[0.0, 4.0], [0.5, 8.0]])


def test_point_estimates_by_hand():
    out = aggregate_intervals({"a": HAND}, reps=200)["a"]
    assert out["iqm"][0] == pytest.approx(2.25)
    assert out["mean"][0] == pytest.approx(3.125)
    assert out["median"][0] == pytest.approx(3.125)
    assert out["optimality_gap"][0] == pytest.approx(0.375)
    for point, low, high in out.values():
        assert low <= point + 1e-12 and point <= high + 1e-12


def test_identical_runs_give_zero_width_intervals():
    out = aggregate_intervals({"a": np.array([[0.3, 0.7]] * 4)}, reps=200)["a"]
    assert out["mean"] == pytest.approx((0.5, 0.5, 0.5))


def test_intervals_equal_rliable_called_directly_and_are_reproducible():
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(size=(5, 3)), "b": rng.normal(1.0, size=(5, 3))}
    ours = aggregate_intervals(scores, reps=500, seed=11)
    for method, matrix in scores.items():
        np.random.seed(11)  # rliable draws bootstrap indices from the global generator
        points, cis = rly.get_interval_estimates(
            {method: matrix},
            lambda x: np.array(
                [
                    metrics.aggregate_median(x),
                    metrics.aggregate_iqm(x),
                    metrics.aggregate_mean(x),
                    metrics.aggregate_optimality_gap(x),
                ]
            ),
            reps=500,
        )
        got = np.array([ours[method][k] for k in ("median", "iqm", "mean", "optimality_gap")])
        np.testing.assert_allclose(got[:, 0], points[method])
        np.testing.assert_allclose(got[:, 1:].T, cis[method])
    assert aggregate_intervals(scores, reps=500, seed=11) == ours
    assert aggregate_intervals(scores, reps=500, seed=12)["a"]["iqm"] != ours["a"]["iqm"]
    # a method's CI does not depend on which other methods are in the report
    assert aggregate_intervals({"b": scores["b"]}, reps=500, seed=11)["b"] == ours["b"]


def test_probability_of_improvement_by_hand_and_against_rliable():
    x, y = np.array([[1.0, 3.0], [2.0, 4.0]]), np.array([[0.0, 1.0], [3.0, 2.0]])
    # task 0: pairs (1>0, 1<3, 2>0, 2<3) → 0.5; task 1: 3 and 4 beat 1 and 2 → 1.0; mean 0.75
    out = probability_of_improvement({"x": x, "y": y}, "y", reps=300, seed=3)
    assert set(out) == {"x"} and out["x"][0] == pytest.approx(0.75)
    assert probability_of_improvement({"x": x, "x2": x.copy()}, "x2", reps=50)["x"][0] == pytest.approx(0.5)  # ties
    np.random.seed(3)
    points, cis = rly.get_interval_estimates(
        {"x,y": [x, y]}, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps=300
    )
    assert out["x"] == pytest.approx((points["x,y"][0], cis["x,y"][0, 0], cis["x,y"][1, 0]))


def test_fast_improvement_probability_equals_rliables():
    rng = np.random.default_rng(2)
    for _ in range(50):
        x = rng.integers(0, 4, size=(rng.integers(2, 6), 3)).astype(float)  # small integers: many ties
        y = rng.integers(0, 4, size=(rng.integers(2, 6), 3)).astype(float)
        assert improvement_probability(x, y) == pytest.approx(metrics.probability_of_improvement(x, y))
        assert improvement_probability(x, x) == pytest.approx(metrics.probability_of_improvement(x, x))


def test_performance_profile_by_hand_and_against_rliable():
    scores = np.array([[0.2, 0.6], [0.4, 0.8]])
    taus = np.array([0.0, 0.5, 0.7, 1.0])
    profile, ci = performance_profiles({"a": scores}, taus, reps=200, seed=5)["a"]
    np.testing.assert_allclose(profile, [1.0, 0.5, 0.25, 0.0])
    np.random.seed(5)
    ref_profile, ref_ci = rly.create_performance_profile({"a": scores}, taus, reps=200)
    np.testing.assert_allclose(profile, ref_profile["a"])
    np.testing.assert_allclose(ci, ref_ci["a"])
    rng = np.random.default_rng(6)
    scores, taus = rng.normal(size=(6, 4)), np.linspace(-2, 2, 17)
    profile, ci = performance_profiles({"a": scores}, taus, reps=300, seed=8)["a"]
    np.random.seed(8)
    ref_profile, ref_ci = rly.create_performance_profile({"a": scores}, taus, reps=300)
    np.testing.assert_allclose(profile, ref_profile["a"])
    np.testing.assert_allclose(ci, ref_ci["a"])


def test_sample_efficiency_iqm_per_point():
    # (runs=4, tasks=1, points=2): at point 0 values 0,1,2,9 → IQM 1.5; at point 1 values 4,4,4,4 → 4
    curves = np.array([[[0, 4]], [[1, 4]], [[2, 4]], [[9, 4]]], dtype=float)
    iqm, ci = sample_efficiency({"a": curves}, reps=200, seed=1)["a"]
    np.testing.assert_allclose(iqm, [1.5, 4.0])
    assert ci.shape == (2, 2) and ci[0, 1] == ci[1, 1] == 4.0
    # against rliable's own IQM applied point by point, same bootstrap draws
    rng = np.random.default_rng(4)
    curves = rng.normal(size=(5, 3, 6))
    iqm, ci = sample_efficiency({"a": curves}, reps=300, seed=2)["a"]
    np.random.seed(2)
    ref_points, ref_cis = rly.get_interval_estimates(
        {"a": curves}, lambda x: np.array([metrics.aggregate_iqm(x[..., t]) for t in range(x.shape[-1])]), reps=300
    )
    np.testing.assert_allclose(iqm, ref_points["a"])
    np.testing.assert_allclose(ci, ref_cis["a"])


def test_papers_measures_by_hand():
    method = np.array([[150.0, 10.0], [150.0, 30.0]])
    base = np.array([[100.0, 20.0], [100.0, 20.0]])
    # task 0: (150 − 100) / |100 − 0| = 0.5; task 1: (20 − 20) / |20 − (−20)| = 0
    np.testing.assert_allclose(final_score_gain(method, base, [None, -20.0]), [0.5, 0.0])
    assert np.isnan(final_score_gain(method, base, [100.0, None])[0])  # baseline no better than random
    steps = np.array([100, 200, 300, 400])
    assert steps_to_reach(steps, np.array([10, 50, 90, 95]), 50.0, 400) == 0.5
    assert steps_to_reach(steps, np.array([10, 20, 30, 40]), 50.0, 400) is None
    assert normalise(75.0, 50.0, 150.0) == pytest.approx(0.25)


def test_matrices_from_records_with_failures_and_gaps():
    records = [
        make_record("a", "t1", 0, [10.0, 50.0]),
        make_record("a", "t2", 0, [0.0, 20.0]),
        make_record("a", "t1", 1, [10.0, 70.0]),
        make_record("a", "t2", 1, [5.0], status="failed", budget=200),
        make_record("a", "t1", 2, [10.0, 90.0]),  # seed 2 has no t2 record yet
    ]
    ref = {"t1": (0.0, 100.0), "t2": None}
    data = build_matrices(records, {"a": ["t1", "t2"]}, [0, 1, 2], ref)
    ms = data.methods["a"]
    assert ms.seeds == [0]
    np.testing.assert_allclose(ms.final, [[0.5, 20.0]])  # t2 has no reference: raw return kept
    assert any("failed" in d for d in ms.dropped) and data.missing == ["a/t2/seed-2"]
    assert data.failures[0]["run"] == "a/t2/seed-1"
    assert data.normalisation["t2"]["normalised"] is False
    as_random = build_matrices(records, {"a": ["t1"]}, [0, 1, 2], ref, failed_as="random")
    assert as_random.methods["a"].seeds == [0, 1, 2]
    ref2 = {"t1": (0.0, 100.0), "t2": (-10.0, 30.0)}
    as_random = build_matrices(records, {"a": ["t1", "t2"]}, [0, 1], ref2, failed_as="random")
    np.testing.assert_allclose(as_random.methods["a"].final, [[0.5, 0.75], [0.7, 0.0]])


def test_build_scores_end_to_end_numbers():
    rng = np.random.default_rng(1)
    records = []
    for seed in range(5):
        for task, scale in (("t1", 100.0), ("t2", 10.0)):
            base = scale * (0.2 + 0.05 * rng.random()) * np.arange(1, 5) / 4
            records.append(make_record("mlp", task, seed, base))
            records.append(make_record("hyper", task, seed, base * 1.5))
    ref = {"t1": (0.0, 100.0), "t2": (0.0, 10.0)}
    scores, data, _ = build_scores(records, {"mlp": ["t1", "t2"], "hyper": ["t1", "t2"]}, range(5), "mlp", ref, reps=200)
    hyper = scores["methods"]["hyper"]
    assert hyper["baseline"] == "mlp"
    assert hyper["probability_of_improvement"]["point"] == pytest.approx(1.0)
    assert hyper["final_score_gain"]["mean"] == pytest.approx(0.5)
    # 1.5 × the baseline curve reaches the baseline's final value (the 4th point) at the 3rd point: 3/4
    assert hyper["steps_to_baseline_final"]["mean_where_reached"] == pytest.approx(0.75)
    assert scores["methods"]["mlp"]["steps_to_baseline_final"]["mean_where_reached"] == pytest.approx(1.0)
    iqm = aggregate_intervals({"hyper": data.methods["hyper"].final}, reps=200)["hyper"]["iqm"]
    assert hyper["aggregates"]["iqm"] == {"point": pytest.approx(iqm[0]), "ci": [pytest.approx(iqm[1]), pytest.approx(iqm[2])]}
    assert scores["sample_efficiency"]["methods"]["hyper"]["x"] == [100.0, 200.0, 300.0, 400.0]
