"""A VariBAD suite run killed with SIGKILL resumes with its VAE buffer and ends as an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyperbench.bench.runner import checkpoint_dir, run_one
from hyperbench.bench.suite import parse_suite
from hyperbench.meta import VariBAD, load_learner

_SUITE = {
    "name": "varibad-resume",
    "version": 1,
    "baseline": "hyper-varibad",
    "seeds": 1,
    "methods": [{"name": "hyper-varibad", "config": {"meta_batch_size": 2, "init": "weight-hyperinit"}}],
    "tasks": [{"name": "gridnavi"}],
    "budget": 480,
    "eval": {"frequency": 240, "episodes": 2, "max_tasks": 2},
}

_KILL_AFTER_FIRST_CHECKPOINT = """
import os, signal
from hyperbench.bench.runner import RunOptions, run_one
from hyperbench.bench.suite import parse_suite

spec = parse_suite({suite!r}, source="<test>").grid()[0]
run_one(spec, {runs!r}, RunOptions(keep_checkpoints=True), _after_checkpoint=lambda step: os.kill(os.getpid(), signal.SIGKILL))
"""


@pytest.mark.slow
def test_sigkill_resume_keeps_the_vae_buffer(tmp_path: Path) -> None:
    spec = parse_suite(_SUITE, source="<test>").grid()[0]
    code = _KILL_AFTER_FIRST_CHECKPOINT.format(suite=_SUITE, runs=str(tmp_path / "killed"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.run([sys.executable, "-c", code], env=env, timeout=300)
    assert proc.returncode == -9  # killed by its own hook right after the first checkpoint was published
    ckpt = sorted(checkpoint_dir(tmp_path / "killed", spec).glob("step-*"))
    assert len(ckpt) == 1 and (ckpt[0] / "large_state.safetensors").is_file()
    learner = load_learner(ckpt[0] / "learner.safetensors")
    assert isinstance(learner, VariBAD) and learner.buffer_count == 0  # not in the weights file
    learner.load_large_state(ckpt[0] / "large_state.safetensors")
    assert learner.buffer_count == 4  # two iterations of two meta-episodes

    resumed = run_one(spec, tmp_path / "killed")
    straight = run_one(spec, tmp_path / "straight")
    assert resumed.ok and straight.ok and resumed.timing.resumed_from
    assert resumed.curve.return_mean == straight.curve.return_mean
