"""Seeding: same seed → identical rollouts; the global ``np.random`` is neither read nor advanced."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from envs_helpers import FAST, family, flatten, random_actions, rollout

import hyperbench.envs as henvs

N_STEPS = 45  # crosses episode boundaries of point-robot (20) and gridnavi (15)


def _trace(name: str, seed: int, **env_kwargs: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    fam = henvs.make_family(name, seed=0)  # a fresh family: nothing shared between the two runs
    env = fam.make_env(**env_kwargs)
    out = rollout(env, random_actions(env, N_STEPS, seed=seed), seed=seed)
    env.close()
    tasks = [info["task"] for info in out["infos"] if "task" in info]
    return np.stack([flatten(o) for o in out["obs"]]), np.array(out["rewards"]), tasks


@pytest.mark.parametrize("name", FAST)
def test_same_seed_same_rollout(name: str) -> None:
    kwargs = {"resample_on_reset": True, "context_obs": True}
    obs_a, rew_a, tasks_a = _trace(name, seed=11, **kwargs)
    obs_b, rew_b, tasks_b = _trace(name, seed=11, **kwargs)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    assert tasks_a == tasks_b


@pytest.mark.parametrize("name", ["halfcheetah-vel", "ant-goal", "point-robot"])
def test_different_seed_different_rollout(name: str) -> None:
    obs_a, _, tasks_a = _trace(name, seed=1, resample_on_reset=True)
    obs_b, _, tasks_b = _trace(name, seed=2, resample_on_reset=True)
    assert tasks_a != tasks_b or not np.array_equal(obs_a, obs_b)


@pytest.mark.parametrize("name", FAST)
def test_global_numpy_random_is_not_used(name: str) -> None:
    runs = []
    for global_seed in (0, 12345):
        np.random.seed(global_seed)
        state = np.random.get_state()
        runs.append(_trace(name, seed=5, resample_on_reset=True))
        after = np.random.get_state()
        # nothing drew from the global generator: its state is untouched
        assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]


def test_resample_on_reset_draws_from_the_split() -> None:
    fam = family("halfcheetah-vel")
    env = fam.make_env(resample_on_reset=True, split="test")
    seen = set()
    env.reset(seed=0)
    for _ in range(20):
        _, info = env.reset()
        task = henvs.task_from_dict(info["task"])
        assert task in fam.test_tasks and task == env.unwrapped.get_task()  # type: ignore[attr-defined]
        seen.add(task)
    assert len(seen) > 5
    # an explicit task for one reset overrides resampling
    _, info = env.reset(options={"task": fam.train_tasks[0]})
    assert info["task"] == fam.train_tasks[0].to_dict()
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['goal'\]"):
        env.reset(options={"goal": 1})
    env.close()


def test_fixed_task_without_resampling() -> None:
    fam = family("point-robot")
    env = fam.make_env(task=fam.test_tasks[4])
    for seed in range(3):
        _, info = env.reset(seed=seed)
        assert info["task"] == fam.test_tasks[4].to_dict()
    env.unwrapped.set_task(fam.test_tasks[1])  # type: ignore[attr-defined]
    _, info = env.reset()
    assert info["task"] == fam.test_tasks[1].to_dict()
    env.close()


def test_context_observation_tracks_the_task() -> None:
    fam = family("ant-goal")
    env = fam.make_env(context_obs=True, resample_on_reset=True)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        task = henvs.task_from_dict(info["task"])
        np.testing.assert_array_equal(obs["context"], fam.oracle_context(task))
        obs, *_ = env.step(env.action_space.sample())
        np.testing.assert_array_equal(obs["context"], fam.oracle_context(task))
        assert obs["observation"].shape == env.observation_space["observation"].shape  # type: ignore[index]
    env.close()
