"""save/load: one safetensors file, identical actions in a fresh process, clear errors for anything else."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch as th
from safetensors.torch import save_file

from hyperbench.envs import TaskFamily
from hyperbench.meta import MAML, CheckpointError, load_learner, read_checkpoint

from .conftest import TINY

_SMALL = {**TINY, "meta_batch_size": 3, "episodes_per_task": 3, "hidden": (16, 16), "hyper_primary": (8,)}
OBS = [[0.0, 0.0], [0.3, -0.2], [-0.5, 0.9]]

# Runs in a fresh interpreter: loads each checkpoint and prints its actions as JSON.
_CHILD = """
import json, sys
import numpy as np, torch as th
from hyperbench.meta import load_learner
out = {}
for path in sys.argv[1:]:
    learner = load_learner(path)
    task = learner.family.test_tasks[0]
    obs = np.array(OBS_LITERAL, dtype=np.float32)
    det, _ = learner.predict(obs, learner.initial_state(task), deterministic=True)
    adapted, _ = learner.predict(obs, learner.adapt(task, seed=5), deterministic=True)
    th.manual_seed(123)
    stoch, _ = learner.predict(obs, learner.initial_state(task))
    out[path] = {"det": det.tolist(), "adapted": adapted.tolist(), "stoch": stoch.tolist(),
                 "steps": learner.num_timesteps, "variant": learner.variant}
print(json.dumps(out))
""".replace("OBS_LITERAL", repr(OBS))


def _actions(learner: MAML) -> dict[str, object]:
    task = learner.family.test_tasks[0]
    obs = np.array(OBS, dtype=np.float32)
    det, _ = learner.predict(obs, learner.initial_state(task), deterministic=True)
    adapted, _ = learner.predict(obs, learner.adapt(task, seed=5), deterministic=True)
    th.manual_seed(123)
    stoch, _ = learner.predict(obs, learner.initial_state(task))
    return {"det": det.tolist(), "adapted": adapted.tolist(), "stoch": stoch.tolist()}


def test_round_trip_in_a_fresh_process_gives_identical_actions(point_family: TaskFamily, tmp_path: Path) -> None:
    paths, expected = [], {}
    for variant in ("maml", "context-maml", "hyper-maml"):
        learner = MAML(point_family, variant=variant, config=_SMALL, seed=1)
        learner.learn(total_timesteps=1)  # one meta-iteration, so the weights are not the initial ones
        path = learner.save(tmp_path / variant)
        assert path.suffix == ".safetensors"
        paths.append(str(path))
        expected[str(path)] = {**_actions(learner), "steps": learner.num_timesteps, "variant": variant}
    child = subprocess.run([sys.executable, "-c", _CHILD, *paths], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    got = json.loads(child.stdout.strip().splitlines()[-1])
    for path in paths:
        # exact equality: same weights, same arithmetic, the family rebuilt from the checkpoint's description
        assert got[path] == expected[path], path


def test_load_restores_counters_streams_and_config(point_family: TaskFamily, tmp_path: Path) -> None:
    learner = MAML(point_family, variant="hyper-maml", config={**_SMALL, "hyper_init": "hfi", "max_kl": 0.02}, seed=4)
    learner.learn(total_timesteps=1)
    path = learner.save(tmp_path / "ckpt.safetensors")
    loaded = MAML.load(path, family=point_family)
    assert loaded.config == learner.config and loaded.seed == 4
    assert (loaded.num_timesteps, loaded.n_iterations) == (learner.num_timesteps, learner.n_iterations)
    for (name, a), b in zip(learner.policy.state_dict().items(), loaded.policy.state_dict().values()):
        assert th.equal(a, b), name
    # resuming continues the very same random streams: the next meta-batch is identical
    np.testing.assert_array_equal(learner.collect_meta_batch().post.actions, loaded.collect_meta_batch().post.actions)
    assert isinstance(load_learner(str(path)[: -len(".safetensors")]), MAML)  # suffix optional, like SB3's .zip


def _saved(point_family: TaskFamily, tmp_path: Path) -> Path:
    return MAML(point_family, variant="maml", config=_SMALL, seed=0).save(tmp_path / "good.safetensors")


def test_corrupted_tensor_bytes_are_detected(point_family: TaskFamily, tmp_path: Path) -> None:
    path = _saved(point_family, tmp_path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # inside the tensor data: still a well-formed safetensors file
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted or was edited: its tensor data or header"):
        MAML.load(path)


def test_every_one_byte_edit_of_the_header_is_refused(point_family: TaskFamily, tmp_path: Path) -> None:
    """The SHA-256 covers the header: an edited config or counter (e.g. ``cg_iters`` 10 → 60) never loads."""
    import struct

    path = _saved(point_family, tmp_path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8 : 8 + n]
    start = header.index(b'"__metadata__"')
    loaded_changed = []
    edits = 0
    for i in range(start, len(header)):
        if not header[i : i + 1].isdigit():  # digits: numbers in config/state/family that still parse as JSON
            continue
        for repl in {b"6", b"1"} - {header[i : i + 1]}:
            edits += 1
            edited = tmp_path / "edited.safetensors"
            edited.write_bytes(data[:8] + header[:i] + repl + header[i + 1 :] + data[8 + n :])
            try:
                MAML.load(edited)
            except CheckpointError:
                continue
            loaded_changed.append(i)
    assert edits > 50 and loaded_changed == []


def test_version_1_checkpoints_still_load(point_family: TaskFamily, tmp_path: Path) -> None:
    """Checkpoints written before the header was hashed (the board's mini-maml entry) still load."""
    from safetensors import safe_open

    from hyperbench.digest import state_digest

    path = _saved(point_family, tmp_path)
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    meta.update(format_version="1", sha256=state_digest(tensors))
    old = tmp_path / "v1.safetensors"
    save_file(tensors, str(old), metadata=meta)
    assert MAML.load(old).num_timesteps == MAML.load(path).num_timesteps


@pytest.mark.parametrize("damage", ["truncate", "header", "garbage", "empty"])
def test_damaged_files_are_rejected(point_family: TaskFamily, tmp_path: Path, damage: str) -> None:
    path = _saved(point_family, tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "header":
        path.write_bytes(data[:8] + b"{not json" + data[17:])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is not a hyperbench meta-learner checkpoint"):
        MAML.load(path)


def test_foreign_files_are_rejected(tmp_path: Path) -> None:
    # a pickle written by torch.save: never unpickled
    pickled = tmp_path / "weights.pt"
    th.save({"w": th.zeros(2)}, pickled)
    with pytest.raises(CheckpointError, match="not a hyperbench meta-learner checkpoint"):
        load_learner(pickled)
    # an SB3-style zip archive
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data", "{}")
    with pytest.raises(CheckpointError, match="not a hyperbench meta-learner checkpoint"):
        MAML.load(archive)
    # a valid safetensors file from somewhere else
    other = tmp_path / "other.safetensors"
    save_file({"w": th.zeros(2)}, str(other), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="safetensors file but not a hyperbench"):
        read_checkpoint(other)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        MAML.load(tmp_path / "missing.safetensors")


def test_checkpoint_of_unknown_class_or_wrong_family(point_family: TaskFamily, tmp_path: Path) -> None:
    from safetensors import safe_open

    path = _saved(point_family, tmp_path)
    with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    from hyperbench.digest import state_digest

    renamed = {**meta, "class": "MAMl"}
    renamed["sha256"] = state_digest(tensors, renamed)  # a consistent file of a class that does not exist
    save_file(tensors, str(tmp_path / "renamed.safetensors"), metadata=renamed)
    with pytest.raises(CheckpointError, match=r"unknown learner class 'MAMl'.*Did you mean 'MAML'"):
        load_learner(tmp_path / "renamed.safetensors")
    from hyperbench.envs import make_family

    with pytest.raises(CheckpointError, match="saved for family 'point-robot'"):
        MAML.load(path, family=make_family("sparse-point-robot"))
