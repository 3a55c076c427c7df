"""Context-conditioned hyper-actors: the task context generates the weights of the state → action network.

Sarafian et al. (2021), eq. 16: ``π(a | s, c) = f_{w(c)}(s)``. Observations are Gymnasium ``Dict`` spaces
with the keys ``"observation"`` (the state) and ``"context"`` (the task context, e.g. an oracle
target velocity) — the contextual mode of :mod:`hyperbench.envs`. :class:`ContextExtractor` flattens them
into ``[observation, context]`` so SB3's machinery (preprocessing, replay buffers) is unchanged.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import get_action_dim, get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import PyTorchObs
from stable_baselines3.sac.policies import LOG_STD_MAX, LOG_STD_MIN
from torch import nn

from hyperbench.nn.hypernet import HyperNetwork

OBSERVATION_KEY = "observation"
CONTEXT_KEY = "context"


def check_context_space(observation_space: spaces.Space) -> tuple[int, int]:
    """Return ``(observation_dim, context_dim)`` of a contextual ``Dict`` space, or raise a clear error."""
    if not isinstance(observation_space, spaces.Dict) or set(observation_space.spaces) != {OBSERVATION_KEY, CONTEXT_KEY}:
        keys = list(observation_space.spaces) if isinstance(observation_space, spaces.Dict) else None
        raise ValueError(
            f"Context hyper-policies need a Dict observation space with keys {[OBSERVATION_KEY, CONTEXT_KEY]}, "
            f"got {type(observation_space).__name__}"
            + (f" with keys {keys}" if keys is not None else "")
            + " (make the env with context_obs=True)"
        )
    return (
        get_flattened_obs_dim(observation_space[OBSERVATION_KEY]),
        get_flattened_obs_dim(observation_space[CONTEXT_KEY]),
    )


class ContextExtractor(BaseFeaturesExtractor):
    """``{"observation": s, "context": c}`` → ``[flatten(s), flatten(c)]`` (context last)."""

    def __init__(self, observation_space: spaces.Dict) -> None:
        obs_dim, context_dim = check_context_space(observation_space)
        super().__init__(observation_space, features_dim=obs_dim + context_dim)
        self.obs_dim, self.context_dim = obs_dim, context_dim

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        return th.cat([observations[OBSERVATION_KEY].flatten(1), observations[CONTEXT_KEY].flatten(1)], dim=1)


class _ContextHyperActor(BasePolicy):
    """Shared part: a hypernetwork with the context as meta input and the state as base input."""

    features_extractor: ContextExtractor

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: ContextExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        actor_hyper_kwargs: dict[str, Any] | None = None,
        n_outputs_per_action: int = 1,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            normalize_images=normalize_images,
            squash_output=True,
        )
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.actor_hyper_kwargs = dict(actor_hyper_kwargs or {})
        self.obs_dim, self.context_dim = check_context_space(observation_space)
        self.action_dim = get_action_dim(action_space)
        kwargs: dict[str, Any] = {"primary": "lite", "init": "bias-hyperinit", **self.actor_hyper_kwargs}
        self.hyper = HyperNetwork(
            self.context_dim,
            self.obs_dim,
            n_outputs_per_action * self.action_dim,
            dynamic_hidden=tuple(net_arch),
            activation=activation_fn,
            **kwargs,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            net_arch=self.net_arch,
            features_dim=self.features_dim,
            activation_fn=self.activation_fn,
            features_extractor=self.features_extractor,
            actor_hyper_kwargs=self.actor_hyper_kwargs,
        )
        return data

    def _hyper_out(self, obs: PyTorchObs) -> th.Tensor:
        features = self.extract_features(obs, self.features_extractor)
        state, context = features[:, : self.obs_dim], features[:, self.obs_dim :]
        return self.hyper(context, state)[0]


class ContextHyperTD3Actor(_ContextHyperActor):
    """Deterministic TD3 actor ``a = tanh(f_{w(c)}(s))``.

    :param actor_hyper_kwargs: :class:`~hyperbench.nn.HyperNetwork` arguments (``primary``, ``init``
        — default ``"bias-hyperinit"`` —, ``base_init``, ``use_gain``); ``net_arch`` gives the dynamic widths
    """

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        return th.tanh(self._hyper_out(obs))

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation)


class ContextHyperSACActor(_ContextHyperActor):
    """Squashed-Gaussian SAC actor whose mean and log-std are the outputs of ``f_{w(c)}(s)`` (no gSDE).

    :param actor_hyper_kwargs: as for :class:`ContextHyperTD3Actor`
    """

    def __init__(self, *args: Any, use_sde: bool = False, **kwargs: Any) -> None:
        if use_sde:
            raise ValueError("ContextHyperSACActor does not support gSDE (use_sde=True)")
        # SACPolicy passes its gSDE options to every actor; they do not apply without gSDE.
        for unused in ("log_std_init", "full_std", "use_expln", "clip_mean"):
            kwargs.pop(unused, None)
        kwargs["n_outputs_per_action"] = 2
        super().__init__(*args, **kwargs)
        self.use_sde = False
        self.action_dist = SquashedDiagGaussianDistribution(self.action_dim)

    def get_action_dist_params(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor, dict[str, th.Tensor]]:
        out = self._hyper_out(obs)
        mean, log_std = out[:, : self.action_dim], out[:, self.action_dim :]
        return mean, th.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX), {}

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        mean, log_std, kwargs = self.get_action_dist_params(obs)
        return self.action_dist.actions_from_params(mean, log_std, deterministic=deterministic, **kwargs)

    def action_log_prob(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        mean, log_std, kwargs = self.get_action_dist_params(obs)
        return self.action_dist.log_prob_from_params(mean, log_std, **kwargs)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)
