"""Networks of PEARL and Hyper-PEARL: the context encoder, the tanh-Gaussian policy, Q and V.

=================  ===================================================  ==============================================
network            ``pearl`` (Rakelly et al. 2019)                      ``hyper-pearl`` (Sarafian et al. 2021)
=================  ===================================================  ==============================================
encoder            MLP over one transition → Gaussian factor            same
policy             MLP on ``[s, z]``                                    primary(z) → dynamic network over ``s``
Q (twin)           MLP on ``[s, z, a]``                                 primary(s) → dynamic network over ``[a, z]``
V                  MLP on ``[s, z]``                                    primary(s) → dynamic network over ``z``
=================  ===================================================  ==============================================

The critics are :mod:`hyperbench.nn.baselines` ensembles (:class:`~hyperbench.nn.baselines.MLPQ`,
:class:`~hyperbench.nn.baselines.SAHyperQ` with the latent as an extra base input), so the twin Qs are one
batched network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch as th
from torch import nn

from hyperbench.nn import HyperNetwork
from hyperbench.nn.baselines import MLPQ, QEnsemble, SAHyperQ, ensemble_mlp

__all__ = [
    "ContextEncoder",
    "TanhGaussianPolicy",
    "gaussian_kl_to_unit",
    "make_critics",
    "product_of_gaussians",
]

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
#: ½ log 2π as float32 computes it (a Python number: no tensor is created in every forward)
_HALF_LOG_2PI = float(0.5 * th.log(th.tensor(2.0 * th.pi)))


def product_of_gaussians(mu: th.Tensor, var: th.Tensor, mask: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor]:
    """Posterior of independent Gaussian factors (Rakelly et al. 2019, Eq. 3), permutation invariant.

    ``σ² = 1 / Σ_n 1/σ_n²`` and ``μ = σ² Σ_n μ_n/σ_n²`` over the context axis; padded entries (``mask == 0``)
    contribute nothing, and a row without context keeps the unit prior (a row's unit prior factor is not
    multiplied in, as in the reference implementation, unless it has no factor at all).

    :param mu: ``(..., N, L)`` factor means
    :param var: ``(..., N, L)`` factor variances (positive)
    :param mask: ``(..., N)`` 1 for real transitions, or ``None``
    :return: ``(mean, var)`` each ``(..., L)``
    """
    precision = 1.0 / var
    if mask is not None:
        precision = precision * mask.unsqueeze(-1)
    total = precision.sum(-2)
    empty = total <= 0
    total = th.where(empty, th.ones_like(total), total)
    post_var = 1.0 / total
    post_mu = th.where(empty, th.zeros_like(total), post_var * (precision * mu).sum(-2))
    return post_mu, post_var


def gaussian_kl_to_unit(mu: th.Tensor, var: th.Tensor) -> th.Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I))`` summed over the last axis."""
    return 0.5 * (var + mu.pow(2) - 1.0 - var.log()).sum(-1)


class ContextEncoder(nn.Module):
    """MLP turning each context transition into a Gaussian factor over the latent ``z``.

    :param context_dim: size of one transition ``[s, a, r]`` (``+ s'`` if the learner uses it)
    :param latent_dim: size of ``z``
    :param hidden: hidden widths (the reference uses 3 × 200)
    """

    def __init__(self, context_dim: int, latent_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.net = ensemble_mlp(context_dim, hidden, 2 * self.latent_dim, 1)

    def forward(self, context: th.Tensor, mask: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor]:
        """Posterior ``(mean, var)`` ``(T, L)`` of ``T`` rows of context ``(T, N, context_dim)``."""
        rows, n = context.shape[:2]
        out = self.net(context.reshape(1, rows * n, -1))[0].view(rows, n, 2 * self.latent_dim)
        mu, raw = out.split(self.latent_dim, dim=-1)
        var = nn.functional.softplus(raw).clamp_min(1e-7)
        return product_of_gaussians(mu, var, mask)


class TanhGaussianPolicy(nn.Module):
    """SAC's squashed Gaussian policy ``a = tanh(u)``, ``u ~ N(μ(s, z), σ(s, z)²)``, scaled to the action box.

    :param obs_dim: observation size
    :param latent_dim: size of ``z``
    :param act_dim: action size
    :param action_low: lower action bounds
    :param action_high: upper action bounds
    :param hidden: hidden widths of the MLP (``hyper``: of the dynamic network)
    :param hyper: ``None`` for an MLP on ``[s, z]``; else :class:`~hyperbench.nn.HyperNetwork` keyword arguments
        (``primary``, ``init``, ``base_init``) for primary(z) → dynamic network over ``s``
    """

    def __init__(
        self,
        obs_dim: int,
        latent_dim: int,
        act_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        hidden: Sequence[int],
        hyper: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.act_dim = int(act_dim)
        self.is_hyper = hyper is not None
        self.net: nn.Module
        if hyper is not None:
            self.net = HyperNetwork(latent_dim, obs_dim, 2 * self.act_dim, dynamic_hidden=tuple(hidden), **hyper)
        else:
            self.net = ensemble_mlp(obs_dim + latent_dim, hidden, 2 * self.act_dim, 1)
        low, high = th.as_tensor(action_low, dtype=th.float32), th.as_tensor(action_high, dtype=th.float32)
        self.scale: th.Tensor
        self.offset: th.Tensor
        self.register_buffer("scale", (high - low) / 2.0)
        self.register_buffer("offset", (high + low) / 2.0)

    def distribution(self, obs: th.Tensor, z: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Pre-squash mean and log-std ``(B, act_dim)`` for ``obs (B, obs_dim)``.

        :param obs: ``(B, obs_dim)``
        :param z: ``(B, L)``, or ``(G, L)`` with one latent per group of ``B // G`` consecutive observations (a
            meta-batch: every transition of a task shares its ``z``). The hypernetwork then generates ``G`` dynamic
            networks instead of ``B``.
        """
        if obs.shape[0] != z.shape[0]:
            if z.shape[0] == 0 or obs.shape[0] % z.shape[0]:
                raise ValueError(f"{obs.shape[0]} observations cannot be split into {z.shape[0]} equal groups")
            if self.is_hyper:
                return self._grouped(obs.view(z.shape[0], -1, obs.shape[-1]), z)
            z = z.repeat_interleave(obs.shape[0] // z.shape[0], dim=0)
        out = self.net(z, obs) if self.is_hyper else self.net(th.cat([obs, z], dim=-1).unsqueeze(0))
        mean, log_std = out[0].split(self.act_dim, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def _grouped(self, obs: th.Tensor, z: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """The hypernetwork's dynamic forward with one generated network per group: ``obs (G, n, obs_dim)``."""
        assert isinstance(self.net, HyperNetwork)
        x = obs
        params = self.net.generate(z)
        last = len(params) - 1
        for i, (weight, bias, gain) in enumerate(params):  # weight (1, G, in, out): one bmm per layer
            h = th.bmm(x, weight[0])
            x = th.addcmul(bias[0, :, None], h, 1.0 + gain[0, :, None]) if gain is not None else h + bias[0, :, None]
            if i != last:
                x = self.net.activation(x)
        mean, log_std = x.reshape(-1, 2 * self.act_dim).split(self.act_dim, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def forward(
        self, obs: th.Tensor, z: th.Tensor, deterministic: bool = False, generator: th.Generator | None = None
    ) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
        """Sample actions (reparameterised).

        :return: ``(action (B, act_dim) in the box, log-prob (B,), mean, log_std)``
        """
        mean, log_std = self.distribution(obs, z)
        std = log_std.exp()
        # drawn from the (host) generator: the same numbers on every device
        u = mean if deterministic else mean + std * th.randn(mean.shape, generator=generator).to(mean.device)
        squashed = th.tanh(u)
        # log N(u) - Σ log(1 - tanh(u)²), the tanh change of variables (Haarnoja et al. 2018, Eq. 21)
        normal = -0.5 * ((u - mean) / std).pow(2) - log_std - _HALF_LOG_2PI
        log_prob = (normal - th.log1p(-squashed.pow(2) + 1e-6)).sum(-1)
        return squashed * self.scale + self.offset, log_prob, mean, log_std


def make_critics(
    obs_dim: int, act_dim: int, latent_dim: int, hidden: Sequence[int], hyper: dict[str, Any] | None
) -> tuple[QEnsemble, QEnsemble]:
    """Twin Q and the V network of one variant.

    ``q(state, action)`` takes ``state = [s, z]`` and ``action = a`` for the MLP, ``state = s`` and
    ``action = [a, z]`` for the hypernetwork (see :meth:`critic_inputs` of the learner); V takes the same
    with an empty action.

    :return: ``(q (2 members), v (1 member))``
    """
    if hyper is None:
        return (
            MLPQ(obs_dim + latent_dim, act_dim, hidden, n_members=2),
            MLPQ(obs_dim + latent_dim, 0, hidden, n_members=1),
        )
    dyn = tuple(hidden)
    return (
        SAHyperQ(obs_dim, act_dim, n_members=2, base_extra_dim=latent_dim, dynamic_hidden=dyn, **hyper),
        SAHyperQ(obs_dim, 0, n_members=1, base_extra_dim=latent_dim, dynamic_hidden=dyn, **hyper),
    )
