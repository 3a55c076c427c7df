"""VariBAD (Zintgraf et al., ICLR 2020), with plain or hypernetwork policies (Beck et al., CoRL 2022).

A recurrent encoder (:class:`~hyperbench.meta.belief_encoder.RecurrentEncoder`) turns the history of a
meta-episode into a Gaussian posterior ``q(m | τ_{:t})`` over a task latent at every step, the prior at
``t = 0`` included; a reward decoder reconstructs the rewards of the *whole* meta-episode from a sample of
every posterior, and the encoder and decoder are trained as a VAE whose KL term is to the previous
posterior (``N(0, I)`` before the first step). A PPO policy acts on ``[s, μ_t, σ²_t]``; by default the policy
gradient does not flow into the encoder (the posterior is a fixed input to the policy, stored at rollout
time), as in the reference implementation.

One training iteration (:meth:`VariBAD._train_iteration`):

1. ``meta_batch_size`` meta-episodes of random training tasks through the shared rollout loop, each
   ``episodes_per_meta_episode`` episodes (GridNavi 4, others 2), the belief carried across episodes and
   reset only at the meta-episode boundary;
2. one PPO update on them: GAE over the whole meta-episode (the BAMDP's episode; only its last step is
   terminal), ``n_epochs`` epochs over ``n_minibatches`` minibatches of whole meta-episodes, clipped
   policy and value losses, entropy bonus, gradient-norm clipping;
3. the meta-episodes go into the VAE buffer (a ring of trajectories, checkpointed as large state) and
   ``vae_updates`` VAE steps on ``vae_batch_trajectories`` trajectories from it.

Evaluation: :meth:`VariBAD.meta_episode` is ``n`` phases of one episode each (``"episode-1"``, …); the headline
is the meta-episode return, the first episode's return is a secondary score.

What is reused: the :class:`~hyperbench.meta.MetaLearner` machinery (SB3 logger, callbacks, progress bar,
safetensors checkpoints), the rollout loop, :class:`hyperbench.nn.HyperNetwork` and its initialisations.
What is not, and why: SB3's ``RolloutBuffer`` and
``PPO.train`` assume one environment step per buffer row and feed-forward policies evaluated on shuffled
single steps; a recurrent learner needs whole meta-episodes per minibatch (RL2 back-propagates through the
GRU over them) and GAE across episode boundaries with padding, and sb3-contrib's ``RecurrentPPO`` keeps an
LSTM state per environment of a ``VecEnv`` and resets it at every episode end, which is the opposite of a
belief carried over a meta-episode. The PPO loss (clipped surrogate, clipped value loss, entropy) is a few
lines here (:func:`ppo_losses`), written to match SB3's ``PPO.train``.

Deviations from the reference code, all for a CPU-sized reimplementation: PPO updates after whole
meta-episodes (the reference's MuJoCo runs update every 200 steps mid-meta-episode); the reward decoder is a
regression (MSE) everywhere (the reference uses a Bernoulli multi-head decoder on GridNavi); no observation
or reward normalisation for the policy (the reference normalises both on MuJoCo); a VAE buffer of 1000
trajectories (reference: 10 000–100 000); the default KL weight is 0.1 for every family (the reference's
GridNavi and point-robot configs use 1.0: set ``kl_weight`` in a suite to follow them, as the Point-Robot
exploration does).
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch as th
from torch import nn

from hyperbench.meta.advantages import sequence_gae
from hyperbench.meta.base import MetaLearner, check_config_keys, observation_batch, resolve_variant_config
from hyperbench.meta.belief_encoder import RecurrentEncoder, RewardDecoder
from hyperbench.meta.belief_policy import HYPER_INITS, BeliefActorCritic
from hyperbench.meta.pearl import _load_optimizer, _optimizer_tensors
from hyperbench.meta.policies import diag_gaussian_kl
from hyperbench.meta.rollout import EpisodeBatch, Headline, Phase

__all__ = ["VARIBAD_VARIANTS", "RecurrentState", "VariBAD", "VariBADConfig", "ppo_losses"]

#: The two VariBAD variants.
VARIBAD_VARIANTS: tuple[str, ...] = ("varibad", "hyper-varibad", "film-varibad")

#: Families on which the Gaussian mean is bounded with tanh (Box; the reference's pre-sampling action
#: normalisation, which the point-robot config of Beck et al.'s code turns on and VariBAD's MuJoCo configs leave
#: off). Without it a mean past the action bounds gets no signal from the clipped environment and can drift there:
#: on Point-Robot plain VariBAD's mean reached |a| ≈ 3 and its return fell below a random policy's.
TANH_MEAN_FAMILIES: frozenset[str] = frozenset({"point-robot", "sparse-point-robot"})

#: Family-dependent defaults (``None`` in the config): (Discrete / GridNavi, Box / MuJoCo), from the reference configs.
_BY_ACTION_KIND: dict[str, tuple[Any, Any]] = {
    "policy_hidden": ((32, 32), (128, 128)),
    "episodes_per_meta_episode": (4, 2),
    "gamma": (0.95, 0.97),
    "gae_lambda": (0.95, 0.9),
    "entropy_coef": (0.1, 0.01),
    "gru_hidden": (64, 128),
    "action_embed": (0, 16),
    "reward_embed": (8, 16),
    "decoder_hidden": ((32, 32), (64, 32)),
    "decoder_input_prev": (False, True),
    "vae_updates": (3, 1),
    "vae_batch_trajectories": (25, 10),
    "vae_subsample_elbos": (0, 50),
}


#: Family-dependent defaults that take precedence over ``_BY_ACTION_KIND`` for ``None`` fields: the reference's own
#: configs for the family where they differ from the action kind's. The point-robot configs (VariBAD's
#: ``args_pointrobot_varibad.py``, Beck et al.'s ``args_semicircle_varibad.py``) train the VAE with 3 updates per
#: iteration on 15-25 trajectories, not the MuJoCo configs' 1 update on 10: with the MuJoCo values plain VariBAD's
#: posterior on dense Point-Robot told the goals apart little (linear R² of the goal from the belief after one
#: episode 0.44 / 0.67 at 120k steps) and the policy stayed at the memoryless level. A property of the family
#: saved with the learner's spaces (as the tanh-bounded mean), so a reloaded learner keeps the values it trained with.
_BY_FAMILY: dict[str, dict[str, Any]] = {
    "point-robot": {"vae_updates": 3, "vae_batch_trajectories": 25},
    "sparse-point-robot": {"vae_updates": 3, "vae_batch_trajectories": 25},
}


@dataclass
class VariBADConfig:
    """Hyperparameters of :class:`VariBAD`; ``None`` means the reference value for the family's action kind
    (Discrete: the GridNavi config, Box: the MuJoCo config; see ``_BY_ACTION_KIND``)."""

    VARIANTS: ClassVar[tuple[str, ...]] = VARIBAD_VARIANTS

    variant: str = "varibad"
    """``"varibad"`` (MLP policy on ``[s, μ, σ²]``), ``"hyper-varibad"`` (hypernetwork ``[μ, σ²]`` → policy over ``s``) or
    ``"film-varibad"`` (policy over ``s`` FiLM-modulated by ``[μ, σ²]``)"""
    init: str = "bias-hyperinit"
    """hypernetwork initialisation (hyper variants): ``kaiming``, ``hfi``, ``weight-hyperinit``, ``bias-hyperinit``"""
    hyper_primary: tuple[int, ...] = (32,)
    """hidden widths of the hypernetworks' primary networks (kept small, as Beck et al.)"""
    hyper_meta_norm: bool | None = None
    """standardise the hypernetwork input (``None``: on for ``hfi`` / ``weight-hyperinit`` only)"""
    policy_hidden: tuple[int, ...] | None = None
    """actor / critic hidden widths (None: 32×32 Discrete, 128×128 Box)"""
    episodes_per_meta_episode: int | None = None
    """episodes per training meta-episode (None: 4 Discrete, 2 Box)"""
    meta_batch_size: int = 16
    """meta-episodes per iteration (the reference's parallel processes)"""
    lr: float = 7e-4
    """policy learning rate (Adam)"""
    gamma: float | None = None
    """discount (None: 0.95 / 0.97)"""
    gae_lambda: float | None = None
    """GAE λ (None: 0.95 / 0.9)"""
    entropy_coef: float | None = None
    """entropy bonus (None: 0.1 / 0.01)"""
    value_coef: float = 0.5
    """value loss weight"""
    clip_range: float = 0.1
    """PPO clip range (policy and value)"""
    n_epochs: int = 2
    """PPO epochs per iteration"""
    n_minibatches: int = 4
    """minibatches per epoch (of whole meta-episodes)"""
    max_grad_norm: float = 0.5
    """gradient-norm clip"""
    init_std: float = 1.0
    """initial action std (Box)"""
    policy_through_encoder: bool = False
    """back-propagate the PPO loss into the encoder (the reference's ``rlloss_through_encoder``)"""
    latent_dim: int = 5
    """task latent size"""
    gru_hidden: int | None = None
    """GRU state size (None: 64 / 128)"""
    state_embed: int = 32
    """encoder state embedding"""
    action_embed: int | None = None
    """encoder action embedding (0: raw / one-hot action; None: 0 / 16)"""
    reward_embed: int | None = None
    """encoder reward embedding (None: 8 / 16)"""
    decoder_hidden: tuple[int, ...] | None = None
    """reward decoder widths (None: 32×32 / 64×32)"""
    decoder_input_prev: bool | None = None
    """reward decoder also sees ``(s, a)`` (None: False / True)"""
    vae_lr: float = 1e-3
    """encoder + decoder learning rate"""
    kl_weight: float = 0.1
    """weight of the KL terms of the ELBO"""
    vae_updates: int | None = None
    """VAE steps per iteration (None: 3 / 1)"""
    vae_batch_trajectories: int | None = None
    """trajectories per VAE step (None: 25 / 10)"""
    vae_buffer_size: int = 1000
    """trajectories kept for VAE training"""
    vae_subsample_elbos: int | None = None
    """ELBO terms (posteriors) per trajectory per step, 0 = all (None: all / 50)"""
    vae_subsample_decodes: int = 0
    """reconstructed steps per ELBO term, 0 = all"""
    max_envs: int = 1024
    """environments stepped together by the rollout loop"""

    def __post_init__(self) -> None:
        if self.variant not in self.VARIANTS:
            close = difflib.get_close_matches(str(self.variant), self.VARIANTS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {type(self).__name__} variant {self.variant!r}; valid: {list(self.VARIANTS)}.{hint}")
        if self.init not in HYPER_INITS:
            close = difflib.get_close_matches(str(self.init), HYPER_INITS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown init {self.init!r}; valid: {list(HYPER_INITS)}.{hint}")
        for name in ("hyper_primary", "policy_hidden", "decoder_hidden"):
            value = getattr(self, name)
            if value is not None:
                value = tuple(int(v) for v in value)
                if not value or min(value) < 1:
                    raise ValueError(f"{name} must be a non-empty list of positive widths, got {list(value)}")
                setattr(self, name, value)
        for name in ("meta_batch_size", "lr", "n_epochs", "n_minibatches", "max_grad_norm", "init_std", "latent_dim",
                     "state_embed", "vae_lr", "vae_buffer_size", "max_envs", "clip_range"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{type(self).__name__}.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("episodes_per_meta_episode", "gru_hidden", "vae_batch_trajectories"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{type(self).__name__}.{name} must be positive or None, got {value!r}")
        for name in ("kl_weight", "value_coef", "vae_subsample_decodes"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{type(self).__name__}.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("gamma", "gae_lambda"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{type(self).__name__}.{name} must be in [0, 1] or None, got {value!r}")

    @property
    def is_hyper(self) -> bool:
        """Whether the policy is generated by hypernetworks."""
        return self.variant.startswith("hyper-")

    @property
    def policy_kind(self) -> str:
        """``"hyper"``, ``"film"`` or ``"plain"`` (:data:`hyperbench.meta.belief_policy.POLICY_KINDS`)."""
        return self.variant.split("-")[0] if "-" in self.variant else "plain"

    def resolved(self, discrete: bool, family_defaults: Mapping[str, Any] | None = None) -> VariBADConfig:
        """A copy with every ``None`` replaced by the reference value for the family (``family_defaults``, see
        ``_BY_FAMILY``) or else for the action kind."""
        index = 0 if discrete else 1
        values = {k: v[index] for k, v in _BY_ACTION_KIND.items() if getattr(self, k, 0) is None}
        values.update({k: v for k, v in (family_defaults or {}).items() if getattr(self, k, 0) is None})
        return dataclasses.replace(self, **values)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> VariBADConfig:
        """Build a config from plain values, naming unknown keys.

        :param values: field name → value
        """
        check_config_keys(cls, values)
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


@dataclass
class RecurrentState:
    """The belief of ``T`` task rows: the GRU state and the representation the policy conditions on."""

    h: th.Tensor
    """``(T, gru_hidden)``"""
    representation: th.Tensor
    """``(T, repr_dim)``: ``[μ, σ²]`` (VariBAD) or ``h`` (RL2)"""


class Trajectories(NamedTuple):
    """Whole meta-episodes ``(N, L, ...)`` with ``L`` = episodes × horizon (padding masked)."""

    obs: th.Tensor
    actions: th.Tensor
    """``(N, L)`` int64 (Discrete) or ``(N, L, act_dim)``"""
    rewards: th.Tensor
    next_obs: th.Tensor
    mask: th.Tensor
    done: th.Tensor
    """``(N, L)`` 1 at the last real step of every episode"""


def ppo_losses(
    logp: th.Tensor,
    old_logp: th.Tensor,
    adv: th.Tensor,
    value: th.Tensor,
    old_value: th.Tensor,
    returns: th.Tensor,
    clip: float,
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """PPO's clipped surrogate and clipped value loss (Schulman et al. 2017; as SB3's ``PPO.train``).

    :return: policy loss, value loss, clip fraction (all scalars)
    """
    ratio = th.exp(logp - old_logp)
    policy_loss = -th.min(adv * ratio, adv * ratio.clamp(1.0 - clip, 1.0 + clip)).mean()
    clipped_value = old_value + (value - old_value).clamp(-clip, clip)
    value_loss = 0.5 * th.max((value - returns).pow(2), (clipped_value - returns).pow(2)).mean()
    clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return policy_loss, value_loss, clip_fraction


def _explained_variance(y_pred: th.Tensor, y_true: th.Tensor) -> th.Tensor:
    """``1 - Var[y_true - y_pred] / Var[y_true]`` (NaN when ``Var[y_true] = 0``) as a 0-dim tensor, like SB3's
    ``explained_variance`` but without leaving the device."""
    var_y = y_true.var(unbiased=False)
    return th.where(var_y == 0, th.full_like(var_y, float("nan")), 1 - (y_true - y_pred).var(unbiased=False) / var_y)


class VariBAD(MetaLearner):
    """VariBAD (Zintgraf et al. 2020) and Hyper-VariBAD (Beck et al. 2022) as a hyperbench meta learner.

    :param family: task family object or name (``"gridnavi"``, ``"point-robot"``, ``"halfcheetah-dir"``, ...)
    :param variant: ``"varibad"`` or ``"hyper-varibad"`` (overrides ``config.variant``)
    :param config: hyperparameters (a :class:`VariBADConfig` or a mapping of its fields)
    :param seed: seed of initialisation, task draws, resets, action noise and minibatches
    :param verbose: 1 to print iteration statistics
    :param tensorboard_log: TensorBoard directory
    :param family_seed: family seed when ``family`` is a name
    :param family_kwargs: family options when ``family`` is a name
    :param device: where the networks, the rollout data of an update and the VAE buffer live (``"auto"``: CUDA
        when available); environments and action sampling stay on the host. The update steps make no host
        round-trip: their losses are gathered as tensors and read once after them.
    """

    config_cls: ClassVar[type[VariBADConfig]] = VariBADConfig
    default_variant: ClassVar[str] = "varibad"
    #: trains the encoder as a VAE (VariBAD) rather than through the policy loss only (RL2)
    uses_vae: ClassVar[bool] = True
    #: the encoder sees the episode-end flag (RL2)
    done_input: ClassVar[bool] = False

    headline = Headline((), "meta-episode", "return of the whole meta-episode (the sum of its episodes)")
    secondary_scores: ClassVar[Mapping[str, Headline]] = {
        "first-episode": Headline(("episode-1",), "episode", "return of the first episode (before any task information)")
    }

    def __init__(
        self,
        family: Any,
        variant: str | None = None,
        config: VariBADConfig | Mapping[str, Any] | None = None,
        seed: int = 0,
        verbose: int = 0,
        tensorboard_log: str | None = None,
        family_seed: int = 0,
        family_kwargs: Mapping[str, Any] | None = None,
        _spaces: Mapping[str, Any] | None = None,
        device: th.device | str = "auto",
    ) -> None:
        self.config: VariBADConfig = resolve_variant_config(type(self).config_cls, config, variant, self.default_variant)
        super().__init__(family, seed, verbose, tensorboard_log, family_seed, family_kwargs, device=device)
        if _spaces is None:
            loop = self.rollout
            _spaces = {
                "obs_dim": loop.obs_dim,
                "n_actions": loop.n_actions,
                "act_dim": loop.act_dim,
                "horizon": loop.horizon,
                # a property of the family, not a setting: saved with the spaces, so a reloaded learner keeps it
                "tanh_mean": self._family is not None and self._family.name in TANH_MEAN_FAMILIES,
                "family_defaults": dict(_BY_FAMILY.get(self._family.name, {})) if self._family is not None else {},
            }
        self.spaces = dict(_spaces)
        sp = self.spaces
        self.discrete = int(sp["n_actions"]) > 0
        self.settings = self.config.resolved(self.discrete, sp.get("family_defaults"))
        s = self.settings
        obs_dim = int(sp["obs_dim"])
        self.action_in = int(sp["n_actions"]) if self.discrete else int(sp["act_dim"])
        assert s.gru_hidden is not None and s.action_embed is not None and s.reward_embed is not None
        assert s.policy_hidden is not None and s.decoder_hidden is not None and s.episodes_per_meta_episode is not None
        with th.random.fork_rng(devices=[]):
            th.manual_seed(int(np.random.SeedSequence([self.seed, 2]).generate_state(1)[0]))
            self.encoder = RecurrentEncoder(
                obs_dim, self.action_in, s.gru_hidden, s.latent_dim if self.uses_vae else 0, s.state_embed, s.action_embed,
                s.reward_embed, done_input=self.done_input,
            )  # fmt: skip
            self.decoder = (
                RewardDecoder(s.latent_dim, obs_dim, self.action_in, s.decoder_hidden, bool(s.decoder_input_prev))
                if self.uses_vae
                else None
            )
            self.policy = BeliefActorCritic(
                obs_dim, self.encoder.repr_dim, int(sp["n_actions"]), int(sp["act_dim"]), s.policy_hidden,
                s.policy_kind, s.init, s.hyper_primary, s.hyper_meta_norm, s.init_std, tanh_mean=bool(sp["tanh_mean"]),
            )  # fmt: skip
        for module in self._modules().values():
            module.to(self.device)
        policy_params = list(self.policy.parameters())
        if s.policy_through_encoder:
            policy_params += list(self.encoder.parameters())
        # fused: one kernel per step and no host read of the step count (the for-loop Adam reads it per parameter)
        self.policy_optimizer = th.optim.Adam(policy_params, lr=s.lr, eps=1e-8, fused=True)
        self.vae_optimizer: th.optim.Optimizer | None = None
        if self.decoder is not None:
            self.vae_optimizer = th.optim.Adam(
                [*self.encoder.parameters(), *self.decoder.parameters()], lr=s.vae_lr, fused=True
            )
        self.length = s.episodes_per_meta_episode * int(sp["horizon"])
        self._buffer: dict[str, th.Tensor] = {}
        self.buffer_count = 0
        self.buffer_pos = 0
        #: statistics of the last iteration (read by tests and diagnostics)
        self.last_update: dict[str, float] = {}

    # ---------------------------------------------------------------------------------- suite methods
    @classmethod
    def suite_defaults(cls, variant: str | None = None, **fixed: Any) -> dict[str, Any]:
        """Every config field but ``variant`` (fixed by the method name), as plain values."""
        values = cls.config_cls(variant=variant or cls.default_variant).to_dict()
        values.pop("variant")
        return values

    @classmethod
    def from_suite(
        cls, family: Any, config: Mapping[str, Any], seed: int, variant: str | None = None, **fixed: Any
    ) -> VariBAD:
        """The learner of the suite method ``variant``."""
        return cls(family, variant=variant, config=dict(config), seed=seed, tensorboard_log=None, device="auto")

    def _max_envs(self) -> int:
        return self.config.max_envs

    @property
    def variant(self) -> str:
        """The policy variant."""
        return self.config.variant

    # ------------------------------------------------------------------ the rollout contract (base.py)
    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        """``n_episodes`` phases of one episode each; the belief carries over between them."""
        return tuple(Phase(f"episode-{i + 1}", 1) for i in range(n_episodes))

    @th.no_grad()
    def begin_meta_episode(self, tasks: Sequence[Any]) -> RecurrentState:
        h = th.zeros(len(tasks), self.encoder.hidden, device=self.device)
        return RecurrentState(h, self.encoder.representation(h))

    def _action_input(self, actions: th.Tensor) -> th.Tensor:
        if self.discrete:
            return nn.functional.one_hot(actions.long(), self.action_in).float()
        return actions.float()

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        k, width = obs.shape[:2]
        if width != 1:
            raise ValueError(f"{type(self).__name__} keeps one belief per task row: run phases of one episode, got {width}")
        rep = state.representation[rows]
        out = self.policy(obs.reshape(k, -1).to(self.device), rep)
        action = self.policy.sample(out.params, deterministic, generator)
        logp, _ = self.policy.log_prob_entropy(out.params, action)
        extras = {"value": out.value.view(k, 1), "log_prob": logp.view(k, 1), "representation": rep.view(k, 1, -1)}
        # the rollout (environments, storage) is on the host; the update moves its data to the device once
        extras = {key: value.cpu() for key, value in extras.items()}
        return (action.view(k, 1) if self.discrete else action.view(k, 1, -1)).cpu(), extras

    def observe(self, state: Any, transition: Any, rows: slice, phase: int) -> Any:
        """Feed ``(a, r, s', done)`` of the alive rows into the GRU and recompute their representation."""
        with th.no_grad():
            dev = self.device
            done = (transition.terminated | transition.truncated)[:, 0].to(dev)
            inputs = self.encoder.embed(
                self._action_input(transition.action[:, 0].to(dev)),
                transition.reward[:, 0].to(dev),
                transition.next_obs[:, 0].to(dev),
                done,
            )
            h = self.encoder.step(state.h[rows], inputs, transition.alive[:, 0].to(dev))
            state.h[rows] = h
            state.representation[rows] = self.encoder.representation(h)
        return state

    def _evaluation_info(self) -> dict[str, Any]:
        return {"protocol": "meta-episode", "training_episodes_per_meta_episode": self.settings.episodes_per_meta_episode}

    # ----------------------------------------------------------------------------------- training data
    @staticmethod
    def _join(batches: Sequence[EpisodeBatch]) -> tuple[Trajectories, dict[str, th.Tensor]]:
        """Concatenate the one-episode phases of a meta-episode along time: ``(N, L, ...)``."""

        def cat(get: Any) -> th.Tensor:
            return th.cat([get(b)[:, 0] for b in batches], dim=1)

        mask = cat(lambda b: b.mask)
        # an episode's last real step: the next step of the same episode is padding or the horizon ends
        ends = []
        for b in batches:
            m = b.mask[:, 0]
            nxt = th.cat([m[:, 1:], th.zeros_like(m[:, :1])], dim=1)
            ends.append(((m > 0) & (nxt == 0)).float())
        traj = Trajectories(
            cat(lambda b: b.obs), cat(lambda b: b.actions), cat(lambda b: b.rewards), cat(lambda b: b.next_obs), mask,
            th.cat(ends, dim=1),
        )  # fmt: skip
        assert batches[0].extras is not None
        extras = {key: cat(lambda b, key=key: b.extras[key]) for key in batches[0].extras}
        return traj, extras

    def _representations(self, traj: Trajectories) -> th.Tensor:
        """Representation before every step ``(N, L, repr_dim)`` recomputed by the encoder (with gradient)."""
        inputs = self.encoder.embed(self._action_input(traj.actions), traj.rewards, traj.next_obs, traj.done > 0)
        states = self.encoder.sequence(inputs, traj.mask)[:, :-1]
        return self.encoder.representation(states)

    # ---------------------------------------------------------------------------------------- updates
    def _ppo_update(self, traj: Trajectories, extras: Mapping[str, th.Tensor]) -> dict[str, th.Tensor]:
        """PPO epochs over the meta-episodes ``traj`` (on the learner's device); no host round-trip.

        :return: the mean losses, entropy, clip fraction and explained variance as 0-dim tensors (read them after)
        """
        s = self.settings
        assert s.gamma is not None and s.gae_lambda is not None and s.entropy_coef is not None
        mask = traj.mask
        real = mask > 0
        old_value, old_logp = extras["value"], extras["log_prob"]
        adv = sequence_gae(traj.rewards, old_value, mask, s.gamma, s.gae_lambda)
        returns = adv + old_value
        flat_adv = adv[real]
        adv = (adv - flat_adv.mean()) / (flat_adv.std() + 1e-8)
        n = mask.shape[0]
        stats: dict[str, list[th.Tensor]] = {"policy_loss": [], "value_loss": [], "entropy": [], "clip_fraction": []}
        params = [p for group in self.policy_optimizer.param_groups for p in group["params"]]
        for _ in range(s.n_epochs):
            perm = th.randperm(n, generator=self.torch_rng)
            for idx in perm.chunk(min(s.n_minibatches, n)):
                m = real[idx]
                if s.policy_through_encoder:
                    rep = self._representations(Trajectories(*(t[idx] for t in traj)))[m]
                else:
                    rep = extras["representation"][idx][m]
                out = self.policy(traj.obs[idx][m], rep)
                logp, entropy = self.policy.log_prob_entropy(out.params, traj.actions[idx][m])
                policy_loss, value_loss, clip_fraction = ppo_losses(
                    logp, old_logp[idx][m], adv[idx][m], out.value, old_value[idx][m], returns[idx][m], s.clip_range
                )
                loss = policy_loss + s.value_coef * value_loss - s.entropy_coef * entropy.mean()
                self.policy_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, s.max_grad_norm)
                self.policy_optimizer.step()
                for key, value in zip(stats, (policy_loss, value_loss, entropy.mean(), clip_fraction)):
                    stats[key].append(value.detach())
        # the hypernetwork's input statistics move once per rollout, never inside an update
        self.policy.update_meta_stats(extras["representation"][real])
        out_stats = {f"train/{k}": th.stack(v).double().mean() for k, v in stats.items()}
        out_stats["train/explained_variance"] = _explained_variance(old_value[real], returns[real])
        return out_stats

    def _buffer_add(self, traj: Trajectories) -> None:
        size = self.settings.vae_buffer_size
        if not self._buffer:
            self._buffer = {
                name: th.zeros(size, *t.shape[1:], dtype=t.dtype, device=self.device) for name, t in traj._asdict().items()
            }
        for row in range(traj.mask.shape[0]):
            for name, t in traj._asdict().items():
                self._buffer[name][self.buffer_pos] = t[row]
            self.buffer_pos = (self.buffer_pos + 1) % size
            self.buffer_count = min(self.buffer_count + 1, size)

    def vae_loss(self, traj: Trajectories) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        """The negative ELBO of whole meta-episodes: reward reconstruction of every (sampled) step from a sample
        of every (sampled) posterior, plus ``kl_weight`` × KL of each posterior to the previous one.

        :param traj: ``B`` meta-episodes
        :return: the loss and its parts (0-dim tensors, detached)
        """
        assert self.decoder is not None
        s = self.settings
        inputs = self.encoder.embed(self._action_input(traj.actions), traj.rewards, traj.next_obs, traj.done > 0)
        h = self.encoder.sequence(inputs, traj.mask)  # (B, L+1, G)
        mean, logvar = self.encoder.posterior(h)
        # KL(q_t || q_{t-1}) with q_{-1} = N(0, I); a posterior after a padded step equals the previous one
        prev_mean = th.cat([th.zeros_like(mean[:, :1]), mean[:, :-1]], dim=1)
        prev_logvar = th.cat([th.zeros_like(logvar[:, :1]), logvar[:, :-1]], dim=1)
        kl = diag_gaussian_kl(mean, 0.5 * logvar, prev_mean, 0.5 * prev_logvar)  # (B, L+1)
        batch, length = traj.mask.shape
        dev = traj.mask.device
        valid = th.cat([th.ones(batch, 1, device=dev), traj.mask], dim=1)  # posterior t exists if step t-1 was real
        elbo_idx = th.arange(length + 1, device=dev)
        if s.vae_subsample_elbos and s.vae_subsample_elbos < length + 1:
            elbo_idx = th.randperm(length + 1, generator=self.torch_rng)[: s.vae_subsample_elbos].to(dev)
        dec_idx = th.arange(length, device=dev)
        if s.vae_subsample_decodes and s.vae_subsample_decodes < length:
            dec_idx = th.randperm(length, generator=self.torch_rng)[: s.vae_subsample_decodes].to(dev)
        m_e, lv_e = mean[:, elbo_idx], logvar[:, elbo_idx]
        z = m_e + th.exp(0.5 * lv_e) * th.randn(m_e.shape, generator=self.torch_rng).to(dev)  # (B, K, latent)
        act = self._action_input(traj.actions)[:, dec_idx]
        pred = self.decoder(z.unsqueeze(2), traj.obs[:, None, dec_idx], act[:, None], traj.next_obs[:, None, dec_idx])
        dmask = traj.mask[:, None, dec_idx]
        rec = ((pred - traj.rewards[:, None, dec_idx]).pow(2) * dmask).sum(-1)  # (B, K): summed over the decoded steps
        emask = valid[:, elbo_idx]
        rec_loss = (rec * emask).sum() / emask.sum()
        kl_loss = (kl[:, elbo_idx] * emask).sum() / emask.sum()
        loss = rec_loss + s.kl_weight * kl_loss
        return loss, {"vae/reconstruction": rec_loss.detach(), "vae/kl": kl_loss.detach()}

    def _vae_update(self) -> dict[str, th.Tensor]:
        """``vae_updates`` steps on batches of the VAE buffer; no host round-trip.

        :return: the last step's loss parts as 0-dim tensors (read them after)
        """
        s = self.settings
        assert self.vae_optimizer is not None and s.vae_updates is not None and s.vae_batch_trajectories is not None
        stats: dict[str, th.Tensor] = {}
        for _ in range(s.vae_updates):
            idx = th.randint(self.buffer_count, (min(s.vae_batch_trajectories, self.buffer_count),), generator=self.torch_rng)
            idx = idx.to(self.device)
            traj = Trajectories(*(self._buffer[name][idx] for name in Trajectories._fields))
            loss, stats = self.vae_loss(traj)
            self.vae_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.vae_optimizer.step()
        return stats

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        s = self.settings
        assert s.episodes_per_meta_episode is not None
        start = time.time()
        train = self.family.train_tasks
        picks = self.rng.integers(len(train), size=s.meta_batch_size)
        tasks = [train[int(i)] for i in picks]
        rollout = self.rollout.run(self, tasks, self.meta_episode(s.episodes_per_meta_episode), self.rng, self.torch_rng)
        traj, extras = self._join(rollout.batches)
        traj = Trajectories(*(t.to(self.device) for t in traj))
        extras = {key: value.to(self.device) for key, value in extras.items()}
        t_sample = time.time() - start
        tensor_stats = self._ppo_update(traj, extras)
        if self.uses_vae:
            self._buffer_add(traj)
            tensor_stats.update(self._vae_update())
        stats = {key: float(value) for key, value in tensor_stats.items()}  # the one read, after the updates
        episode_returns = rollout.returns  # (N, E)
        stats.update(
            {
                "rollout/meta_episode_return": float(episode_returns.sum(1).mean()),
                "rollout/first_episode_return": float(episode_returns[:, 0].mean()),
                "rollout/last_episode_return": float(episode_returns[:, -1].mean()),
                "time/sample_s": t_sample,
                "time/update_s": time.time() - start - t_sample,
            }
        )
        self.last_update = stats
        return rollout.n_steps, stats

    # -------------------------------------------------------------------------------------- inference
    @th.no_grad()
    def predict(
        self,
        observation: np.ndarray | Mapping[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a single observation ``(obs_dim,)`` or a batch ``(B, obs_dim)`` on one belief.

        The belief changes only with rewards, which ``predict`` does not see: pass the state that
        :meth:`begin_meta_episode` / :meth:`observe` maintain (or :meth:`evaluate`, which does both).

        :param observation: array, or a Dict observation with an ``"observation"`` key
        :param state: a :class:`RecurrentState` for one row, or ``None`` (the prior belief)
        :param episode_start: ignored (the belief persists across the episodes of a meta-episode)
        :param deterministic: the mode of the action distribution
        :return: ``(actions, state)``
        """
        if state is not None and not isinstance(state, RecurrentState):
            raise TypeError(f"state must be a RecurrentState (from begin_meta_episode) or None, got {type(state).__name__}")
        obs, single = observation_batch(observation, int(self.spaces["obs_dim"]))
        state = state if state is not None else self.begin_meta_episode([None])
        rep = state.representation[:1].expand(obs.shape[0], -1)
        out = self.policy(th.as_tensor(obs, device=self.device), rep)
        action = self.policy.sample(out.params, deterministic).cpu().numpy()
        return (action[0] if single else action), state

    # ------------------------------------------------------------------------------------ persistence
    def _modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"encoder": self.encoder, "policy": self.policy}
        if self.decoder is not None:
            mods["decoder"] = self.decoder
        return mods

    def _optimizers(self) -> dict[str, th.optim.Optimizer]:
        opts: dict[str, th.optim.Optimizer] = {"policy": self.policy_optimizer}
        if self.vae_optimizer is not None:
            opts["vae"] = self.vae_optimizer
        return opts

    def _to_device(self, device: th.device) -> None:
        self.device = device
        self._move_to(device, self._modules().values(), self._optimizers().values())
        self._buffer = {name: t.to(device) for name, t in self._buffer.items()}

    def _get_config(self) -> dict[str, Any]:
        return {"learner": self.config.to_dict(), "seed": self.seed, "spaces": self.spaces}

    @classmethod
    def _from_config(cls, config: Mapping[str, Any], family: Any) -> VariBAD:
        cfg = cls.config_cls.from_dict(config["learner"])
        # checkpoints from before the bounded mean / the family defaults existed were trained without them
        spaces = {"tanh_mean": False, "family_defaults": {}, **config["spaces"]}
        return cls(family, config=cfg, seed=int(config["seed"]), _spaces=spaces)

    def _get_tensors(self) -> dict[str, th.Tensor]:
        out = {f"{name}.{k}": v for name, m in self._modules().items() for k, v in m.state_dict().items()}
        for name, opt in self._optimizers().items():
            out.update(_optimizer_tensors(opt, f"optim.{name}"))
        return out

    def _set_tensors(self, tensors: Mapping[str, th.Tensor]) -> None:
        for name, module in self._modules().items():
            own = {k.removeprefix(name + "."): v for k, v in tensors.items() if k.startswith(name + ".")}
            module.load_state_dict(own, strict=True)
        for name, opt in self._optimizers().items():
            _load_optimizer(opt, tensors, f"optim.{name}")

    def _get_large_state(self) -> dict[str, th.Tensor]:
        if not self._buffer:
            return {}
        out = {f"vae_buffer.{k}": v[: self.buffer_count].cpu().clone() for k, v in self._buffer.items()}
        out["vae_buffer.count"] = th.tensor(self.buffer_count)
        out["vae_buffer.pos"] = th.tensor(self.buffer_pos)
        return out

    def _set_large_state(self, tensors: Mapping[str, th.Tensor]) -> None:
        if not tensors:
            self._buffer, self.buffer_count, self.buffer_pos = {}, 0, 0
            return
        missing = [f"vae_buffer.{k}" for k in (*Trajectories._fields, "count", "pos") if f"vae_buffer.{k}" not in tensors]
        if missing:
            raise ValueError(f"missing large-state entries {missing}")
        count, size = int(tensors["vae_buffer.count"]), self.settings.vae_buffer_size
        if count > size:
            raise ValueError(f"the saved VAE buffer holds {count} trajectories, more than vae_buffer_size={size}")
        self._buffer = {}
        for name in Trajectories._fields:
            saved = tensors[f"vae_buffer.{name}"]
            full = th.zeros(size, *saved.shape[1:], dtype=saved.dtype, device=self.device)
            full[:count] = saved
            self._buffer[name] = full
        self.buffer_count, self.buffer_pos = count, int(tensors["vae_buffer.pos"])

    def __repr__(self) -> str:
        fam = self._family_spec.get("family") if self._family_spec else None
        name = type(self).__name__
        return f"{name}(variant={self.variant!r}, family={fam!r}, seed={self.seed}, num_timesteps={self.num_timesteps})"
