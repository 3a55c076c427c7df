"""Exact two-sample permutation test of a difference in means, and its effect size.

With a handful of seeds per task, percentile-bootstrap intervals under-cover, while a permutation test is
exact at any sample size under the null hypothesis that the two methods' final returns on a task are
exchangeable. The statistic is ``T = mean(x) − mean(y)``; the two-sided p-value is the fraction of
relabellings of the pooled runs whose ``|T*|`` is at least the observed ``|T|`` (the observed labelling
included, so ``p ≥ 1 / #relabellings``):

* all ``C(n_x + n_y, n_x)`` relabellings when there are at most ``max_exact`` of them (5 vs 5 seeds: 252;
  10 vs 10: 184 756);
* otherwise ``n_resamples`` random relabellings from a seeded generator, ``p = (1 + hits) / (1 + n_resamples)``
  (Phipson & Smyth 2010), with the count stated in the result.

Ties: ``|T*| ≥ |T| − 1e-9·max(1, |T|)``, so relabellings equal up to rounding count as at least as extreme.
The effect size is Cohen's d with the pooled standard deviation (``ddof = 1`` in each group).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["MAX_EXACT", "MONTE_CARLO_RESAMPLES", "PermutationResult", "cohens_d", "permutation_test"]

#: Largest number of relabellings enumerated exactly.
MAX_EXACT = 200_000
#: Random relabellings drawn when enumeration is too large.
MONTE_CARLO_RESAMPLES = 100_000
_REL_TIE = 1e-9
_CHUNK = 20_000


@dataclass(frozen=True)
class PermutationResult:
    """The outcome of :func:`permutation_test`."""

    difference: float
    """observed ``mean(x) − mean(y)``"""
    p_value: float
    """two-sided: fraction of relabellings with ``|T*| ≥ |T|``"""
    exact: bool
    """all relabellings enumerated (else Monte-Carlo)"""
    relabellings: int
    """relabellings counted: ``C(n_x + n_y, n_x)`` if exact, else the Monte-Carlo draws"""
    seed: int | None
    """generator seed of the Monte-Carlo draws (``None`` when exact)"""
    n_x: int
    n_y: int
    cohens_d: float | None
    """``difference`` / pooled standard deviation (ddof 1); ``None`` if undefined (n < 2 or zero spread)"""
    min_p_value: float
    """the smallest p-value this test can give with these sample sizes and values (exact: the fraction of
    relabellings at the largest ``|T*|``; Monte-Carlo: ``1 / (1 + n_resamples)``): with 3 vs 3 runs it is 0.1,
    so no such comparison can reach p < 0.05"""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def cohens_d(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Cohen's d: ``(mean(x) − mean(y)) / s_pooled``, ``s_pooled² = ((n_x−1)s_x² + (n_y−1)s_y²) / (n_x+n_y−2)``.

    :param x: sample of the first group
    :param y: sample of the second group
    :return: the effect size, or ``None`` when a group has fewer than 2 values or the pooled spread is 0
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 2 or b.size < 2:
        return None
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    if not pooled > 0:
        return None
    return float((a.mean() - b.mean()) / math.sqrt(pooled))


def _differences(sums_x: np.ndarray, total: float, n_x: int, n_y: int) -> np.ndarray:
    return sums_x / n_x - (total - sums_x) / n_y


def permutation_test(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    max_exact: int = MAX_EXACT,
    n_resamples: int = MONTE_CARLO_RESAMPLES,
    seed: int = 0,
) -> PermutationResult:
    """Two-sided permutation test of ``mean(x) − mean(y)`` (see the module docstring).

    :param x: ``(n_x,)`` values of the first group (e.g. a method's final returns on one task, one per seed)
    :param y: ``(n_y,)`` values of the second group (its baseline's)
    :param max_exact: enumerate every relabelling when there are at most this many
    :param n_resamples: random relabellings otherwise
    :param seed: seed of the Monte-Carlo generator
    :return: the test's result
    :raises ValueError: an empty group or non-finite values
    """
    a, b = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(f"permutation_test needs at least one value per group, got {a.size} and {b.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("permutation_test needs finite values")
    pooled = np.concatenate([a, b])
    n_x, n_y = a.size, b.size
    n = n_x + n_y
    total = float(pooled.sum())
    observed = float(a.mean() - b.mean())
    threshold = abs(observed) - _REL_TIE * max(1.0, abs(observed))
    count = math.comb(n, n_x)
    if count <= max_exact:
        hits, top, at_top = 0, -math.inf, 0
        combos = itertools.combinations(range(n), n_x)
        while True:
            chunk = np.fromiter(itertools.chain.from_iterable(itertools.islice(combos, _CHUNK)), dtype=np.intp)
            if chunk.size == 0:
                break
            sums = pooled[chunk.reshape(-1, n_x)].sum(axis=1)
            diffs = np.abs(_differences(sums, total, n_x, n_y))
            hits += int(np.count_nonzero(diffs >= threshold))
            chunk_top = float(diffs.max())
            if chunk_top > top + _REL_TIE * max(1.0, top):
                top, at_top = chunk_top, 0
            at_top += int(np.count_nonzero(diffs >= top - _REL_TIE * max(1.0, top)))
        return PermutationResult(observed, hits / count, True, count, None, n_x, n_y, cohens_d(a, b), at_top / count)
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < n_resamples:
        k = min(_CHUNK, n_resamples - done)
        perms = rng.permuted(np.broadcast_to(pooled, (k, n)), axis=1)
        sums = perms[:, :n_x].sum(axis=1)
        hits += int(np.count_nonzero(np.abs(_differences(sums, total, n_x, n_y)) >= threshold))
        done += k
    return PermutationResult(
        observed, (1 + hits) / (1 + n_resamples), False, n_resamples, seed, n_x, n_y, cohens_d(a, b), 1 / (1 + n_resamples)
    )
