"""Gymnasium's ``check_env`` on every registered ``hyperbench/`` id, the way Gymnasium's own
``tests/envs/test_envs.py`` checks its registry: build from the spec, check the unwrapped env, and allow only
the warnings listed here."""

from __future__ import annotations

import gc
import warnings
from typing import Any

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import hyperbench.envs as henvs

# MuJoCo and Meta-World observations are unbounded (Gymnasium's own MuJoCo envs raise the same two warnings),
# and so is the point robot's position.
ALLOWED_WARNINGS = {
    "A Box observation space minimum value is -infinity. This is probably too low.",
    "A Box observation space maximum value is infinity. This is probably too high.",
}

SLOW_IDS = {"hyperbench/ML45-v0"}  # builds Meta-World's ML45 benchmark (~20 s)
SPECS = [gym.spec(env_id) for env_id in henvs.ENV_IDS]
PARAMS = [
    pytest.param(
        spec,
        context_obs,
        id=f"{spec.id}{'-context' if context_obs else ''}",
        marks=[pytest.mark.slow] if spec.id in SLOW_IDS else [],
    )
    for spec in SPECS
    for context_obs in (False, True)
]


def _strip(message: str) -> str:
    return message.replace("\x1b[33mWARN: ", "").replace("\x1b[0m", "")


@pytest.mark.parametrize(("spec", "context_obs"), PARAMS)
def test_env_passes_gymnasium_env_checker(spec: gym.envs.registration.EnvSpec, context_obs: bool) -> None:
    kwargs: dict[str, Any] = {"context_obs": context_obs, "resample_on_reset": context_obs}
    gc.collect()  # objects other tests left behind warn when collected; not inside the recorded block
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = spec.make(disable_env_checker=True, **kwargs).unwrapped
        # MuJoCo / Meta-World rendering needs an OpenGL backend this machine lacks; the NumPy families declare
        # no render modes, so for them the render check runs (and has nothing to render).
        check_env(env, skip_render_check=bool(env.metadata["render_modes"]))
        env.close()
    unexpected = [_strip(str(w.message)) for w in caught if _strip(str(w.message)) not in ALLOWED_WARNINGS]
    assert not unexpected, unexpected
    if context_obs:
        assert isinstance(env.observation_space, gym.spaces.Dict)
        assert set(env.observation_space.spaces) == {"observation", "context"}
        assert env.observation_space["context"].shape == (env.family.context_dim,)  # type: ignore[attr-defined]


def test_time_limits_match_published_horizons() -> None:
    horizons = {spec.id: spec.max_episode_steps for spec in SPECS}
    assert horizons["hyperbench/HalfCheetahVel-v0"] == 200
    assert horizons["hyperbench/AntGoal-v0"] == 200
    assert horizons["hyperbench/PointRobot-v0"] == 20
    assert horizons["hyperbench/GridNavi-v0"] == 15
    assert horizons["hyperbench/ML1-v0"] == horizons["hyperbench/ML10-v0"] == 500
