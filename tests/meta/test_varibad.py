"""VariBAD and RL2 (plain and hypernetwork policies): learning, protocol, persistence, families."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch as th

from hyperbench.meta import RL2, VariBAD, load_learner
from tests.meta.cue import CueFamily

#: Faster-learning settings for the toy tasks (the defaults are the reference's, tuned for 1e7+ frames).
FAST = {"entropy_coef": 0.01, "lr": 3e-3, "n_epochs": 4}
CUE = {**FAST, "episodes_per_meta_episode": 2, "decoder_input_prev": True}


def _train(learner: Any, iterations: int) -> Any:
    for _ in range(iterations):
        steps, _ = learner._train_iteration()
        learner.num_timesteps += steps
    return learner


def _frozen_belief(learner: Any, tasks: list[Any], n_episodes: int) -> np.ndarray:
    """Per-episode returns of the same trained policy with its belief frozen at the prior (``observe`` ignored)."""
    learner.observe = lambda state, *args, **kwargs: state
    try:
        return learner.evaluate(tasks, n_episodes, seed=1).episode_returns
    finally:
        del learner.observe


@pytest.mark.parametrize(
    ("cls", "variant", "iterations"),
    [
        (VariBAD, "varibad", 20),
        (VariBAD, "hyper-varibad", 20),
        (VariBAD, "film-varibad", 20),
        (RL2, "rl2", 12),
        (RL2, "hyper-rl2", 12),
        (RL2, "film-rl2", 12),
    ],
)
def test_learns_the_cue_task(cls: type, variant: str, iterations: int) -> None:
    """Cue (tests/meta/cue.py): step 0's reward reveals the task's sign; every step pays +1 for the matching
    action, -1 otherwise. Optimal: episode 1 ≈ 3 (step 0 is a coin flip), episode 2 = 4; a policy that ignores
    the belief scores ≈ 0 per episode (balanced tasks). Measured (seed 0, 32 meta-episodes): varibad [2.9, 3.8]
    at 20 iterations, rl2 [2.6, 3.5] and hyper-rl2 [2.8, 3.6] at 10; frozen belief ≈ [0, 0.3]. Not a lucky seed:
    with seeds 1-3 the same assertions held in 11 of 12 learner × seed runs of varibad / hyper-varibad / rl2 /
    hyper-rl2 (hyper-varibad at seed 1 had not learned after 20 iterations: episodes [0.6, -1.0]) and in 4 of 6
    of the FiLM variants (film-varibad seed 2 [2.9, 3.0], film-rl2 seed 3 [2.9, 3.2]: the belief was used, the
    second episode not yet 0.5 better than the first)."""
    family = CueFamily()
    learner = _train(cls(family, variant=variant, seed=0, config=CUE), iterations)
    tasks = family.test_tasks * 16
    returns = learner.evaluate(tasks, 2, seed=1).episode_returns.mean(0)
    frozen = _frozen_belief(learner, tasks, 2).mean(0)
    assert returns[1] > returns[0] + 0.5, (returns, frozen)
    assert returns[1] > frozen[1] + 2.0, (returns, frozen)


@pytest.mark.slow
def test_varibad_learns_a_small_gridnavi() -> None:
    """3×3 GridNavi with two goals ((2, 0) and (2, 2) at family seed 0), 4 episodes per meta-episode, 20
    iterations of 16 meta-episodes (15-60 s depending on the machine's load). Measured, episodes 1-4 (frozen
    belief): seed 0 [8.1, 8.5, 8.9, 9.2] ([4.3, 5.1, 6.5, 5.3]), seed 1 [8.2, 7.6, 9.6, 10.5] ([5.6, 5.5, 6.0, 5.7]),
    seed 2 [5.1, 6.0, 6.6, 6.6] ([4.7, 4.8, 4.7, 3.8]): the assertions hold for all three."""
    kwargs = {"grid_size": 3, "exclude_start_neighbours": False, "n_train": 2}
    cfg = {**FAST, "vae_updates": 5, "vae_lr": 3e-3, "vae_subsample_elbos": 20, "vae_subsample_decodes": 20}
    learner = _train(VariBAD("gridnavi", seed=0, family_kwargs=kwargs, config=cfg), 20)
    tasks = learner.family.train_tasks * 8
    returns = learner.evaluate(tasks, 4, seed=1).episode_returns.mean(0)
    frozen = _frozen_belief(learner, tasks, 4).mean(0)
    assert returns[1:].mean() > returns[0] + 0.5, (returns, frozen)
    assert returns[1:].mean() > frozen[1:].mean() + 1.0, (returns, frozen)


def test_protocol_and_headline() -> None:
    learner = VariBAD("gridnavi", seed=0, config={"meta_batch_size": 2})
    steps, stats = learner._train_iteration()
    assert steps == 2 * 4 * 15 and np.isfinite(stats["train/value_loss"]) and "vae/kl" in stats
    result = learner.evaluate(learner.family.test_tasks[:3], 4, seed=0)
    assert result.phases == ("episode-1", "episode-2", "episode-3", "episode-4")
    assert result.returns.shape == (3, 1)
    assert np.allclose(result.returns[:, 0], result.episode_returns.sum(1))
    assert result.scores()["first-episode"] == pytest.approx(result.episode_returns[:, 0].mean())
    assert result.success_rate is not None
    assert learner.settings.policy_hidden == (32, 32) and learner.settings.gamma == 0.95


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="Did you mean 'hyper-varibad'"):
        VariBAD("gridnavi", variant="hyper-varibd")
    with pytest.raises(ValueError, match="Did you mean 'bias-hyperinit'"):
        VariBAD("gridnavi", config={"init": "bias-hyper-init"})
    with pytest.raises(ValueError, match="did you mean 'kl_weight'"):
        VariBAD("gridnavi", config={"kl_weigth": 1.0})
    with pytest.raises(ValueError, match="valid: \\['rl2', 'hyper-rl2', 'film-rl2'\\]"):
        RL2("gridnavi", variant="varibad")


_FRESH = """
import json, sys
import numpy as np, torch as th
from hyperbench.meta import load_learner
out = []
for path in sys.argv[1:]:
    learner = load_learner(path)
    tasks = learner.family.test_tasks[:4]
    gen = th.Generator().manual_seed(5)
    rollout = learner.rollout.run(learner, tasks, learner.meta_episode(4), np.random.default_rng(5), gen)
    out.append([b.actions.tolist() for b in rollout.batches])
print(json.dumps(out))
"""


def test_save_load_fresh_process_same_actions(tmp_path: Path) -> None:
    """A hyper-VariBAD (HFI, with its meta-input normaliser) and an RL2 learner, saved after one iteration,
    act identically on a fixed meta-episode (same reset seeds and action noise) in a fresh process."""
    paths, here = [], []
    for cls, variant in ((VariBAD, "hyper-varibad"), (RL2, "rl2")):
        learner = _train(cls("gridnavi", variant=variant, seed=3, config={"meta_batch_size": 4, "init": "hfi"}), 1)
        paths.append(str(learner.save(tmp_path / variant)))
        tasks = learner.family.test_tasks[:4]
        gen = th.Generator().manual_seed(5)
        rollout = learner.rollout.run(learner, tasks, learner.meta_episode(4), np.random.default_rng(5), gen)
        here.append([b.actions.tolist() for b in rollout.batches])
        assert type(load_learner(paths[-1])) is cls
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    out = subprocess.run([sys.executable, "-c", _FRESH, *paths], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here


def test_large_state_resume_equals_uninterrupted(tmp_path: Path) -> None:
    cfg = {"meta_batch_size": 3}
    learner = _train(VariBAD("gridnavi", seed=1, config=cfg), 2)
    assert learner.has_large_state and learner.buffer_count == 6
    learner.save(tmp_path / "ckpt")
    learner.save_large_state(tmp_path / "large")
    resumed = VariBAD.load(tmp_path / "ckpt")
    resumed.load_large_state(tmp_path / "large")
    _train(learner, 1)
    _train(resumed, 1)
    mine, theirs = learner._get_tensors(), resumed._get_tensors()
    assert sorted(mine) == sorted(theirs)
    for name, value in mine.items():
        assert th.equal(value, theirs[name]), name
    assert th.equal(learner._buffer["rewards"], resumed._buffer["rewards"])


@pytest.mark.parametrize(
    ("family", "variant"),
    [("point-robot", "hyper-varibad"), ("sparse-point-robot", "rl2"), ("halfcheetah-dir", "varibad"),
     ("halfcheetah-dir", "hyper-rl2"), ("halfcheetah-vel", "hyper-varibad"), ("ant-dir", "varibad")],
)  # fmt: skip
def test_families_run(family: str, variant: str) -> None:
    """Box families: two iterations of two meta-episodes (one for the MuJoCo families beyond Cheetah-Dir)."""
    cls = RL2 if "rl2" in variant else VariBAD
    small = {"meta_batch_size": 2, "policy_hidden": [16], "gru_hidden": 16, "vae_subsample_elbos": 10}
    learner = cls(family, variant=variant, seed=0, config=small)
    iterations = 2 if family in ("point-robot", "sparse-point-robot", "halfcheetah-dir") else 1
    for _ in range(iterations):
        steps, stats = learner._train_iteration()
        assert steps == 2 * 2 * learner.family.horizon or family == "ant-dir"  # Ant may terminate early
        assert all(np.isfinite(v) for v in stats.values()), stats
    result = learner.evaluate(learner.family.test_tasks[:1], 2, seed=0)
    assert result.episode_returns.shape == (1, 2)
    # the action mean is bounded on the point-robot families by default (the reference's point-robot config)
    assert learner.policy.tanh_mean == (family in ("point-robot", "sparse-point-robot"))


@pytest.mark.slow
@pytest.mark.parametrize("family", ["ml1", "ml10"])
def test_metaworld_runs(family: str) -> None:
    pytest.importorskip("metaworld")
    learner = VariBAD(family, seed=0, config={"meta_batch_size": 1, "policy_hidden": [16], "gru_hidden": 16})
    steps, stats = learner._train_iteration()
    assert steps > 0 and all(np.isfinite(v) for v in stats.values())
    assert learner.evaluate(learner.family.test_tasks[:1], 1, seed=0).success_rate is not None


def test_point_robot_vae_defaults_are_the_familys_and_survive_save_load(tmp_path: Path) -> None:
    """The point-robot families train the VAE with their reference config's 3 updates on 25 trajectories; an
    explicit setting wins, other families keep the action kind's values, and a reloaded learner keeps them."""
    small = {"meta_batch_size": 2, "policy_hidden": [16], "gru_hidden": 16}
    point = VariBAD("point-robot", seed=0, config=small)
    assert (point.settings.vae_updates, point.settings.vae_batch_trajectories) == (3, 25)
    assert point.config.vae_updates is None  # the config (and so its hash) is unchanged
    explicit = VariBAD("point-robot", seed=0, config={**small, "vae_updates": 2})
    assert explicit.settings.vae_updates == 2
    cheetah = VariBAD("halfcheetah-dir", seed=0, config=small)
    assert (cheetah.settings.vae_updates, cheetah.settings.vae_batch_trajectories) == (1, 10)
    reloaded = load_learner(point.save(tmp_path / "point"))
    assert isinstance(reloaded, VariBAD)
    assert (reloaded.settings.vae_updates, reloaded.settings.vae_batch_trajectories) == (3, 25)
