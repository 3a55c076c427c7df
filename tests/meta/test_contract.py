"""The meta-learner contract: state flows through acting, observing and evaluation, and resets per meta-episode."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

from hyperbench.envs import make_family
from hyperbench.envs.vector import SerialVectorEnv
from hyperbench.meta import EvalResult, Headline, MetaLearner, Phase
from tests.meta.cue import CueFamily, MemoryLearner


def _expected(signs: np.ndarray, kind: str, n_episodes: int, remember: bool) -> np.ndarray:
    """Per-episode returns of the Cue family worked out by hand (see tests/meta/cue.py)."""
    s = signs[:, None].astype(float)
    if not remember:
        return np.repeat(2 * s if kind == "box" else -2 * s, n_episodes, axis=1)
    first = 2 * s + 3 if kind == "box" else s + 3
    return np.concatenate([first] + [2 * s + 4] * (n_episodes - 1), axis=1)


@pytest.mark.parametrize("kind", ["discrete", "box"])
@pytest.mark.parametrize(("lanes", "max_envs"), [(1, 1024), (3, 4)])
def test_memory_flows_through_act_observe_and_evaluate(kind: str, lanes: int, max_envs: int) -> None:
    family = CueFamily(action_kind=kind)
    tasks = [family.train_tasks[i] for i in (0, 1, 1, 0, 1)]
    signs = np.array([t.goal[0] for t in tasks])
    learner = MemoryLearner(family, lanes=lanes, max_envs=max_envs)  # max_envs=4: rows run in chunks
    result = learner.evaluate(tasks, n_episodes=3, seed=0)
    assert isinstance(result, EvalResult)
    assert result.phases == ("first",) * lanes + ("later",) * (2 * lanes)
    want = np.repeat(_expected(signs, kind, 3, remember=True), lanes, axis=1)
    np.testing.assert_array_equal(result.episode_returns, want)
    # the headline is the meta-episode return (one per task row); the first episode is a secondary score
    np.testing.assert_array_equal(result.returns, want.sum(1, keepdims=True))
    assert result.scores()["first-episode"] == pytest.approx(want[:, :lanes].mean())
    # the control without memory (at chance: a fixed action) scores far less: the return comes from the memory
    forgetful = MemoryLearner(family, remember=False, lanes=lanes, max_envs=max_envs).evaluate(tasks, 3, seed=0)
    np.testing.assert_array_equal(forgetful.episode_returns, np.repeat(_expected(signs, kind, 3, False), lanes, axis=1))
    assert result.mean_return - forgetful.mean_return >= 3 * lanes


def test_state_resets_at_each_meta_episode_boundary() -> None:
    family = CueFamily(action_kind="box")
    plus, minus = family.train_tasks
    learner = MemoryLearner(family)
    first = learner.evaluate([plus], n_episodes=2, seed=0)
    second = learner.evaluate([minus], n_episodes=2, seed=0)
    assert learner.begun == 2
    # a memory leaked from the +1 meta-episode would make step 0 of the -1 task act +1: return 2s + 1 - 2 = -3
    np.testing.assert_array_equal(first.episode_returns, [[5.0, 6.0]])
    np.testing.assert_array_equal(second.episode_returns, [[1.0, 2.0]])
    rollout = learner.rollout.run(learner, [minus, plus], learner.meta_episode(2), np.random.default_rng(0), th.Generator())
    np.testing.assert_array_equal(rollout.returns, [[1.0, 2.0], [5.0, 6.0]])
    np.testing.assert_array_equal(rollout.state, [[-1.0], [1.0]])


def test_headline_selects_phases_and_validates_its_matrix() -> None:
    matrix = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    labels = ("pre", "post", "post")
    np.testing.assert_array_equal(Headline(("post",)).samples(matrix, labels), [[2.0, 3.0], [5.0, 6.0]])
    np.testing.assert_array_equal(Headline((), "meta-episode").samples(matrix, labels), [[6.0], [15.0]])
    with pytest.raises(ValueError, match="no episode of the phases"):
        EvalResult(matrix, [{}, {}], labels, Headline(("posterior",)))
    with pytest.raises(ValueError, match="phase labels"):
        EvalResult(matrix, [{}, {}], ("pre", "post"), Headline())
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        Phase("empty", 0)


@pytest.mark.parametrize("name", ["point-robot", "sparse-point-robot", "gridnavi"])
def test_array_environments_equal_the_single_environments(name: str) -> None:
    family = make_family(name, seed=0)
    fast, slow = family.make_vector_env(), SerialVectorEnv(family)
    assert type(fast) is not SerialVectorEnv
    rng = np.random.default_rng(1)
    tasks = [family.train_tasks[i] for i in rng.integers(len(family.train_tasks), size=6)]
    seeds = rng.integers(1000, size=6)
    np.testing.assert_array_equal(fast.reset(tasks, seeds), slow.reset(tasks, seeds))
    active = np.ones(6, dtype=bool)
    for step in range(family.horizon):
        actions = rng.integers(5, size=6) if name == "gridnavi" else rng.uniform(-1.5, 1.5, size=(6, 2))
        if step == 5:
            active[2] = False  # environments whose episode ended are not stepped
        a, b = fast.step(actions, active), slow.step(actions, active)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_plugin_class_named_like_a_builtin_is_refused() -> None:
    with pytest.raises(TypeError, match=r"named like the built-in hyperbench\.meta\.maml\.MAML"):

        class MAML(MetaLearner):
            pass

    class Mine(MetaLearner):
        registry_name = "tests.contract.Mine"

    assert MetaLearner.registry["tests.contract.Mine"] is Mine
    with pytest.raises(TypeError, match=r"tests\.contract\.Mine.*already has"):

        class Other(MetaLearner):
            registry_name = "tests.contract.Mine"

    assert MetaLearner.registry["tests.contract.Mine"] is Mine
