"""Gaussian policies for the MAML family, written to be evaluated functionally (``torch.func.functional_call``).

All three share one call signature so the meta-learner never branches on the architecture::

    mean = policy(obs, context)      # obs (G, N, obs_dim), context (G, context_dim) -> mean (G, N, act_dim)

``G`` groups of ``N`` observations: every group has one context (one task). The diagonal Gaussian's
log-std is a state-independent parameter ``log_std`` (as in the published MAML code), adapted by the inner
step like every other parameter.

- :class:`MLPGaussianPolicy` with ``context_dim=0``: MAML's policy (Finn et al. 2017), the context is ignored.
- :class:`MLPGaussianPolicy` with ``context_dim>0``: Context-MAML, an MLP on ``[s, c]``.
- :class:`HyperGaussianPolicy`: Hyper-MAML (Sarafian et al. 2021, Eq. 16), a
  :class:`~hyperbench.nn.HyperNetwork` whose primary maps the context to the weights of an MLP over ``s``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch as th
from torch import nn

from hyperbench.nn import HyperNetwork

__all__ = ["GaussianPolicy", "HyperGaussianPolicy", "MLPGaussianPolicy", "diag_gaussian_kl", "diag_gaussian_log_prob", "mlp"]

_LOG_2PI = math.log(2.0 * math.pi)


def diag_gaussian_log_prob(actions: th.Tensor, mean: th.Tensor, log_std: th.Tensor) -> th.Tensor:
    """Log-density of ``actions`` under ``N(mean, exp(log_std)²)``, summed over the last dimension.

    :param actions: ``(..., act_dim)``
    :param mean: ``(..., act_dim)``
    :param log_std: ``(act_dim,)`` or broadcastable to ``mean``
    :return: ``(...)``
    """
    z = (actions - mean) * th.exp(-log_std)
    return -(0.5 * z.pow(2) + log_std + 0.5 * _LOG_2PI).sum(-1)


def diag_gaussian_kl(mean_p: th.Tensor, log_std_p: th.Tensor, mean_q: th.Tensor, log_std_q: th.Tensor) -> th.Tensor:
    """``KL(p ‖ q)`` of two diagonal Gaussians, summed over the last dimension.

    :return: ``(...)``, the batch shape of the means
    """
    var_p, var_q = th.exp(2.0 * log_std_p), th.exp(2.0 * log_std_q)
    kl = log_std_q - log_std_p + (var_p + (mean_p - mean_q).pow(2)) / (2.0 * var_q) - 0.5
    return kl.sum(-1)


class GaussianPolicy(nn.Module):
    """Base class: a mean network plus a state-independent ``log_std`` parameter.

    :param obs_dim: observation size
    :param act_dim: action size
    :param context_dim: size of the oracle context (0: the policy takes none)
    :param init_std: initial standard deviation of every action dimension
    """

    def __init__(self, obs_dim: int, act_dim: int, context_dim: int, init_std: float) -> None:
        super().__init__()
        if obs_dim < 1 or act_dim < 1 or context_dim < 0:
            raise ValueError(f"bad policy sizes: obs_dim={obs_dim}, act_dim={act_dim}, context_dim={context_dim}")
        if not init_std > 0:
            raise ValueError(f"init_std must be positive, got {init_std}")
        self.obs_dim, self.act_dim, self.context_dim = int(obs_dim), int(act_dim), int(context_dim)
        self.log_std = nn.Parameter(th.full((act_dim,), math.log(init_std)))

    def _check(self, obs: th.Tensor, context: th.Tensor | None) -> None:
        if obs.dim() != 3 or obs.shape[-1] != self.obs_dim:
            raise ValueError(f"obs must have shape (groups, n, {self.obs_dim}), got {tuple(obs.shape)}")
        if self.context_dim:
            if context is None:
                raise ValueError("this policy is conditioned on the task context, but no context was given")
            if context.shape != (obs.shape[0], self.context_dim):
                raise ValueError(f"context must have shape ({obs.shape[0]}, {self.context_dim}), got {tuple(context.shape)}")

    def forward(self, obs: th.Tensor, context: th.Tensor | None = None) -> th.Tensor:
        """:param obs: ``(G, N, obs_dim)``
        :param context: ``(G, context_dim)`` (ignored when ``context_dim == 0``)
        :return: action mean ``(G, N, act_dim)``"""
        raise NotImplementedError


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``Linear → act → … → Linear`` over the widths ``sizes`` (no activation after the last layer)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class MLPGaussianPolicy(GaussianPolicy):
    """MLP on the state (MAML) or on ``[state, context]`` (Context-MAML).

    :param obs_dim: observation size
    :param act_dim: action size
    :param context_dim: oracle context size; 0 for plain MAML
    :param hidden: hidden widths (MAML: two layers of 100)
    :param init_std: initial action standard deviation
    :param activation: hidden activation (MAML's published code uses ReLU)
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        context_dim: int = 0,
        hidden: Sequence[int] = (100, 100),
        init_std: float = 1.0,
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__(obs_dim, act_dim, context_dim, init_std)
        self.mean_net = mlp([self.obs_dim + self.context_dim, *hidden, self.act_dim], activation)

    def forward(self, obs: th.Tensor, context: th.Tensor | None = None) -> th.Tensor:
        self._check(obs, context)
        if self.context_dim:
            assert context is not None
            obs = th.cat([obs, context.unsqueeze(1).expand(-1, obs.shape[1], -1)], dim=-1)
        return self.mean_net(obs)


class HyperGaussianPolicy(GaussianPolicy):
    """Hyper-MAML's policy: ``π(a | s, c) = N(f_{w(c)}(s), σ²)`` with ``w(c)`` from a hypernetwork.

    The primary network sees only the context, the dynamic network only the state (Sarafian et al. 2021,
    Eq. 16). Because every group of observations shares one context, the weights are generated once per
    group and applied with batched matmuls; this computes exactly ``HyperNetwork.forward`` (tested) at a
    fraction of the memory of per-sample generation.

    :param obs_dim: observation size
    :param act_dim: action size
    :param context_dim: oracle context size (must be ≥ 1)
    :param hidden: hidden widths of the dynamic (generated) network
    :param primary: primary preset or widths, see :class:`~hyperbench.nn.HyperNetwork`
    :param init: hypernetwork initialisation scheme (default Bias-HyperInit, Beck et al. 2022)
    :param base_init: target initialisation of the generated network
    :param init_std: initial action standard deviation
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        context_dim: int,
        hidden: Sequence[int] = (100, 100),
        primary: str | Sequence[int] = "lite",
        init: str = "bias-hyperinit",
        base_init: str = "kaiming-uniform",
        init_std: float = 1.0,
    ) -> None:
        if context_dim < 1:
            raise ValueError("HyperGaussianPolicy needs a context (context_dim >= 1): the context is the primary's input")
        super().__init__(obs_dim, act_dim, context_dim, init_std)
        self.hypernet = HyperNetwork(
            meta_dim=context_dim,
            base_dim=obs_dim,
            out_dim=act_dim,
            dynamic_hidden=tuple(hidden),
            primary=primary if isinstance(primary, str) else tuple(primary),
            init=init,
            base_init=base_init,
        )

    def generated(self, context: th.Tensor) -> th.Tensor:
        """The generated parameter vector of every group, laid out like the fused heads' output.

        :param context: ``(G, context_dim)``
        :return: ``(G, n_generated)``
        """
        return self.hypernet.heads(self.hypernet.latent(context))[0]

    def dynamic(self, generated: th.Tensor, obs: th.Tensor) -> th.Tensor:
        """The generated network of each group applied to its observations.

        :param generated: ``(G, n_generated)``, laid out like the fused heads' output
        :param obs: ``(G, N, obs_dim)``
        :return: ``(G, N, act_dim)``
        """
        net = self.hypernet
        x = obs
        last = net.n_dynamic_layers - 1
        for i, ((fan_in, fan_out), sl) in enumerate(zip(zip(net.layer_sizes[:-1], net.layer_sizes[1:]), net.head_slices)):
            # one generated network per group, shared by its N observations: a batched matmul
            h = th.bmm(x, generated[:, sl.weight].reshape(-1, fan_in, fan_out))
            bias = generated[:, sl.bias].unsqueeze(1)
            x = th.addcmul(bias, h, 1.0 + generated[:, sl.gain].unsqueeze(1)) if sl.gain is not None else h + bias
            if i != last:
                x = net.activation(x)
        return x

    def forward(self, obs: th.Tensor, context: th.Tensor | None = None) -> th.Tensor:
        self._check(obs, context)
        assert context is not None
        return self.dynamic(self.generated(context), obs)
