"""MAML-TRPO learns on Point-Robot, keeps its trust region, and behaves like an SB3 algorithm."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure

from hyperbench.envs import TaskFamily
from hyperbench.meta import MAML, EvalResult, MAMLConfig, MAMLState

from .conftest import TINY


@pytest.mark.parametrize("variant", ["maml", "context-maml"])
def test_one_inner_step_raises_return_on_the_adapted_task(point_family: TaskFamily, variant: str) -> None:
    """At initialisation, one policy-gradient step with the default inner step size (0.1) improves every policy.

    3 seeds × 10 test goals, 20 adaptation and 20 post-adaptation episodes per goal. The improvement is about
    +1.7 per episode (returns ≈ −21); the noise of the mean difference is ≈ 0.2, so the margin 0.5 and a
    paired t-statistic > 3 fail only if adaptation stops helping.
    """
    diffs = []
    for seed in range(3):
        learner = MAML(point_family, variant=variant, config={"episodes_per_task": 20}, seed=seed)
        result = learner.evaluate(point_family.test_tasks, n_episodes=20, seed=seed)
        assert result.pre_adaptation_returns is not None
        diffs.append(result.per_task_return - result.pre_adaptation_returns.mean(1))
    d = np.concatenate(diffs)
    t_stat = d.mean() / (d.std(ddof=1) / np.sqrt(d.size))
    assert d.mean() > 0.5 and t_stat > 3.0, (d.mean(), t_stat)


@pytest.mark.parametrize("variant", ["maml", "context-maml", "hyper-maml"])
def test_few_meta_iterations_raise_post_adaptation_return(point_family: TaskFamily, variant: str) -> None:
    """Five TRPO meta-iterations (10 goals × 10 episodes each) move the post-adaptation return on held-out goals
    from ≈ −20 by about +5; the evaluation uses the same seed before and after (common random numbers)."""
    config = dict(TINY)
    if variant == "hyper-maml":
        config.update(hidden=(64, 64), hyper_primary=(32, 64))
    learner = MAML(point_family, variant=variant, config=config, seed=0)
    before = learner.evaluate(point_family.test_tasks, n_episodes=5, seed=1)
    learner.learn(total_timesteps=5 * 4000)
    assert learner.n_iterations == 5 and learner.num_timesteps == 5 * 4000
    after = learner.evaluate(point_family.test_tasks, n_episodes=5, seed=1)
    assert after.mean_return > before.mean_return + 2.0, (before.mean_return, after.mean_return)


@pytest.mark.parametrize("max_kl", [1e-2, 1e-3])
def test_trpo_meta_step_stays_inside_the_trust_region(point_family: TaskFamily, max_kl: float) -> None:
    """After the step, the mean KL between the old and new *adapted* policies, recomputed independently with
    torch.distributions, is positive and at most ``max_kl`` (5% slack for float32), and the surrogate improved."""
    learner = MAML(point_family, variant="context-maml", config={**TINY, "max_kl": max_kl}, seed=0)
    mb = learner.collect_meta_batch()
    meta = learner.compute_meta_step(mb)
    assert meta.search.accepted and meta.search.loss < meta.loss_before
    learner.apply_step(meta.step)
    with th.no_grad():
        theta = {k: v.detach() for k, v in learner.policy.named_parameters()}
        adapted = learner._adapt_batched(theta, {}, mb.pre[0], mb.pre_adv[0], mb.contexts)
        obs = mb.post.obs.reshape(len(mb.tasks), -1, mb.post.obs.shape[-1])
        new_mean = learner._task_means(theta, adapted, obs, mb.contexts)
    old = th.distributions.Normal(mb.old_mean, mb.old_log_std.exp().unsqueeze(1))
    new = th.distributions.Normal(new_mean, adapted["log_std"].exp().unsqueeze(1))
    kl_steps = th.distributions.kl_divergence(old, new).sum(-1)
    mask = mb.post.mask.reshape(len(mb.tasks), -1)
    kl = float(((kl_steps * mask).sum(1) / mask.sum(1)).mean())
    assert 0.0 < kl <= max_kl * 1.05, kl
    assert kl == pytest.approx(meta.search.kl, rel=1e-3)
    # The unshrunk step aims at the boundary: the accepted KL is a sizeable fraction of the constraint.
    assert kl > 0.1 * max_kl


def test_evaluate_reports_pre_and_post_per_task_and_is_reproducible(point_family: TaskFamily) -> None:
    learner = MAML(point_family, variant="maml", config=TINY, seed=0)
    tasks = point_family.test_tasks[:3]
    state = learner.torch_rng.get_state().clone(), learner.rng.bit_generator.state
    result = learner.evaluate(tasks, n_episodes=4, seed=7)
    assert isinstance(result, EvalResult)
    assert result.returns.shape == (3, 4) and result.pre_adaptation_returns is not None
    assert result.pre_adaptation_returns.shape == (3, 10)
    assert result.successes is not None and result.successes.shape == (3, 4)
    np.testing.assert_array_equal(result["returns"], result.returns)
    assert result.tasks[0] == tasks[0].to_dict()
    # the whole meta-episode: 10 adaptation episodes, then the 4 headline (post-adaptation) episodes
    assert result.phases == ("pre-adaptation",) * 10 + ("post-adaptation",) * 4
    np.testing.assert_array_equal(result.episode_returns[:, 10:], result.returns)
    np.testing.assert_array_equal(result.episode_returns[:, :10], result.pre_adaptation_returns)
    np.testing.assert_array_equal(learner.evaluate(tasks, n_episodes=4, seed=7).returns, result.returns)
    assert not np.array_equal(learner.evaluate(tasks, n_episodes=4, seed=8).returns, result.returns)
    # evaluation leaves the training streams untouched
    assert th.equal(learner.torch_rng.get_state(), state[0]) and learner.rng.bit_generator.state == state[1]
    with pytest.raises(KeyError, match="EvalResult keys"):
        result["return"]


def test_predict_uses_context_from_dict_observation_or_state(point_family: TaskFamily) -> None:
    learner = MAML(point_family, variant="hyper-maml", config={**TINY, "hidden": (16,), "hyper_primary": (8,)}, seed=0)
    task = point_family.test_tasks[0]
    obs = np.zeros(2, dtype=np.float32)
    ctx = point_family.oracle_context(task)
    a_state, state = learner.predict(obs, learner.initial_state(task), deterministic=True)
    a_dict, _ = learner.predict({"observation": obs, "context": ctx}, deterministic=True)
    assert a_state.shape == (2,) and isinstance(state, MAMLState)
    np.testing.assert_array_equal(a_state, a_dict)
    batch, _ = learner.predict(np.zeros((5, 2), np.float32), learner.initial_state(task))
    assert batch.shape == (5, 2) and np.all(np.abs(batch) <= 1.0)  # sampled, then clipped to the action box
    with pytest.raises(ValueError, match="oracle context"):
        learner.predict(obs)
    with pytest.raises(ValueError, match=r"observation must have shape \(2,\)"):
        learner.predict(np.zeros(3, np.float32), learner.initial_state(task))
    with pytest.raises(TypeError, match="MAMLState"):
        learner.predict(obs, state=(1, 2))


def test_adapted_state_changes_actions_and_predict_matches_rollouts(point_family: TaskFamily) -> None:
    learner = MAML(point_family, variant="maml", config=TINY, seed=0)
    task = point_family.test_tasks[0]
    obs = np.array([[0.0, 0.0], [0.2, 0.3]], np.float32)
    pre, _ = learner.predict(obs, deterministic=True)
    post, _ = learner.predict(obs, learner.adapt(task, seed=0), deterministic=True)
    assert not np.allclose(pre, post)
    np.testing.assert_array_equal(post, learner.predict(obs, learner.adapt(task, seed=0), deterministic=True)[0])


def test_config_errors_name_the_valid_options(point_family: TaskFamily) -> None:
    with pytest.raises(ValueError, match=r"Did you mean 'hyper-maml'"):
        MAMLConfig(variant="hyper_maml")
    with pytest.raises(ValueError, match=r"'inner_rl': did you mean 'inner_lr'"):
        MAMLConfig.from_dict({"inner_rl": 0.1})
    with pytest.raises(ValueError, match="max_kl must be positive"):
        MAMLConfig(max_kl=0.0)
    assert MAMLConfig(variant="hyper-maml").alpha == 5e-5 and MAMLConfig().alpha == 0.1
    assert MAMLConfig(variant="hyper-maml", inner_lr=0.01).alpha == 0.01
    learner = MAML(point_family, variant="context-maml", config=MAMLConfig(meta_batch_size=2), seed=0)
    assert learner.variant == "context-maml" and learner.config.meta_batch_size == 2


class _Recorder(BaseCallback):
    def __init__(self, stop_after: int) -> None:
        super().__init__()
        self.stop_after = stop_after
        self.seen: list[int] = []
        self.events: list[str] = []

    def _on_training_start(self) -> None:
        self.events.append("start")

    def _on_rollout_start(self) -> None:
        self.events.append("rollout")

    def _on_step(self) -> bool:
        self.seen.append(self.num_timesteps)
        return len(self.seen) < self.stop_after

    def _on_training_end(self) -> None:
        self.events.append("end")


@pytest.mark.filterwarnings("ignore:rich is experimental")
def test_learn_drives_sb3_callbacks_and_logger(point_family: TaskFamily, tmp_path) -> None:
    config = {"meta_batch_size": 2, "episodes_per_task": 2}
    learner = MAML(point_family, variant="maml", config=config, seed=0)
    learner.set_logger(configure(str(tmp_path / "log"), ["csv"]))
    recorder = _Recorder(stop_after=2)
    learner.learn(total_timesteps=10**6, callback=[recorder], progress_bar=True)
    assert recorder.seen == [160, 320]  # stopped by the callback after 2 iterations of 2×2×2 episodes × 20 steps
    assert recorder.events == ["start", "rollout", "rollout", "end"]
    header = (tmp_path / "log" / "progress.csv").read_text().splitlines()[0].split(",")
    for key in ("train/kl", "train/post_adaptation_return", "train/pre_adaptation_return", "time/total_timesteps"):
        assert key in header
    learner.learn(total_timesteps=160, reset_num_timesteps=False)  # continues counting, like SB3
    assert learner.num_timesteps == 480 and learner.n_iterations == 3


def test_learn_writes_tensorboard_logs(point_family: TaskFamily, tmp_path) -> None:
    pytest.importorskip("tensorboard")  # in the test extra; SB3 needs it for tensorboard_log
    learner = MAML(point_family, config={"meta_batch_size": 1, "episodes_per_task": 1}, tensorboard_log=str(tmp_path))
    learner.learn(total_timesteps=40, tb_log_name="run")
    assert list((tmp_path / "run_1").glob("events.out.tfevents.*"))
