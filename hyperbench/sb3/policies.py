"""TD3 / SAC / TQC policy classes with hypernetwork (or baseline) critics, and their string aliases.

After ``import hyperbench`` (or ``import hyperbench.sb3``)::

    TD3("SAHyperPolicy", env, policy_kwargs=dict(preset="lite", init="hyperl", critic_lr=5e-5))
    SAC("HyperbenchPolicy", env, policy_kwargs=dict(critic="res35"))
    TQC("SAHyperPolicy", env)
    SAC("ContextHyperPolicy", gym.make("hyperbench/HalfCheetahVel-v0", context_obs=True))

Policy keyword arguments (all saved with the model, so ``load`` rebuilds the same networks):

:critic: critic variant, one of :data:`~hyperbench.nn.baselines.Q_NETWORKS`
:preset: hypernetwork primary: ``"paper"`` (the published ResNet, latent 1024), ``"lite"`` or widths
:init: initialisation scheme (:data:`~hyperbench.nn.init.INIT_SCHEMES`); default ``"hyperl"`` for TD3 and
    ``"hyperl-sac"`` for SAC / TQC, as in the published code
:base_init: target initialisation of the generated network for the HyperInit schemes
:dynamic_hidden: hidden widths of the dynamic network (paper: ``(256,)``)
:use_gain: generate the multiplicative gain of every dynamic layer
:critic_lr: critic learning rate (the paper uses 5e-5 for hypernetwork critics, 3e-4 for the actor);
    it follows the algorithm's learning-rate schedule in proportion. Default: the algorithm's rate.
:detach_primary_for_actor: actor updates skip the critic's primary network (see :mod:`.critics`)

With ``optimizer_kwargs`` unset, Adam runs with ``fused=True`` (one pass over the parameters; ≈4x faster
than the default on CPU for a paper-size critic).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import torch as th
from sb3_contrib import TQC
from sb3_contrib.tqc.policies import Critic as TQCCritic
from sb3_contrib.tqc.policies import TQCPolicy
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BaseModel, BasePolicy, ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy

from hyperbench.nn.baselines import MLP_CRITIC_ARCHS, check_critic_name
from hyperbench.sb3.actors import ContextExtractor, ContextHyperSACActor, ContextHyperTD3Actor, check_context_space
from hyperbench.sb3.critics import HyperbenchCritic, HyperbenchQuantileCritic


@functools.cache
def lr_ratio_optimizer(base: type[th.optim.Optimizer]) -> type[th.optim.Optimizer]:
    """``base`` whose step uses ``lr × group["lr_ratio"]``.

    SB3 sets every optimizer's ``lr`` to the algorithm's schedule before each ``train()``; the ratio keeps a
    separate critic learning rate in proportion to it. The ratio lives in the param groups, so it is saved
    and restored with the optimizer's ``state_dict``.
    """

    class LrRatioOptimizer(base):  # type: ignore[valid-type, misc]
        def step(self, closure: Any = None) -> Any:
            saved = [group["lr"] for group in self.param_groups]
            for group in self.param_groups:
                group["lr"] = group["lr"] * group.get("lr_ratio", 1.0)
            try:
                return super().step(closure)
            finally:
                for group, lr in zip(self.param_groups, saved):
                    group["lr"] = lr

    LrRatioOptimizer.__name__ = LrRatioOptimizer.__qualname__ = f"LrRatio{base.__name__}"
    return LrRatioOptimizer


class HyperCriticMixin:
    """Adds hyperbench's critic options to an SB3 off-policy policy (mixed in before the SB3 class).

    Subclasses name the SB3 critic used for the MLP variants (``sb3_critic_class``), the hyperbench critic
    for the others (``hyper_critic_class``) and the default critic and init scheme.
    """

    default_critic: ClassVar[str] = "sa-hyper"
    default_init: ClassVar[str] = "hyperl"
    sb3_critic_class: ClassVar[type[BaseModel]] = ContinuousCritic
    hyper_critic_class: ClassVar[type[HyperbenchCritic]] = HyperbenchCritic

    # provided by the SB3 policy class
    critic_kwargs: dict[str, Any]
    optimizer_class: type[th.optim.Optimizer]
    optimizer_kwargs: dict[str, Any]
    device: th.device
    features_extractor_class: type[BaseFeaturesExtractor]

    def __init__(
        self,
        *args: Any,
        critic: str | None = None,
        preset: str | Sequence[int] = "paper",
        init: str | None = None,
        base_init: str = "kaiming-uniform",
        dynamic_hidden: Sequence[int] = (256,),
        use_gain: bool = True,
        critic_lr: float | None = None,
        detach_primary_for_actor: bool = True,
        optimizer_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # SB3 builds the networks inside super().__init__, so our options must exist before it runs.
        self.critic_name = check_critic_name(critic or self.default_critic)
        self.hyper_options: dict[str, Any] = {
            "primary": preset if isinstance(preset, str) else tuple(preset),
            "init": init or self.default_init,
            "base_init": base_init,
            "dynamic_hidden": tuple(dynamic_hidden),
            "use_gain": use_gain,
        }
        self.critic_lr = critic_lr
        self.detach_primary_for_actor = detach_primary_for_actor
        optimizer_class = kwargs.get("optimizer_class", th.optim.Adam)
        if optimizer_kwargs is None and optimizer_class is th.optim.Adam:
            optimizer_kwargs = {"fused": True}
        super().__init__(*args, optimizer_kwargs=optimizer_kwargs, **kwargs)  # type: ignore[call-arg]

    @property
    def context_dim(self) -> int:
        return 0

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> Any:
        critic_kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)  # type: ignore[attr-defined]
        if self.critic_name in MLP_CRITIC_ARCHS and not self.context_dim:
            # MLP-Standard/Small/Large are SB3's (or sb3-contrib's) own critics with the paper's widths.
            critic_kwargs["net_arch"] = MLP_CRITIC_ARCHS[self.critic_name]
            return self.sb3_critic_class(**critic_kwargs).to(self.device)
        return self.hyper_critic_class(
            **critic_kwargs,
            critic=self.critic_name,
            hyper_kwargs=self.hyper_options,
            context_dim=self.context_dim,
            detach_primary_for_actor=self.detach_primary_for_actor,
        ).to(self.device)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)  # type: ignore[misc]
        if self.critic_lr is not None:
            critic: Any = self.critic  # type: ignore[attr-defined]
            params = [p for group in critic.optimizer.param_groups for p in group["params"]]
            base_lr = lr_schedule(1)
            optimizer = lr_ratio_optimizer(self.optimizer_class)(params, lr=base_lr, **self.optimizer_kwargs)  # type: ignore[arg-type, call-arg]
            for group in optimizer.param_groups:
                group["lr_ratio"] = self.critic_lr / base_lr
            critic.optimizer = optimizer

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(
            critic=self.critic_name,
            preset=self.hyper_options["primary"],
            init=self.hyper_options["init"],
            base_init=self.hyper_options["base_init"],
            dynamic_hidden=self.hyper_options["dynamic_hidden"],
            use_gain=self.hyper_options["use_gain"],
            critic_lr=self.critic_lr,
            detach_primary_for_actor=self.detach_primary_for_actor,
        )
        return data


class HyperbenchTD3Policy(HyperCriticMixin, TD3Policy):
    """TD3 policy with any hyperbench critic (``critic=``, default SA-Hyper); SB3's MLP actor.

    Sarafian, Keynan & Kraus, "Recomposing the Reinforcement Learning Building Blocks with Hypernetworks",
    ICML 2021. See the module docstring for the keyword arguments.
    """


class SAHyperTD3Policy(HyperbenchTD3Policy):
    """TD3 with an SA-Hyper critic: the state generates the weights of a network over the action."""


class ASHyperTD3Policy(HyperbenchTD3Policy):
    """TD3 with an AS-Hyper critic: the action generates the weights of a network over the state."""

    default_critic = "as-hyper"


class HyperbenchSACPolicy(HyperCriticMixin, SACPolicy):
    """SAC policy with any hyperbench critic (default SA-Hyper, init ``hyperl-sac``); SB3's actor."""

    default_init = "hyperl-sac"


class SAHyperSACPolicy(HyperbenchSACPolicy):
    """SAC with an SA-Hyper critic."""


class ASHyperSACPolicy(HyperbenchSACPolicy):
    """SAC with an AS-Hyper critic."""

    default_critic = "as-hyper"


class HyperbenchTQCPolicy(HyperCriticMixin, TQCPolicy):
    """TQC policy (sb3-contrib) with a quantile version of any hyperbench critic (default SA-Hyper)."""

    default_init = "hyperl-sac"
    sb3_critic_class = TQCCritic
    hyper_critic_class = HyperbenchQuantileCritic


class SAHyperTQCPolicy(HyperbenchTQCPolicy):
    """TQC with a quantile SA-Hyper critic."""


class ASHyperTQCPolicy(HyperbenchTQCPolicy):
    """TQC with a quantile AS-Hyper critic."""

    default_critic = "as-hyper"


class ContextHyperMixin(HyperCriticMixin):
    """Context-conditioned hyper-policy for ``Dict`` observations ``{"observation": s, "context": c}``.

    The actor is a hypernetwork, context → weights of the state → action network (Sarafian et al. 2021,
    eq. 16), initialised with ``actor_init`` (default ``"bias-hyperinit"``, Beck et al. 2022). The critic
    takes the state in the primary and ``[action, context]`` in the dynamic network (the Hyper-PEARL
    arrangement); with an MLP critic variant, the critic sees ``[s, c, a]``.

    :param actor_preset: primary of the actor's hypernetwork (default ``"lite"``)
    :param actor_init: init scheme of the actor's hypernetwork
    """

    actor_class: ClassVar[type[ContextHyperTD3Actor] | type[ContextHyperSACActor]]
    actor_kwargs: dict[str, Any]
    observation_space: Any

    def __init__(
        self,
        *args: Any,
        actor_preset: str | Sequence[int] = "lite",
        actor_init: str = "bias-hyperinit",
        features_extractor_class: type[BaseFeaturesExtractor] = ContextExtractor,
        **kwargs: Any,
    ) -> None:
        self.actor_preset = actor_preset if isinstance(actor_preset, str) else tuple(actor_preset)
        self.actor_init = actor_init
        check_context_space(args[0] if args else kwargs["observation_space"])
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)

    @property
    def context_dim(self) -> int:
        return check_context_space(self.observation_space)[1]

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> Any:
        actor_kwargs = self._update_features_extractor(self.actor_kwargs, features_extractor)  # type: ignore[attr-defined]
        actor_kwargs["actor_hyper_kwargs"] = {
            "primary": self.actor_preset,
            "init": self.actor_init,
            "base_init": self.hyper_options["base_init"],
            "use_gain": self.hyper_options["use_gain"],
        }
        return self.actor_class(**actor_kwargs).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(actor_preset=self.actor_preset, actor_init=self.actor_init)
        return data


class ContextHyperTD3Policy(ContextHyperMixin, TD3Policy):
    """TD3 with a context hyper-actor and a Hyper-PEARL-arranged SA-Hyper critic."""

    actor_class = ContextHyperTD3Actor


class ContextHyperSACPolicy(ContextHyperMixin, SACPolicy):
    """SAC with a context hyper-actor and a Hyper-PEARL-arranged SA-Hyper critic (multi-task SAC, oracle context)."""

    default_init = "hyperl-sac"
    actor_class = ContextHyperSACActor


POLICY_ALIASES: dict[type[BaseAlgorithm], dict[str, type[BasePolicy]]] = {
    TD3: {
        "HyperbenchPolicy": HyperbenchTD3Policy,
        "SAHyperPolicy": SAHyperTD3Policy,
        "ASHyperPolicy": ASHyperTD3Policy,
        "ContextHyperPolicy": ContextHyperTD3Policy,
    },
    SAC: {
        "HyperbenchPolicy": HyperbenchSACPolicy,
        "SAHyperPolicy": SAHyperSACPolicy,
        "ASHyperPolicy": ASHyperSACPolicy,
        "ContextHyperPolicy": ContextHyperSACPolicy,
    },
    TQC: {
        "HyperbenchPolicy": HyperbenchTQCPolicy,
        "SAHyperPolicy": SAHyperTQCPolicy,
        "ASHyperPolicy": ASHyperTQCPolicy,
    },
}


def register_policy_aliases() -> None:
    """Make the aliases above resolvable by name in TD3, SAC and TQC (``TD3("SAHyperPolicy", env)``)."""
    for algo, aliases in POLICY_ALIASES.items():
        # A fresh dict on the subclass: never mutate a parent's ``policy_aliases`` in place.
        algo.policy_aliases = {**algo.policy_aliases, **aliases}
