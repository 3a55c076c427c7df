"""TD3 / SAC / TQC policy classes with hypernetwork (or baseline) critics, and their string aliases.

After ``import hyperbench`` (or ``import hyperbench.sb3``)::

    TD3("SAHyperPolicy", env, policy_kwargs=dict(preset="lite", init="hyperl", critic_lr=5e-5))
    SAC("HyperbenchPolicy", env, policy_kwargs=dict(critic="res35"))
    TQC("SAHyperPolicy", env)
    SAC("ContextHyperPolicy", gym.make("hyperbench/HalfCheetahVel-v0", context_obs=True))

Policy keyword arguments (all saved with the model, so ``load`` rebuilds the same networks):

:critic: critic variant, one of :data:`~hyperbench.nn.baselines.Q_NETWORKS`
:preset: hypernetwork primary: ``"paper"`` (the published ResNet, latent 1024, 14-17 M parameters for a
    twin critic), ``"lite"`` (≈ 1/40 of that) or widths. Default: ``"lite"``, sized for a CPU (the same on every
    machine, so saved models load anywhere); a :class:`DefaultSizeWarning`, once per process, says so.
:init: initialisation scheme (:data:`~hyperbench.nn.init.INIT_SCHEMES`); default ``"hyperl"`` for TD3 and
    ``"hyperl-sac"`` for SAC / TQC, as in the published code
:base_init: target initialisation of the generated network for the HyperInit schemes
:meta_norm: standardise each hypernetwork's meta input with running statistics (``None``: on for the
    schemes that assume a standardised input, ``hfi`` and ``weight-hyperinit``; see ``hyperbench.nn.init``).
    The statistics update in training mode and are buffers named ``running_*``, which SB3 copies to the
    target networks after every update and saves with the model
:dynamic_hidden: hidden widths of the dynamic network (paper: ``(256,)``)
:use_gain: generate the multiplicative gain of every dynamic layer
:critic_lr: critic learning rate (the paper uses 5e-5 for hypernetwork critics, 3e-4 for the actor);
    it follows the algorithm's learning-rate schedule in proportion. Default: the algorithm's rate.
:detach_primary_for_actor: actor updates skip the critic's primary network (see :mod:`.critics`)

With ``optimizer_kwargs`` unset, Adam runs with ``fused=True`` (one pass over the parameters; ≈4x faster
than the default on CPU for a paper-size critic).

SB3's own keywords keep their meaning for the actor. ``net_arch`` and ``activation_fn`` do not reach the
critic (each variant has the paper's architecture, ReLU): passing them for a critic that ignores them raises
an :class:`IgnoredArgumentWarning`; ``net_arch=dict(pi=[...], qf=[])`` sizes the actor alone. A ``Dict``
observation space gets SB3's ``CombinedExtractor`` (what ``"MultiInputPolicy"`` uses), so goal-conditioned
environments and ``HerReplayBuffer`` work unchanged.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import torch as th
from gymnasium import spaces
from sb3_contrib import TQC
from sb3_contrib.tqc.policies import Critic as TQCCritic
from sb3_contrib.tqc.policies import TQCPolicy
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BaseModel, BasePolicy, ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import nn

from hyperbench.nn.baselines import HYPER_CRITICS, MLP_CRITIC_ARCHS, check_critic_name
from hyperbench.sb3.actors import ContextExtractor, ContextHyperSACActor, ContextHyperTD3Actor, check_context_space
from hyperbench.sb3.critics import HyperbenchCritic, HyperbenchQuantileCritic


class CriticLrOptimizer(th.optim.Optimizer):
    """An optimizer whose step uses ``lr × group["lr_ratio"]``: a separate critic learning rate under SB3.

    SB3 sets every optimizer's ``lr`` to the algorithm's schedule before each ``train()``; the ratio keeps
    the critic's rate in proportion to it. It wraps an ordinary optimizer (``self.optimizer``) instead of
    subclassing it at run time, so a policy that uses it can be pickled and deep-copied. The ratio lives in
    the param groups, so it is saved and restored with the ``state_dict`` (which is the wrapped optimizer's,
    unchanged).

    :param params: parameters to optimise
    :param optimizer_class: the optimizer to wrap (e.g. ``th.optim.Adam``)
    :param lr_ratio: critic rate / algorithm rate
    :param kwargs: the wrapped optimizer's keyword arguments (``lr`` included)
    """

    def __init__(
        self, params: Any, optimizer_class: type[th.optim.Optimizer] = th.optim.Adam, lr_ratio: float = 1.0, **kwargs: Any
    ) -> None:
        # th.optim.Optimizer.__init__ is not called: every piece of state is the wrapped optimizer's.
        self.optimizer = optimizer_class(params, **kwargs)
        for group in self.optimizer.param_groups:
            group["lr_ratio"] = lr_ratio

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:  # type: ignore[override]
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"CriticLrOptimizer({self.optimizer!r})"

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Any = None) -> Any:
        saved = [group["lr"] for group in self.param_groups]
        for group in self.param_groups:
            group["lr"] = group["lr"] * group.get("lr_ratio", 1.0)
        try:
            return self.optimizer.step(closure)
        finally:
            for group, lr in zip(self.param_groups, saved):
                group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)


_LIBRARY_PACKAGES = ("hyperbench.", "stable_baselines3.", "sb3_contrib.", "rl_zoo3.")


def _caller_stacklevel() -> int:
    """``stacklevel`` of the first frame outside hyperbench and SB3: warnings point at the user's line."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(_LIBRARY_PACKAGES):
        frame, level = frame.f_back, level + 1
    return level


class DefaultSizeWarning(UserWarning):
    """The policy chose the size of the hypernetwork critic because ``preset`` was not given."""


class IgnoredArgumentWarning(UserWarning):
    """A policy keyword argument (``net_arch``, ``activation_fn``) does not reach the critic."""


#: The primary preset when ``preset`` is not given: sized for the CPU most users train on. It does not depend
#: on the machine, because SB3 rebuilds a saved model from the keywords the user passed: a GPU-dependent
#: default would load a model trained on a GPU with the wrong network on a laptop.
DEFAULT_PRESET = "lite"
DEFAULT_PRESET_REASON = (
    "it is sized for a CPU: a paper-size critic update is about 12x slower on a CPU (172-199 ms vs 13-17 ms "
    "on 2 cores) and a saved TD3 model on Pendulum-v1 is 117 MB instead of 4 MB"
)
_announced: set[str] = set()


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
        preset: str | Sequence[int] | None = None,
        init: str | None = None,
        base_init: str = "kaiming-uniform",
        dynamic_hidden: Sequence[int] = (256,),
        use_gain: bool = True,
        meta_norm: bool | None = None,
        critic_lr: float | None = None,
        detach_primary_for_actor: bool = True,
        optimizer_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # SB3 builds the networks inside super().__init__, so our options must exist before it runs.
        self.critic_name = check_critic_name(critic or self.default_critic)
        defaulted = preset is None
        if preset is None:
            preset = DEFAULT_PRESET
        self.hyper_options: dict[str, Any] = {
            "primary": preset if isinstance(preset, str) else tuple(preset),
            "init": init or self.default_init,
            "base_init": base_init,
            "dynamic_hidden": tuple(dynamic_hidden),
            "use_gain": use_gain,
            "meta_norm": meta_norm,
        }
        self.critic_lr = critic_lr
        self.detach_primary_for_actor = detach_primary_for_actor
        optimizer_class = kwargs.get("optimizer_class", th.optim.Adam)
        if optimizer_kwargs is None and optimizer_class is th.optim.Adam:
            optimizer_kwargs = {"fused": True}
        observation_space = args[0] if args else kwargs.get("observation_space")
        if isinstance(observation_space, spaces.Dict) and "features_extractor_class" not in kwargs:
            # What SB3's "MultiInputPolicy" does: one extractor per key, concatenated (HER, goal envs).
            kwargs["features_extractor_class"] = CombinedExtractor
        super().__init__(*args, optimizer_kwargs=optimizer_kwargs, **kwargs)  # type: ignore[call-arg]
        self._warn_ignored_arguments(passed=set(kwargs))
        if defaulted and self.critic_name in HYPER_CRITICS and type(self).__name__ not in _announced:
            _announced.add(type(self).__name__)  # once per process and policy class (SB3's load rebuilds too)
            self._announce_default_size()

    def _announce_default_size(self) -> None:
        critic: Any = self.critic  # type: ignore[attr-defined]
        n_params = sum(p.numel() for p in critic.q_net.parameters())
        warnings.warn(
            f"{type(self).__name__}: `preset` not given, so the {self.critic_name} critic uses the {DEFAULT_PRESET!r} "
            f"primary network ({n_params / 1e6:.2f} M parameters for {critic.n_critics} critics), because "
            f"{DEFAULT_PRESET_REASON}. Pass preset='paper' for the published critic (about 40x the "
            f"parameters; meant for a GPU), or preset={DEFAULT_PRESET!r} to keep this one without this message.",
            DefaultSizeWarning,
            stacklevel=_caller_stacklevel(),
        )

    def _warn_ignored_arguments(self, passed: set[str]) -> None:
        """Name the keywords the user passed that the critic does not use (SB3's own defaults are not named)."""
        net_arch = self.critic_kwargs.get("net_arch")
        fixed = MLP_CRITIC_ARCHS.get(self.critic_name) if not self.context_dim else None
        if "net_arch" in passed and net_arch and list(net_arch) != fixed:
            uses = f"its own widths {fixed}" if fixed else "its own architecture"
            warnings.warn(
                f"{type(self).__name__}: net_arch={net_arch} does not reach the {self.critic_name} critic, which has "
                f"{uses}; it sets the actor only. Pass net_arch=dict(pi=[...], qf=[]) to size the actor alone, and "
                f"choose the critic with critic=, preset=, dynamic_hidden=.",
                IgnoredArgumentWarning,
                stacklevel=_caller_stacklevel(),
            )
        activation_fn = self.critic_kwargs.get("activation_fn", nn.ReLU)
        ignored_by_critic = self.context_dim or self.critic_name not in MLP_CRITIC_ARCHS
        if "activation_fn" in passed and activation_fn is not nn.ReLU and ignored_by_critic:
            warnings.warn(
                f"{type(self).__name__}: activation_fn={activation_fn.__name__} does not reach the {self.critic_name} "
                "critic (ReLU, as in the paper); it applies to the actor only.",
                IgnoredArgumentWarning,
                stacklevel=_caller_stacklevel(),
            )

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
            # A zero rate is how replay tools load a model (rl_zoo3's enjoy: lr_schedule=lambda _: 0.0); the
            # ratio does not matter then, and a saved model restores its own with the optimizer's state.
            ratio = self.critic_lr / base_lr if base_lr else 1.0
            critic.optimizer = CriticLrOptimizer(
                params, self.optimizer_class, lr_ratio=ratio, lr=base_lr, **self.optimizer_kwargs
            )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(
            critic=self.critic_name,
            preset=self.hyper_options["primary"],
            init=self.hyper_options["init"],
            base_init=self.hyper_options["base_init"],
            dynamic_hidden=self.hyper_options["dynamic_hidden"],
            use_gain=self.hyper_options["use_gain"],
            meta_norm=self.hyper_options["meta_norm"],
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
            "meta_norm": self.hyper_options["meta_norm"],
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
