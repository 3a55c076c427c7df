"""Meta-gradient variance: independent estimates, the learner left untouched, noise that shrinks with data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch as th

from hyperbench.diagnostics import VarianceResult, meta_gradient_variance, plot_variance
from hyperbench.envs import TaskFamily
from hyperbench.meta import MAML

_TINY = {"meta_batch_size": 2, "episodes_per_task": 2, "hidden": (32, 32)}


def test_estimates_are_independent_and_the_learner_is_restored(point_family: TaskFamily, tmp_path: Path) -> None:
    learner = MAML(point_family, variant="context-maml", config=_TINY, seed=0)
    theta = [p.detach().clone() for p in learner.policy.parameters()]
    config, rng_state, torch_state = learner.config, learner.rng.bit_generator.state, learner.torch_rng.get_state()
    result = meta_gradient_variance(learner, n_estimates=4, eval_tasks=2, eval_episodes=2, seed=3)
    # untouched: parameters, configuration and the training random streams
    assert all(th.equal(a, b) for a, b in zip(theta, learner.policy.parameters()))
    assert learner.config == config and learner.rng.bit_generator.state == rng_state
    assert th.equal(learner.torch_rng.get_state(), torch_state)
    assert result.label == "context-maml" and result.returns.shape == (4,) and result.kl.shape == (4,)
    assert np.unique(result.returns).size == 4  # four different updates, all evaluated with the same seed
    assert result.base_return == learner.evaluate(point_family.test_tasks[:2], 2, seed=3).mean_return
    assert np.all(result.kl[result.accepted] <= learner.config.max_kl * 1.05)
    assert result.std > 0 and -1.0 <= result.mean_cosine_to_mean <= 1.0
    again = VarianceResult.from_dict(result.to_dict())
    np.testing.assert_array_equal(again.returns, result.returns)
    assert again.summary() == result.summary()
    png = plot_variance([result, again], tmp_path / "v.png")
    assert png.stat().st_size > 1000


def test_step_noise_shrinks_with_more_data_per_estimate(point_family: TaskFamily) -> None:
    """Steps estimated from 1 episode of 2 tasks scatter far more (relative to their mean) than steps from
    10 episodes of 10 tasks: the measure responds to gradient noise."""
    learner = MAML(point_family, variant="maml", config=_TINY, seed=0)
    kw = {"n_estimates": 5, "eval_tasks": 1, "eval_episodes": 1}
    noisy = meta_gradient_variance(learner, meta_batch_size=2, episodes_per_task=1, **kw)
    clean = meta_gradient_variance(learner, meta_batch_size=10, episodes_per_task=10, **kw)
    assert noisy.settings["meta_batch_size"] == 2 and clean.settings["episodes_per_task"] == 10
    assert noisy.relative_step_variance > 2 * clean.relative_step_variance, (
        noisy.relative_step_variance,
        clean.relative_step_variance,
    )
    assert clean.mean_cosine_to_mean > noisy.mean_cosine_to_mean
