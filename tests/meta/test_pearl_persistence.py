"""PEARL checkpoints: identical actions in a fresh process, training continues exactly, buffers are large state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch as th

from hyperbench.envs import TaskFamily
from hyperbench.meta import PEARL, CheckpointError, load_learner

from .test_pearl_parts import SMALL

OBS = [[0.0, 0.0], [0.3, -0.2], [-0.5, 0.9]]

# Runs in a fresh interpreter: loads each checkpoint and prints its actions as JSON.
_CHILD = """
import json, sys
import numpy as np
from hyperbench.meta import load_learner
out = {}
for path in sys.argv[1:]:
    learner = load_learner(path)
    obs = np.array(OBS_LITERAL, dtype=np.float32)
    prior, _ = learner.predict(obs, deterministic=True)
    post, _ = learner.predict(obs, learner.adapt(learner.family.test_tasks[0], seed=5), deterministic=True)
    out[path] = {"prior": prior.tolist(), "posterior": post.tolist(), "steps": learner.num_timesteps}
print(json.dumps(out))
""".replace("OBS_LITERAL", repr(OBS))


def _actions(learner: PEARL) -> dict[str, object]:
    obs = np.array(OBS, dtype=np.float32)
    prior, _ = learner.predict(obs, deterministic=True)
    post, _ = learner.predict(obs, learner.adapt(learner.family.test_tasks[0], seed=5), deterministic=True)
    return {"prior": prior.tolist(), "posterior": post.tolist(), "steps": learner.num_timesteps}


def test_round_trip_in_a_fresh_process_gives_identical_actions(point_family: TaskFamily, tmp_path: Path) -> None:
    paths, expected = [], {}
    for variant in ("pearl", "hyper-pearl"):
        learner = PEARL(point_family, variant=variant, config=SMALL, seed=1)
        learner.learn(1)
        path = str(learner.save(tmp_path / variant))
        paths.append(path)
        expected[path] = _actions(learner)
        assert expected[path]["prior"] != expected[path]["posterior"]  # the posterior changes the actions
    child = subprocess.run([sys.executable, "-c", _CHILD, *paths], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    got = json.loads(child.stdout.strip().splitlines()[-1])
    for path in paths:
        assert got[path] == expected[path], path


@pytest.mark.parametrize("variant", ["pearl", "hyper-pearl"])
def test_resumed_training_equals_uninterrupted(point_family: TaskFamily, tmp_path: Path, variant: str) -> None:
    """Weights, optimiser moments, random streams and both buffers are restored: the next iteration is identical."""
    learner = PEARL(point_family, variant=variant, config=SMALL, seed=3)
    learner.learn(1)
    learner.save(tmp_path / "w")
    learner.save_large_state(tmp_path / "large")
    restored = load_learner(tmp_path / "w.safetensors")
    assert isinstance(restored, PEARL) and restored.replay_buffer.sizes.sum() == 0  # the weights file has no buffer
    restored.load_large_state(tmp_path / "large.safetensors")
    for a, b in zip(restored._get_large_state().values(), learner._get_large_state().values()):
        assert th.equal(a, b)
    assert int(restored.replay_buffer.sizes.sum()) > 0
    assert restored.qf_optimizer.state_dict()["state"], "optimiser moments restored"
    learner.learn(1, reset_num_timesteps=False)
    restored.learn(1, reset_num_timesteps=False)
    ours, theirs = learner._get_tensors(), restored._get_tensors()
    assert sorted(ours) == sorted(theirs)
    for name, value in ours.items():
        assert th.equal(value, theirs[name]), name
    for a, b in zip(restored._get_large_state().values(), learner._get_large_state().values()):
        assert th.equal(a, b)


def test_large_state_of_another_step_is_refused(point_family: TaskFamily, tmp_path: Path) -> None:
    learner = PEARL(point_family, config=SMALL, seed=0)
    learner.learn(1)
    learner.save_large_state(tmp_path / "large")
    learner.learn(1, reset_num_timesteps=False)
    with pytest.raises(CheckpointError, match="not of one checkpoint"):
        learner.load_large_state(tmp_path / "large.safetensors")
