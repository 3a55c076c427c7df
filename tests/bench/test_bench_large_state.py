"""A meta learner's large state (its replay buffer) survives a SIGKILL: the resumed run equals an uninterrupted one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch as th

from hyperbench.bench.runner import checkpoint_dir, run_one
from hyperbench.meta import load_learner

_SUITE = {
    "methods": [{"name": "hb-buffer-meta", "config": {"capacity": 64}}],
    "baseline": "hb-buffer-meta",
    "tasks": [{"name": "point-robot", "env_kwargs": {"n_train": 6, "n_test": 2}}],
    "budget": 400,
    "eval": {"frequency": 120, "episodes": 2, "max_tasks": 2},
}

_KILL_AFTER_FIRST_CHECKPOINT = """
import os, signal, sys
sys.path.insert(0, {here!r})
import hb_bench_plugin  # noqa: F401
from hb_bench_helpers import tiny_suite_dict
from hyperbench.bench.runner import RunOptions, run_one
from hyperbench.bench.suite import parse_suite

suite = parse_suite(tiny_suite_dict(**{suite!r}), source="<test>")
spec = suite.grid()[0]
run_one(spec, {runs!r}, RunOptions(keep_checkpoints=True),
        _after_checkpoint=lambda step: os.kill(os.getpid(), signal.SIGKILL))
"""


def _spec(tiny_suite):
    return tiny_suite(**_SUITE).grid()[0]


def test_buffer_is_checkpointed_apart_from_the_weights(tmp_path: Path, tiny_suite) -> None:
    spec = _spec(tiny_suite)
    here = str(Path(__file__).resolve().parent)
    code = _KILL_AFTER_FIRST_CHECKPOINT.format(here=here, suite=_SUITE, runs=str(tmp_path / "killed"))
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert proc.returncode == -9  # SIGKILLed by its own hook, right after the first checkpoint was published
    ckpt = sorted(checkpoint_dir(tmp_path / "killed", spec).glob("step-*"))
    assert len(ckpt) == 1 and (ckpt[0] / "large_state.safetensors").is_file()
    learner = load_learner(ckpt[0] / "learner.safetensors")
    assert learner.size == 0  # the weights file does not carry the buffer ...
    learner.load_large_state(ckpt[0] / "large_state.safetensors")
    assert learner.size == 64 and th.count_nonzero(learner.buffer[:, 2]) > 0  # ... the large-state file does

    shutil.copytree(tmp_path / "killed", tmp_path / "no-buffer")
    resumed = run_one(spec, tmp_path / "killed")
    straight = run_one(spec, tmp_path / "straight")
    assert resumed.ok and straight.ok and resumed.timing.resumed_from == (120,)
    assert resumed.curve.return_mean == straight.curve.return_mean
    assert resumed.final is not None and straight.final is not None
    assert resumed.final.returns == straight.final.returns

    # a checkpoint that lost its buffer file is refused, not resumed with an empty buffer
    for path in checkpoint_dir(tmp_path / "no-buffer", spec).glob("step-*/large_state.safetensors"):
        path.unlink()
    failed = run_one(spec, tmp_path / "no-buffer")
    assert not failed.ok and failed.failure is not None and "large state" in failed.failure.reason
