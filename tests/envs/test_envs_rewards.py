"""Each family's reward recomputed independently from ``info``, the action and the simulator state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from envs_helpers import family, random_actions

N_STEPS = 60
# v5 computes the control cost in the action dtype (float32), so allow float32 rounding
TOL = 1e-6


def _play(name: str, task_index: int, check: Any, n_steps: int = N_STEPS, seed: int = 0) -> int:
    """Roll out random actions in test task ``task_index``; call ``check(env, prev_info, action, reward, info, term)``
    at every step; return the number of terminations."""
    fam = family(name)
    env = fam.make_env(task=fam.test_tasks[task_index])
    _, prev = env.reset(seed=seed)
    terminations = 0
    for action in random_actions(env, n_steps, seed=seed):
        _, reward, terminated, truncated, info = env.step(action)
        check(env, prev, action, reward, info, terminated)
        prev = info
        terminations += terminated
        if terminated or truncated:
            _, prev = env.reset()
    env.close()
    return terminations


def _sq(action: Any) -> float:
    return float(np.sum(np.square(action)))


def _contact_cost(env: Any) -> float:
    data = env.unwrapped.simulator.data
    return 5e-4 * float(np.sum(np.square(np.clip(data.cfrc_ext, -1.0, 1.0))))


def _healthy(env: Any) -> bool:
    z = float(env.unwrapped.simulator.data.qpos[2])
    return 0.2 <= z <= 1.0


@pytest.mark.parametrize("name", ["halfcheetah-vel", "halfcheetah-vel-medium"])
@pytest.mark.parametrize("task_index", [0, 1])
def test_halfcheetah_vel_reward(name: str, task_index: int) -> None:
    target = family(name).test_tasks[task_index].velocity  # type: ignore[attr-defined]

    def check(env: Any, prev: dict, action: Any, reward: float, info: dict, terminated: bool) -> None:
        # velocity from the change of x position over one control step, independent of the v5 bookkeeping
        v_x = (info["x_position"] - prev["x_position"]) / env.unwrapped.simulator.dt
        assert math.isclose(reward, -abs(v_x - target) - 0.05 * _sq(action), rel_tol=1e-9, abs_tol=TOL)
        assert not terminated

    _play(name, task_index, check)


@pytest.mark.parametrize("task_index", [0, 1])
def test_halfcheetah_dir_reward(task_index: int) -> None:
    d = family("halfcheetah-dir").test_tasks[task_index].direction  # type: ignore[attr-defined]

    def check(env: Any, prev: dict, action: Any, reward: float, info: dict, terminated: bool) -> None:
        v_x = (info["x_position"] - prev["x_position"]) / env.unwrapped.simulator.dt
        assert math.isclose(reward, d * v_x - 0.05 * _sq(action), rel_tol=1e-9, abs_tol=TOL)

    _play("halfcheetah-dir", task_index, check)


def _ant_check(direction_of: Any) -> Any:
    def check(env: Any, prev: dict, action: Any, reward: float, info: dict, terminated: bool) -> None:
        healthy = _healthy(env)
        expected = direction_of(info) - 0.5 * _sq(action) - _contact_cost(env) + (1.0 if healthy else 0.0)
        assert math.isclose(reward, expected, rel_tol=1e-9, abs_tol=TOL)
        assert terminated == (not healthy)

    return check


@pytest.mark.parametrize("task_index", [0, 1])
def test_ant_fwd_back_reward(task_index: int) -> None:
    d = family("ant-fwd-back").test_tasks[task_index].direction  # type: ignore[attr-defined]
    # random actions make the ant jump out of the healthy z range within 60 steps: termination is exercised
    assert _play("ant-fwd-back", task_index, _ant_check(lambda info: d * info["x_velocity"])) >= 1


@pytest.mark.parametrize("task_index", [0, 1])
def test_ant_dir_reward(task_index: int) -> None:
    theta = family("ant-dir").test_tasks[task_index].angle  # type: ignore[attr-defined]
    _play(
        "ant-dir",
        task_index,
        _ant_check(lambda info: info["x_velocity"] * math.cos(theta) + info["y_velocity"] * math.sin(theta)),
    )


@pytest.mark.parametrize("task_index", [0, 1])
def test_ant_vel_reward(task_index: int) -> None:
    target = family("ant-vel").test_tasks[task_index].velocity  # type: ignore[attr-defined]
    _play("ant-vel", task_index, _ant_check(lambda info: -abs(info["x_velocity"] - target)))


@pytest.mark.parametrize("task_index", [0, 1])
def test_ant_goal_reward_and_no_termination(task_index: int) -> None:
    gx, gy = family("ant-goal").test_tasks[task_index].goal  # type: ignore[attr-defined]

    def check(env: Any, prev: dict, action: Any, reward: float, info: dict, terminated: bool) -> None:
        x, y = env.unwrapped.simulator.data.qpos[:2]
        expected = -(abs(x - gx) + abs(y - gy)) - 0.1 * _sq(action) - _contact_cost(env)
        assert math.isclose(reward, expected, rel_tol=1e-9, abs_tol=TOL)
        assert not terminated

    _play("ant-goal", task_index, check, n_steps=200)
    obs_dim = family("ant-goal").make_core_env().observation_space.shape[0]
    assert obs_dim == 105 + 2  # Ant-v5's 105 plus the torso's x, y


@pytest.mark.parametrize("name", ["point-robot", "sparse-point-robot"])
def test_point_robot_reward(name: str) -> None:
    fam = family(name)
    goal = np.array(fam.test_tasks[0].goal)  # type: ignore[attr-defined]
    env = fam.make_env(task=fam.test_tasks[0])
    obs, _ = env.reset(seed=0)
    position = np.zeros(2)
    np.testing.assert_array_equal(obs, position)
    # a controller that heads for the goal, so the sparse reward is hit too
    successes = 0
    for t in range(20):
        # (the first action exceeds the bounds: the env clips it to [-1, 1])
        action = np.clip((goal - position) / 0.1, -1, 1) * (0.5 if t < 3 else 1.0) + (3.0 if t == 0 else 0.0)
        action = action.astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        position = position + np.clip(action.astype(np.float64), -1, 1) * 0.1
        np.testing.assert_allclose(info["position"], position, atol=1e-12)
        np.testing.assert_allclose(obs, position, atol=1e-6)
        distance = float(np.linalg.norm(position - goal))
        expected = float(distance < 0.2) if name.startswith("sparse") else -distance
        assert reward == pytest.approx(expected, abs=1e-12)
        assert info["is_success"] == (successes > 0 or distance < 0.2)
        successes += distance < 0.2
        assert not terminated
    assert truncated and successes > 0
    env.close()


def test_gridnavi_reward() -> None:
    fam = family("gridnavi")
    task = fam.test_tasks[5]
    env = fam.make_env(task=task)
    env.reset(seed=0)
    moves = {0: (0, 0), 1: (0, 1), 2: (1, 0), 3: (0, -1), 4: (-1, 0)}
    cell = (0, 0)
    rng = np.random.default_rng(0)
    actions = [2] * task.goal[0] + [1] * task.goal[1] + [0, 0] + list(rng.integers(0, 5, 5))  # type: ignore[attr-defined]
    for t, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(action)
        dx, dy = moves[int(action)]
        cell = (min(max(cell[0] + dx, 0), 4), min(max(cell[1] + dy, 0), 4))
        assert tuple(obs) == cell
        assert reward == (1.0 if cell == task.goal else -0.1)  # type: ignore[attr-defined]
        assert truncated == (t == 14) and not terminated
    assert info["is_success"]
    with pytest.raises(ValueError, match=r"integers in \[0, 4\]"):
        env.step(7)
    env.close()


def test_different_tasks_give_different_rewards_for_the_same_trajectory() -> None:
    for name in ["halfcheetah-vel", "halfcheetah-dir", "ant-dir", "ant-goal", "point-robot", "gridnavi"]:
        fam = family(name)
        runs = []
        for task in fam.train_tasks[:2]:
            env = fam.make_env(task=task)
            env.reset(seed=3)
            actions = random_actions(env, 15, seed=3)
            if name == "gridnavi":  # walk to the first task's goal and stay there
                gx, gy = fam.train_tasks[0].goal  # type: ignore[attr-defined]
                actions = ([2] * gx + [1] * gy + [0] * 15)[:15]
            steps = [env.step(a) for a in actions]
            runs.append(([np.asarray(s[0]) for s in steps], [s[1] for s in steps]))
            env.close()
        (obs_a, rew_a), (obs_b, rew_b) = runs
        for oa, ob in zip(obs_a, obs_b):
            np.testing.assert_array_equal(oa, ob)  # same dynamics and trajectory ...
        assert not np.allclose(rew_a, rew_b), name  # ... scored differently by the two tasks
