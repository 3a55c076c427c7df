"""Registry, ``make_family`` and the Gymnasium registration of the ``hyperbench/`` ids."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest
from envs_helpers import family

import hyperbench.envs as henvs

EXPECTED_FAMILIES = {
    "halfcheetah-vel",
    "halfcheetah-vel-medium",
    "halfcheetah-dir",
    "ant-dir",
    "ant-fwd-back",
    "ant-vel",
    "ant-goal",
    "point-robot",
    "sparse-point-robot",
    "gridnavi",
    "ml1",
    "ml10",
    "ml45",
}


def test_registry_names_and_ids() -> None:
    assert set(henvs.FAMILIES) == EXPECTED_FAMILIES
    for info in henvs.FAMILIES.values():
        assert info.env_id.startswith("hyperbench/") and info.env_id in gym.registry
        spec = gym.spec(info.env_id)
        assert spec.max_episode_steps == info.max_episode_steps
        assert spec.kwargs["family_name"] == info.name
    assert len(set(henvs.ENV_IDS)) == len(henvs.ENV_IDS) == len(EXPECTED_FAMILIES)


def test_family_classes_match_registry() -> None:
    for info in henvs.FAMILIES.values():
        cls = info.load()
        assert cls.name == info.name
        assert cls.env_id == info.env_id
        assert cls.horizon == info.max_episode_steps


def test_import_hyperbench_registers_ids_without_heavy_imports() -> None:
    code = (
        "import sys, gymnasium as gym, hyperbench\n"
        "ids = [i for i in gym.registry if i.startswith('hyperbench/')]\n"
        "assert len(ids) == 13, ids\n"
        "heavy = [m for m in ('mujoco', 'metaworld') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_register_envs_is_idempotent() -> None:
    before = dict(gym.registry)
    henvs.register_envs()
    assert dict(gym.registry) == before


def test_unknown_family_suggests_close_names() -> None:
    with pytest.raises(ValueError, match=r"halfcheetah-vel") as info:
        henvs.make_family("halfcheetah-velocity")
    assert "Registered families" in str(info.value)


def test_unknown_family_option_names_valid_options() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'n_train'") as info:
        henvs.make_family("halfcheetah-vel", n_trian=3)
    assert "Valid options" in str(info.value)


def test_name_is_case_insensitive_and_ml1_shorthand(ml1: henvs.TaskFamily) -> None:
    assert henvs.make_family("Point-Robot").name == "point-robot"
    fam = henvs.make_family("ml1/pick-place-v3")
    assert fam.name == "ml1" and fam.config["env_name"] == "pick-place-v3"
    assert fam.train_tasks == ml1.train_tasks  # same seed → same goals (the benchmark object is cached)


def test_gym_make_passes_env_and_family_options() -> None:
    env = gym.make("hyperbench/HalfCheetahVel-v0", n_train=5, n_test=2, family_seed=3, context_obs=True)
    fam = env.unwrapped.family  # type: ignore[attr-defined]
    assert len(fam.train_tasks) == 5 and len(fam.test_tasks) == 2 and fam.seed == 3
    assert env.unwrapped.context_obs  # type: ignore[attr-defined]
    assert env.spec is not None and env.spec.max_episode_steps == 200
    env.close()


def test_gym_make_unknown_option_lists_env_options() -> None:
    with pytest.raises(ValueError, match=r"contxt_obs") as info:
        gym.make("hyperbench/PointRobot-v0", contxt_obs=True)
    assert "Environment options are" in str(info.value) and "'context_obs'" in str(info.value)


def test_gym_make_seed_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="family_seed"):
        gym.make("hyperbench/PointRobot-v0", seed=3)


def test_bind_existing_family_object() -> None:
    fam = family("point-robot")
    env = fam.make_env(task=fam.test_tasks[3])
    assert env.unwrapped.family is fam  # type: ignore[attr-defined]
    assert env.unwrapped.get_task() == fam.test_tasks[3]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="point-robot"):
        gym.make("hyperbench/GridNavi-v0", family=fam)
    with pytest.raises(ValueError, match="cannot be combined"):
        gym.make("hyperbench/PointRobot-v0", family=fam, n_train=3)
