"""PEARL learns on Point-Robot: the posterior identifies the goal and acting on it beats the prior and chance.

One training run (module fixture, 12,000 gradient steps: 7-19 min on one loaded core) feeds every check, so the
whole module is behind the ``slow`` marker. The margins are ones a broken encoder cannot reach: the same
checks are run with the encoder's output zeroed (every context gives the same posterior) and must fail.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch as th

from hyperbench.envs import make_family
from hyperbench.meta import PEARL, Phase

pytestmark = pytest.mark.slow

#: Point-Robot, scaled down: 40 training goals, 5 tasks × (1 prior + 1 posterior episode) and 200 gradient
#: steps per iteration, 60 iterations.
CONFIG = {
    "reward_scale": 5.0, "hidden": (64, 64), "encoder_hidden": (64, 64), "meta_batch_size": 8, "context_batch_size": 64,
    "batch_size": 128, "initial_steps": 40, "tasks_per_iteration": 5, "prior_steps": 20, "posterior_steps": 20,
    "gradient_steps": 200,
}  # fmt: skip
ITERATIONS = 60
#: The posterior read-out must have at most this fraction of the prior read-out's squared error.
READOUT_RATIO = 0.6
#: Post-context return must beat the prior-only and the random policy's return by this much (returns are
#: sums of 20 negative distances, about -20 for a policy that stays near the start).
RETURN_MARGIN = 2.0


@pytest.fixture(scope="module")
def trained() -> PEARL:
    th.set_num_threads(1)
    learner = PEARL(make_family("point-robot", seed=0, n_train=40, n_test=20), config=CONFIG, seed=0)
    for _ in range(ITERATIONS):
        learner.learn(1, reset_num_timesteps=False)
    return learner


def _zeroed(learner: PEARL) -> PEARL:
    broken = copy.deepcopy(learner)
    last = broken.encoder.net[-1]
    with th.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    return broken


def _readout_errors(learner: PEARL) -> tuple[float, float]:
    """Squared goal error of a linear read-out of the posterior mean after one prior episode, fitted on the
    training goals and scored on the held-out test goals; and that of the prior (the mean training goal)."""
    family = learner.family

    def posterior_means(tasks: list, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng, gen = learner._eval_streams(seed)
        state = learner.rollout.run(learner, tasks, (Phase("prior", 1, explore=True),), rng, gen).state
        return state.mean.numpy(), np.array([t.goal for t in tasks])

    x_train, y_train = posterior_means(family.train_tasks, 1)
    x_test, y_test = posterior_means(family.test_tasks, 2)
    weights = np.linalg.lstsq(np.c_[x_train, np.ones(len(x_train))], y_train, rcond=None)[0]
    posterior = float(((np.c_[x_test, np.ones(len(x_test))] @ weights - y_test) ** 2).sum(1).mean())
    prior = float(((y_train.mean(0) - y_test) ** 2).sum(1).mean())
    return posterior, prior


def _random_return(learner: PEARL) -> float:
    family, rng, total = learner.family, np.random.default_rng(0), []
    for task in family.test_tasks:
        env = family.make_env(task=task)
        env.reset(seed=int(rng.integers(1 << 30)))
        env.action_space.seed(int(rng.integers(1 << 30)))
        ret, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            ret, done = ret + float(reward), terminated or truncated
        total.append(ret)
    return float(np.mean(total))


def test_posterior_mean_reads_out_the_goal(trained: PEARL) -> None:
    posterior, prior = _readout_errors(trained)
    assert posterior < READOUT_RATIO * prior, (posterior, prior)
    broken_posterior, broken_prior = _readout_errors(_zeroed(trained))
    assert broken_posterior >= READOUT_RATIO * broken_prior  # a constant posterior cannot reach the margin


def test_post_context_return_beats_prior_only_and_random(trained: PEARL) -> None:
    tasks = trained.family.test_tasks
    result = trained.evaluate(tasks, n_episodes=2, seed=0, deterministic=True)
    post, prior = float(result.returns.mean()), float(result.phase_returns("prior").mean())
    random = _random_return(trained)
    assert post > prior + RETURN_MARGIN, (post, prior)
    assert post > random + RETURN_MARGIN, (post, random)
    broken = _zeroed(trained).evaluate(tasks, n_episodes=2, seed=0, deterministic=True)
    assert float(broken.returns.mean()) < post - RETURN_MARGIN / 2, (float(broken.returns.mean()), post)
