"""Hostile input to the leaderboard (issue 13): every row is refused or neutralised, bounded in time and memory."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from hyperbench.cli import main
from hyperbench.leaderboard.safety import check_payload_file, check_safetensors, sniff_pickle
from tests.leaderboard.conftest import TinyRun
from tests.leaderboard.test_leaderboard_submit import _scratch_submission, _submit, assert_rejected

XSS_NAME = "<script>alert(1)</script>"
XSS_NOTES = '"><img src=x onerror=alert(1)> [click](javascript:alert(1)) ![i](https://x.test/a.png) **bold**'


def _board_args(board: Path, tiny_run: TinyRun) -> list[str]:
    return ["--leaderboard", str(board), "--suites", str(tiny_run.suites)]


def test_submitter_notes_and_suite_description_cannot_inject_markup(tiny_run, runs_copy, tmp_path):
    board = tmp_path / "board"
    suite_file = runs_copy / "suite.yaml"  # rewrite the blurb: not covered by the suite hash, so it is accepted
    text = suite_file.read_text().replace(
        "description: Two SB3 methods", "description: EVIL <iframe src=//x.test></iframe> Two SB3 methods"
    )
    suite_file.write_text(text)
    assert main(["submit", str(runs_copy), "--name", XSS_NAME, "--notes", XSS_NOTES, *_board_args(board, tiny_run)]) == 0
    assert main(["leaderboard", "build", *_board_args(board, tiny_run), "--reps", "20", "--no-plots"]) == 0
    for page in ("README.md", "index.html"):
        body = (board / page).read_text()
        assert "EVIL" not in body and "iframe" not in body.replace("&lt;iframe", "")  # the board's own blurb
        assert "Two SB3 methods on Pendulum at a toy budget" in body
        markdown_only = ("](javascript", "![i](") if page == "README.md" else ()  # plain text in HTML
        for raw in ("<script>alert", "<img", *markdown_only):
            assert raw not in body, (page, raw)
    md = (board / "README.md").read_text()
    assert "&lt;script&gt;alert\\(1\\)&lt;\\/script&gt;" in md and "\\*\\*bold\\*\\*" in md


def test_a_verification_file_is_shown_only_when_it_checks_out(tiny_run, board_copy):
    target = board_copy / "verifications" / "lb-tiny" / f"{tiny_run.submission_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    forged = {
        "schema_version": 1,
        "kind": "hyperbench.Verification",
        "submission": tiny_run.submission_id,
        "suite": {"name": "lb-tiny", "version": 1, "hash": "0" * 16},
        "attempts": [
            {
                "status": "verified",
                "sample": 1,
                "of": 4,
                "tolerance": {"normalised": 0.1, "z": 4.0},
                "checks": [{"run": "td3-mlp/Pendulum-v1/seed-0", "agree": True}],
            }
        ],
    }
    target.write_text(json.dumps(forged))
    assert main(["leaderboard", "build", *_board_args(board_copy, tiny_run), "--reps", "20", "--no-plots"]) == 0
    md, html = (board_copy / "README.md").read_text(), (board_copy / "index.html").read_text()
    assert "✓" not in md and "invalid verification file" in md
    assert "the verification file is not shown" in html and "is not the entry" in html


def test_a_genuine_verification_file_edited_afterwards_is_not_shown(tiny_run, board_copy):
    args = _board_args(board_copy, tiny_run)
    assert main(["leaderboard", "verify", tiny_run.submission_id, "--sample", "1", "--seed", "2", *args]) == 0
    path = board_copy / "verifications" / "lb-tiny" / f"{tiny_run.submission_id}.json"
    data = json.loads(path.read_text())
    data["attempts"][-1]["checks"][0]["reevaluated"]["returns"][0] += 500.0  # a better re-evaluation than measured
    path.write_text(json.dumps(data))
    assert main(["leaderboard", "build", *args, "--reps", "20", "--no-plots"]) == 0
    assert "invalid verification file" in (board_copy / "README.md").read_text()


@pytest.mark.parametrize("where", ["policy file", "checkpoint dir"])
def test_symlinks_are_refused(capsys, tiny_run, runs_copy, board_copy, tmp_path, where):
    secret = tmp_path / "secret.safetensors"
    secret.write_bytes(safetensors.torch.save({"w": torch.zeros(2)}))
    if where == "policy file":
        policy = runs_copy / "policies" / "td3-mlp" / "Pendulum-v1" / "seed-0" / "policy.safetensors"
        policy.unlink()
        policy.symlink_to(secret)
        assert_rejected(capsys, board_copy, tiny_run.suites, runs_copy, "policy.safetensors: is a symlink")
    else:
        submission = _scratch_submission(tiny_run, runs_copy, tmp_path)
        ckpt = submission.parent / submission.stem
        moved = tmp_path / "elsewhere"
        ckpt.rename(moved)
        Path(ckpt).symlink_to("/proc/self")
        err = assert_rejected(capsys, board_copy, tiny_run.suites, submission, "is a symlink")
        assert "Traceback" not in err


def test_zip_members_are_read_streamed_and_capped(tmp_path):
    bomb = tmp_path / "bomb.zip"
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(6):  # 6 × 64 MB of zeros, ~400 kB on disk
            with archive.open(f"member-{i}.bin", "w") as member:
                for _ in range(64):
                    member.write(chunk)
    data = bomb.read_bytes()
    assert len(data) < 2_000_000
    tracemalloc.start()
    start = time.perf_counter()
    assert sniff_pickle(data) is None
    elapsed = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * 2**20 and elapsed < 10, (peak, elapsed)  # reading every member would take 384 MB


def _safetensors(header: dict[str, Any], body: bytes) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"\0" * 12,
            "overlaps",
        ),
        ({"a": {"dtype": "F32", "shape": [10**12, 10**12], "data_offsets": [0, 8]}}, b"\0" * 8, "needs"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "belong to no tensor"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "after the last tensor"),
        ({"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative integers"),
        ({"__metadata__": {"k": 1}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "strings"),
    ],
    ids=["overlap", "huge-shape", "gap", "trailing", "dtype", "negative", "metadata"],
)
def test_safetensors_headers_are_validated_whole(header, body, message):
    problem = check_safetensors(_safetensors(header, body))
    assert problem is not None and message in problem


def test_non_finite_weights_are_reported_at_submit_time():
    nan = safetensors.torch.save({"mu.weight": torch.full((4, 3), math.nan), "mu.bias": torch.zeros(4)})
    assert check_payload_file("actor.safetensors", nan) == "weights are not finite: mu.weight (all NaN)"
    one_inf = safetensors.torch.save({"w": torch.tensor([1.0, math.inf], dtype=torch.bfloat16)})
    assert "w (1 of 2 values non-finite)" in str(check_payload_file("actor.safetensors", one_inf))


ALIAS_BOMB = "config:\n  bomb: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"  x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)
)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ("alias bomb", "an alias bomb"),
        ("recursive alias", "recursive YAML alias"),
        ("deep nesting", "nested more than 64 levels"),
        ("duplicate key", "duplicate key 'budget' on lines"),
        ("random bytes", "not UTF-8 text"),
        ("huge budget", "budget must be ≤ 1,000,000,000"),
        ("huge seed count", "seeds: a count must be ≤ 1000"),
    ],
)
def test_suite_text_inside_a_submission_is_parsed_with_bounds(capsys, tiny_run, runs_copy, board_copy, mutation, message):
    suite_file = runs_copy / "suite.yaml"
    text = suite_file.read_text()
    if mutation == "alias bomb":
        text = text.replace("config:\n", ALIAS_BOMB, 1)
    elif mutation == "recursive alias":
        text += "extra: &r [*r]\n"
    elif mutation == "deep nesting":
        text += "extra: " + "[" * 5000 + "]" * 5000 + "\n"
    elif mutation == "duplicate key":
        text += "budget: 100\n"
    elif mutation == "huge budget":
        text = text.replace("budget: 300", "budget: 1000000000000000")
    elif mutation == "huge seed count":
        text = text.replace("seeds: 2", "seeds: 1000000000000")
    if mutation == "random bytes":
        suite_file.write_bytes(os.urandom(4096).replace(b"\xc3", b"\xff") + b"\xff")
    else:
        suite_file.write_text(text)
    start = time.perf_counter()
    err = assert_rejected(capsys, board_copy, tiny_run.suites, runs_copy, message, extra=("--dry-run",))
    assert time.perf_counter() - start < 30 and "Traceback" not in err


def test_deeply_nested_submission_json_is_refused(capsys, tiny_run, board_copy, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert_rejected(capsys, board_copy, tiny_run.suites, deep, "JSON nested 200000 levels deep; at most 64")


def test_host_names_stay_out_of_submissions_unless_asked(tiny_run, runs_copy):
    from hyperbench.leaderboard.submission import pack_runs

    assert "hostname" in json.loads(next((runs_copy / "records").rglob("*.json")).read_text())["provenance"]
    private = pack_runs(runs_copy, "Ada")
    assert private.doc is not None and "hostname" not in json.dumps(private.doc)
    public = pack_runs(runs_copy, "Ada", include_hostname=True)
    assert public.doc is not None and '"hostname"' in json.dumps(public.doc)


def test_verify_exit_codes_could_not_verify_vs_discrepancy(capsys, tiny_run, board_copy, runs_copy, monkeypatch, tmp_path):
    bare_board = tmp_path / "bare-board"
    assert _submit(runs_copy, bare_board, tiny_run.suites, "--checkpoints", "none", "--id", "bare") == 0
    capsys.readouterr()
    assert main(["leaderboard", "verify", "bare", *_board_args(bare_board, tiny_run)]) == 3
    assert "could not verify: submission 'bare' carries no checkpoints" in capsys.readouterr().err

    def crash(*_a: Any, **_k: Any) -> list[float]:
        raise RuntimeError("simulator exploded")

    monkeypatch.setattr("hyperbench.leaderboard.verify.reevaluate", crash)
    assert main(["leaderboard", "verify", tiny_run.submission_id, "--no-write", *_board_args(board_copy, tiny_run)]) == 3
    err = capsys.readouterr().err
    assert "could not verify: RuntimeError: simulator exploded" in err and "Traceback" not in err


def test_one_episode_records_get_a_spread_from_a_longer_reevaluation(tiny_run, board_copy, monkeypatch):
    """With one submitted episode the standard error would be 0 (s from nothing): re-evaluate ≥ 5 episodes."""
    import hyperbench.leaderboard.verify as verify_mod
    from hyperbench.leaderboard import Leaderboard

    real_validate = verify_mod.validate

    def one_episode(*a: Any, **k: Any) -> Any:
        validation = real_validate(*a, **k)
        validation.records = [
            dataclasses.replace(r, final=dataclasses.replace(r.final, returns=(r.final.return_mean,)))
            for r in validation.records
        ]
        return validation

    asked: list[int | None] = []

    def fake_reevaluate(spec: Any, weights: Path, eval_seed: int, episodes: int | None = None) -> list[float]:
        asked.append(episodes)
        return [-1000.0, -1200.0, -1400.0, -1100.0, -1300.0]

    monkeypatch.setattr(verify_mod, "validate", one_episode)
    monkeypatch.setattr(verify_mod, "reevaluate", fake_reevaluate)
    board = Leaderboard(board_copy, suites=[tiny_run.suites])
    attempt = verify_mod.verify_submission(board, tiny_run.submission_id, sample=1, seed=0, write=False)
    (check,) = attempt["checks"]
    assert asked == [verify_mod.MIN_SPREAD_EPISODES] and check["standard_error"] > 0
    assert "spread is estimated from the re-evaluation's 5" in check["note"]
