"""Critics that keep SB3's critic contracts, built on :mod:`hyperbench.nn.baselines`.

* :class:`HyperbenchCritic` keeps ``ContinuousCritic``'s contract (TD3, SAC): ``forward(obs, actions)``
  returns a tuple of ``n_critics`` tensors ``(B, 1)``; ``q1_forward`` returns the first.
* :class:`HyperbenchQuantileCritic` keeps sb3-contrib TQC's ``Critic`` contract: ``forward(obs, action)``
  returns ``(B, n_critics, n_quantiles)``.

**Actor updates skip the primary network.** When the action carries a gradient (SB3's TD3, SAC and TQC
call the critic with a differentiable action only in the actor loss), an SA-Hyper critic generates its
weights without autograd: the actor needs ``∇_a Q`` alone, which flows only through the dynamic network,
so the backward pass never visits the (large) primary network. This works in stock SB3 algorithms. Set
``detach_primary_for_actor=False`` if you need critic-parameter gradients through a differentiable action
(e.g. a gradient penalty).
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs
from torch import nn

from hyperbench.nn.baselines import HYPER_CRITICS, make_q_ensemble


class HyperbenchCritic(BaseModel):
    """Twin (or ``n_critics``) Q-networks of any :data:`~hyperbench.nn.baselines.Q_NETWORKS` variant.

    :param observation_space: observation space
    :param action_space: action space
    :param net_arch: ignored (each variant has the paper's architecture); kept for SB3's signature
    :param features_extractor: SB3 features extractor
    :param features_dim: its output size; with ``context_dim > 0`` the last ``context_dim`` features are
        the task context
    :param activation_fn: ignored (ReLU, as in the paper); kept for SB3's signature
    :param normalize_images: SB3's image normalisation flag
    :param n_critics: number of independent Q-networks
    :param share_features_extractor: whether the features extractor is shared with the actor
    :param critic: critic variant, e.g. ``"sa-hyper"``
    :param hyper_kwargs: :class:`~hyperbench.nn.HyperNetwork` arguments for hypernetwork critics
    :param context_dim: trailing features that are a task context; an SA-Hyper critic feeds them to the
        dynamic network with the action (``Q(s, a, c) = f_{w(s)}([a, c])``, the Hyper-PEARL arrangement)
    :param n_outputs: outputs per Q-network (quantiles for TQC)
    :param detach_primary_for_actor: see the module docstring
    """

    features_extractor: BaseFeaturesExtractor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_critics: int = 2,
        share_features_extractor: bool = True,
        critic: str = "sa-hyper",
        hyper_kwargs: dict[str, Any] | None = None,
        context_dim: int = 0,
        n_outputs: int = 1,
        detach_primary_for_actor: bool = True,
    ) -> None:
        super().__init__(
            observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images
        )
        self.share_features_extractor = share_features_extractor
        self.n_critics = n_critics
        self.critic_name = critic
        self.context_dim = context_dim
        self.detach_primary_for_actor = detach_primary_for_actor
        self.state_dim = features_dim - context_dim
        kwargs = dict(hyper_kwargs or {}) if critic in HYPER_CRITICS else {}
        self.q_net = make_q_ensemble(
            critic,
            self.state_dim,
            get_action_dim(action_space),
            n_members=n_critics,
            n_outputs=n_outputs,
            base_extra_dim=context_dim,
            **kwargs,
        )

    def _q_values(self, obs: PyTorchObs, actions: th.Tensor, members: int | None = None) -> th.Tensor:
        """``(n_critics, B, n_outputs)``, or ``(members, B, n_outputs)`` for the first ``members`` networks only"""
        with th.set_grad_enabled(not self.share_features_extractor):
            features = self.extract_features(obs, self.features_extractor)
        state, context = features[:, : self.state_dim], features[:, self.state_dim :]
        base = th.cat([actions, context], dim=1) if self.context_dim else actions
        if self.detach_primary_for_actor and actions.requires_grad and th.is_grad_enabled():
            return self.q_net.action_value(state, base, members)
        return self.q_net(state, base, members)

    def forward(self, obs: PyTorchObs, actions: th.Tensor) -> tuple[th.Tensor, ...]:
        return tuple(self._q_values(obs, actions).unbind(0))

    def q1_forward(self, obs: PyTorchObs, actions: th.Tensor) -> th.Tensor:
        """Q-value of the first network only (TD3's actor loss); the other networks are not evaluated."""
        return self._q_values(obs, actions, members=1)[0]


class HyperbenchQuantileCritic(HyperbenchCritic):
    """TQC's contract: ``forward(obs, action) -> (B, n_critics, n_quantiles)`` (sb3-contrib ``tqc.policies.Critic``).

    :param n_quantiles: quantiles per Q-network
    """

    def __init__(self, *args: Any, n_quantiles: int = 25, **kwargs: Any) -> None:
        kwargs["n_outputs"] = n_quantiles
        super().__init__(*args, **kwargs)
        self.n_quantiles = n_quantiles
        self.quantiles_total = n_quantiles * self.n_critics

    def forward(self, obs: PyTorchObs, action: th.Tensor) -> th.Tensor:  # type: ignore[override]
        return self._q_values(obs, action).transpose(0, 1)
