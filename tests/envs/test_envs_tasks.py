"""Task lists, task serialisation, oracle contexts and the errors for bad task specifications."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
from envs_helpers import FAST, family

import hyperbench.envs as henvs
from hyperbench.envs import AngleTask, DirectionTask, GoalTask, GridGoalTask, VelocityTask

DEFAULT_COUNTS = {  # (train, test, ood_test): PEARL's configs where they exist
    "halfcheetah-vel": (100, 30, 0),
    "halfcheetah-vel-medium": (100, 30, 30),
    "halfcheetah-dir": (2, 2, 0),
    "ant-dir": (100, 30, 0),
    "ant-fwd-back": (2, 2, 0),
    "ant-vel": (100, 30, 0),
    "ant-goal": (150, 30, 0),
    "point-robot": (80, 20, 0),
    "sparse-point-robot": (80, 20, 0),
    "gridnavi": (21, 21, 0),
}


@pytest.mark.parametrize("name", FAST)
def test_default_task_counts(name: str) -> None:
    fam = family(name)
    assert (len(fam.train_tasks), len(fam.test_tasks), len(fam.ood_test_tasks)) == DEFAULT_COUNTS[name]
    assert all(isinstance(t, fam.task_type) for s in fam.splits for t in fam.tasks(s))


@pytest.mark.parametrize("name", FAST)
def test_tasks_roundtrip_through_json(name: str) -> None:
    fam = family(name)
    for task in fam.train_tasks + fam.test_tasks:
        data = json.loads(json.dumps(task.to_dict()))
        assert henvs.task_from_dict(data) == task
        assert fam.validate_task(data) == task  # a dict is accepted wherever a task is
    json.dumps(fam.describe())


@pytest.mark.parametrize("name", ["halfcheetah-vel", "ant-dir", "ant-goal", "point-robot"])
def test_tasks_are_a_function_of_the_seed(name: str) -> None:
    assert henvs.make_family(name, seed=7).train_tasks == henvs.make_family(name, seed=7).train_tasks
    assert henvs.make_family(name, seed=7).test_tasks != henvs.make_family(name, seed=8).test_tasks


def test_counts_are_configurable_and_splits_independent() -> None:
    small = henvs.make_family("halfcheetah-vel", seed=0, n_train=5, n_test=3)
    assert len(small.train_tasks) == 5 and len(small.test_tasks) == 3
    # separate generators per split: changing the train count leaves the test tasks unchanged
    assert small.test_tasks == family("halfcheetah-vel").test_tasks[:3]
    assert len(henvs.make_family("gridnavi", n_train=4).train_tasks) == 4
    with pytest.raises(ValueError, match="n_train must be an integer >= 1"):
        henvs.make_family("ant-goal", n_train=0)


def test_task_distributions() -> None:
    vel = [t.velocity for t in family("halfcheetah-vel").train_tasks]  # type: ignore[attr-defined]
    assert min(vel) >= 0.0 and max(vel) <= 3.0 and max(vel) - min(vel) > 2.0
    medium = family("halfcheetah-vel-medium")
    assert all(0.0 <= t.velocity <= 2.5 for t in medium.train_tasks)  # type: ignore[attr-defined]
    # held-out test tasks from the training range, out-of-distribution ones from [2.5, 3], neither a training task
    assert all(0.0 <= t.velocity <= 2.5 for t in medium.test_tasks)  # type: ignore[attr-defined]
    assert all(2.5 <= t.velocity <= 3.0 for t in medium.ood_test_tasks)  # type: ignore[attr-defined]
    assert not set(medium.test_tasks) & set(medium.train_tasks)
    assert medium.test_tasks == family("halfcheetah-vel-medium").test_tasks
    goals = np.array([t.goal for t in family("ant-goal").train_tasks])  # type: ignore[attr-defined]
    assert np.linalg.norm(goals, axis=1).max() <= 3.0
    point = np.array([t.goal for t in family("point-robot").train_tasks])  # type: ignore[attr-defined]
    np.testing.assert_allclose(np.linalg.norm(point, axis=1), 1.0)  # unit half-circle
    assert point[:, 1].min() >= -1e-12
    grid = {t.goal for t in family("gridnavi").train_tasks}  # type: ignore[attr-defined]
    assert len(grid) == 21 and not grid & {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert {t.direction for t in family("halfcheetah-dir").train_tasks} == {1, -1}  # type: ignore[attr-defined]


def test_oracle_contexts() -> None:
    assert family("halfcheetah-vel").oracle_context(VelocityTask(1.25)).tolist() == [1.25]
    assert family("halfcheetah-dir").oracle_context(DirectionTask(1)).tolist() == [1.0]
    assert family("ant-fwd-back").oracle_context(DirectionTask(-1)).tolist() == [0.0]
    np.testing.assert_allclose(family("ant-dir").oracle_context(AngleTask(math.pi / 2)), [0.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(family("ant-goal").oracle_context(GoalTask((1.0, -2.0))), [1.0, -2.0])
    assert family("gridnavi").oracle_context(GridGoalTask((3, 4))).tolist() == [3.0, 4.0]
    for name in FAST:
        fam = family(name)
        space = fam.context_space
        for task in fam.train_tasks + fam.test_tasks:
            context = fam.oracle_context(task)
            assert context.dtype == np.float32 and context.shape == (fam.context_dim,)
            assert space.contains(context), (name, task)


@pytest.mark.parametrize("name", FAST)
def test_task_from_context_inverts_oracle_context(name: str) -> None:
    fam = family(name)
    for task in fam.test_tasks[:5]:
        rebuilt = fam.task_from_context(fam.oracle_context(task).astype(np.float64))
        np.testing.assert_allclose(fam.oracle_context(rebuilt), fam.oracle_context(task), atol=1e-6)


# ------------------------------------------------------------------------------------------- bad specs
def test_out_of_range_velocity_for_a_split_that_forbids_it() -> None:
    medium = family("halfcheetah-vel-medium")
    with pytest.raises(ValueError, match=r"2\.8 is outside the train range \[0, 2\.5\]"):
        medium.validate_task(VelocityTask(2.8), split="train")
    with pytest.raises(ValueError, match=r"2\.8 is outside the test range \[0, 2\.5\]"):
        medium.validate_task(VelocityTask(2.8), split="test")
    assert medium.validate_task(VelocityTask(2.8), split="ood_test") == VelocityTask(2.8)
    assert medium.validate_task(VelocityTask(2.8)) == VelocityTask(2.8)  # no split: the whole domain [0, 3]
    with pytest.raises(ValueError, match=r"train range \[0, 2\.5\]"):
        gym.make("hyperbench/HalfCheetahVelMedium-v0", task=VelocityTask(2.8), split="train")
    with pytest.raises(ValueError, match=r"outside the domain \[0, 3\]"):
        family("halfcheetah-vel").validate_task(VelocityTask(3.5))
    with pytest.raises(ValueError, match=r"no 'ood_test' split"):
        family("halfcheetah-vel").make_core_env(split="ood_test")


def test_wrong_context_size() -> None:
    with pytest.raises(ValueError, match=r"vector of 1 value\(s\) \(context_dim\), got shape \(2,\)"):
        family("halfcheetah-vel").task_from_context([1.0, 2.0])
    with pytest.raises(ValueError, match=r"vector of 2 value\(s\)"):
        family("point-robot").task_from_context([0.5])
    with pytest.raises(ValueError, match="binary indicator"):
        family("halfcheetah-dir").task_from_context([0.5])


def test_bad_task_specifications_name_the_valid_range() -> None:
    with pytest.raises(TypeError, match="halfcheetah-vel expects a VelocityTask"):
        family("halfcheetah-vel").validate_task(GoalTask((1.0, 1.0)))
    with pytest.raises(ValueError, match=r"2 coordinates \(x, y\), got 3"):
        family("ant-goal").validate_task(GoalTask((1.0, 1.0, 0.0)))
    with pytest.raises(ValueError, match="disc of radius 3"):
        family("ant-goal").validate_task(GoalTask((3.0, 3.0)))
    with pytest.raises(ValueError, match=r"reachable square \[-2, 2\]"):
        family("point-robot").validate_task(GoalTask((2.5, 0.0)))
    with pytest.raises(ValueError, match="excluded cells"):
        family("gridnavi").validate_task(GridGoalTask((1, 1)))
    with pytest.raises(ValueError, match=r"0 <= x, y <= 4"):
        family("gridnavi").validate_task(GridGoalTask((5, 0)))
    with pytest.raises(ValueError, match=r"outside \[0, 2π\)"):
        family("ant-dir").validate_task(AngleTask(7.0))
    with pytest.raises(ValueError, match=r"\+1 \(forward\) or -1 \(backward\)"):
        DirectionTask(0)
    with pytest.raises(ValueError, match="finite"):
        VelocityTask(float("nan"))
    with pytest.raises(ValueError, match=r"unknown task kind 'velocty'; did you mean \['velocity'\]"):
        henvs.task_from_dict({"kind": "velocty", "velocity": 1.0})
    with pytest.raises(ValueError, match=r"unknown \['speed'\], missing \['velocity'\]"):
        henvs.task_from_dict({"kind": "velocity", "speed": 1.0})
    with pytest.raises(ValueError, match=r"unknown split 'validation'; valid splits"):
        family("point-robot").tasks("validation")


def test_family_level_current_task() -> None:
    fam = henvs.make_family("point-robot", seed=1)
    assert fam.get_task() == fam.train_tasks[0]
    task = fam.reset_task()
    assert task in fam.train_tasks and fam.get_task() == task
    env = fam.env
    assert env.unwrapped.get_task() == task  # type: ignore[attr-defined]
    fam.set_task(fam.test_tasks[2])
    assert env.unwrapped.get_task() == fam.test_tasks[2]  # type: ignore[attr-defined]
    env.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "test", "task": {"kind": "goal", "goal": [0, -1]}}, "is not one of the 20 'test' tasks"),
        ({"n_train": 10**12}, "n_train must be an integer >= 1 and <= 100,000"),
    ],
    ids=["task-outside-split", "huge-n-train"],
)
def test_point_robot_rejects_tasks_outside_their_split_and_absurd_counts(kwargs, message):
    """Issue 13: a goal in the family's domain but not in the split's fixed list; a task count that would need TiBs."""
    with pytest.raises(ValueError, match=message):
        gym.make("hyperbench/PointRobot-v0", **kwargs)
    family = gym.make("hyperbench/PointRobot-v0").unwrapped.family
    env = gym.make("hyperbench/PointRobot-v0", split="test", task=family.test_tasks[3].to_dict())
    assert env.unwrapped.get_task() == family.test_tasks[3]  # a member of the split is accepted
