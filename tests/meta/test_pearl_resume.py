"""A PEARL suite run killed with SIGKILL resumes with its replay buffers and ends as an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hyperbench.bench.runner import checkpoint_dir, run_one
from hyperbench.bench.suite import parse_suite
from hyperbench.meta import PEARL, load_learner

from .test_pearl_parts import SMALL

_SUITE = {
    "name": "pearl-resume",
    "version": 1,
    "baseline": "pearl",
    "seeds": 1,
    "methods": [{"name": "pearl", "config": {**SMALL, "hidden": [16, 16], "encoder_hidden": [16], "hyper_primary": "lite",
                                             "hyper_dynamic": [16]}}],
    "tasks": [{"name": "point-robot", "env_kwargs": {"n_train": 6, "n_test": 2}}],
    "budget": 600,
    "eval": {"frequency": 200, "episodes": 1, "max_tasks": 2},
}  # fmt: skip

_KILL_AFTER_FIRST_CHECKPOINT = """
import os, signal
from hyperbench.bench.runner import RunOptions, run_one
from hyperbench.bench.suite import parse_suite

spec = parse_suite({suite!r}, source="<test>").grid()[0]
run_one(spec, {runs!r}, RunOptions(keep_checkpoints=True), _after_checkpoint=lambda step: os.kill(os.getpid(), signal.SIGKILL))
"""


def test_sigkill_resume_keeps_the_buffers(tmp_path: Path) -> None:
    spec = parse_suite(_SUITE, source="<test>").grid()[0]
    code = _KILL_AFTER_FIRST_CHECKPOINT.format(suite=_SUITE, runs=str(tmp_path / "killed"))
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == -9  # killed by its own hook right after the first checkpoint was published
    ckpt = sorted(checkpoint_dir(tmp_path / "killed", spec).glob("step-*"))
    assert len(ckpt) == 1 and (ckpt[0] / "large_state.safetensors").is_file()
    learner = load_learner(ckpt[0] / "learner.safetensors")
    assert isinstance(learner, PEARL) and int(learner.replay_buffer.sizes.sum()) == 0  # not in the weights file
    learner.load_large_state(ckpt[0] / "large_state.safetensors")
    assert bool((learner.replay_buffer.sizes > 0).all()) and int(learner.encoder_buffer.sizes.sum()) > 0

    resumed = run_one(spec, tmp_path / "killed")
    straight = run_one(spec, tmp_path / "straight")
    assert resumed.ok and straight.ok and resumed.timing.resumed_from
    assert resumed.curve.return_mean == straight.curve.return_mean


def test_an_iteration_beyond_the_budget_gives_one_final_evaluation(tmp_path: Path) -> None:
    """PEARL's first iteration (initial collection of every training task) overshoots a small budget and every
    evaluation point at once: the run ends with one evaluation at the step it reached, not two at one step."""
    suite = {**_SUITE, "budget": 100, "eval": {"frequency": 50, "episodes": 1, "max_tasks": 2}}
    result = run_one(parse_suite(suite, source="<test>").grid()[0], tmp_path)
    assert result.ok, result
    assert len(result.curve.steps) == 1 and result.curve.steps[0] > 100
