"""`hyperbench submit`: a valid submission is written completely and atomically; every bad one is refused
with a clear reason and leaves the leaderboard byte-for-byte unchanged."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from hyperbench.bench.record import record_path
from hyperbench.cli import main
from hyperbench.leaderboard.safety import check_safetensors, sha256_bytes
from tests.leaderboard.conftest import TinyRun, tree_digest


def _submit(source: Path, board: Path, suites: Path, *extra: str, name: str | None = "Grace Hopper") -> int:
    argv = ["submit", str(source), "--leaderboard", str(board), "--suites", str(suites), *extra]
    if name is not None:
        argv += ["--name", name]
    return main(argv)


def assert_rejected(
    capsys: pytest.CaptureFixture[str], board: Path, suites: Path, source: Path, *fragments: str, extra=()
) -> str:
    """Submit, expect exit code 2, every fragment in the message, and an unchanged board."""
    before = tree_digest(board)
    capsys.readouterr()
    assert _submit(source, board, suites, *extra) == 2
    err = capsys.readouterr().err
    assert "rejected" in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    assert tree_digest(board) == before, "a rejected submission changed the leaderboard"
    return err


def _scratch_submission(tiny_run: TinyRun, runs: Path, tmp_path: Path, *extra: str) -> Path:
    """Accept ``runs`` into a scratch board and return its JSON (a submission file packed elsewhere)."""
    scratch = tmp_path / "scratch"
    assert _submit(runs, scratch, tiny_run.suites, *extra) == 0
    (path,) = (scratch / "submissions" / "lb-tiny").glob("*.json")
    return path


def test_valid_submission_is_complete(tiny_run: TinyRun):
    board = tiny_run.board
    path = board / "submissions" / "lb-tiny" / f"{tiny_run.submission_id}.json"
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1 and doc["kind"] == "hyperbench.Submission"
    assert doc["submitter"] == "Ada Lovelace" and doc["id"].startswith(doc["date"][:10].replace("-", ""))
    assert doc["suite"]["file"] == (tiny_run.suites / "lb-tiny.yaml").read_text()
    assert doc["suite"]["version"] == 1 and len(doc["suite"]["hash"]) == 16
    assert sorted((r["method"], r["seed"]) for r in doc["records"]) == [
        ("sac-mlp", 0),
        ("sac-mlp", 1),
        ("td3-mlp", 0),
        ("td3-mlp", 1),
    ]
    prov = doc["provenance"]
    assert prov["hyperbench"] and prov["packages"]["torch"] and prov["hardware"][0]["runs"] == 4
    assert prov["compute"]["runs"] == 4 and prov["compute"]["cpu_h"] > 0
    # (other work may commit to this checkout while the runs execute: several revisions are possible)
    assert sum(g["runs"] for g in prov["git"]) == 4 and all("commit" in g and "dirty" in g for g in prov["git"])
    # the summary the submitter claims is what `hyperbench report` computes
    iqm = tiny_run.report["methods"]["sac-mlp"]["aggregates"]["iqm"]["point"]
    assert doc["summary"]["methods"]["sac-mlp"]["iqm"] == pytest.approx(iqm, rel=1e-12)
    # checkpoints: the actor's safetensors weights (cut out of the saved policy: exactly `policy.actor`'s
    # tensors) + the JSON run spec, next to the submission; no temporary files left
    assert len(doc["checkpoints"]) == 4
    ckpt = board / "submissions" / "lb-tiny" / doc["id"]
    for entry in doc["checkpoints"]:
        run = f"{entry['method']}/Pendulum-v1/seed-{entry['seed']}"
        folder = ckpt / run
        assert sorted(p.name for p in folder.iterdir()) == ["actor.safetensors", "spec.json"]
        actor = (folder / "actor.safetensors").read_bytes()
        assert check_safetensors(actor) is None
        assert entry["files"]["actor.safetensors"] == {"sha256": sha256_bytes(actor), "bytes": len(actor)}
        full = safetensors.torch.load_file(tiny_run.runs / "policies" / run / "policy.safetensors")
        cut = safetensors.torch.load(actor)
        assert set(cut) == {k.removeprefix("actor.") for k in full if k.startswith("actor.")}
        assert all(torch.equal(v, full[f"actor.{k}"]) for k, v in cut.items())
        assert len(actor) < len((tiny_run.runs / "policies" / run / "policy.safetensors").read_bytes()) / 2
        assert json.loads((folder / "spec.json").read_text())["config"]["net_arch"] == [32, 32]
    assert not [p for p in board.rglob(".tmp-*")]


def test_truncated_record(capsys, tiny_run, runs_copy, board_copy):
    path = record_path(runs_copy, "td3-mlp", "Pendulum-v1", 1)
    path.write_bytes(path.read_bytes()[:300])
    assert_rejected(capsys, board_copy, tiny_run.suites, runs_copy, "seed-1.json: truncated or not valid JSON")


def test_truncated_submission_file(capsys, tiny_run, runs_copy, board_copy, tmp_path):
    path = _scratch_submission(tiny_run, runs_copy, tmp_path, "--id", "other-copy")
    path.write_bytes(path.read_bytes()[:-200])
    assert_rejected(capsys, board_copy, tiny_run.suites, path, "not valid JSON (the file ends early: truncated?)")


def test_tampered_summary_number(capsys, tiny_run, runs_copy, board_copy, tmp_path):
    path = _scratch_submission(tiny_run, runs_copy, tmp_path, "--id", "boasting")
    doc = json.loads(path.read_text())
    true_iqm = doc["summary"]["methods"]["sac-mlp"]["iqm"]
    doc["summary"]["methods"]["sac-mlp"]["iqm"] = true_iqm + 0.3
    path.write_text(json.dumps(doc))
    err = assert_rejected(capsys, board_copy, tiny_run.suites, path, "tampered number: summary.methods.sac-mlp.iqm: claims")
    assert repr(true_iqm) in err  # the message gives the recomputed value


def test_tampered_record_number(capsys, tiny_run, runs_copy, board_copy, edit_record):
    def inflate(rec: dict[str, Any]) -> None:
        rec["final"]["return_mean"] += 500.0

    edit_record(runs_copy, "sac-mlp", 0, inflate)
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "record sac-mlp/Pendulum-v1/seed-0: final return_mean",
        "is not the mean of its episode returns",
        "is not the last point of its learning curve",
    )


def test_nan(capsys, tiny_run, runs_copy, board_copy, edit_record):
    def poison(rec: dict[str, Any]) -> None:
        rec["final"]["returns"][1] = float("nan")
        rec["curve"]["return_std"][0] = float("inf")

    edit_record(runs_copy, "td3-mlp", 0, poison)
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "non-finite numbers (2;",
        "record td3-mlp/Pendulum-v1/seed-0: final.returns[1] = nan",
        "record td3-mlp/Pendulum-v1/seed-0: curve.return_std[0] = inf",
    )


def test_missing_seed(capsys, tiny_run, runs_copy, board_copy):
    record_path(runs_copy, "sac-mlp", "Pendulum-v1", 1).unlink()
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "incomplete grid: 1 of 4 runs have no record: sac-mlp/Pendulum-v1/seed-1",
    )


def test_duplicate_seed(capsys, tiny_run, runs_copy, board_copy):
    src = record_path(runs_copy, "sac-mlp", "Pendulum-v1", 0)
    shutil.copy(src, record_path(runs_copy, "sac-mlp", "Pendulum-v1", 7))
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "holds run sac-mlp/Pendulum-v1/seed-0, which belongs in",
        "duplicate run sac-mlp/Pendulum-v1/seed-0",
    )


def test_wrong_suite_version(capsys, tiny_run, runs_copy, board_copy, tmp_path):
    v2 = tmp_path / "suites-v2"
    v2.mkdir()
    (v2 / "lb-tiny.yaml").write_text((tiny_run.suites / "lb-tiny.yaml").read_text().replace("version: 1", "version: 2"))
    assert_rejected(capsys, board_copy, v2, runs_copy, "wrong suite version: suite 'lb-tiny' is at v2", "--allow-old-version")
    # the same file at the same version but with another protocol is refused outright
    same_version = tmp_path / "suites-edited"
    same_version.mkdir()
    (same_version / "lb-tiny.yaml").write_text(
        (tiny_run.suites / "lb-tiny.yaml").read_text().replace("episodes: 2", "episodes: 3")
    )
    assert_rejected(capsys, board_copy, same_version, runs_copy, "the protocol changed without a version bump")
    # an older version is accepted on request, and shown under its own version
    fresh = tmp_path / "fresh-board"
    assert _submit(runs_copy, fresh, v2, "--allow-old-version") == 0
    assert main(["leaderboard", "build", "--leaderboard", str(fresh), "--suites", str(v2), "--reps", "20", "--no-plots"]) == 0
    assert "## lb-tiny v1 (older version of the suite)" in (fresh / "README.md").read_text()


def test_duplicate_id_and_resubmission(capsys, tiny_run, runs_copy, board_copy):
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        f"duplicate id: a submission '{tiny_run.submission_id}' is already on the board",
        f"duplicate submission: these records were already submitted as '{tiny_run.submission_id}'",
        extra=("--id", tiny_run.submission_id),
    )


class _Trap:
    """Unpickling this touches a marker file: proof that nothing was unpickled if the file does not exist."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_pickle_payloads(capsys, tiny_run, runs_copy, board_copy, tmp_path):
    import torch

    marker = tmp_path / "unpickled"
    policy = runs_copy / "policies" / "td3-mlp" / "Pendulum-v1" / "seed-0"
    (policy / "policy.safetensors").write_bytes(pickle.dumps({"weights": _Trap(marker)}, protocol=4))
    torch.save({"w": torch.zeros(2)}, policy.parent / "seed-1" / "policy.safetensors")
    (runs_copy / "policies" / "sac-mlp" / "Pendulum-v1" / "seed-0" / "optimizer.pkl").write_bytes(pickle.dumps([1, 2]))
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "checkpoint td3-mlp/Pendulum-v1/seed-0/policy.safetensors: contains pickle data (protocol 4)",
        "checkpoint td3-mlp/Pendulum-v1/seed-1/policy.safetensors: contains a zip archive holding pickle data",
        "checkpoint sac-mlp/Pendulum-v1/seed-0/optimizer.pkl: contains pickle data (protocol",
        "nothing submitted is ever unpickled",
    )
    # a submission file that is itself a pickle
    fake = tmp_path / "submission.json"
    fake.write_bytes(pickle.dumps({"schema_version": 1, "trap": _Trap(marker)}))
    assert_rejected(capsys, board_copy, tiny_run.suites, fake, "contains pickle data")
    assert not marker.exists()


def test_policy_without_an_actor(capsys, tiny_run, runs_copy, board_copy):
    """The default packing cuts SB3 policies down to their actor; a policy file with no actor cannot be cut."""
    policy = runs_copy / "policies" / "td3-mlp" / "Pendulum-v1" / "seed-0" / "policy.safetensors"
    safetensors.torch.save_file({"critic.qf0.0.weight": torch.zeros(2, 2)}, policy)
    assert_rejected(
        capsys, board_copy, tiny_run.suites, runs_copy, "policy.safetensors: holds no actor.* tensors", "--checkpoints full"
    )


def test_protocol_mismatch_and_every_problem_listed(capsys, tiny_run, runs_copy, board_copy, edit_record):
    def shorter(rec: dict[str, Any]) -> None:
        rec["budget"] = 150
        rec["eval"]["episodes"] = 1

    edit_record(runs_copy, "td3-mlp", 1, shorter)
    record_path(runs_copy, "sac-mlp", "Pendulum-v1", 1).unlink()
    edit_record(runs_copy, "sac-mlp", 0, lambda rec: rec["final"].update(return_std=float("nan")))
    err = assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "record td3-mlp/Pendulum-v1/seed-1: budget 150 steps, the suite says 300",
        "record td3-mlp/Pendulum-v1/seed-1: evaluation protocol (frequency, episodes, max_tasks) = (150, 1, None), "
        "the suite says (150, 2, None)",
        "incomplete grid",
        "final.return_std = nan",
    )
    assert err.count("\n  - ") >= 4


def test_a_missing_setting_is_named(capsys, tiny_run, runs_copy, board_copy, edit_record):
    """A setting the record lacks is named as absent (not hidden because the suite's value happens to be None)."""
    edit_record(runs_copy, "td3-mlp", 0, lambda rec: rec["config"]["hyperparameters"].pop("learning_starts"))
    assert_rejected(
        capsys,
        board_copy,
        tiny_run.suites,
        runs_copy,
        "record td3-mlp/Pendulum-v1/seed-0: config.hyperparameters differ from the suite's: learning_starts=absent "
        "(suite: 100)",
    )


@pytest.mark.parametrize(
    ("steps", "in_iterations", "problem"),
    [
        ([100, 200, 250], False, None),
        ([120, 200, 250], False, "the protocol gives [100, 200, 250]"),
        ([120, 210, 270], True, None),  # iterations of 30 steps (the last boundary past the budget)
        ([100, 200, 250], True, None),
        ([160, 220, 250], True, None),  # a first iteration of 160 steps, then 30
        ([200, 260], True, None),  # a first iteration of 200 steps evaluates once for steps 100 and 200
        ([130, 260], True, None),  # iterations of 130: the second crossed step 200 and the budget
        ([90, 200, 250], True, "evaluation 1 at step 90 covers no protocol step after 0"),
        ([120, 210, 330], True, "evaluation 3 at step 330 lies 80 steps past protocol step 250"),  # trained too long
        ([120, 210, 270], False, "the protocol gives [100, 200, 250]"),
        ([130, 240], True, "the last evaluation, at step 240, is before the budget 250"),
    ],
)
def test_evaluation_steps_of_learners_that_step_in_iterations(steps, in_iterations, problem):
    """SB3 learners are evaluated exactly at the protocol's steps; meta learners at the first iteration boundary at
    or after each one, less than one evaluation period later and before the next protocol step."""
    from hyperbench.bench.kinds import get_kind
    from hyperbench.leaderboard.validate import eval_steps_problem

    assert get_kind("meta").steps_in_iterations and not get_kind("sb3").steps_in_iterations
    got = eval_steps_problem(steps, [100, 200, 250], 100, in_iterations)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


def test_dry_run_and_missing_name(capsys, tiny_run, runs_copy, board_copy):
    before = tree_digest(board_copy)
    assert _submit(runs_copy, board_copy, tiny_run.suites, "--dry-run", "--id", "dry") == 2  # same records as the board's
    assert "duplicate submission" in capsys.readouterr().err
    assert _submit(runs_copy, board_copy, tiny_run.suites, name=None) == 2
    assert "--name is required" in capsys.readouterr().err
    assert tree_digest(board_copy) == before
