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

__all__ = ["LineSearchResult", "conjugate_gradient", "trpo_line_search"]


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
    for _ in range(iters):
        if rdotr < residual_tol:
            break
        ap = hvp(p)
        alpha = rdotr / (p @ ap)
        x += alpha * p
        r -= alpha * ap
        new_rdotr = r @ r
        p = r + (new_rdotr / rdotr) * p
        rdotr = new_rdotr
    return x


class LineSearchResult(NamedTuple):
    """Outcome of :func:`trpo_line_search`."""

    accepted: bool
    """whether a step was taken"""
    step_fraction: float
    """fraction of the full step taken (0 if none)"""
    loss: float
    """surrogate loss after the step (the old loss if none)"""
    kl: float
    """measured mean KL after the step (0 if none)"""
    n_backtracks: int
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
