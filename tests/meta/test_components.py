"""The building blocks of MAML: advantages, conjugate gradient, line search, policies, functional inner steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch as th

from hyperbench.envs import TaskFamily
from hyperbench.meta import MAML, HyperGaussianPolicy, MLPGaussianPolicy
from hyperbench.meta.advantages import discounted_returns, fit_linear_baseline, gae, task_advantages
from hyperbench.meta.maml import _flat
from hyperbench.meta.policies import diag_gaussian_kl, diag_gaussian_log_prob
from hyperbench.meta.rollout import EpisodeBatch
from hyperbench.meta.trpo import conjugate_gradient, trpo_line_search

from .conftest import TINY


def test_discounted_returns_and_gae_by_hand() -> None:
    rewards = th.tensor([[1.0, 2.0, 3.0, 0.0]])
    mask = th.tensor([[1.0, 1.0, 1.0, 0.0]])  # the episode ended after 3 steps
    ret = discounted_returns(rewards, mask, 0.5)
    th.testing.assert_close(ret, th.tensor([[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0, 0.0]]))
    # λ = 1 with a zero baseline is the discounted return; λ = 0 is the one-step TD error.
    th.testing.assert_close(gae(rewards, th.zeros_like(rewards), mask, 0.5, 1.0), ret)
    values = th.tensor([[0.5, 1.0, 2.0, 9.0]])  # the padded value must not leak into the last real step
    td = gae(rewards, values, mask, 0.5, 0.0)
    th.testing.assert_close(td, th.tensor([[1 + 0.5 * 1.0 - 0.5, 2 + 0.5 * 2.0 - 1.0, 3.0 - 2.0, 0.0]]))


def test_linear_baseline_fits_its_own_features_exactly() -> None:
    """Returns that are a linear function of rllab's features are fitted to numerical precision."""
    g = th.Generator().manual_seed(0)
    obs = th.randn(2, 5, 6, 3, generator=g)
    mask = th.ones(2, 5, 6)
    # Rewards such that the γ=1 return-to-go equals 2·o_0 − o_1² + 0.3: r_t = f(t) − f(t+1).
    target = 2 * obs[..., 0] - obs[..., 1] ** 2 + 0.3
    rewards = target - th.cat([target[..., 1:], th.zeros(2, 5, 1)], dim=-1)
    batch = EpisodeBatch(obs, th.zeros(2, 5, 6, 1), rewards, mask, None)
    values = fit_linear_baseline(batch, gamma=1.0)
    th.testing.assert_close(values, target, atol=1e-3, rtol=1e-3)


def test_task_advantages_are_normalised_per_task_over_real_steps() -> None:
    g = th.Generator().manual_seed(1)
    mask = th.ones(3, 4, 5)
    mask[:, :, 3:] = 0.0
    batch = EpisodeBatch(th.randn(3, 4, 5, 2, generator=g), th.zeros(3, 4, 5, 1), th.randn(3, 4, 5, generator=g), mask, None)
    adv = task_advantages(batch, 0.99, 0.97)
    real = adv[:, :, :3].reshape(3, -1)
    th.testing.assert_close(real.mean(1), th.zeros(3), atol=1e-5, rtol=0)
    th.testing.assert_close(real.std(1, unbiased=False), th.ones(3), atol=1e-4, rtol=0)
    assert th.count_nonzero(adv[:, :, 3:]) == 0


def test_conjugate_gradient_solves_spd_system() -> None:
    g = th.Generator().manual_seed(0)
    a = th.randn(8, 8, generator=g, dtype=th.float64)
    spd = a @ a.T + 8 * th.eye(8, dtype=th.float64)
    b = th.randn(8, generator=g, dtype=th.float64)
    x = conjugate_gradient(lambda v: spd @ v, b, iters=20)
    th.testing.assert_close(spd @ x, b)


def test_line_search_backtracks_until_both_conditions_hold() -> None:
    # loss improves along the step, KL grows quadratically: only fractions with kl <= 0.01 are accepted.
    def evaluate(step: th.Tensor) -> tuple[float, float]:
        s = float(step.norm())
        return -s, 0.04 * s**2

    step, res = trpo_line_search(evaluate, th.tensor([1.0, 0.0]), old_loss=0.0, max_kl=0.01, backtrack_ratio=0.5)
    assert res.accepted and res.step_fraction == 0.5 and res.n_backtracks == 1 and res.kl <= 0.01
    th.testing.assert_close(step, th.tensor([0.5, 0.0]))
    _, none = trpo_line_search(lambda s: (1.0, 0.0), th.ones(2), old_loss=0.0, max_kl=0.01, max_backtracks=3)
    assert not none.accepted and none.kl == 0.0


def test_gaussian_log_prob_and_kl_match_torch_distributions() -> None:
    g = th.Generator().manual_seed(0)
    mean_p, mean_q, a = th.randn(5, 3, generator=g), th.randn(5, 3, generator=g), th.randn(5, 3, generator=g)
    ls_p, ls_q = th.randn(3, generator=g) * 0.3, th.randn(3, generator=g) * 0.3
    p, q = th.distributions.Normal(mean_p, ls_p.exp()), th.distributions.Normal(mean_q, ls_q.exp())
    th.testing.assert_close(diag_gaussian_log_prob(a, mean_p, ls_p), p.log_prob(a).sum(-1))
    th.testing.assert_close(diag_gaussian_kl(mean_p, ls_p, mean_q, ls_q), th.distributions.kl_divergence(p, q).sum(-1))


def test_hyper_policy_grouped_forward_equals_hypernetwork_forward() -> None:
    """Generating once per group and applying with bmm computes exactly the per-sample HyperNetwork."""
    th.manual_seed(0)
    policy = HyperGaussianPolicy(3, 2, 4, hidden=(8, 6), primary=(16,), init="weight-hyperinit").double()
    with th.no_grad():
        policy.hypernet.heads.weight.normal_(0.0, 0.1)  # gains, biases and weights all depend on the context
    obs, ctx = th.randn(5, 7, 3, dtype=th.float64), th.randn(5, 4, dtype=th.float64)
    grouped = policy(obs, ctx)
    per_sample = policy.hypernet(ctx.repeat_interleave(7, 0), obs.reshape(35, 3))[0].reshape(5, 7, 2)
    th.testing.assert_close(grouped, per_sample)


def test_context_mlp_reads_the_context_and_plain_mlp_ignores_it() -> None:
    th.manual_seed(0)
    obs = th.randn(2, 3, 4)
    ctx = th.randn(2, 2)
    contextual = MLPGaussianPolicy(4, 1, context_dim=2, hidden=(8,))
    assert not th.allclose(contextual(obs, ctx), contextual(obs, ctx + 1.0))
    plain = MLPGaussianPolicy(4, 1, hidden=(8,))
    th.testing.assert_close(plain(obs, ctx), plain(obs, None))
    with pytest.raises(ValueError, match="no context was given"):
        contextual(obs, None)


def _loop_meta_loss(learner: MAML, theta: dict[str, th.Tensor], mb) -> th.Tensor:
    """The meta-objective written the plain way: a Python loop over tasks and torch.autograd.grad."""
    alpha = learner.config.alpha
    losses = []
    batch, adv, post = mb.pre[0], mb.pre_adv[0], mb.post
    for t in range(len(mb.tasks)):
        ctx = None if mb.contexts is None else mb.contexts[t : t + 1]
        obs = batch.obs[t].reshape(1, -1, batch.obs.shape[-1])
        mean = th.func.functional_call(learner.policy, theta, (obs, ctx))[0]
        logp = diag_gaussian_log_prob(batch.actions[t].reshape(-1, mean.shape[-1]), mean, theta["log_std"])
        m = batch.mask[t].reshape(-1)
        inner = -(logp * adv[t].reshape(-1) * m).sum() / m.sum()
        grads = th.autograd.grad(inner, list(theta.values()), create_graph=True)
        adapted = {k: v - alpha * gr for (k, v), gr in zip(theta.items(), grads)}
        pobs = post.obs[t].reshape(1, -1, post.obs.shape[-1])
        pmean = th.func.functional_call(learner.policy, adapted, (pobs, ctx))[0]
        acts = post.actions[t].reshape(-1, pmean.shape[-1])
        ratio = th.exp(
            diag_gaussian_log_prob(acts, pmean, adapted["log_std"])
            - diag_gaussian_log_prob(acts, mb.old_mean[t], mb.old_log_std[t])
        )
        pm = post.mask[t].reshape(-1)
        losses.append(-(ratio * mb.post_adv[t].reshape(-1) * pm).sum() / pm.sum())
    return th.stack(losses).mean()


@pytest.mark.parametrize("variant", ["context-maml", "hyper-maml"])
def test_vmapped_second_order_meta_gradient_equals_task_loop(point_family: TaskFamily, variant: str) -> None:
    """The torch.func (vmap + grad) meta-gradient, and Hyper-MAML's factored heads update, equal the naive loop."""
    config = {"meta_batch_size": 3, "episodes_per_task": 4, "hidden": (16, 16), "hyper_primary": (8,)}
    if variant == "hyper-maml":
        config["inner_lr"] = 0.01  # large enough for the second-order term to matter
    learner = MAML(point_family, variant=variant, config=config, seed=0)
    mb = learner.collect_meta_batch()
    theta = learner.meta_parameters()
    fast, _ = learner._meta_losses(theta, mb)
    slow = _loop_meta_loss(learner, theta, mb)
    th.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-6)
    g_fast = _flat(th.autograd.grad(fast, list(theta.values())))
    g_slow = _flat(th.autograd.grad(slow, list(theta.values())))
    th.testing.assert_close(g_fast, g_slow, rtol=1e-3, atol=1e-5)
    # First-order MAML drops exactly the second-order term: a different gradient.
    fo = MAML(point_family, variant=variant, config={**config, "first_order": True}, seed=0)
    g_fo = _flat(th.autograd.grad(fo._meta_losses(fo.meta_parameters(), mb)[0], list(fo.meta_parameters().values())))
    assert not th.allclose(g_fo, g_slow, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("n_inner_steps", [1, 2])
def test_hyper_lowrank_heads_equal_dense_update(point_family: TaskFamily, n_inner_steps: int) -> None:
    """The factored heads update gives the same loss, KL Hessian-vector product and adapted actions (also
    with two inner steps, where the factors of both steps combine)."""
    config = {**TINY, "meta_batch_size": 4, "hidden": (16, 16), "hyper_primary": (8,), "inner_lr": 0.01}
    config["n_inner_steps"] = n_inner_steps
    low = MAML(point_family, variant="hyper-maml", config=config, seed=3)
    dense = MAML(point_family, variant="hyper-maml", config={**config, "lowrank_heads": False}, seed=3)
    mb = low.collect_meta_batch()
    assert len(mb.pre) == n_inner_steps
    v = th.randn(sum(p.numel() for p in low.policy.parameters()), generator=th.Generator().manual_seed(0))
    out = []
    for learner in (low, dense):
        theta = learner.meta_parameters()
        loss, kl = learner._meta_losses(theta, mb)
        g = _flat(th.autograd.grad(kl, list(theta.values()), create_graph=True))
        hvp = _flat(th.autograd.grad(g @ v, list(theta.values())))
        out.append((loss.detach(), hvp))
    th.testing.assert_close(out[0][0], out[1][0], rtol=1e-4, atol=1e-6)
    th.testing.assert_close(out[0][1], out[1][1], rtol=1e-3, atol=1e-6)
    task = point_family.test_tasks[0]
    obs = np.array([[0.1, 0.2], [0.3, -0.1]], dtype=np.float32)
    a_low, _ = low.predict(obs, low.adapt(task, seed=1), deterministic=True)
    a_dense, _ = dense.predict(obs, dense.adapt(task, seed=1), deterministic=True)
    np.testing.assert_allclose(a_low, a_dense, rtol=1e-4, atol=1e-6)
    assert math.isfinite(float(out[0][0]))
