"""Q-network ensembles: the SA-Hyper / AS-Hyper hypernetwork critics and the paper's baselines.

Every network here maps ``(state (B, S), action (B, A))`` to ``(E, B, n_outputs)`` for ``E`` independent
members (twin critics are ``E = 2``); ``members=e`` evaluates the first ``e`` members alone (``(e, B, n_outputs)``,
e.g. member 0 for TD3's actor loss), without computing the others. The baselines are those of Sarafian et al. (2021), §5.1:

==================  ==============================================================================
``sa-hyper``        state → primary → weights of a dynamic net over the action (the paper's method)
``as-hyper``        action → primary → weights of a dynamic net over the state (the reverse)
``mlp``             MLP-Standard, 2×256 on [s, a]
``mlp-small``       MLP-Small, 1×256 (the size of the dynamic net)
``mlp-large``       MLP-Large, 2×2900 (≈ 9M weights per critic pair)
``resnet-features`` the paper-preset primary turns the state into 1024 features, [features, a] → 2×256
``res35``           35 residual blocks of width 256 on [s, a] (≈ 4.6M weights per critic)
``d2rl``            Q-D2RL (Sinha et al. 2020): 4×256 with [s, a] concatenated into every hidden layer
==================  ==============================================================================
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from typing import Any

import torch as th
from torch import nn

from hyperbench.nn.hypernet import PRIMARY_PRESETS, HyperNetwork, PrimaryNetwork
from hyperbench.nn.layers import EnsembleLinear, EnsembleResBlock, n_evaluated


def _members(x: th.Tensor, n_members: int) -> th.Tensor:
    return x.unsqueeze(0).expand(n_members, *x.shape)


def ensemble_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, n_members: int) -> nn.Sequential:
    """ReLU MLP of :class:`EnsembleLinear` layers, ``(E, B, in_dim) → (E, B, out_dim)``."""
    sizes = [in_dim, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [EnsembleLinear(n_members, fan_in, fan_out), nn.ReLU()]
    layers.append(EnsembleLinear(n_members, sizes[-1], out_dim))
    return nn.Sequential(*layers)


class QEnsemble(nn.Module):
    """Base class: ``forward(state, action, members=None) -> (E, B, n_outputs)``."""

    n_members: int
    n_outputs: int

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        """:param state: ``(B, S)``
        :param action: ``(B, A)``
        :param members: evaluate only the first ``members`` members (default: all)
        :return: ``(E, B, n_outputs)`` (``(members, B, n_outputs)``)"""
        raise NotImplementedError

    def _n_evaluated(self, members: int | None) -> int:
        return n_evaluated(members, self.n_members)

    def action_value(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        """``Q(s, a)`` for an actor update, where only ``∇_a Q`` is needed.

        Networks that can skip work whose gradient the actor never uses override this; the default is
        the ordinary forward.
        """
        return self(state, action, members)


class MLPQ(QEnsemble):
    """MLP on ``[s, a]`` with the given hidden widths (MLP-Standard/Small/Large)."""

    def __init__(self, state_dim: int, action_dim: int, hidden: Sequence[int], n_members: int = 2, n_outputs: int = 1) -> None:
        super().__init__()
        self.n_members, self.n_outputs = n_members, n_outputs
        self.net = ensemble_mlp(state_dim + action_dim, hidden, n_outputs, n_members)

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        return self.net(_members(th.cat([state, action], dim=-1), self._n_evaluated(members)))


class D2RLQ(QEnsemble):
    """Q-D2RL (Sinha, Bharadhwaj, Srinivas & Garg 2020): the input is concatenated into every hidden layer."""

    def __init__(
        self, state_dim: int, action_dim: int, width: int = 256, depth: int = 4, n_members: int = 2, n_outputs: int = 1
    ) -> None:
        super().__init__()
        self.n_members, self.n_outputs = n_members, n_outputs
        in_dim = state_dim + action_dim
        self.hidden = nn.ModuleList(
            EnsembleLinear(n_members, in_dim if i == 0 else width + in_dim, width) for i in range(depth)
        )
        self.out = EnsembleLinear(n_members, width, n_outputs)

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        inp = _members(th.cat([state, action], dim=-1), self._n_evaluated(members))
        x = th.relu(self.hidden[0](inp))
        for layer in self.hidden[1:]:
            x = th.relu(layer(th.cat([x, inp], dim=-1)))
        return self.out(x)


class ResNetQ(QEnsemble):
    """``Linear([s, a] → width)`` → ``n_blocks`` residual blocks → ReLU → ``Linear(width → out)`` (Res35)."""

    def __init__(
        self, state_dim: int, action_dim: int, width: int = 256, n_blocks: int = 35, n_members: int = 2, n_outputs: int = 1
    ) -> None:
        super().__init__()
        self.n_members, self.n_outputs = n_members, n_outputs
        self.inp = EnsembleLinear(n_members, state_dim + action_dim, width)
        self.blocks = nn.Sequential(*(EnsembleResBlock(n_members, width) for _ in range(n_blocks)))
        self.out = EnsembleLinear(n_members, width, n_outputs)

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        x = self.blocks(self.inp(_members(th.cat([state, action], dim=-1), self._n_evaluated(members))))
        return self.out(th.relu(x))


class ResNetFeaturesQ(QEnsemble):
    """ResNet-Features: the SA-Hyper primary (``paper`` preset) as a state feature extractor, then
    ``[features, a]`` → MLP-Standard. Same capacity as SA-Hyper's primary, without the hypernetwork."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        primary: str = "paper",
        hidden: Sequence[int] = (256, 256),
        n_members: int = 2,
        n_outputs: int = 1,
    ) -> None:
        super().__init__()
        self.n_members, self.n_outputs = n_members, n_outputs
        self.features = PrimaryNetwork(n_members, state_dim, PRIMARY_PRESETS[primary])
        self.head = ensemble_mlp(self.features.latent_dim + action_dim, hidden, n_outputs, n_members)

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        n = self._n_evaluated(members)
        features = self.features(_members(state, n))
        return self.head(th.cat([features, _members(action, n)], dim=-1))


class SAHyperQ(QEnsemble):
    """SA-Hyper critic (Sarafian et al. 2021): ``Q(s, a) = f_{w(s)}(a)``.

    ``∇_a Q`` depends on the state through every generated matrix ``W_l(s)``, not only through ReLU
    patterns as in an MLP. For an actor update only ``∇_a Q`` is needed, so :meth:`action_value`
    generates the weights without autograd: the backward pass never visits the primary network.

    :param base_extra_dim: extra base inputs appended to the action (a task context, in the Hyper-PEARL
        arrangement: ``Q(s, a, c) = f_{w(s)}([a, c])``)
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        n_members: int = 2,
        n_outputs: int = 1,
        base_extra_dim: int = 0,
        **hyper_kwargs: Any,
    ) -> None:
        super().__init__()
        self.n_members, self.n_outputs = n_members, n_outputs
        self.hyper = HyperNetwork(state_dim, action_dim + base_extra_dim, n_outputs, n_members=n_members, **hyper_kwargs)

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        return self.hyper(state, action, members)

    def action_value(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        with th.no_grad():
            params = self.hyper.generate(state, members)
        return self.hyper.dynamic_forward(params, action)


class ASHyperQ(QEnsemble):
    """AS-Hyper critic: ``Q(s, a) = f_{w(a)}(s)`` (the paper's reverse arrangement, for comparison)."""

    def __init__(self, state_dim: int, action_dim: int, n_members: int = 2, n_outputs: int = 1, **hyper_kwargs: Any) -> None:
        super().__init__()
        self.n_members, self.n_outputs = n_members, n_outputs
        self.hyper = HyperNetwork(action_dim, state_dim, n_outputs, n_members=n_members, **hyper_kwargs)

    def forward(self, state: th.Tensor, action: th.Tensor, members: int | None = None) -> th.Tensor:
        return self.hyper(action, state, members)


HYPER_CRITICS = ("sa-hyper", "as-hyper")
MLP_CRITIC_ARCHS: dict[str, list[int]] = {"mlp": [256, 256], "mlp-small": [256], "mlp-large": [2900, 2900]}
Q_NETWORKS: tuple[str, ...] = (*HYPER_CRITICS, *MLP_CRITIC_ARCHS, "resnet-features", "res35", "d2rl")


def check_critic_name(name: str) -> str:
    """Return ``name`` if it is a known critic, else raise an error listing the valid ones."""
    if name not in Q_NETWORKS:
        close = difflib.get_close_matches(name, Q_NETWORKS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown critic {name!r}; valid critics: {list(Q_NETWORKS)}.{hint}")
    return name


def make_q_ensemble(
    name: str,
    state_dim: int,
    action_dim: int,
    n_members: int = 2,
    n_outputs: int = 1,
    base_extra_dim: int = 0,
    **hyper_kwargs: Any,
) -> QEnsemble:
    """Build a Q-network ensemble by name.

    :param name: one of :data:`Q_NETWORKS`
    :param state_dim: state (or state-feature) size
    :param action_dim: action size
    :param n_members: independent Q-networks
    :param n_outputs: outputs per network (1, or the number of quantiles for TQC)
    :param base_extra_dim: SA-Hyper only: extra inputs appended to the action in the dynamic network;
        other critics simply receive them as part of ``action``
    :param hyper_kwargs: ``HyperNetwork`` arguments (``primary``, ``init``, ``base_init``,
        ``dynamic_hidden``, ``use_gain``) for the hypernetwork critics
    """
    check_critic_name(name)
    if name not in HYPER_CRITICS and hyper_kwargs:
        raise ValueError(f"critic {name!r} takes no hypernetwork arguments, got {sorted(hyper_kwargs)}")
    if name == "sa-hyper":
        return SAHyperQ(state_dim, action_dim, n_members, n_outputs, base_extra_dim=base_extra_dim, **hyper_kwargs)
    full_action_dim = action_dim + base_extra_dim
    if name == "as-hyper":
        return ASHyperQ(state_dim, full_action_dim, n_members, n_outputs, **hyper_kwargs)
    if name in MLP_CRITIC_ARCHS:
        return MLPQ(state_dim, full_action_dim, MLP_CRITIC_ARCHS[name], n_members, n_outputs)
    if name == "resnet-features":
        return ResNetFeaturesQ(state_dim, full_action_dim, n_members=n_members, n_outputs=n_outputs)
    if name == "res35":
        return ResNetQ(state_dim, full_action_dim, n_members=n_members, n_outputs=n_outputs)
    return D2RLQ(state_dim, full_action_dim, n_members=n_members, n_outputs=n_outputs)
