"""PEARL (Rakelly, Zhou, Quillen, Finn & Levine, ICML 2019) and Hyper-PEARL (Sarafian, Keynan & Kraus, ICML 2021).

PEARL is off-policy meta-RL: SAC whose policy, Q and V functions condition on a latent task variable ``z``
inferred by a probabilistic context encoder. Each context transition ``(s, a, r)`` is mapped to a Gaussian
factor; the posterior ``q(z | c)`` is their product (permutation invariant), trained through the Q loss plus
``kl_weight · KL(q(z | c) ‖ N(0, I))``.

One training iteration (:meth:`PEARL._train_iteration`), as in the reference implementation:

1. (first iteration only) ``initial_steps`` steps of every training task with ``z`` from the prior, into the
   RL and the encoder buffers;
2. for ``tasks_per_iteration`` random training tasks: empty the task's encoder buffer, collect
   ``prior_steps`` steps with ``z ~ N(0, I)`` (into both buffers), then ``posterior_steps`` steps with ``z``
   sampled from the posterior of a context drawn from the encoder buffer (RL buffer only);
3. ``gradient_steps`` updates, each on ``meta_batch_size`` tasks: a context of ``context_batch_size``
   transitions from the encoder buffer, ``batch_size`` transitions from the RL buffer; the twin Q loss (its
   gradient also trains the encoder) with the KL term, then V and the policy with ``z`` detached.

Evaluation (:meth:`PEARL.meta_episode`): ``eval_prior_episodes`` episodes with ``z`` from the prior (phase
``"prior"``; they collect context), then ``n`` episodes on the posterior (phase ``"posterior"``), the posterior
recomputed from all context so far after every episode. The headline is the posterior episodes; every
episode is kept in the evaluation record.

Hyper-PEARL replaces the networks (:mod:`hyperbench.meta.pearl_nets`): the policy is primary(z) → dynamic
network over the state, the critics primary(s) → dynamic network over ``[a, z]``, with the public code's
learning rates (Q/V 5e-5, policy 1e-4).

Defaults are the reference's: latent 5, 3 × 300 networks, 3 × 200 encoder, meta-batch 16, context batch 64,
batch 256, reward scale 5, KL weight 0.1, 2000 initial steps, 5 tasks × (400 prior + 400 posterior) steps
and 2000 gradient steps per iteration, γ = 0.99, τ = 0.005, learning rates 3e-4.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3.common.utils import polyak_update
from torch import nn

from hyperbench.meta.base import MetaLearner, check_config_keys, observation_batch, resolve_variant_config
from hyperbench.meta.pearl_buffers import MultiTaskReplayBuffer
from hyperbench.meta.pearl_nets import ContextEncoder, TanhGaussianPolicy, gaussian_kl_to_unit, make_critics
from hyperbench.meta.rollout import EpisodeBatch, Headline, Phase

__all__ = ["PEARL", "PEARL_VARIANTS", "POSTERIOR", "PRIOR", "PEARLConfig", "PEARLState"]

#: The two variants.
PEARL_VARIANTS: tuple[str, ...] = ("pearl", "hyper-pearl")
#: Phase labels of the evaluation meta-episode.
PRIOR, POSTERIOR = "prior", "posterior"


@dataclass
class PEARLConfig:
    """Hyperparameters of :class:`PEARL` (defaults: the reference implementation's, see the module docstring)."""

    variant: str = "pearl"
    """``"pearl"`` or ``"hyper-pearl"``"""
    latent_dim: int = 5
    """size of the task latent ``z``"""
    hidden: tuple[int, ...] = (300, 300, 300)
    """hidden widths of the policy, Q and V MLPs (``pearl``)"""
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    """hidden widths of the context encoder"""
    meta_batch_size: int = 16
    """tasks per gradient step"""
    context_batch_size: int = 64
    """context transitions per task per gradient step"""
    batch_size: int = 256
    """RL transitions per task per gradient step"""
    reward_scale: float = 5.0
    """multiplies rewards in the Q target (SAC without entropy tuning: the inverse temperature)"""
    kl_weight: float = 0.1
    """weight of the KL term of the encoder"""
    initial_steps: int = 2000
    """steps of every training task collected with the prior before training (whole episodes)"""
    tasks_per_iteration: int = 5
    """training tasks that collect data in each iteration"""
    prior_steps: int = 400
    """steps per task and iteration with ``z`` from the prior (into both buffers; whole episodes)"""
    posterior_steps: int = 400
    """steps per task and iteration with ``z`` from the posterior (RL buffer only; whole episodes)"""
    gradient_steps: int = 2000
    """gradient steps per iteration"""
    gamma: float = 0.99
    """discount"""
    tau: float = 0.005
    """soft update rate of the target V network"""
    policy_lr: float | None = None
    """policy learning rate; ``None``: 3e-4 (``pearl``), 1e-4 (``hyper-pearl``)"""
    critic_lr: float | None = None
    """Q and V learning rate; ``None``: 3e-4 (``pearl``), 5e-5 (``hyper-pearl``)"""
    encoder_lr: float = 3e-4
    """context encoder learning rate"""
    policy_mean_reg: float = 1e-3
    """weight of the squared pre-squash mean in the policy loss"""
    policy_std_reg: float = 1e-3
    """weight of the squared log-std in the policy loss"""
    buffer_size: int = 1_000_000
    """most transitions kept per task in each buffer"""
    use_next_obs_in_context: bool = False
    """context transitions are ``(s, a, r, s')`` instead of ``(s, a, r)``"""
    eval_prior_episodes: int = 1
    """evaluation episodes acting on the prior (collecting context) before the posterior episodes"""
    hyper_primary: str | tuple[int, ...] = "paper"
    """``hyper-pearl``: primary network preset or widths"""
    hyper_dynamic: tuple[int, ...] = (256,)
    """``hyper-pearl``: hidden widths of the dynamic networks"""
    hyper_init: str = "hyperl-sac"
    """``hyper-pearl``: initialisation scheme (:data:`hyperbench.nn.INIT_SCHEMES`); default the published SAC one"""
    hyper_base_init: str = "kaiming-uniform"
    """``hyper-pearl``: target initialisation of the dynamic networks (HyperInit schemes)"""
    max_envs: int = 1024
    """environments stepped together by the rollout loop"""

    def __post_init__(self) -> None:
        import difflib

        if self.variant not in PEARL_VARIANTS:
            close = difflib.get_close_matches(str(self.variant), PEARL_VARIANTS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown PEARL variant {self.variant!r}; valid variants: {list(PEARL_VARIANTS)}.{hint}")
        for name in ("hidden", "encoder_hidden", "hyper_dynamic"):
            setattr(self, name, tuple(int(h) for h in getattr(self, name)))
        if not isinstance(self.hyper_primary, str):
            self.hyper_primary = tuple(int(w) for w in self.hyper_primary)
        from hyperbench.nn import INIT_SCHEMES

        if self.hyper_init not in INIT_SCHEMES:
            close = difflib.get_close_matches(self.hyper_init, INIT_SCHEMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown hyper_init {self.hyper_init!r}; valid schemes: {sorted(INIT_SCHEMES)}.{hint}")
        positive = (
            "latent_dim", "meta_batch_size", "context_batch_size", "batch_size", "tasks_per_iteration", "buffer_size",
            "reward_scale", "encoder_lr", "max_envs", "eval_prior_episodes",
        )  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"PEARLConfig.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("initial_steps", "prior_steps", "posterior_steps", "gradient_steps", "kl_weight"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"PEARLConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.prior_steps + self.posterior_steps == 0:
            raise ValueError("PEARLConfig: prior_steps + posterior_steps must be positive (an iteration must collect data)")
        for name in ("policy_lr", "critic_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"PEARLConfig.{name} must be positive or None, got {value!r}")
        if not (0 <= self.gamma <= 1 and 0 < self.tau <= 1):
            raise ValueError(f"gamma must be in [0, 1] and tau in (0, 1], got {self.gamma!r}, {self.tau!r}")

    @property
    def is_hyper(self) -> bool:
        """Whether the networks are hypernetworks."""
        return self.variant == "hyper-pearl"

    @property
    def lr_policy(self) -> float:
        """The policy learning rate in effect."""
        return self.policy_lr if self.policy_lr is not None else (1e-4 if self.is_hyper else 3e-4)

    @property
    def lr_critic(self) -> float:
        """The Q / V learning rate in effect."""
        return self.critic_lr if self.critic_lr is not None else (5e-5 if self.is_hyper else 3e-4)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PEARLConfig:
        """Build a config from plain values, naming unknown keys.

        :param values: field name → value
        """
        check_config_keys(cls, values)
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        out = dataclasses.asdict(self)
        for name in ("hidden", "encoder_hidden", "hyper_dynamic"):
            out[name] = list(getattr(self, name))
        if not isinstance(self.hyper_primary, str):
            out["hyper_primary"] = list(self.hyper_primary)
        return out


@dataclass
class PEARLState:
    """PEARL's adaptation state for ``T`` task rows: the context collected so far, the posterior over ``z``
    it gives, and the ``z`` the lanes act with (sampled at the first step of each phase)."""

    mean: th.Tensor
    """``(T, L)`` posterior mean (zeros: the prior)"""
    var: th.Tensor
    """``(T, L)`` posterior variance (ones: the prior)"""
    context: list[th.Tensor] = dataclasses.field(default_factory=list)
    """chunks ``(T, n, context_dim)`` of context transitions"""
    masks: list[th.Tensor] = dataclasses.field(default_factory=list)
    """chunks ``(T, n)``: 1 for real transitions"""
    z: th.Tensor | None = None
    """``(T, W, L)`` the latent of every lane in the current phase, or ``None`` (sample at the next act)"""


def _optimizer_tensors(opt: th.optim.Optimizer, prefix: str) -> dict[str, th.Tensor]:
    out = {}
    for index, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            out[f"{prefix}.{index}.{key}"] = th.as_tensor(value).clone()
    return out


def _load_optimizer(opt: th.optim.Optimizer, tensors: Mapping[str, th.Tensor], prefix: str) -> None:
    state: dict[int, dict[str, th.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            index, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(index), {})[key] = value.clone()
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


class PEARL(MetaLearner):
    """PEARL (Rakelly et al. 2019) and Hyper-PEARL (Sarafian et al. 2021) as a hyperbench meta learner.

    :param family: task family object or name (``"point-robot"``, ``"halfcheetah-vel"``, ...)
    :param variant: ``"pearl"`` or ``"hyper-pearl"`` (overrides ``config.variant``)
    :param config: hyperparameters (a :class:`PEARLConfig` or a mapping of its fields)
    :param seed: seed of initialisation, task draws, resets, action noise and minibatches
    :param verbose: 1 to print iteration statistics
    :param tensorboard_log: TensorBoard directory
    :param family_seed: family seed when ``family`` is a name
    :param family_kwargs: family options when ``family`` is a name
    :param device: where the networks, buffers and updates live (``"auto"``: CUDA when available)
    """

    headline = Headline((POSTERIOR,), "episode", "return of each episode acting on the posterior after the prior episode(s)")
    secondary_scores: ClassVar[Mapping[str, Headline]] = {
        "prior": Headline((PRIOR,), "episode", "return of the context-collecting episode(s) on the prior")
    }

    def __init__(
        self,
        family: Any,
        variant: str | None = None,
        config: PEARLConfig | Mapping[str, Any] | None = None,
        seed: int = 0,
        verbose: int = 0,
        tensorboard_log: str | None = None,
        family_seed: int = 0,
        family_kwargs: Mapping[str, Any] | None = None,
        _spaces: Mapping[str, Any] | None = None,
        device: th.device | str = "auto",
    ) -> None:
        self.config: PEARLConfig = resolve_variant_config(PEARLConfig, config, variant, "pearl")
        super().__init__(family, seed, verbose, tensorboard_log, family_seed, family_kwargs, device=device)
        if _spaces is None:
            loop = self.rollout
            if loop.discrete:
                raise ValueError(f"PEARL's SAC acts in Box action spaces; {self.family.name} has {loop.action_space}")
            _spaces = {
                "obs_dim": loop.obs_dim,
                "act_dim": loop.act_dim,
                "n_train_tasks": len(self.family.train_tasks),
                "action_low": loop.action_low.tolist(),
                "action_high": loop.action_high.tolist(),
            }
        self.spaces = dict(_spaces)
        cfg, sp = self.config, self.spaces
        obs_dim, act_dim, latent = int(sp["obs_dim"]), int(sp["act_dim"]), cfg.latent_dim
        self.context_dim = obs_dim + act_dim + 1 + (obs_dim if cfg.use_next_obs_in_context else 0)
        hyper = (
            {"primary": cfg.hyper_primary, "init": cfg.hyper_init, "base_init": cfg.hyper_base_init} if cfg.is_hyper else None
        )
        hidden = cfg.hyper_dynamic if cfg.is_hyper else cfg.hidden
        with th.random.fork_rng(devices=[]):
            th.manual_seed(int(np.random.SeedSequence([self.seed, 2]).generate_state(1)[0]))
            self.encoder = ContextEncoder(self.context_dim, latent, cfg.encoder_hidden)
            self.policy = TanhGaussianPolicy(obs_dim, latent, act_dim, sp["action_low"], sp["action_high"], hidden, hyper)
            self.qf, self.vf = make_critics(obs_dim, act_dim, latent, hidden, hyper)
            _, self.vf_target = make_critics(obs_dim, act_dim, latent, hidden, hyper)
        self.vf_target.load_state_dict(self.vf.state_dict())
        self.vf_target.requires_grad_(False)
        for module in self._modules().values():
            module.to(self.device)
        # fused: one kernel per step, and no host read of the step count (the for-loop Adam reads it per parameter)
        self.encoder_optimizer = th.optim.Adam(self.encoder.parameters(), lr=cfg.encoder_lr, fused=True)
        self.policy_optimizer = th.optim.Adam(self.policy.parameters(), lr=cfg.lr_policy, fused=True)
        self.qf_optimizer = th.optim.Adam(self.qf.parameters(), lr=cfg.lr_critic, fused=True)
        self.vf_optimizer = th.optim.Adam(self.vf.parameters(), lr=cfg.lr_critic, fused=True)
        n_train = int(sp["n_train_tasks"])
        self.replay_buffer = MultiTaskReplayBuffer(n_train, obs_dim, act_dim, cfg.buffer_size, self.device)
        self.encoder_buffer = MultiTaskReplayBuffer(n_train, obs_dim, act_dim, cfg.buffer_size, self.device)
        self.initialised = False
        #: statistics of the last iteration (read by tests and diagnostics)
        self.last_update: dict[str, float] = {}

    # ---------------------------------------------------------------------------------- suite methods
    @classmethod
    def suite_defaults(cls, variant: str = "pearl", **fixed: Any) -> dict[str, Any]:
        """Every :class:`PEARLConfig` field but ``variant`` (fixed by the method name), as plain values.

        ``device`` is not among them: it would enter every run's configuration hash; the runner builds meta
        learners with ``device="auto"`` (CUDA when the worker sees a GPU)."""
        values = PEARLConfig(variant=variant).to_dict()
        values.pop("variant")
        return values

    @classmethod
    def from_suite(cls, family: Any, config: Mapping[str, Any], seed: int, variant: str = "pearl", **fixed: Any) -> PEARL:
        """The learner of the suite method ``variant`` (``pearl``, ``hyper-pearl``)."""
        return cls(family, variant=variant, config=dict(config), seed=seed, tensorboard_log=None, device="auto")

    def _max_envs(self) -> int:
        return self.config.max_envs

    @property
    def variant(self) -> str:
        """The network variant."""
        return self.config.variant

    # -------------------------------------------------------------------------------------- networks
    def _critic_inputs(self, obs: th.Tensor, z: th.Tensor, action: th.Tensor | None) -> tuple[th.Tensor, th.Tensor]:
        """``(state, action)`` arguments of Q (``action`` given) or V: ``([s, z], a)`` for the MLP, ``(s, [a, z])``
        for the hypernetwork, whose meta input is the state and whose base input holds the latent."""
        if action is None:
            action = obs.new_zeros(obs.shape[0], 0)
        if self.config.is_hyper:
            return obs, th.cat([action, z], dim=-1)
        return th.cat([obs, z], dim=-1), action

    def _context(self, obs: th.Tensor, action: th.Tensor, reward: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        parts = [obs, action, reward.unsqueeze(-1)]
        if self.config.use_next_obs_in_context:
            parts.append(next_obs)
        return th.cat(parts, dim=-1)

    def infer_posterior(self, context: th.Tensor, mask: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor]:
        """Posterior ``(mean, var)`` ``(T, L)`` from context ``(T, N, context_dim)`` (no gradient).

        :param context: transitions ``[s, a, r]`` (``+ s'`` with ``use_next_obs_in_context``)
        :param mask: ``(T, N)`` 1 for real transitions
        """
        with th.no_grad():
            return self.encoder(context, mask)

    # ------------------------------------------------------------------ the rollout contract (base.py)
    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        """``eval_prior_episodes`` episodes on the prior (always sampled: they collect context), then
        ``n_episodes`` episodes on the posterior, one phase each (the posterior is updated after every episode)."""
        prior = tuple(Phase(PRIOR, 1, explore=True) for _ in range(self.config.eval_prior_episodes))
        return prior + tuple(Phase(POSTERIOR, 1) for _ in range(n_episodes))

    def begin_meta_episode(self, tasks: Sequence[Any]) -> PEARLState:
        n, latent = len(tasks), self.config.latent_dim
        return PEARLState(th.zeros(n, latent, device=self.device), th.ones(n, latent, device=self.device))

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor:
        k, width = obs.shape[:2]
        if state.z is None or state.z.shape[1] != width:
            noise = th.randn(state.mean.shape[0], width, state.mean.shape[1], generator=generator).to(self.device)
            state.z = state.mean.unsqueeze(1) + state.var.sqrt().unsqueeze(1) * noise
        z = state.z[rows].reshape(k * width, -1)
        action = self.policy(obs.reshape(k * width, -1).to(self.device), z, deterministic, generator)[0]
        return action.view(k, width, -1)

    def end_phase(self, state: Any, phase: int, batch: EpisodeBatch) -> Any:
        """Add the phase's transitions to the context and recompute the posterior (``z`` is resampled next)."""
        n_tasks = batch.obs.shape[0]
        assert batch.next_obs is not None
        ctx = self._context(batch.obs, batch.actions, batch.rewards, batch.next_obs).to(self.device)
        state.context.append(ctx.reshape(n_tasks, -1, self.context_dim))
        state.masks.append(batch.mask.reshape(n_tasks, -1).to(self.device))
        state.mean, state.var = self.infer_posterior(th.cat(state.context, 1), th.cat(state.masks, 1))
        state.z = None
        return state

    def _evaluation_info(self) -> dict[str, Any]:
        return {"protocol": "pearl", "prior_episodes": self.config.eval_prior_episodes}

    # ------------------------------------------------------------------------------------ collection
    def _collect(self, task_ids: Sequence[int], steps: int, posterior: bool, encoder_buffer: bool) -> tuple[int, float]:
        """Whole episodes (at least ``steps`` steps) of each task, stored in the buffers.

        :return: environment steps and mean episode return
        """
        if steps <= 0 or not task_ids:
            return 0, float("nan")
        tasks = [self.family.train_tasks[i] for i in task_ids]
        state = self.begin_meta_episode(tasks)
        ids = th.as_tensor(list(task_ids), dtype=th.int64)
        if posterior:
            rows = self.encoder_buffer.sample(ids, self.config.context_batch_size, self.torch_rng)
            obs, act, rew, nxt, _ = self.encoder_buffer.split(rows)
            state.mean, state.var = self.infer_posterior(self._context(obs, act, rew, nxt))
        episodes = math.ceil(steps / self.rollout.horizon)
        batch, _ = self.rollout.run_phase(self, state, tasks, episodes, 0, self.rng, self.torch_rng, False)
        assert batch.next_obs is not None and batch.terminated is not None
        for row, task in enumerate(task_ids):
            real = batch.mask[row].reshape(-1) > 0
            parts = [
                batch.obs[row].reshape(-1, batch.obs.shape[-1])[real],
                batch.actions[row].reshape(-1, batch.actions.shape[-1])[real],
                batch.rewards[row].reshape(-1)[real],
                batch.next_obs[row].reshape(-1, batch.obs.shape[-1])[real],
                batch.terminated[row].reshape(-1)[real],
            ]
            self.replay_buffer.add(task, *parts)
            if encoder_buffer:
                self.encoder_buffer.add(task, *parts)
        return batch.n_steps, float(batch.returns.mean())

    # ---------------------------------------------------------------------------------------- update
    def gradient_step(self) -> dict[str, th.Tensor]:
        """One update of the encoder, Q, V and the policy on a meta-batch (the reference's ``_take_step``).

        It makes no host round-trip: minibatch indices are drawn on the host from the learner's generator,
        and the losses come back as 0-dim tensors on the device, to be read after the step.

        :return: losses and diagnostics (0-dim tensors)
        """
        cfg, gen = self.config, self.torch_rng
        n_train = self.replay_buffer.n_tasks
        replace = cfg.meta_batch_size > n_train
        if replace:
            ids = th.randint(n_train, (cfg.meta_batch_size,), generator=gen)
        else:
            ids = th.randperm(n_train, generator=gen)[: cfg.meta_batch_size]
        c_obs, c_act, c_rew, c_next, _ = self.encoder_buffer.split(
            self.encoder_buffer.sample(ids, cfg.context_batch_size, gen)
        )
        obs, act, rew, nxt, done = self.replay_buffer.split(self.replay_buffer.sample(ids, cfg.batch_size, gen))
        n = ids.numel() * cfg.batch_size
        obs, act, rew, nxt, done = obs.reshape(n, -1), act.reshape(n, -1), rew.reshape(n), nxt.reshape(n, -1), done.reshape(n)

        # posterior of every task's context; z ~ q(z | c) reparameterised, shared by the task's transitions
        mean, var = self.encoder(self._context(c_obs, c_act, c_rew, c_next))
        z_task = mean + var.sqrt() * th.randn(mean.shape, generator=gen).to(self.device)
        z = z_task.unsqueeze(1).expand(-1, cfg.batch_size, -1).reshape(n, -1)
        kl = gaussian_kl_to_unit(mean, var).sum()

        # Q (twin) and the encoder: Bellman error against the target V, plus the KL to the unit prior
        with th.no_grad():
            v_next = self.vf_target(*self._critic_inputs(nxt, z, None))[0, :, 0]
            q_target = cfg.reward_scale * rew + (1.0 - done) * cfg.gamma * v_next
        q_pred = self.qf(*self._critic_inputs(obs, z, act))[..., 0]
        qf_loss = (q_pred - q_target).pow(2).mean(1).sum()
        self.encoder_optimizer.zero_grad(set_to_none=True)
        self.qf_optimizer.zero_grad(set_to_none=True)
        (qf_loss + cfg.kl_weight * kl).backward()
        self.qf_optimizer.step()
        self.encoder_optimizer.step()

        # V and the policy see z detached (the encoder learns from the critic only)
        z = z.detach()
        new_act, log_pi, pre_mean, log_std = self.policy(obs, z_task.detach(), False, gen)  # one z per task
        q_new = self.qf.action_value(*self._critic_inputs(obs, z, new_act))[..., 0].min(0).values
        v_pred = self.vf(*self._critic_inputs(obs, z, None))[0, :, 0]
        vf_loss = (v_pred - (q_new - log_pi).detach()).pow(2).mean()
        policy_loss = (log_pi - q_new).mean()
        policy_loss = policy_loss + cfg.policy_mean_reg * pre_mean.pow(2).mean() + cfg.policy_std_reg * log_std.pow(2).mean()
        self.vf_optimizer.zero_grad(set_to_none=True)
        self.policy_optimizer.zero_grad(set_to_none=True)
        (vf_loss + policy_loss).backward()
        self.vf_optimizer.step()
        self.policy_optimizer.step()
        polyak_update(self.vf.parameters(), self.vf_target.parameters(), cfg.tau)
        return {
            "train/qf_loss": qf_loss.detach() / 2.0,
            "train/vf_loss": vf_loss.detach(),
            "train/policy_loss": policy_loss.detach(),
            "train/kl": kl.detach() / ids.numel(),
            "train/log_pi": log_pi.detach().mean(),
            "train/z_var": var.detach().mean(),
        }

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        cfg = self.config
        start = time.time()
        n_train = self.replay_buffer.n_tasks
        steps = 0
        if not self.initialised:
            steps += self._collect(list(range(n_train)), cfg.initial_steps, posterior=False, encoder_buffer=True)[0]
            self.initialised = True
        picked = self.rng.choice(n_train, size=min(cfg.tasks_per_iteration, n_train), replace=False)
        ids = [int(i) for i in picked]
        for task in ids:
            self.encoder_buffer.clear(task)
        n_prior, prior_return = self._collect(ids, cfg.prior_steps, posterior=False, encoder_buffer=True)
        has_context = bool((self.encoder_buffer.sizes[ids] > 0).all())
        posterior = cfg.posterior_steps > 0 and has_context
        n_post, post_return = self._collect(ids, cfg.posterior_steps, posterior=posterior, encoder_buffer=not has_context)
        steps += n_prior + n_post
        t_sample = time.time() - start
        last: dict[str, th.Tensor] = {}
        for _ in range(cfg.gradient_steps):
            last = self.gradient_step()
        # the one read-back of the iteration, after every update step
        stats = {key: float(value) for key, value in last.items()}
        stats.update(
            {
                "train/prior_return": prior_return,
                "train/posterior_return": post_return,
                "time/sample_s": t_sample,
                "time/update_s": time.time() - start - t_sample,
            }
        )
        self.last_update = stats
        return steps, stats

    # -------------------------------------------------------------------------------------- inference
    def adapt(self, task: Any, n_episodes: int | None = None, seed: int | None = None) -> PEARLState:
        """Collect context on ``task`` with the prior (through the rollout loop) and infer the posterior.

        :param task: a task of the family
        :param n_episodes: context episodes (default ``eval_prior_episodes``)
        :param seed: seed of the context episodes (default: the learner's own streams)
        :return: the state for :meth:`predict` (its ``z`` is a posterior sample)
        """
        rng, gen = self._eval_streams(seed) if seed is not None else (self.rng, self.torch_rng)
        phases = tuple(Phase(PRIOR, 1, explore=True) for _ in range(n_episodes or self.config.eval_prior_episodes))
        state = self.rollout.run(self, [task], phases, rng, gen).state
        state.z = state.mean.unsqueeze(1) + state.var.sqrt().unsqueeze(1) * th.randn(
            1, 1, self.config.latent_dim, generator=gen
        ).to(self.device)
        return state

    @th.no_grad()
    def predict(
        self,
        observation: np.ndarray | Mapping[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a single observation ``(obs_dim,)`` or a batch ``(B, obs_dim)`` of one task.

        :param observation: array, or a Dict observation with an ``"observation"`` key (its context is unused:
            PEARL infers the task)
        :param state: a :class:`PEARLState` from :meth:`adapt` (acts on its posterior sample), or ``None``
            (the prior: ``z = 0`` when deterministic, else a prior sample)
        :param episode_start: ignored (the posterior persists across episodes of a task)
        :param deterministic: the mean action
        :return: ``(actions, state)``
        """
        if state is not None and not isinstance(state, PEARLState):
            raise TypeError(f"state must be a PEARLState (from adapt()) or None, got {type(state).__name__}")
        obs, single = observation_batch(observation, int(self.spaces["obs_dim"]))
        latent = self.config.latent_dim
        if state is not None and state.z is not None:
            z = state.z.reshape(-1, latent)[:1]
        elif state is not None:
            z = state.mean[:1]
        else:
            z = (th.zeros(1, latent) if deterministic else th.randn(1, latent)).to(self.device)
        action = self.policy(th.as_tensor(obs, device=self.device), z.expand(obs.shape[0], latent), deterministic)[0]
        action = action.cpu().numpy()
        return (action[0] if single else action), state

    # ------------------------------------------------------------------------------------ persistence
    def _modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "policy": self.policy, "qf": self.qf, "vf": self.vf, "vf_target": self.vf_target}

    def _optimizers(self) -> dict[str, th.optim.Optimizer]:
        return {
            "encoder": self.encoder_optimizer,
            "policy": self.policy_optimizer,
            "qf": self.qf_optimizer,
            "vf": self.vf_optimizer,
        }

    def _to_device(self, device: th.device) -> None:
        self.device = device
        self._move_to(device, self._modules().values(), self._optimizers().values())
        self.replay_buffer.to(device)
        self.encoder_buffer.to(device)

    def _get_config(self) -> dict[str, Any]:
        return {"pearl": self.config.to_dict(), "seed": self.seed, "spaces": self.spaces}

    @classmethod
    def _from_config(cls, config: Mapping[str, Any], family: Any) -> PEARL:
        return cls(family, config=PEARLConfig.from_dict(config["pearl"]), seed=int(config["seed"]), _spaces=config["spaces"])

    def _get_tensors(self) -> dict[str, th.Tensor]:
        out = {f"{name}.{k}": v for name, m in self._modules().items() for k, v in m.state_dict().items()}
        for name, opt in self._optimizers().items():
            out.update(_optimizer_tensors(opt, f"optim.{name}"))
        out["initialised"] = th.tensor(int(self.initialised))
        return out

    def _set_tensors(self, tensors: Mapping[str, th.Tensor]) -> None:
        for name, module in self._modules().items():
            own = {k.removeprefix(name + "."): v for k, v in tensors.items() if k.startswith(name + ".")}
            module.load_state_dict(own, strict=True)
        for name, opt in self._optimizers().items():
            _load_optimizer(opt, tensors, f"optim.{name}")
        if "initialised" not in tensors:
            raise ValueError("missing 'initialised'")
        self.initialised = bool(int(tensors["initialised"]))

    def _get_large_state(self) -> dict[str, th.Tensor]:
        return {**self.replay_buffer.state_dict("replay"), **self.encoder_buffer.state_dict("encoder_buffer")}

    def _set_large_state(self, tensors: Mapping[str, th.Tensor]) -> None:
        self.replay_buffer.load_state_dict(tensors, "replay")
        self.encoder_buffer.load_state_dict(tensors, "encoder_buffer")

    def __repr__(self) -> str:
        fam = self._family_spec.get("family") if self._family_spec else None
        return f"PEARL(variant={self.variant!r}, family={fam!r}, seed={self.seed}, num_timesteps={self.num_timesteps})"
