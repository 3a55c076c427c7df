"""The exact permutation test of a difference in means: hand-computed cases, scipy, Monte-Carlo fallback."""

from __future__ import annotations

import numpy as np
import pytest

from hyperbench.bench.permutation import cohens_d, permutation_test


def test_by_hand():
    # x = {1, 2}, y = {3, 4}: the 6 relabellings give differences −2, −1, 0, 0, 1, 2; |T| ≥ 2 twice → p = 2/6
    r = permutation_test([1.0, 2.0], [3.0, 4.0])
    assert r.difference == -2.0 and r.p_value == pytest.approx(1 / 3)
    assert r.exact and r.relabellings == 6 and r.seed is None and (r.n_x, r.n_y) == (2, 2)
    # 3 vs 3 completely separated: only the observed labelling and its mirror are as extreme → 2 / C(6, 3) = 0.1
    assert permutation_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]).p_value == pytest.approx(0.1)
    # … which is also the smallest p-value 3 vs 3 distinct runs can give
    assert permutation_test([1.0, 5.0, 3.0], [4.0, 2.0, 6.0]).min_p_value == pytest.approx(0.1)
    assert r.min_p_value == pytest.approx(1 / 3)
    # identical groups: every relabelling is as extreme as the observed 0 → p = 1
    assert permutation_test([5.0, 5.0, 5.0], [5.0, 5.0]).p_value == 1.0
    # one value per group: 2 relabellings, both equally extreme
    assert permutation_test([0.0], [10.0]).p_value == 1.0


def test_cohens_d_by_hand():
    # means 2 and 5, variances (ddof 1) 1 and 1 → pooled sd 1 → d = −3
    assert cohens_d([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(-3.0)
    assert cohens_d([1.0], [2.0, 3.0]) is None  # fewer than 2 values in a group
    assert cohens_d([1.0, 1.0], [2.0, 2.0]) is None  # no spread


@pytest.mark.parametrize(("n_x", "n_y"), [(5, 5), (3, 7), (4, 6), (2, 9)])
def test_equals_scipy_exact(n_x: int, n_y: int):
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(n_x * 10 + n_y)
    x, y = rng.normal(size=n_x), rng.normal(0.7, size=n_y)
    ours = permutation_test(x, y)
    assert ours.exact

    def abs_diff(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
        return np.abs(a.mean(axis=axis) - b.mean(axis=axis))

    ref = scipy_stats.permutation_test(
        (x, y), abs_diff, permutation_type="independent", alternative="greater", n_resamples=np.inf, vectorized=True
    )
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    if n_x == n_y:  # symmetric null distribution: scipy's own two-sided test of the signed difference agrees
        signed = scipy_stats.permutation_test(
            (x, y),
            lambda a, b, axis: a.mean(axis=axis) - b.mean(axis=axis),
            permutation_type="independent",
            n_resamples=np.inf,
            vectorized=True,
        )
        assert ours.p_value == pytest.approx(signed.pvalue, rel=1e-12)


def test_monte_carlo_when_enumeration_is_too_large():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20), rng.normal(0.6, size=20)  # C(40, 20) ≈ 1.4e11 relabellings
    r = permutation_test(x, y, n_resamples=20_000, seed=3)
    assert not r.exact and r.relabellings == 20_000 and r.seed == 3 and r.min_p_value == 1 / 20_001
    assert permutation_test(x, y, n_resamples=20_000, seed=3) == r  # seeded: reproducible
    assert permutation_test(x, y, n_resamples=20_000, seed=4).p_value != r.p_value
    ref = scipy_stats.permutation_test(
        (x, y),
        lambda a, b, axis: np.abs(a.mean(axis=axis) - b.mean(axis=axis)),
        permutation_type="independent",
        alternative="greater",
        n_resamples=20_000,
        vectorized=True,
        random_state=0,
    )
    assert abs(r.p_value - ref.pvalue) < 0.01  # two Monte-Carlo estimates of the same p (standard error ≈ 0.002)
    # forcing Monte-Carlo on a small case approaches the exact p-value
    exact = permutation_test(x[:5], y[:5])
    approx = permutation_test(x[:5], y[:5], max_exact=10, n_resamples=50_000)
    assert not approx.exact and approx.p_value == pytest.approx(exact.p_value, abs=0.01)


def test_bad_input():
    with pytest.raises(ValueError, match="at least one value per group"):
        permutation_test([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        permutation_test([np.nan], [1.0])
