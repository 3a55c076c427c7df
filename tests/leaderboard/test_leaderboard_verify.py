"""`hyperbench leaderboard verify`: genuine checkpoints agree with their records on fresh evaluation seeds;
records that claim more than their policies do are reported as discrepancies; results reach the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperbench.cli import main
from hyperbench.leaderboard import Leaderboard, Tolerance, VerifyError, verify_submission
from hyperbench.leaderboard.verify import allowed_difference
from tests.leaderboard.conftest import TinyRun


def test_allowed_difference_rule():
    # the floor: a tenth of the task's reference range when the returns barely vary
    allowed, se = allowed_difference([-100.0, -100.0], [-101.0, -99.0], scale=1000.0, tolerance=Tolerance())
    assert se == pytest.approx(np.sqrt(0.0 / 2 + np.var([-101.0, -99.0], ddof=1) / 2))
    assert allowed == pytest.approx(100.0)
    # one episode: the other sample's spread stands in for the missing one
    _, se_single = allowed_difference([-100.0], [-101.0, -99.0], scale=1000.0, tolerance=Tolerance())
    assert se_single == pytest.approx(np.sqrt(2.0 / 1 + 2.0 / 2))
    # noisy returns: z standard errors of the difference of the two means
    a, b = [0.0, 400.0, 800.0], [100.0, 500.0]
    allowed, se = allowed_difference(a, b, scale=100.0, tolerance=Tolerance(normalised=0.1, z=4.0))
    assert se == pytest.approx(np.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 2))
    assert allowed == pytest.approx(4 * se)


def test_genuine_checkpoints_are_verified(capsys, tiny_run: TinyRun, board_copy: Path):
    args = ["--leaderboard", str(board_copy), "--suites", str(tiny_run.suites)]
    assert main(["leaderboard", "verify", tiny_run.submission_id, "--sample", "2", "--seed", "3", *args]) == 0
    out = capsys.readouterr().out
    assert f"{tiny_run.submission_id}: verified (2 of 4 checkpoints, verification seed 3" in out
    record = board_copy / "verifications" / "lb-tiny" / f"{tiny_run.submission_id}.json"
    attempt = json.loads(record.read_text())["attempts"][-1]
    assert attempt["status"] == "verified" and attempt["sample"] == 2 and attempt["seed"] == 3
    for check in attempt["checks"]:
        seed = int(check["run"].rsplit("-", 1)[1])
        assert check["eval_seed"] != seed and check["reevaluated"]["n"] == 2  # fresh seeds, the suite's protocol
        assert abs(check["difference"]) <= check["allowed"]
    # the page shows the status after the next build
    assert main(["leaderboard", "build", *args, "--reps", "20", "--no-plots"]) == 0
    html = (board_copy / "index.html").read_text()
    assert "✓ verified (2/2)" in html and "verification seed 3" in html


def test_full_policy_checkpoints_are_verified(capsys, tiny_run: TinyRun, runs_copy: Path, tmp_path: Path):
    """`--checkpoints full` keeps the whole saved policy (critics and targets too); it loads into the whole policy."""
    board = tmp_path / "leaderboard"
    args = ["--leaderboard", str(board), "--suites", str(tiny_run.suites)]
    assert main(["submit", str(runs_copy), "--name", "Ada", "--id", "full", "--checkpoints", "full", *args]) == 0
    folder = board / "submissions" / "lb-tiny" / "full" / "sac-mlp" / "Pendulum-v1" / "seed-1"
    assert sorted(p.name for p in folder.iterdir()) == ["policy.safetensors", "spec.json"]
    assert main(["leaderboard", "verify", "full", "--sample", "1", "--seed", "1", *args]) == 0
    assert "full: verified (1 of 4 checkpoints" in capsys.readouterr().out


def _inflate_records(runs: Path, claim: float) -> None:
    """Make every record claim a final return of ``claim`` (kept internally consistent, so validation passes)."""
    from hyperbench.bench.record import iter_record_paths

    for path in iter_record_paths(runs):
        rec: dict[str, Any] = json.loads(path.read_text())
        n = len(rec["final"]["returns"])
        rec["final"].update(returns=[claim] * n, return_mean=claim, return_std=0.0)
        episodes = rec["final"].get("episodes")
        if episodes is not None:  # the per-episode matrix must tell the same story
            episodes["returns"] = [[claim] * len(row) for row in episodes["returns"]]
        rec["curve"]["return_mean"][-1] = claim
        path.write_text(json.dumps(rec))


def test_records_claiming_more_than_their_policies_are_caught(capsys, tiny_run: TinyRun, runs_copy: Path, tmp_path: Path):
    _inflate_records(runs_copy, claim=-150.0)  # near Pendulum's reference return; the toy policies are far from it
    board = tmp_path / "leaderboard"
    args = ["--leaderboard", str(board), "--suites", str(tiny_run.suites)]
    assert main(["submit", str(runs_copy), "--name", "Mallory", "--id", "too-good", *args]) == 0  # self-consistent
    assert main(["leaderboard", "verify", "too-good", "--sample", "4", "--seed", "0", *args]) == 1
    out = capsys.readouterr().out
    assert "too-good: discrepancy (4 of 4 checkpoints" in out and "DISCREPANCY" in out
    attempt = json.loads((board / "verifications" / "lb-tiny" / "too-good.json").read_text())["attempts"][-1]
    assert attempt["status"] == "discrepancy"
    assert sum(not c["agree"] for c in attempt["checks"]) >= 3
    assert main(["leaderboard", "build", *args, "--reps", "20", "--no-plots"]) == 0
    assert "✗ discrepancy" in (board / "README.md").read_text()


def test_unverifiable_and_unknown(tiny_run: TinyRun, runs_copy: Path, tmp_path: Path, capsys):
    board = Leaderboard(tmp_path / "leaderboard", suites=[tiny_run.suites])
    args = ["--leaderboard", str(board.root), "--suites", str(tiny_run.suites)]
    assert main(["submit", str(runs_copy), "--name", "Nobody", "--id", "no-ckpt", "--checkpoints", "none", *args]) == 0
    with pytest.raises(VerifyError, match="carries no checkpoints"):
        verify_submission(board, "no-ckpt", sample=1, seed=0)
    capsys.readouterr()
    assert main(["leaderboard", "verify", "no-ckpt-x", *args]) == 2
    assert "did you mean 'no-ckpt'?" in capsys.readouterr().err


META_SUITE = """\
name: lb-meta
version: 1
baseline: maml
seeds: 1
budget: 1600
eval: {frequency: 600, episodes: 2, max_tasks: 3}
config: {meta_batch_size: 2, episodes_per_task: 5, hidden: [16, 16]}
methods: [maml, hyper-maml]
tasks: [point-robot]
"""


def test_meta_learner_checkpoints_are_verified(tmp_path: Path, capsys):
    """Meta learners submit their own safetensors checkpoint (learner.safetensors) and are re-evaluated through
    their adaptation protocol. Their 400-step iterations put the evaluations at 800 and 1200 for the protocol's
    600 and 1200: the submission is accepted."""
    from hyperbench.bench.executors import run_suite
    from hyperbench.bench.runner import RunOptions
    from hyperbench.bench.suite import load_suite

    suites, runs = tmp_path / "suites", tmp_path / "runs"
    suites.mkdir()
    (suites / "lb-meta.yaml").write_text(META_SUITE)
    options = RunOptions(save_policy=True)
    assert run_suite(load_suite(suites / "lb-meta.yaml"), runs, workers=0, options=options, progress=False).complete
    args = ["--leaderboard", str(tmp_path / "leaderboard"), "--suites", str(suites)]
    from hyperbench.bench.record import load_records

    assert {r.curve.steps for r in load_records(runs)} == {(800, 1200, 1600)}
    assert main(["submit", str(runs), "--name", "Meta", "--id", "meta", *args]) == 0
    ckpt = tmp_path / "leaderboard" / "submissions" / "lb-meta" / "meta" / "hyper-maml" / "point-robot" / "seed-0"
    assert sorted(p.name for p in ckpt.iterdir()) == ["learner.safetensors", "spec.json"]
    assert main(["leaderboard", "verify", "meta", "--sample", "2", "--seed", "1", *args]) == 0
    assert "meta: verified (2 of 2 checkpoints" in capsys.readouterr().out


def test_headline_samples_must_come_from_the_episode_matrix():
    import numpy as np

    from hyperbench.leaderboard.validate import _check_episodes

    episodes = {
        "returns": [[-9.0, -4.0, -5.0], [-8.0, -3.0, -4.0]],
        "phases": ["pre-adaptation", "post-adaptation", "post-adaptation"],
        "headline": {"phases": ["post-adaptation"], "per": "episode", "description": ""},
    }
    problems: list[str] = []
    _check_episodes("record r", episodes, np.array([-4.0, -5.0, -3.0, -4.0]), problems)
    assert problems == []
    # headline samples that are not those of its matrix are caught
    _check_episodes("record r", episodes, np.array([-4.0, -5.0, -3.0, -3.0]), problems)
    assert len(problems) == 1 and "not the headline" in problems[0]
