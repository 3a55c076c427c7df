"""Ensemble building blocks: ``E`` independent networks evaluated with one batched matmul per layer.

Twin critics are two independent networks of identical shape. Stacking their weights on a leading
member dimension and evaluating them with :func:`torch.baddbmm` turns 2 × L small matmuls into L larger
ones, which is what keeps a CPU (or a GPU) busy. With ``n_members=1`` these are ordinary layers.

**Leading members only.** An input with fewer members than the layer, ``(e, B, in)`` with ``e < E``, is
evaluated by the first ``e`` members alone (their weights are views: no copy, and the other members get no
gradient). TD3's actor loss reads only the first critic, so it evaluates member 0 and nothing else.
"""

from __future__ import annotations

import math

import torch as th
from torch import nn


class EnsembleLinear(nn.Module):
    """``E`` independent affine maps ``y_e = x_e W_e + b_e``.

    :param n_members: number of independent members ``E``
    :param in_features: input width
    :param out_features: output width
    """

    def __init__(self, n_members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_members = n_members
        self.in_features = in_features
        self.out_features = out_features
        # Stored as (E, in, out) so the forward is a plain batched ``x @ W`` with no transpose.
        self.weight = nn.Parameter(th.empty(n_members, in_features, out_features))
        self.bias = nn.Parameter(th.empty(n_members, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's ``nn.Linear`` default: weight and bias ~ U(±1/√fan_in)."""
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: th.Tensor) -> th.Tensor:
        """:param x: ``(E, B, in)``, or ``(e, B, in)`` with ``e < E`` for the first ``e`` members only
        :return: ``(E, B, out)`` (``(e, B, out)``)"""
        members = x.shape[0]
        # weight.shape[0], not n_members: functional calls (Hyper-MAML) substitute per-task weights
        if members < self.weight.shape[0]:
            # bmm, then the bias: the same rounding as the full ensemble's baddbmm in every case (a CPU
            # baddbmm of a single member with in_features == 1 fuses the bias add and differs in the last bit)
            return th.bmm(x, self.weight[:members]) + self.bias[:members]
        return th.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, in_features={self.in_features}, out_features={self.out_features}"


class EnsembleResBlock(nn.Module):
    """Pre-activation residual block ``x + L2(ReLU(L1(ReLU(x))))`` (the SA-Hyper primary's block).

    :param n_members: number of independent members
    :param width: block width
    """

    def __init__(self, n_members: int, width: int) -> None:
        super().__init__()
        self.fc1 = EnsembleLinear(n_members, width, width)
        self.fc2 = EnsembleLinear(n_members, width, width)

    def forward(self, x: th.Tensor) -> th.Tensor:
        # fc1's output is a fresh tensor that its backward does not need: ReLU in place saves one allocation
        # and one pass over it (the first ReLU cannot: x is the residual)
        return x + self.fc2(th.relu_(self.fc1(th.relu(x))))


def ensemble_linears(module: nn.Module) -> list[EnsembleLinear]:
    """All :class:`EnsembleLinear` sub-modules of ``module``, in registration order."""
    return [m for m in module.modules() if isinstance(m, EnsembleLinear)]


def n_evaluated(members: int | None, n_members: int) -> int:
    """How many leading members of an ensemble of ``n_members`` an evaluation runs (``None``: all).

    :raises ValueError: ``members`` outside ``[1, n_members]``
    """
    if members is None:
        return n_members
    if not 1 <= int(members) <= n_members:
        raise ValueError(f"members must be between 1 and n_members={n_members}, got {members!r}")
    return int(members)
