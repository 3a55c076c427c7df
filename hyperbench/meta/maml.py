"""MAML with a TRPO meta-update (Finn, Abbeel & Levine, ICML 2017), and its contextual variants.

Three variants share every line of the algorithm and differ only in the policy (Sarafian, Keynan & Kraus,
ICML 2021, §4):

=================  ==============================================================================
``maml``           MLP on the state; the task is identified only through adaptation
``context-maml``   MLP on ``[state, oracle context]``
``hyper-maml``     hypernetwork: oracle context → weights of an MLP over the state (Eq. 16)
=================  ==============================================================================

One meta-iteration (:meth:`MAML._train_iteration`):

1. draw ``meta_batch_size`` training tasks; collect ``episodes_per_task`` episodes of each with the
   meta-parameters θ (the *pre-adaptation* batch);
2. per task, advantages from GAE with a linear feature baseline, and one vanilla policy-gradient step
   ``θ'_i = θ − α ∇_θ L_i(θ)`` computed functionally (``torch.func.grad`` under ``vmap`` over tasks);
3. collect episodes with every ``θ'_i`` (the *post-adaptation* batch);
4. TRPO on the meta-objective ``Σ_i L^surr_i(θ'_i(θ))``: the gradient flows through the inner step
   (second order unless ``first_order``), the Fisher-vector products are Hessian-vector products of the
   mean KL between the old and new adapted policies, conjugate gradient gives the direction, and a
   backtracking line search enforces the KL constraint ``max_kl``.

Defaults are the published setup (MAML's code; Sarafian et al.'s public code for the hyper variant):
policy 2×100 ReLU, inner step 0.1 (hyper: 5e-5), 20 episodes per task, 40 tasks per meta-batch, max KL
1e-2, 10 CG iterations, γ = 0.99, λ = 1.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch as th
from torch.func import functional_call, grad, vmap

from hyperbench.meta.advantages import task_advantages
from hyperbench.meta.base import PRE_ADAPTATION, MetaLearner, check_config_keys, resolve_variant_config
from hyperbench.meta.policies import (
    GaussianPolicy,
    HyperGaussianPolicy,
    MLPGaussianPolicy,
    diag_gaussian_kl,
    diag_gaussian_log_prob,
)
from hyperbench.meta.rollout import EpisodeBatch, Headline, Phase, Transition
from hyperbench.meta.trpo import LineSearchResult, batched_trpo_line_search, conjugate_gradient, trpo_line_search

__all__ = ["MAML", "POST_ADAPTATION", "VARIANTS", "MAMLConfig", "MAMLRolloutState", "MAMLState", "MetaBatch", "MetaStep"]

#: The three policy variants.
VARIANTS: tuple[str, ...] = ("maml", "context-maml", "hyper-maml")
#: Values of :attr:`MAMLConfig.line_search`.
LINE_SEARCHES: tuple[str, ...] = ("auto", "sequential", "batched")
#: Label of the episodes collected with the adapted policies (MAML's score).
POST_ADAPTATION = "post-adaptation"

Params = dict[str, th.Tensor]

# Keys of the implicit low-rank heads update of Hyper-MAML's adapted parameters.
_Z = "__head_latents"
_D = "__head_deltas"
_HEAD_KEYS = ("hypernet.heads.weight", "hypernet.heads.bias")
_PRIMARY = "hypernet.primary."


@dataclass
class MAMLConfig:
    """Hyperparameters of :class:`MAML` (defaults: the published setup, see the module docstring)."""

    variant: str = "maml"
    """``"maml"``, ``"context-maml"`` or ``"hyper-maml"``"""
    hidden: tuple[int, ...] = (100, 100)
    """hidden widths of the policy (of the generated network for ``hyper-maml``)"""
    init_std: float = 1.0
    """initial standard deviation of the Gaussian policy"""
    inner_lr: float | None = None
    """inner (adaptation) step size α; ``None``: 0.1 for the MLP variants, 5e-5 for ``hyper-maml``"""
    n_inner_steps: int = 1
    """adaptation steps (each with freshly collected episodes)"""
    first_order: bool = False
    """drop the second-order term of the meta-gradient (FO-MAML)"""
    episodes_per_task: int = 20
    """episodes collected per task for each adaptation step and for the meta-update ("fast batch size")"""
    meta_batch_size: int = 40
    """tasks per meta-iteration"""
    max_kl: float = 1e-2
    """TRPO trust-region size δ on the mean KL of the adapted policies"""
    cg_iters: int = 10
    """conjugate-gradient iterations"""
    cg_damping: float = 1e-5
    """damping added to the Fisher-vector products"""
    backtrack_ratio: float = 0.8
    """line-search shrink factor"""
    max_backtracks: int = 15
    """line-search candidates"""
    gamma: float = 0.99
    """discount"""
    gae_lambda: float = 1.0
    """GAE λ"""
    normalize_advantages: bool = True
    """centre and scale advantages per task"""
    hyper_primary: str | tuple[int, ...] = "lite"
    """``hyper-maml``: primary network preset or widths"""
    hyper_init: str = "bias-hyperinit"
    """``hyper-maml``: hypernetwork initialisation scheme (:data:`hyperbench.nn.INIT_SCHEMES`)"""
    hyper_base_init: str = "kaiming-uniform"
    """``hyper-maml``: target initialisation of the generated network"""
    lowrank_heads: bool = True
    """``hyper-maml``: keep the inner step's update of the hypernetwork heads in factored (rank-one per step)
    form. Exact (the same numbers as the dense update) and much cheaper; ``False`` materialises it."""
    max_envs: int = 1024
    """environments stepped together by the rollout loop"""
    line_search: str = "auto"
    """TRPO line search: ``"sequential"`` (stop at the first acceptable candidate, reading each candidate's loss
    and KL on the host), ``"batched"`` (evaluate all ``max_backtracks`` candidates and choose on the device: the
    same step, no host round-trip), ``"auto"``: batched on a GPU, sequential on a CPU"""

    def __post_init__(self) -> None:
        if self.line_search not in LINE_SEARCHES:
            raise ValueError(f"MAMLConfig.line_search must be one of {list(LINE_SEARCHES)}, got {self.line_search!r}")
        if self.variant not in VARIANTS:
            import difflib

            close = difflib.get_close_matches(str(self.variant), VARIANTS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown MAML variant {self.variant!r}; valid variants: {list(VARIANTS)}.{hint}")
        self.hidden = tuple(int(h) for h in self.hidden)
        if not isinstance(self.hyper_primary, str):
            self.hyper_primary = tuple(int(w) for w in self.hyper_primary)
        positive = {
            "init_std": self.init_std,
            "n_inner_steps": self.n_inner_steps,
            "episodes_per_task": self.episodes_per_task,
            "meta_batch_size": self.meta_batch_size,
            "max_kl": self.max_kl,
            "cg_iters": self.cg_iters,
            "max_backtracks": self.max_backtracks,
            "max_envs": self.max_envs,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"MAMLConfig.{name} must be positive, got {value!r}")
        if self.inner_lr is not None and not self.inner_lr >= 0:
            raise ValueError(f"MAMLConfig.inner_lr must be >= 0, got {self.inner_lr!r}")
        if not 0 < self.backtrack_ratio < 1:
            raise ValueError(f"MAMLConfig.backtrack_ratio must be in (0, 1), got {self.backtrack_ratio!r}")
        if not (0 <= self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ValueError(f"gamma and gae_lambda must be in [0, 1], got {self.gamma!r}, {self.gae_lambda!r}")

    @property
    def alpha(self) -> float:
        """The inner step size in effect."""
        if self.inner_lr is not None:
            return float(self.inner_lr)
        return 5e-5 if self.variant == "hyper-maml" else 0.1

    @property
    def uses_context(self) -> bool:
        """Whether the policy reads the oracle context."""
        return self.variant != "maml"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MAMLConfig:
        """Build a config from plain values, naming unknown keys.

        :param values: field name → value
        """
        check_config_keys(cls, values)
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        if not isinstance(self.hyper_primary, str):
            out["hyper_primary"] = list(self.hyper_primary)
        return out


@dataclass
class MAMLState:
    """What :meth:`MAML.predict` acts with: adapted parameters (``None``: the meta-parameters) and the
    oracle context of the task (``None`` for plain MAML or when observations carry it)."""

    params: Params | None = None
    context: np.ndarray | None = None
    task: Any = None


@dataclass
class MAMLRolloutState:
    """MAML's adaptation state for a batch of ``T`` task rows in the rollout loop: the meta-parameters θ the
    meta-episode started with, the per-task adapted parameters (``{}`` before the first inner step, then every
    tensor ``(T, ...)``), the oracle contexts and the advantages of each adaptation phase."""

    theta: Params
    contexts: th.Tensor | None
    adapted: Params = dataclasses.field(default_factory=dict)
    advantages: list[th.Tensor] = dataclasses.field(default_factory=list)


class MetaBatch(NamedTuple):
    """The data of one meta-update: pre- and post-adaptation episodes of ``T`` tasks."""

    tasks: list[Any]
    contexts: th.Tensor | None
    """``(T, context_dim)`` or ``None``"""
    pre: list[EpisodeBatch]
    """one batch per inner step"""
    pre_adv: list[th.Tensor]
    post: EpisodeBatch
    post_adv: th.Tensor
    old_mean: th.Tensor
    """``(T, N·H, act_dim)`` mean of the adapted policies that collected ``post``"""
    old_log_std: th.Tensor
    """``(T, act_dim)``"""


class MetaStep(NamedTuple):
    """A computed (not yet applied) TRPO meta-step (numbers are 0-dim tensors where the step computed them)."""

    step: th.Tensor
    """flat parameter update (zeros if the line search found none)"""
    search: LineSearchResult
    loss_before: float | th.Tensor
    grad_norm: float | th.Tensor


def _flat(tensors: Sequence[th.Tensor]) -> th.Tensor:
    return th.cat([t.reshape(-1) for t in tensors])


class MAML(MetaLearner):
    """MAML-TRPO (Finn et al. 2017) with the Context-MAML and Hyper-MAML policies of Sarafian et al. (2021).

    :param family: task family object or name (``"point-robot"``, ``"halfcheetah-vel"``, ...)
    :param variant: ``"maml"``, ``"context-maml"`` or ``"hyper-maml"`` (overrides ``config.variant``)
    :param config: hyperparameters (a :class:`MAMLConfig` or a mapping of its fields)
    :param seed: seed of initialisation, task draws, resets and action noise
    :param verbose: 1 to print iteration statistics
    :param tensorboard_log: TensorBoard directory
    :param family_seed: family seed when ``family`` is a name
    :param family_kwargs: family options when ``family`` is a name
    :param device: where the policy and the meta-update live (``"auto"``: CUDA when available)
    """

    headline = Headline((POST_ADAPTATION,), "episode", "the adapted policy, after the inner step(s)")

    def __init__(
        self,
        family: Any,
        variant: str | None = None,
        config: MAMLConfig | Mapping[str, Any] | None = None,
        seed: int = 0,
        verbose: int = 0,
        tensorboard_log: str | None = None,
        family_seed: int = 0,
        family_kwargs: Mapping[str, Any] | None = None,
        _spaces: Mapping[str, Any] | None = None,
        device: th.device | str = "auto",
    ) -> None:
        self.config: MAMLConfig = resolve_variant_config(MAMLConfig, config, variant, "maml")
        super().__init__(family, seed, verbose, tensorboard_log, family_seed, family_kwargs, device=device)
        if _spaces is None:
            loop = self.rollout
            if loop.discrete:
                raise ValueError(
                    f"MAML's Gaussian policy needs a Box action space; {self.family.name} has {loop.action_space}"
                )
            _spaces = {
                "obs_dim": loop.obs_dim,
                "act_dim": loop.act_dim,
                "context_dim": int(self.family.context_dim),
                "action_low": loop.action_low.tolist(),
                "action_high": loop.action_high.tolist(),
            }
        self.spaces = dict(_spaces)
        self.action_low = np.asarray(self.spaces["action_low"], dtype=np.float32)
        self.action_high = np.asarray(self.spaces["action_high"], dtype=np.float32)
        with th.random.fork_rng(devices=[]):
            th.manual_seed(int(np.random.SeedSequence([self.seed, 2]).generate_state(1)[0]))
            self.policy = self._make_policy().to(self.device)
        self.context_dim = self.spaces["context_dim"] if self.config.uses_context else 0
        #: statistics of the last meta-update (read by tests and diagnostics)
        self.last_update: dict[str, float] = {}

    # ---------------------------------------------------------------------------------- suite methods
    @classmethod
    def suite_defaults(cls, variant: str = "maml", **fixed: Any) -> dict[str, Any]:
        """Every :class:`MAMLConfig` field but ``variant`` (fixed by the method name), as plain values.

        ``device`` and ``line_search`` are not among them: they choose where and how the same update is
        computed (both line searches take the same step), so they stay out of every run's configuration hash;
        the runner builds meta learners with ``device="auto"`` and ``line_search="auto"``."""
        values = MAMLConfig(variant=variant).to_dict()
        values.pop("variant")
        values.pop("line_search")
        return values

    @classmethod
    def from_suite(cls, family: Any, config: Mapping[str, Any], seed: int, variant: str = "maml", **fixed: Any) -> MAML:
        """The learner of the suite method ``variant`` (``maml``, ``context-maml``, ``hyper-maml``)."""
        return cls(family, variant=variant, config=dict(config), seed=seed, tensorboard_log=None, device="auto")

    # ------------------------------------------------------------------------------------------ setup
    def _make_policy(self) -> GaussianPolicy:
        cfg, sp = self.config, self.spaces
        if cfg.variant == "hyper-maml":
            policy = HyperGaussianPolicy(
                sp["obs_dim"], sp["act_dim"], sp["context_dim"], hidden=cfg.hidden, primary=cfg.hyper_primary,
                init=cfg.hyper_init, base_init=cfg.hyper_base_init, init_std=cfg.init_std,
            )  # fmt: skip
            meta_norm = policy.hypernet.primary.meta_norm
            if meta_norm is not None:
                # Schemes that standardise the context (hfi, weight-hyperinit): the oracle contexts of the
                # training tasks are the whole input distribution, so calibrate once and keep the policy a
                # fixed function through the inner steps and the TRPO line search (which run inside
                # torch.func transforms, where a buffer may not change anyway).
                # A learner restored without its family gets the statistics from the checkpoint instead.
                meta_norm.auto_update = False
                if self._family is not None and len(self._family.train_tasks) >= 2:
                    contexts = self._contexts(self._family.train_tasks)
                    assert contexts is not None
                    meta_norm.update(contexts.to(meta_norm.running_mean.device))
            return policy
        context_dim = sp["context_dim"] if cfg.variant == "context-maml" else 0
        return MLPGaussianPolicy(sp["obs_dim"], sp["act_dim"], context_dim, hidden=cfg.hidden, init_std=cfg.init_std)

    def _max_envs(self) -> int:
        return self.config.max_envs

    @property
    def variant(self) -> str:
        """The policy variant."""
        return self.config.variant

    def meta_parameters(self) -> Params:
        """The meta-parameters θ (the live ``nn.Parameter`` objects) by name."""
        return dict(self.policy.named_parameters())

    def _detached(self) -> Params:
        return {k: v.detach() for k, v in self.policy.named_parameters()}

    def _contexts(self, tasks: Sequence[Any]) -> th.Tensor | None:
        if not self.config.uses_context:
            return None
        return th.as_tensor(np.stack([self.family.oracle_context(t) for t in tasks]), dtype=th.float32, device=self.device)

    # ------------------------------------------------------------------------------ functional policy
    # θ ("theta") is a dict of meta-parameters shared by all tasks; a task's adapted parameters ("adapted")
    # hold only what adaptation changed. For the MLP variants that is every parameter (one vmap over tasks).
    # For Hyper-MAML with ``lowrank_heads`` the heads' weight W and bias b stay θ's: every sample of a task
    # shares its context, so a policy-gradient step changes them by the rank-one ``−α z ⊗ ∂L/∂gen`` and
    # ``−α ∂L/∂gen`` (z: the primary's latent). Keeping the factors (z_k, α ∂L/∂gen_k) under _Z / _D makes the
    # task's generated vector ``z' W + b − Σ_k (z'·z_k + 1) α ∂L/∂gen_k``: the same numbers as the dense update
    # without a (latent × n_generated) matrix per task, and without vmap, whose backward through the shared
    # heads would materialise one anyway.
    def _lowrank(self) -> bool:
        return self.config.variant == "hyper-maml" and self.config.lowrank_heads

    def _mean(self, theta: Params, adapted: Params, obs: th.Tensor, context: th.Tensor | None) -> th.Tensor:
        """Mean action of one task's policy: ``obs (M, obs_dim)``, ``context (context_dim,)`` → ``(M, act_dim)``."""
        ctx = None if context is None else context.unsqueeze(0)
        return functional_call(self.policy, {**theta, **adapted}, (obs.unsqueeze(0), ctx))[0]

    def _pg_loss(self, mean: th.Tensor, log_std: th.Tensor, actions: th.Tensor, adv: th.Tensor, mask: th.Tensor) -> th.Tensor:
        """Vanilla policy-gradient loss of one task (the inner objective), averaged over real steps."""
        logp = diag_gaussian_log_prob(actions, mean, log_std)
        return -(logp * adv * mask).sum() / mask.sum().clamp_min(1.0)

    def _adapt_one(
        self,
        theta: Params,
        adapted: Params,
        obs: th.Tensor,
        actions: th.Tensor,
        adv: th.Tensor,
        mask: th.Tensor,
        context: th.Tensor | None,
    ) -> Params:
        """One inner step ``θ' = θ − α ∇L(θ)`` for one task, differentiable with respect to ``θ``."""
        alpha, fo = self.config.alpha, self.config.first_order

        def maybe_detach(t: th.Tensor) -> th.Tensor:
            return t.detach() if fo else t

        params = {**theta, **adapted}

        def loss(p: Params) -> th.Tensor:
            return self._pg_loss(self._mean(p, {}, obs, context), p["log_std"], actions, adv, mask)

        grads = grad(loss)(params)
        return {k: p - alpha * maybe_detach(grads[k]) for k, p in params.items()}

    def _hyper_means(
        self,
        theta: Params,
        adapted: Params,
        obs: th.Tensor,
        contexts: th.Tensor | None,
        gen_offset: th.Tensor | None = None,
    ) -> tuple[th.Tensor, th.Tensor]:
        """Hyper-MAML's means for ``T`` tasks at once, without ``vmap``: the per-task primary networks run as
        the members of the primary's ensemble layers, and the heads (θ's, shared) are one matmul.

        :return: ``(means (T, M, act_dim), latents (T, L))``
        """
        policy = self.policy
        assert isinstance(policy, HyperGaussianPolicy) and contexts is not None
        n_tasks = obs.shape[0]
        primary = {
            k.removeprefix(_PRIMARY): adapted[k] if k in adapted else theta[k].expand(n_tasks, *theta[k].shape[1:])
            for k in theta
            if k.startswith(_PRIMARY)
        }
        latent = functional_call(policy.hypernet.primary, primary, (contexts.unsqueeze(1),))[:, 0]
        gen = th.addmm(theta[_HEAD_KEYS[1]][0, 0], latent, theta[_HEAD_KEYS[0]][0])
        if _Z in adapted:
            coef = th.einsum("tl,tkl->tk", latent, adapted[_Z]) + 1.0
            gen = gen - th.einsum("tk,tkn->tn", coef, adapted[_D])
        if gen_offset is not None:
            gen = gen + gen_offset
        return policy.dynamic(gen, obs), latent

    def _adapt_lowrank(
        self, theta: Params, adapted: Params, batch: EpisodeBatch, adv: th.Tensor, contexts: th.Tensor | None
    ) -> Params:
        """Hyper-MAML's inner step for all tasks at once, keeping the heads' update factored.

        The per-task gradients come from one ``torch.func.grad`` of the *sum* of the task losses with respect
        to per-task copies of the primary parameters, the log-std and an additive offset of the generated
        vector (whose gradient is ∂L/∂gen, the heads' bias gradient; the heads' weight gradient is
        ``z ⊗ ∂L/∂gen``). Tasks share nothing but θ, so these are exactly the per-task gradients.
        """
        alpha, fo = self.config.alpha, self.config.first_order
        n_tasks = batch.obs.shape[0]
        obs = batch.obs.reshape(n_tasks, -1, batch.obs.shape[-1])
        actions = batch.actions.reshape(n_tasks, -1, batch.actions.shape[-1])
        adv_flat, mask = adv.reshape(n_tasks, -1), batch.mask.reshape(n_tasks, -1)
        own = {
            k: adapted[k] if k in adapted else theta[k].expand(n_tasks, *theta[k].shape[1:])
            for k in theta
            if k.startswith(_PRIMARY)
        }
        log_std = adapted["log_std"] if "log_std" in adapted else theta["log_std"].expand(n_tasks, -1)
        factors = {k: adapted[k] for k in (_Z, _D) if k in adapted}
        assert isinstance(self.policy, HyperGaussianPolicy)
        offset = th.zeros(n_tasks, self.policy.hypernet.n_generated, dtype=obs.dtype, device=obs.device)

        def total_loss(p: Params, ls: th.Tensor, off: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
            mean, latent = self._hyper_means(theta, {**factors, **p}, obs, contexts, gen_offset=off)
            logp = diag_gaussian_log_prob(actions, mean, ls.unsqueeze(1))
            per_task = -(logp * adv_flat * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            return per_task.sum(), latent

        (g_own, g_ls, g_gen), latent = grad(total_loss, argnums=(0, 1, 2), has_aux=True)(own, log_std, offset)
        if fo:
            g_own, g_ls, g_gen, latent = (
                {k: v.detach() for k, v in g_own.items()},
                g_ls.detach(),
                g_gen.detach(),
                latent.detach(),
            )
        out = {k: v - alpha * g_own[k] for k, v in own.items()}
        out["log_std"] = log_std - alpha * g_ls
        z, delta = latent.unsqueeze(1), alpha * g_gen.unsqueeze(1)
        out[_Z] = th.cat([factors[_Z], z], dim=1) if _Z in factors else z
        out[_D] = th.cat([factors[_D], delta], dim=1) if _D in factors else delta
        return out

    def _adapt_batched(
        self, theta: Params, adapted: Params, batch: EpisodeBatch, adv: th.Tensor, contexts: th.Tensor | None
    ) -> Params:
        """Inner step for every task of ``batch`` at once (``vmap`` over tasks).

        :param theta: meta-parameters
        :param adapted: per-task adapted parameters from earlier steps (leading task dimension), or ``{}``
        :return: per-task adapted parameters, every tensor ``(T, ...)``
        """
        if self._lowrank():
            return self._adapt_lowrank(theta, adapted, batch, adv, contexts)
        n_tasks = batch.obs.shape[0]
        flat = (
            batch.obs.reshape(n_tasks, -1, batch.obs.shape[-1]),
            batch.actions.reshape(n_tasks, -1, batch.actions.shape[-1]),
            adv.reshape(n_tasks, -1),
            batch.mask.reshape(n_tasks, -1),
        )
        in_dims = (None, 0 if adapted else None, 0, 0, 0, 0, None if contexts is None else 0)
        return vmap(self._adapt_one, in_dims=in_dims)(theta, adapted, *flat, contexts)

    def _task_means(self, theta: Params, adapted: Params, obs: th.Tensor, contexts: th.Tensor | None) -> th.Tensor:
        """Means of ``T`` tasks' policies on their own observations ``(T, M, obs_dim)`` → ``(T, M, act_dim)``."""
        if self._lowrank():
            return self._hyper_means(theta, adapted, obs, contexts)[0]
        if not adapted:
            return functional_call(self.policy, theta, (obs, contexts))
        in_dims = (None, 0, 0, None if contexts is None else 0)
        return vmap(self._mean, in_dims=in_dims)(theta, adapted, obs, contexts)

    # ------------------------------------------------------------------ the rollout contract (base.py)
    def _phases(self, n_episodes: int, n_post_episodes: int) -> tuple[Phase, ...]:
        """``n_inner_steps`` adaptation phases of ``n_episodes`` episodes (always sampled), then the
        post-adaptation phase."""
        labels = [PRE_ADAPTATION] + [f"adaptation-{i}" for i in range(1, self.config.n_inner_steps)]
        return (*(Phase(lab, n_episodes, explore=True) for lab in labels), Phase(POST_ADAPTATION, n_post_episodes))

    def meta_episode(self, n_episodes: int) -> tuple[Phase, ...]:
        """MAML's protocol: ``episodes_per_task`` episodes with θ per inner step, then ``n_episodes`` episodes
        with the adapted policy (the headline)."""
        return self._phases(self.config.episodes_per_task, n_episodes)

    def begin_meta_episode(self, tasks: Sequence[Any]) -> MAMLRolloutState:
        return MAMLRolloutState(self._detached(), self._contexts(tasks))

    def act(
        self, state: Any, obs: th.Tensor, rows: slice, phase: int, deterministic: bool, generator: th.Generator
    ) -> th.Tensor:
        ctx = None if state.contexts is None else state.contexts[rows]
        sliced = {k: v[rows] for k, v in state.adapted.items()}
        mean = self._task_means(state.theta, sliced, obs.to(self.device), ctx)
        log_std = sliced["log_std"].unsqueeze(1) if sliced else state.theta["log_std"]
        if deterministic:
            return mean
        # drawn from the (host) generator: the same numbers on every device
        return mean + th.exp(log_std) * th.randn(mean.shape, generator=generator).to(self.device)

    def observe(self, state: Any, transition: Transition, rows: slice, phase: int) -> Any:
        return state  # the inner step uses the whole phase (end_phase)

    def end_phase(self, state: Any, phase: int, batch: EpisodeBatch) -> Any:
        """After an adaptation phase: advantages and one inner step for every task (no meta-gradient graph)."""
        cfg = self.config
        if phase >= cfg.n_inner_steps:
            return state
        adv = task_advantages(batch, cfg.gamma, cfg.gae_lambda, cfg.normalize_advantages).to(self.device)
        batch = self._on_device(batch)
        adapted = self._adapt_batched(state.theta, state.adapted, batch, adv, state.contexts)
        state.adapted = {k: v.detach() for k, v in adapted.items()}
        state.advantages.append(adv)
        return state

    def _evaluation_info(self) -> dict[str, Any]:
        return {
            "protocol": "maml",
            "adaptation_episodes": self.config.episodes_per_task,
            "inner_steps": self.config.n_inner_steps,
            "inner_lr": self.config.alpha,
        }

    # ------------------------------------------------------------------------------------- adaptation
    def _adapt_and_collect(
        self,
        tasks: Sequence[Any],
        n_episodes: int,
        rng: np.random.Generator,
        generator: th.Generator,
        n_post_episodes: int | None = None,
        deterministic_post: bool = False,
    ) -> tuple[list[EpisodeBatch], list[th.Tensor], Params, EpisodeBatch]:
        """Pre-adaptation episodes, inner step(s), post-adaptation episodes (no meta-gradient graph)."""
        phases = self._phases(n_episodes, n_post_episodes or n_episodes)
        rollout = self.rollout.run(self, tasks, phases, rng, generator, deterministic=deterministic_post)
        state = rollout.state
        return rollout.batches[:-1], list(state.advantages), state.adapted, rollout.batches[-1]

    def collect_meta_batch(
        self,
        tasks: Sequence[Any] | None = None,
        rng: np.random.Generator | None = None,
        generator: th.Generator | None = None,
    ) -> MetaBatch:
        """Collect the data of one meta-update.

        :param tasks: the tasks (default: ``meta_batch_size`` training tasks drawn without replacement
            when there are enough, else with replacement)
        :param rng: generator for task draws and resets (default: the learner's own)
        :param generator: generator for the action noise (default: the learner's own)
        :return: the batch
        """
        cfg = self.config
        rng = self.rng if rng is None else rng
        generator = self.torch_rng if generator is None else generator
        if tasks is None:
            train = self.family.train_tasks
            replace = cfg.meta_batch_size > len(train)
            idx = rng.choice(len(train), size=cfg.meta_batch_size, replace=replace)
            tasks = [train[int(i)] for i in idx]
        tasks = list(tasks)
        pre, pre_adv, adapted, post = self._adapt_and_collect(tasks, cfg.episodes_per_task, rng, generator)
        post_adv = task_advantages(post, cfg.gamma, cfg.gae_lambda, cfg.normalize_advantages).to(self.device)
        pre, post = [self._on_device(b) for b in pre], self._on_device(post)
        contexts = self._contexts(tasks)
        with th.no_grad():
            obs = post.obs.reshape(len(tasks), -1, post.obs.shape[-1])
            old_mean = self._task_means(self._detached(), adapted, obs, contexts)
        return MetaBatch(tasks, contexts, pre, pre_adv, post, post_adv, old_mean, adapted["log_std"].clone())

    def _meta_losses(self, theta: Params, mb: MetaBatch) -> tuple[th.Tensor, th.Tensor]:
        """Meta-objective (TRPO surrogate on post-adaptation data) and mean KL, as functions of θ."""
        adapted: Params = {}
        for batch, adv in zip(mb.pre, mb.pre_adv):
            adapted = self._adapt_batched(theta, adapted, batch, adv, mb.contexts)
        post = mb.post
        n_tasks = post.obs.shape[0]
        obs = post.obs.reshape(n_tasks, -1, post.obs.shape[-1])
        actions = post.actions.reshape(n_tasks, -1, post.actions.shape[-1])
        mask = post.mask.reshape(n_tasks, -1)
        mean = self._task_means(theta, adapted, obs, mb.contexts)
        log_std = adapted["log_std"].unsqueeze(1)
        old_log_std = mb.old_log_std.unsqueeze(1)
        log_ratio = diag_gaussian_log_prob(actions, mean, log_std) - diag_gaussian_log_prob(actions, mb.old_mean, old_log_std)
        denom = mask.sum(1).clamp_min(1.0)
        surr = -(th.exp(log_ratio) * mb.post_adv.reshape(n_tasks, -1) * mask).sum(1) / denom
        kl = (diag_gaussian_kl(mb.old_mean, old_log_std, mean, log_std) * mask).sum(1) / denom
        return surr.mean(), kl.mean()

    def _on_device(self, batch: EpisodeBatch) -> EpisodeBatch:
        """The tensors of a collected batch (host memory) on the learner's device."""
        if batch.obs.device == self.device:
            return batch

        def move(t: th.Tensor | None) -> Any:
            return None if t is None else t.to(self.device)

        extras = None if batch.extras is None else {k: v.to(self.device) for k, v in batch.extras.items()}
        return EpisodeBatch(
            move(batch.obs), move(batch.actions), move(batch.rewards), move(batch.mask), move(batch.successes),
            move(batch.next_obs), move(batch.terminated), extras,
        )  # fmt: skip

    def _batched_line_search(self) -> bool:
        mode = self.config.line_search
        return mode == "batched" or (mode == "auto" and self.device.type != "cpu")

    def _unflatten(self, flat: th.Tensor, like: Params) -> Params:
        out, offset = {}, 0
        for k, v in like.items():
            out[k] = flat[offset : offset + v.numel()].view_as(v)
            offset += v.numel()
        return out

    def compute_meta_step(self, mb: MetaBatch) -> MetaStep:
        """The TRPO meta-step for a batch (not applied).

        :param mb: from :meth:`collect_meta_batch`
        :return: the flat step and line-search summary
        """
        cfg = self.config
        params = self.meta_parameters()
        names = list(params)
        values = [params[k] for k in names]
        loss, kl = self._meta_losses(params, mb)
        loss_before = loss.detach()
        g = _flat(th.autograd.grad(loss, values, retain_graph=True))
        kl_grads = _flat(th.autograd.grad(kl, values, create_graph=True))

        def fvp(v: th.Tensor) -> th.Tensor:
            hv = th.autograd.grad(kl_grads @ v, values, retain_graph=True)
            return _flat(hv).detach() + cfg.cg_damping * v

        g = g.detach()
        direction = conjugate_gradient(fvp, -g, iters=cfg.cg_iters)
        shs = (direction @ fvp(direction)).detach()
        old = _flat([v.detach() for v in values])
        # the step to the trust-region boundary ½ sᵀFs = δ; none if the curvature is not positive
        valid = th.isfinite(shs) & (shs > 0)
        full_step = th.where(valid, direction * th.sqrt(2.0 * cfg.max_kl / th.where(valid, shs, 1.0)), 0.0)

        def evaluate(step: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
            with th.no_grad():
                return self._meta_losses(self._unflatten(old + step, params), mb)

        if self._batched_line_search():  # no host round-trip in the whole step
            step, search = batched_trpo_line_search(
                evaluate, full_step, loss_before, cfg.max_kl, cfg.backtrack_ratio, cfg.max_backtracks
            )
            search = search._replace(n_backtracks=th.where(valid, search.n_backtracks, 0))
            return MetaStep(step, search, loss_before, g.norm())
        loss_value = float(loss_before)
        if not bool(valid):
            return MetaStep(th.zeros_like(old), LineSearchResult(False, 0.0, loss_value, 0.0, 0), loss_value, float(g.norm()))

        def evaluate_on_host(step: th.Tensor) -> tuple[float, float]:
            new_loss, new_kl = evaluate(step)
            return float(new_loss), float(new_kl)

        step, search = trpo_line_search(
            evaluate_on_host, full_step, loss_value, cfg.max_kl, cfg.backtrack_ratio, cfg.max_backtracks
        )
        return MetaStep(step, search, loss_value, float(g.norm()))

    @th.no_grad()
    def apply_step(self, step: th.Tensor) -> None:
        """Add a flat step (from :meth:`compute_meta_step`) to the meta-parameters.

        :param step: flat vector of the size of all parameters
        """
        offset = 0
        for p in self.policy.parameters():
            p.add_(step[offset : offset + p.numel()].view_as(p))
            offset += p.numel()

    def _train_iteration(self) -> tuple[int, dict[str, float]]:
        start = time.time()
        mb = self.collect_meta_batch()
        t_sample = time.time() - start
        meta = self.compute_meta_step(mb)
        self.apply_step(meta.step)
        n_steps = sum(b.n_steps for b in mb.pre) + mb.post.n_steps
        stats = {
            "train/pre_adaptation_return": float(mb.pre[0].returns.mean()),
            "train/post_adaptation_return": float(mb.post.returns.mean()),
            # read back once, after the update step
            "train/surrogate_before": float(meta.loss_before),
            "train/surrogate_after": float(meta.search.loss),
            "train/kl": float(meta.search.kl),
            "train/step_fraction": float(meta.search.step_fraction),
            "train/backtracks": float(meta.search.n_backtracks),
            "train/step_accepted": float(meta.search.accepted),
            "train/grad_norm": float(meta.grad_norm),
            "train/std": float(self.policy.log_std.detach().exp().mean()),
            "time/sample_s": t_sample,
            "time/update_s": time.time() - start - t_sample,
        }
        if mb.post.successes is not None:
            stats["train/post_adaptation_success"] = float(mb.post.successes.mean())
        self.last_update = stats
        return n_steps, stats

    # -------------------------------------------------------------------------------------- inference
    def initial_state(self, task: Any = None) -> MAMLState:
        """The pre-adaptation state (meta-parameters) for ``task`` (its context, for contextual variants).

        :param task: a task of the family (may be ``None`` for plain MAML)
        """
        context = None
        if self.config.uses_context:
            if task is None:
                raise ValueError(f"{self.variant} conditions on the task's oracle context: pass the task")
            context = self.family.oracle_context(task)
        return MAMLState(None, context, task)

    def adapt(self, task: Any, n_episodes: int | None = None, seed: int | None = None) -> MAMLState:
        """Adapt to ``task``: collect episodes with θ and take the inner step(s).

        :param task: a task of the family
        :param n_episodes: episodes per inner step (default ``episodes_per_task``)
        :param seed: seed of the adaptation episodes (default: the learner's own streams)
        :return: the adapted state for :meth:`predict`
        """
        rng, gen = self._eval_streams(seed) if seed is not None else (self.rng, self.torch_rng)
        n = n_episodes or self.config.episodes_per_task
        _, _, params, _ = self._adapt_and_collect([task], n, rng, gen, n_post_episodes=1)
        adapted = {k: v[0].detach().clone() for k, v in params.items()}
        return MAMLState(adapted, self.initial_state(task).context, task)

    @th.no_grad()
    def predict(
        self,
        observation: np.ndarray | Mapping[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for a single observation ``(obs_dim,)`` or a batch ``(B, obs_dim)``.

        :param observation: array, or the Dict observation ``{"observation", "context"}`` of a family env
            made with ``context_obs=True`` (its context is used for the contextual variants)
        :param state: a :class:`MAMLState` (from :meth:`adapt` or :meth:`initial_state`) or ``None`` for the
            meta-parameters; MAML keeps it unchanged across steps
        :param episode_start: ignored (MAML's adapted parameters persist across episodes of a task)
        :param deterministic: return the mean action
        :return: ``(actions clipped to the action space, state)``
        """
        if state is not None and not isinstance(state, MAMLState):
            raise TypeError(f"state must be a MAMLState (from adapt() or initial_state()) or None, got {type(state).__name__}")
        context = None if state is None else state.context
        if isinstance(observation, Mapping):
            if "observation" not in observation:
                raise ValueError(f"a Dict observation needs an 'observation' key, got keys {sorted(observation)}")
            if observation.get("context") is not None:
                context = np.asarray(observation["context"], dtype=np.float32)
            observation = observation["observation"]
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        obs = obs.reshape(1, -1) if single else obs
        if obs.ndim != 2 or obs.shape[1] != self.spaces["obs_dim"]:
            dim = self.spaces["obs_dim"]
            raise ValueError(f"observation must have shape ({dim},) or (batch, {dim}), got {obs.shape}")
        ctx_t = None
        if self.config.uses_context:
            if context is None:
                raise ValueError(
                    f"{self.variant} conditions on the task's oracle context: pass a Dict observation from an env made "
                    "with context_obs=True, or state=learner.initial_state(task) / learner.adapt(task)"
                )
            ctx = np.asarray(context, dtype=np.float32).reshape(-1, self.spaces["context_dim"])
            ctx_t = th.as_tensor(np.broadcast_to(ctx, (obs.shape[0], ctx.shape[1])).copy(), device=self.device)
        theta = self._detached()
        obs_t = th.as_tensor(obs, device=self.device)
        if state is None or not state.params:
            mean = functional_call(self.policy, theta, (obs_t.unsqueeze(1), ctx_t))[:, 0]
            log_std = theta["log_std"]
        else:  # adapted to one task: every row is an observation of that task
            adapted = {k: v.unsqueeze(0) for k, v in state.params.items()}
            ctx1 = None if ctx_t is None else ctx_t[:1]
            mean = self._task_means(theta, adapted, obs_t.unsqueeze(0), ctx1)[0]
            log_std = state.params["log_std"]
        actions = mean if deterministic else mean + log_std.exp() * th.randn(mean.shape).to(self.device)
        out = np.clip(actions.cpu().numpy(), self.action_low, self.action_high)
        return (out[0] if single else out), state

    # ------------------------------------------------------------------------------------ persistence
    def _to_device(self, device: th.device) -> None:
        self.device = device
        self.policy.to(device)

    def _get_config(self) -> dict[str, Any]:
        return {"maml": self.config.to_dict(), "seed": self.seed, "spaces": self.spaces}

    @classmethod
    def _from_config(cls, config: Mapping[str, Any], family: Any) -> MAML:
        return cls(family, config=MAMLConfig.from_dict(config["maml"]), seed=int(config["seed"]), _spaces=config["spaces"])

    def _get_tensors(self) -> dict[str, th.Tensor]:
        return {f"policy.{k}": v for k, v in self.policy.state_dict().items()}

    def _set_tensors(self, tensors: Mapping[str, th.Tensor]) -> None:
        policy = {k.removeprefix("policy."): v for k, v in tensors.items() if k.startswith("policy.")}
        self.policy.load_state_dict(policy, strict=True)

    def __repr__(self) -> str:
        fam = self._family_spec.get("family") if self._family_spec else None
        return f"MAML(variant={self.variant!r}, family={fam!r}, seed={self.seed}, num_timesteps={self.num_timesteps})"
