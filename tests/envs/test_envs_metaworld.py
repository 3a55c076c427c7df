"""Meta-World families: goals from ``metaworld.ML1/ML10/ML45`` (not the buggy ``ML1-train`` id), success, horizon."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import metaworld
import numpy as np
import pytest
from envs_helpers import family, random_actions

import hyperbench.envs as henvs
from hyperbench.envs import MetaWorldTask


def test_ml1_train_and_test_goals_differ(ml1: henvs.TaskFamily) -> None:
    assert len(ml1.train_tasks) == len(ml1.test_tasks) == 50
    train = {t.rand_vec for t in ml1.train_tasks}  # type: ignore[attr-defined]
    test = {t.rand_vec for t in ml1.test_tasks}  # type: ignore[attr-defined]
    assert len(train) == len(test) == 50
    assert not train & test


def test_ml1_goals_are_metaworld_benchmark_goals(ml1: henvs.TaskFamily) -> None:
    # the same goals, in the same order, as metaworld.ML1(name, seed) itself (the cached object is that one)
    bench = metaworld.ML1("pick-place-v3", seed=0)
    for ours, theirs in ((ml1.train_tasks, bench.train_tasks), (ml1.test_tasks, bench.test_tasks)):
        expected = [tuple(pickle.loads(t.data)["rand_vec"].tolist()) for t in theirs]
        assert [t.rand_vec for t in ours] == expected  # type: ignore[attr-defined]


def test_env_goal_is_the_task_goal(ml1: henvs.TaskFamily) -> None:
    env = ml1.make_env()
    for task in (ml1.train_tasks[3], ml1.test_tasks[7]):
        env.reset(options={"task": task})
        target = env.unwrapped.simulator._target_pos  # type: ignore[attr-defined]
        np.testing.assert_allclose(target, task.rand_vec[3:])  # type: ignore[attr-defined]
        np.testing.assert_array_equal(ml1.oracle_context(task), np.asarray(task.rand_vec, np.float32))  # type: ignore[attr-defined]
    env.close()


def test_episode_truncates_at_500_steps(ml1: henvs.TaskFamily) -> None:
    env = ml1.make_env(resample_on_reset=True)
    env.reset(seed=0)
    for t, action in enumerate(random_actions(env, 500, seed=0), start=1):
        _, reward, terminated, truncated, info = env.step(action)
        assert 0.0 <= reward <= 10.0 and not terminated
        assert truncated == (t == 500)
        assert "is_success" in info and "success" in info
    env.close()


def test_is_success_is_reported_and_sticky() -> None:
    from metaworld.policies import SawyerReachV3Policy

    fam = family("ml1/reach-v3")
    task = fam.test_tasks[0]
    env = fam.make_env(task=task)
    policy = SawyerReachV3Policy()
    obs, info = env.reset(seed=0)
    assert info["is_success"] is False
    succeeded_at = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scripted policy warns about its gains
        for t in range(200):
            obs = obs.copy()
            obs[-3:] = task.rand_vec[3:]  # type: ignore[attr-defined]  # the goal is hidden in ML1: tell the scripted policy
            obs, _, _, _, info = env.step(policy.get_action(obs))
            assert info["is_success"] == (succeeded_at is not None or info["success"] > 0)
            if info["success"] and succeeded_at is None:
                succeeded_at = t
            if succeeded_at is not None and t > succeeded_at + 3:
                break
    assert succeeded_at is not None
    for _ in range(15):  # move away: Meta-World's per-step success drops, the episode stays a success
        _, _, _, _, info = env.step(np.array([-1.0, -1.0, -1.0, 0.0], dtype=np.float32))
    assert info["success"] == 0.0 and info["is_success"] is True
    _, info = env.reset()
    assert info["is_success"] is False
    env.close()


def test_unknown_metaworld_names() -> None:
    with pytest.raises(ValueError, match=r"Did you mean \['pick-place-v3'"):
        henvs.make_family("ml1", env_name="pick-place-v2")
    with pytest.raises(ValueError, match="Valid names"):
        henvs.make_family("ml1/pickplace")


def test_bad_metaworld_tasks(ml1: henvs.TaskFamily) -> None:
    good = ml1.train_tasks[0]
    assert isinstance(good, MetaWorldTask)
    with pytest.raises(ValueError, match=r"unknown train environment 'push-v3'.*Valid names: \['pick-place-v3'\]"):
        ml1.validate_task(MetaWorldTask("push-v3", "train", 0, good.rand_vec))
    with pytest.raises(ValueError, match=r"50 train goals \(index 0..49\), got index 50"):
        ml1.validate_task(MetaWorldTask("pick-place-v3", "train", 50, good.rand_vec))
    with pytest.raises(ValueError, match="does not match this family's goal"):
        ml1.validate_task(MetaWorldTask("pick-place-v3", "train", 0, tuple(v + 0.01 for v in good.rand_vec)))
    with pytest.raises(ValueError, match="'test' split is required"):
        ml1.validate_task(good, split="test")
    with pytest.raises(ValueError, match="no 'ood_test' split"):
        ml1.validate_task(good, split="ood_test")
    with pytest.raises(NotImplementedError, match="cannot rebuild a task from its context"):
        ml1.task_from_context(ml1.oracle_context(good))


def test_task_counts_per_class_are_configurable(ml1: henvs.TaskFamily) -> None:
    small = henvs.make_family("ml1", n_train=5, n_test=3)
    assert small.train_tasks == ml1.train_tasks[:5] and small.test_tasks == ml1.test_tasks[:3]


def test_global_numpy_random_is_untouched_by_metaworld_families(ml1: henvs.TaskFamily) -> None:
    runs = []
    for global_seed in (0, 99):
        np.random.seed(global_seed)
        state = np.random.get_state()
        env = ml1.make_env(resample_on_reset=True)
        env.reset(seed=4)
        rewards = [env.step(a)[1] for a in random_actions(env, 30, seed=4)]
        env.close()
        runs.append(rewards)
        assert np.array_equal(np.random.get_state()[1], state[1])
    assert runs[0] == runs[1]


def test_ml10_construct_and_step() -> None:
    fam = family("ml10")
    assert len(fam.class_names["train"]) == 10 and len(fam.class_names["test"]) == 5  # type: ignore[attr-defined]
    assert len(fam.train_tasks) == 500 and len(fam.test_tasks) == 250
    assert fam.context_dim == 15 + 6
    assert not set(fam.class_names["train"]) & set(fam.class_names["test"])  # type: ignore[attr-defined]
    env = fam.make_env(context_obs=True, split="test", resample_on_reset=True)
    seen = set()
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        seen.add(info["task"]["env_name"])
        assert info["task"]["env_name"] in fam.class_names["test"]  # type: ignore[attr-defined]
        context = obs["context"]
        task = henvs.task_from_dict(info["task"])
        one_hot, rand = context[:15], context[15:]
        assert one_hot.sum() == 1.0 and one_hot[fam.all_class_names.index(task.env_name)] == 1.0  # type: ignore[attr-defined]
        np.testing.assert_allclose(rand[: len(task.rand_vec)], task.rand_vec, rtol=1e-6)  # type: ignore[attr-defined]
        assert not rand[len(task.rand_vec) :].any()  # type: ignore[attr-defined]
        for action in random_actions(env, 5, seed=seed):
            obs, _, _, _, info = env.step(action)
            assert obs["observation"].shape == (39,) and "is_success" in info
    assert len(seen) >= 2  # the env switched between Meta-World environment classes
    env.close()


@pytest.mark.slow
def test_ml45_construct_and_step() -> None:
    fam = family("ml45")
    assert len(fam.class_names["train"]) == 45 and len(fam.class_names["test"]) == 5  # type: ignore[attr-defined]
    assert fam.context_dim == 50 + 6
    env = gym.make("hyperbench/ML45-v0", family=fam, resample_on_reset=True)
    for seed in range(3):
        env.reset(seed=seed)
        for action in random_actions(env, 5, seed=seed):
            env.step(action)
    env.close()
