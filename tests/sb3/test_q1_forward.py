"""TD3's actor loss reads the first critic only: ``q1_forward`` evaluates member 0 and nothing else."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch as th
from stable_baselines3 import TD3

import hyperbench  # noqa: F401  (registers the policy aliases)
from hyperbench.nn.baselines import MLP_CRITIC_ARCHS, Q_NETWORKS
from hyperbench.nn.layers import EnsembleLinear
from hyperbench.sb3 import HyperbenchCritic

# SB3's own ContinuousCritic serves the MLP variants (its q1_forward already reads q_networks[0] only).
HYPERBENCH_CRITICS = [name for name in Q_NETWORKS if name not in MLP_CRITIC_ARCHS]
SMALL = {"preset": "lite", "dynamic_hidden": (32,), "net_arch": {"pi": [32, 32], "qf": []}}


def make_td3(critic: str, env_id: str = "Pendulum-v1", **policy_kwargs: object) -> TD3:
    return TD3("HyperbenchPolicy", gym.make(env_id), seed=0, policy_kwargs={"critic": critic, **SMALL, **policy_kwargs})


def actor_grads(model: TD3, obs: th.Tensor, q1: bool) -> list[th.Tensor]:
    """Gradient of TD3's actor loss on the actor, with ``q1_forward`` or with all members and then the first."""
    critic, actor = model.critic, model.actor
    actor.zero_grad(set_to_none=True)
    actions = actor(obs)
    q = critic.q1_forward(obs, actions) if q1 else critic(obs, actions)[0]
    (-q.mean()).backward()
    return [p.grad.clone() for p in actor.parameters()]  # type: ignore[union-attr]


@pytest.mark.parametrize("critic", HYPERBENCH_CRITICS)
def test_q1_forward_gives_the_bit_identical_actor_gradient(critic: str) -> None:
    model = make_td3(critic, "HalfCheetah-v5")  # 17-dim state, 6-dim action
    assert isinstance(model.critic, HyperbenchCritic)
    model.policy.set_training_mode(True)  # as in SB3's train()
    obs = th.randn(64, 17, generator=th.Generator().manual_seed(1))
    first = actor_grads(model, obs, q1=True)
    every = actor_grads(model, obs, q1=False)
    assert all(g.abs().sum() > 0 for g in first), "the actor must get a gradient through the critic"
    for a, b in zip(first, every):
        assert th.equal(a, b)


@pytest.mark.parametrize("critic", HYPERBENCH_CRITICS)
def test_q1_forward_with_a_one_dim_action(critic: str) -> None:
    """Bit-identical too, except AS-Hyper on a 1-dim action: its primary's first layer has one input, and a CPU
    batched matmul with inner size 1 rounds its backward differently for one and for two members (≈1 ulp)."""
    model = make_td3(critic)
    model.policy.set_training_mode(True)
    obs = th.randn(64, 3, generator=th.Generator().manual_seed(1))
    first = actor_grads(model, obs, q1=True)
    every = actor_grads(model, obs, q1=False)
    for a, b in zip(first, every):
        if critic == "as-hyper":
            th.testing.assert_close(a, b, rtol=1e-5, atol=1e-9)
        else:
            assert th.equal(a, b)


@pytest.mark.parametrize("critic", HYPERBENCH_CRITICS)
def test_q1_forward_evaluates_member_0_only(critic: str) -> None:
    model = make_td3(critic)
    seen: list[int] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: seen.append(out.shape[0]))
        for m in model.critic.modules()
        if isinstance(m, EnsembleLinear)
    ]
    obs = th.randn(8, 3)
    model.critic.q1_forward(obs, model.actor(obs))
    assert seen and set(seen) == {1}, f"layers evaluated {sorted(set(seen))} members"
    seen.clear()
    model.critic(obs, model.actor(obs))  # negative control: the full forward evaluates both members
    assert set(seen) == {2}
    for h in hooks:
        h.remove()


def test_q1_forward_leaves_the_meta_input_statistics_as_a_full_evaluation_does() -> None:
    """A running normaliser (``meta_norm``) sees the batch the same way with one member or two."""
    a, b = make_td3("sa-hyper", meta_norm=True, detach_primary_for_actor=False), make_td3("sa-hyper", meta_norm=True)
    b.policy.load_state_dict(a.policy.state_dict())
    a.policy.set_training_mode(True)
    b.policy.set_training_mode(True)
    obs = th.randn(32, 3)
    a.critic(obs, a.actor(obs))
    b.critic.q1_forward(obs, b.actor(obs))
    norm_a = a.critic.q_net.hyper.primary.meta_norm
    norm_b = b.critic.q_net.hyper.primary.meta_norm
    assert float(norm_a.running_count) == 64.0  # two members × 32 samples
    for name in ("running_mean", "running_var", "running_count"):
        assert th.equal(getattr(norm_a, name), getattr(norm_b, name)), name


def test_members_out_of_range_is_refused() -> None:
    model = make_td3("sa-hyper")
    obs = th.randn(4, 3)
    with pytest.raises(ValueError, match="members must be between 1 and n_members=2"):
        model.critic.q_net(obs, th.randn(4, 1), members=3)
