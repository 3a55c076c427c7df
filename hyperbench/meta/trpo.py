"""The pieces of a TRPO step (Schulman et al. 2015): conjugate gradient and a KL-constrained line search.

The step solves ``F x = g`` for the natural-gradient direction with conjugate gradient (``F`` the Hessian of
the mean KL, accessed only through Hessian-vector products), scales it to the trust-region boundary
``½ sᵀF s = δ`` and backtracks until the surrogate improves and the measured KL is within ``δ``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch as th

__all__ = ["LineSearchResult", "batched_trpo_line_search", "conjugate_gradient", "trpo_line_search"]


def conjugate_gradient(
    hvp: Callable[[th.Tensor], th.Tensor], b: th.Tensor, iters: int = 10, residual_tol: float = 1e-10
) -> th.Tensor:
    """Approximately solve ``A x = b`` for symmetric positive-definite ``A`` given as ``v -> A v``.

    :param hvp: matrix-vector product with ``A``
    :param b: right-hand side (flat vector)
    :param iters: maximum number of iterations (TRPO's usual 10)
    :param residual_tol: stop when the squared residual norm falls below this
    :return: ``x``
    """
    x = th.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rdotr = r @ r
    # No host round-trip: instead of breaking out once converged, later iterations take a zero step (``where``
    # does not propagate the NaN a converged 0/0 may give), so x is what the early exit would return.
    for _ in range(iters):
        active = rdotr >= residual_tol
        ap = hvp(p)
        alpha = th.where(active, rdotr / (p @ ap), 0.0)
        x += alpha * p
        r -= alpha * ap
        new_rdotr = r @ r
        p = th.where(active, r + (new_rdotr / rdotr) * p, p)
        rdotr = th.where(active, new_rdotr, rdotr)
    return x


class LineSearchResult(NamedTuple):
    """Outcome of :func:`trpo_line_search` (Python numbers) or :func:`batched_trpo_line_search` (0-dim tensors)."""

    accepted: bool | th.Tensor
    """whether a step was taken"""
    step_fraction: float | th.Tensor
    """fraction of the full step taken (0 if none)"""
    loss: float | th.Tensor
    """surrogate loss after the step (the old loss if none)"""
    kl: float | th.Tensor
    """measured mean KL after the step (0 if none)"""
    n_backtracks: int | th.Tensor
    """number of rejected candidates"""


def trpo_line_search(
    evaluate: Callable[[th.Tensor], tuple[float, float]],
    full_step: th.Tensor,
    old_loss: float,
    max_kl: float,
    backtrack_ratio: float = 0.8,
    max_backtracks: int = 15,
) -> tuple[th.Tensor, LineSearchResult]:
    """Backtrack along ``full_step`` until the loss decreases and the KL constraint holds.

    :param evaluate: ``step -> (loss, kl)`` at ``θ_old + step``
    :param full_step: the step that reaches the quadratic trust-region boundary
    :param old_loss: loss at ``θ_old``
    :param max_kl: KL constraint δ
    :param backtrack_ratio: shrink factor per rejected candidate (rllab: 0.8)
    :param max_backtracks: candidates to try before giving up
    :return: the accepted step (zeros if none) and a summary
    """
    fraction = 1.0
    for n in range(max_backtracks):
        step = fraction * full_step
        loss, kl = evaluate(step)
        if math.isfinite(loss) and math.isfinite(kl) and loss < old_loss and kl <= max_kl:
            return step, LineSearchResult(True, fraction, loss, kl, n)
        fraction *= backtrack_ratio
    return th.zeros_like(full_step), LineSearchResult(False, 0.0, old_loss, 0.0, max_backtracks)


def batched_trpo_line_search(
    evaluate: Callable[[th.Tensor], tuple[th.Tensor, th.Tensor]],
    full_step: th.Tensor,
    old_loss: th.Tensor,
    max_kl: float,
    backtrack_ratio: float = 0.8,
    max_backtracks: int = 15,
) -> tuple[th.Tensor, LineSearchResult]:
    """:func:`trpo_line_search` without a host round-trip: every candidate is evaluated and the first acceptable
    one is chosen on the device (the same step; ``max_backtracks`` evaluations instead of the early exit's few).

    :param evaluate: ``step -> (loss, kl)`` at ``θ_old + step``, as 0-dim tensors
    :param full_step: the step that reaches the quadratic trust-region boundary (zeros: no step)
    :param old_loss: loss at ``θ_old`` (0-dim tensor)
    :param max_kl: KL constraint δ
    :param backtrack_ratio: shrink factor per candidate
    :param max_backtracks: candidates
    :return: the accepted step (zeros if none) and a summary of 0-dim tensors
    """
    fractions, fraction = [], 1.0
    for _ in range(max_backtracks):  # the same float products as the sequential search
        fractions.append(fraction)
        fraction *= backtrack_ratio
    results = [evaluate(f * full_step) for f in fractions]
    losses = th.stack([loss for loss, _ in results])
    kls = th.stack([kl for _, kl in results])
    ok = th.isfinite(losses) & th.isfinite(kls) & (losses < old_loss) & (kls <= max_kl)
    first = ok.to(th.int64).argmax()  # the first acceptable candidate (argmax returns the first maximum)
    accepted = ok.any()
    fraction_t = th.where(accepted, th.tensor(fractions, dtype=full_step.dtype, device=full_step.device)[first], 0.0)
    step = th.where(accepted, fraction_t * full_step, th.zeros_like(full_step))
    return step, LineSearchResult(
        accepted,
        fraction_t,
        th.where(accepted, losses[first], old_loss),
        th.where(accepted, kls[first], 0.0),
        th.where(accepted, first, max_backtracks),
    )
