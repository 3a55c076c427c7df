"""PEARL's parts: the product of Gaussians, the per-task buffers, the config, the evaluation protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

from hyperbench.envs import TaskFamily
from hyperbench.meta import PEARL, PEARLConfig
from hyperbench.meta.pearl_buffers import MultiTaskReplayBuffer
from hyperbench.meta.pearl_nets import TanhGaussianPolicy, gaussian_kl_to_unit, product_of_gaussians
from hyperbench.meta.registry import METHODS

#: Small enough that an iteration takes a fraction of a second.
SMALL = {
    "hidden": (16, 16), "encoder_hidden": (16,), "meta_batch_size": 4, "context_batch_size": 8, "batch_size": 16,
    "initial_steps": 20, "tasks_per_iteration": 3, "prior_steps": 20, "posterior_steps": 20, "gradient_steps": 3,
    "hyper_primary": (8,), "hyper_dynamic": (16,),
}  # fmt: skip


def test_product_of_gaussians_by_hand_and_permutation_invariant() -> None:
    mu = th.tensor([[[1.0], [3.0]]])
    var = th.tensor([[[1.0], [0.5]]])
    mean, post_var = product_of_gaussians(mu, var)
    # precisions 1 and 2: var = 1/3, mean = (1·1 + 2·3) / 3
    assert th.allclose(post_var, th.tensor([[1 / 3]])) and th.allclose(mean, th.tensor([[7 / 3]]))
    flipped = product_of_gaussians(mu.flip(1), var.flip(1))
    assert th.allclose(flipped[0], mean) and th.allclose(flipped[1], post_var)
    # a padded factor counts for nothing; a row without any factor keeps the unit prior
    masked = product_of_gaussians(mu, var, th.tensor([[1.0, 0.0]]))
    assert th.allclose(masked[0], th.tensor([[1.0]])) and th.allclose(masked[1], th.tensor([[1.0]]))
    empty = product_of_gaussians(mu, var, th.zeros(1, 2))
    assert th.equal(empty[0], th.zeros(1, 1)) and th.equal(empty[1], th.ones(1, 1))
    assert float(gaussian_kl_to_unit(th.zeros(1, 3), th.ones(1, 3))) == 0.0
    assert float(gaussian_kl_to_unit(th.ones(1, 1), th.ones(1, 1))) == pytest.approx(0.5)


def test_buffer_ring_clear_sample_and_state_round_trip() -> None:
    buf = MultiTaskReplayBuffer(n_tasks=2, obs_dim=1, act_dim=1, capacity=4)
    for value in range(6):  # task 0 wraps around: 2..5 remain
        one = th.tensor([[float(value)]])
        buf.add(0, one, one, th.tensor([float(value)]), one, th.zeros(1))
    assert buf.sizes.tolist() == [4, 0]
    rewards = buf.split(buf.data[0])[2]
    assert sorted(rewards.tolist()) == [2.0, 3.0, 4.0, 5.0]
    gen = th.Generator().manual_seed(0)
    assert set(buf.split(buf.sample(th.tensor([0]), 50, gen))[2].reshape(-1).tolist()) <= {2.0, 3.0, 4.0, 5.0}
    with pytest.raises(ValueError, match=r"tasks \[1\]"):
        buf.sample(th.tensor([0, 1]), 3, gen)
    other = MultiTaskReplayBuffer(2, 1, 1, 4)
    other.load_state_dict(buf.state_dict("b"), "b")
    assert (
        th.equal(other.data, buf.data)
        and np.array_equal(other.sizes, buf.sizes)
        and np.array_equal(other.pointers, buf.pointers)
    )
    with pytest.raises(ValueError, match="does not fit"):
        MultiTaskReplayBuffer(3, 1, 1, 4).load_state_dict(buf.state_dict("b"), "b")
    buf.clear(0)
    assert buf.sizes.tolist() == [0, 0]


def test_config_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match="Did you mean 'hyper-pearl'"):
        PEARLConfig(variant="hyperpearl")
    with pytest.raises(ValueError, match="did you mean 'kl_weight'"):
        PEARLConfig.from_dict({"kl_weigth": 1.0})
    with pytest.raises(ValueError, match="latent_dim must be positive"):
        PEARLConfig(latent_dim=0)
    with pytest.raises(ValueError, match="hyper_init"):
        PEARLConfig(hyper_init="hyperinit")
    hyper = PEARLConfig(variant="hyper-pearl")
    assert (hyper.lr_critic, hyper.lr_policy, PEARLConfig().lr_critic) == (5e-5, 1e-4, 3e-4)


def test_defaults_are_the_reference_ones_and_methods_are_registered() -> None:
    cfg = PEARLConfig()
    assert (cfg.latent_dim, cfg.hidden, cfg.meta_batch_size, cfg.context_batch_size, cfg.batch_size) == (
        5,
        (300,) * 3,
        16,
        64,
        256,
    )
    assert (cfg.reward_scale, cfg.kl_weight, cfg.initial_steps, cfg.prior_steps, cfg.posterior_steps) == (
        5.0,
        0.1,
        2000,
        400,
        400,
    )
    assert cfg.gradient_steps == 2000 and cfg.hyper_init == "hyperl-sac"
    for name in ("pearl", "hyper-pearl"):
        assert METHODS[name].learner is PEARL and METHODS[name].action_kinds == ("box",)
        assert "variant" not in METHODS[name].defaults()


@pytest.mark.parametrize("variant", ["pearl", "hyper-pearl"])
def test_evaluation_keeps_every_episode_and_scores_the_posterior(point_family: TaskFamily, variant: str) -> None:
    learner = PEARL(point_family, variant=variant, config={**SMALL, "eval_prior_episodes": 2}, seed=0)
    learner.learn(1)
    assert learner.replay_buffer.sizes.min() > 0 and learner.initialised
    assert np.isfinite(list(learner.last_update.values())).all()
    result = learner.evaluate(point_family.test_tasks[:3], n_episodes=3, seed=0)
    assert result.phases == ("prior", "prior", "posterior", "posterior", "posterior")
    assert result.episode_returns.shape == (3, 5)
    np.testing.assert_array_equal(result.returns, result.episode_returns[:, 2:])
    assert set(result.scores()) == {"headline", "prior"}
    again = learner.evaluate(point_family.test_tasks[:3], n_episodes=3, seed=0)
    np.testing.assert_array_equal(again.episode_returns, result.episode_returns)  # own streams: reproducible


def test_gridnavi_is_refused(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="Box action"):
        PEARL("gridnavi", config=SMALL)


@pytest.mark.parametrize("hyper", [None, {"primary": (8,), "init": "hyperl-sac"}])
def test_policy_with_one_latent_per_task_equals_per_sample_latents(hyper: dict | None) -> None:
    policy = TanhGaussianPolicy(3, 2, 2, [-1.0, -1.0], [1.0, 1.0], (8,), hyper)
    obs, z = th.randn(12, 3), th.randn(4, 2)
    grouped, per_sample = policy.distribution(obs, z), policy.distribution(obs, z.repeat_interleave(3, 0))
    assert th.allclose(grouped[0], per_sample[0], atol=1e-6) and th.allclose(grouped[1], per_sample[1], atol=1e-6)
    with pytest.raises(ValueError, match="equal groups"):
        policy.distribution(obs, th.randn(5, 2))
