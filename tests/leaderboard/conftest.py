"""Fixtures for tests/leaderboard: one small real run of two SB3 methods, its report, a board holding it.

The run (``td3-mlp`` and ``sac-mlp`` on Pendulum-v1, 2 seeds, 300 steps, policies saved as safetensors) is
made once per session; tests that change it work on copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hyperbench.cli import main

#: Bootstrap replications of the tests' reports and boards (the same for both, so their numbers match).
REPS = 200

SUITE_YAML = """\
name: lb-tiny
version: 1
description: Two SB3 methods on Pendulum at a toy budget (leaderboard tests).
baseline: td3-mlp
seeds: 2
budget: 300
eval:
  frequency: 150
  episodes: 2
config:
  learning_starts: 100
  batch_size: 32
  buffer_size: 1000
  net_arch: [32, 32]
methods:
  - td3-mlp
  - sac-mlp
tasks:
  - Pendulum-v1
"""


@dataclass(frozen=True)
class TinyRun:
    """The session's real run and what was derived from it."""

    suites: Path
    """directory holding lb-tiny.yaml (the board's current suite)"""
    runs: Path
    """runs directory of `hyperbench run`"""
    report: dict[str, Any]
    """scores.json of `hyperbench report RUNS --reps REPS`"""
    report_md: str
    """report.md of the same command"""
    board: Path
    """a leaderboard holding the accepted submission of the run, built with REPS"""
    submission_id: str


def tree_digest(root: Path) -> str:
    """SHA-256 over every path and file content below ``root`` (directories included)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        h.update(f"D {os.path.relpath(dirpath, root)}\n".encode())
        for name in sorted(filenames):
            path = Path(dirpath) / name
            h.update(f"F {path.relative_to(root)}\n".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    import torch

    from hyperbench.bench.executors import run_suite
    from hyperbench.bench.runner import RunOptions
    from hyperbench.bench.suite import load_suite

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("lb")
    suites = base / "suites"
    suites.mkdir()
    (suites / "lb-tiny.yaml").write_text(SUITE_YAML, encoding="utf-8")
    runs = base / "runs"
    result = run_suite(
        load_suite(suites / "lb-tiny.yaml"), runs, workers=0, options=RunOptions(save_policy=True), progress=False
    )
    assert result.complete and not result.failed, result
    assert main(["report", str(runs), "--reps", str(REPS), "--out", str(base / "report")]) == 0
    report = json.loads((base / "report" / "scores.json").read_text())
    board = base / "board"
    assert main(["submit", str(runs), "--name", "Ada Lovelace", "--leaderboard", str(board), "--suites", str(suites)]) == 0
    assert main(["leaderboard", "build", "--leaderboard", str(board), "--suites", str(suites), "--reps", str(REPS)]) == 0
    (path,) = (board / "submissions" / "lb-tiny").glob("*.json")
    return TinyRun(
        suites=suites,
        runs=runs,
        report=report,
        report_md=(base / "report" / "report.md").read_text(),
        board=board,
        submission_id=path.stem,
    )


@pytest.fixture
def runs_copy(tiny_run: TinyRun, tmp_path: Path) -> Path:
    """A copy of the real runs directory that a test may damage."""
    dest = tmp_path / "runs"
    shutil.copytree(tiny_run.runs, dest, ignore=shutil.ignore_patterns(".locks", ".runner.lock", "logs"))
    return dest


@pytest.fixture
def board_copy(tiny_run: TinyRun, tmp_path: Path) -> Path:
    """A copy of the session's board (one accepted submission, pages built)."""
    dest = tmp_path / "leaderboard"
    shutil.copytree(tiny_run.board, dest)
    return dest


@pytest.fixture
def edit_record() -> Callable[..., None]:
    """Rewrite a record file of a runs directory through a function of its JSON."""

    def edit(runs: Path, method: str, seed: int, change: Callable[[dict[str, Any]], None], task: str = "Pendulum-v1") -> None:
        from hyperbench.bench.record import record_path

        path = record_path(runs, method, task, seed)
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data, indent=1, allow_nan=True))

    return edit
