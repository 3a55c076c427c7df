"""The belief-conditioned actor-critic (plain / hypernetwork) and the recurrent encoder."""

from __future__ import annotations

import pytest
import torch as th

from hyperbench.meta.advantages import sequence_gae
from hyperbench.meta.belief_encoder import RecurrentEncoder
from hyperbench.meta.belief_policy import BeliefActorCritic, factored_forward
from hyperbench.nn import HyperNetwork


def _initial_logits(policy: str, init: str, seeds: range, obs: th.Tensor, rep: th.Tensor) -> th.Tensor:
    out = []
    for seed in seeds:
        th.manual_seed(seed)
        net = BeliefActorCritic(2, rep.shape[1], n_actions=5, hidden=(32, 32), policy=policy, init=init)
        with th.no_grad():
            out.append(net(obs, rep).params)
    return th.stack(out)


def test_bias_hyperinit_starts_as_the_plain_policy() -> None:
    """What is compared: the initial action distribution (the categorical's logits) of a GridNavi-shaped policy
    (state 2, 5 actions, 32x32 tanh) at VariBAD's prior belief ``[mu, var] = [0, 1]``.

    1. At Bias-HyperInit the hyper policy's distribution does not depend on the belief at all (the generated
       network is one fixed draw), exactly, for any belief.
    2. Over 60 initialisation seeds, the spread (std) of its initial logits is within 0.7-1.4x the plain MLP
       policy's at its default (PyTorch) initialisation (measured 1.2x), and so is the mean probability of
       the most likely action; the naive Kaiming-initialised hypernetwork's spread is over 2x the plain one
       (measured 3.4x), i.e. it starts far more deterministic.
    """
    th.manual_seed(0)
    obs = th.rand(64, 2) * 4.0
    prior = th.cat([th.zeros(64, 5), th.ones(64, 5)], dim=1)
    th.manual_seed(1)
    hyper = BeliefActorCritic(2, 10, n_actions=5, policy="hyper", init="bias-hyperinit")
    other = th.randn(64, 10) * 3.0
    with th.no_grad():
        a, b = hyper(obs, prior), hyper(obs, other)
    assert th.equal(a.params, b.params) and th.equal(a.value, b.value)

    seeds = range(60)
    plain = _initial_logits("plain", "bias-hyperinit", seeds, obs, prior)
    bias = _initial_logits("hyper", "bias-hyperinit", seeds, obs, prior)
    naive = _initial_logits("hyper", "kaiming", seeds, obs, prior)
    ratio = bias.std() / plain.std()
    assert 0.7 < ratio < 1.4, ratio
    p_plain, p_bias = (th.softmax(x, -1).max(-1).values.mean() for x in (plain, bias))
    assert 0.7 < p_bias / p_plain < 1.4
    assert naive.std() / plain.std() > 2.0


@pytest.mark.parametrize(
    ("policy", "init"),
    [("plain", "bias-hyperinit"), ("film", "bias-hyperinit")]
    + [("hyper", init) for init in ("kaiming", "hfi", "weight-hyperinit", "bias-hyperinit")],
)
def test_box_and_discrete_heads(policy: str, init: str) -> None:
    obs, rep = th.randn(7, 3), th.randn(7, 4)
    disc = BeliefActorCritic(3, 4, n_actions=4, policy=policy, init=init)
    out = disc(obs, rep)
    assert out.params.shape == (7, 4) and out.value.shape == (7,)
    act = disc.sample(out.params, False, th.Generator().manual_seed(0))
    logp, ent = disc.log_prob_entropy(out.params, act)
    assert act.shape == (7,) and logp.shape == (7,) and (logp <= 0).all() and ent.shape == (7,)
    box = BeliefActorCritic(3, 4, act_dim=2, policy=policy, init=init)
    out = box(obs, rep)
    act = box.sample(out.params, False, th.Generator().manual_seed(0))
    logp, ent = box.log_prob_entropy(out.params, act)
    assert act.shape == (7, 2) and logp.shape == (7,) and th.isfinite(logp).all()
    assert th.equal(box.sample(out.params, True), out.params)
    # every layer of the hyper policy is generated: the representation changes the output
    if policy == "hyper" and init != "bias-hyperinit":
        assert not th.allclose(box(obs, rep).params, box(obs, rep + 1.0).params)


@pytest.mark.parametrize("policy", ["plain", "film", "hyper"])
def test_tanh_mean_bounds_the_gaussian_mean(policy: str) -> None:
    """With ``tanh_mean`` the Box mean (and the deterministic action) stays inside [-1, 1] however large the
    pre-activation; without it the mean follows the network."""
    obs, rep = 50.0 * th.randn(64, 3), th.randn(64, 4)
    th.manual_seed(0)
    free = BeliefActorCritic(3, 4, act_dim=2, policy=policy)
    th.manual_seed(0)
    bounded = BeliefActorCritic(3, 4, act_dim=2, policy=policy, tanh_mean=True)
    raw, squashed = free(obs, rep).params, bounded(obs, rep).params
    assert th.allclose(squashed, th.tanh(raw)) and squashed.abs().max() <= 1.0
    assert th.equal(bounded.sample(squashed, True), squashed)
    assert not BeliefActorCritic(3, 4, n_actions=3, tanh_mean=True).tanh_mean  # logits are left alone


def test_bad_policy_names() -> None:
    with pytest.raises(ValueError, match=r"Did you mean .hyper."):
        BeliefActorCritic(2, 2, n_actions=2, policy="hyperr")
    with pytest.raises(ValueError, match="bias-hyperinit"):
        BeliefActorCritic(2, 2, n_actions=2, policy="hyper", init="bias-hyper")


def test_encoder_sequence_equals_stepping_with_padding() -> None:
    th.manual_seed(0)
    enc = RecurrentEncoder(3, 2, 8, latent_dim=2, done_input=True)
    inputs = th.randn(4, 6, enc.gru.input_size)
    mask = th.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 1, 1], [0, 1, 1, 1, 1, 0], [1, 0, 0, 0, 0, 0]], dtype=th.float32)
    with th.no_grad():
        seq = enc.sequence(inputs, mask)
        h = th.zeros(4, 8)
        steps = [h]
        for t in range(6):
            h = enc.step(h, inputs[:, t], mask[:, t] > 0)
            steps.append(h)
    assert th.allclose(seq, th.stack(steps, 1), atol=1e-6)


def test_sequence_gae_by_hand() -> None:
    """gamma 0.5, lambda 1: advantages are discounted returns minus values; padding is skipped, not terminal."""
    rewards = th.tensor([[1.0, 0.0, 2.0, 4.0]])
    values = th.tensor([[0.5, 9.0, 1.0, 0.0]])
    mask = th.tensor([[1.0, 0.0, 1.0, 1.0]])
    adv = sequence_gae(rewards, values, mask, gamma=0.5, lam=1.0)
    # returns over the real steps 0, 2, 3: 1 + 0.5*(2 + 0.5*4) = 3, 2 + 0.5*4 = 4, 4
    assert th.allclose(adv, th.tensor([[3.0 - 0.5, 0.0, 4.0 - 1.0, 4.0]]))


@pytest.mark.parametrize("init", ["kaiming", "hfi", "weight-hyperinit", "bias-hyperinit"])
def test_factored_forward_equals_the_hypernetwork(init: str) -> None:
    """The policy's factored evaluation gives HyperNetwork.forward's numbers and gradients (meta normaliser on)."""
    th.manual_seed(0)
    net = HyperNetwork(6, 5, 3, dynamic_hidden=(16, 8), primary=(8,), use_gain=False, init=init, meta_norm=True)
    assert net.primary.meta_norm is not None
    net.primary.meta_norm.auto_update = False  # as in the policy: statistics move once per rollout
    net.update_meta_stats(th.randn(64, 6) * 3.0 + 1.0)
    meta, base = th.randn(32, 6), th.randn(32, 5)
    ref = net(meta, base)[0]
    out = factored_forward(net, meta, base)
    assert th.allclose(out, ref, rtol=1e-4, atol=1e-5)
    (g_ref,) = th.autograd.grad(ref.square().sum(), net.heads.weight)
    (g_out,) = th.autograd.grad(out.square().sum(), net.heads.weight)
    assert th.allclose(g_out, g_ref, rtol=1e-3, atol=1e-5)


def test_film_starts_as_an_mlp_over_the_state_and_learns_to_use_the_representation() -> None:
    """FiLM's modulation starts at zero (γ = 1, β = 0): the output ignores the representation until trained."""
    th.manual_seed(0)
    policy = BeliefActorCritic(3, 4, n_actions=2, policy="film")
    obs, rep = th.randn(16, 3), th.randn(16, 4)
    with th.no_grad():
        assert th.equal(policy(obs, rep).params, policy(obs, rep * 5.0).params)
    target = (rep[:, 0] > 0).long()  # the right action depends on the representation only
    opt = th.optim.Adam(policy.parameters(), lr=1e-2)
    for _ in range(200):
        logp, _ = policy.log_prob_entropy(policy(obs, rep).params, target)
        opt.zero_grad()
        (-logp.mean()).backward()
        opt.step()
    with th.no_grad():
        assert (policy(obs, rep).params.argmax(-1) == target).float().mean() > 0.9
