"""A metric registered after entries were accepted: the committed board still validates and builds, shows the new
metric as a column, and a claimed value of it is still checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from hyperbench.bench.metrics import MethodView, Metric, registered
from hyperbench.cli import main
from hyperbench.leaderboard.board import Leaderboard
from hyperbench.leaderboard.submission import read_submission_file
from hyperbench.leaderboard.validate import validate

REPO = Path(__file__).resolve().parents[2]


def _worst_task(view: MethodView) -> dict[str, object]:
    means = view.scores.final.mean(axis=0)
    return {"point": float(np.min(means)), "task": view.scores.tasks[int(np.argmin(means))]}


WORST_TASK = Metric(
    "worst_task",
    "Worst task",
    "lowest per-task mean normalised final score (a test metric)",
    "higher",
    ci=False,
    compute=_worst_task,
    text=lambda v: f"{v['point']:.3f} ({v['task']})",
)


def _committed_board(tmp_path: Path, suite: str) -> Path:
    """A copy of the repository's leaderboard holding only the entries of one suite."""
    board = tmp_path / "leaderboard"
    shutil.copytree(REPO / "leaderboard" / "submissions" / suite, board / "submissions" / suite)
    if (REPO / "leaderboard" / "verifications" / suite).is_dir():
        shutil.copytree(REPO / "leaderboard" / "verifications" / suite, board / "verifications" / suite)
    return board


def test_committed_entries_validate_and_build_with_a_new_metric(tmp_path: Path):
    board = _committed_board(tmp_path, "mini-maml")
    args = ["--leaderboard", str(board), "--suites", str(REPO / "suites")]
    with registered(WORST_TASK):
        assert main(["leaderboard", "build", *args, "--reps", "20", "--no-plots"]) == 0
        md = (board / "README.md").read_text()
        header = next(line for line in md.splitlines() if line.startswith("| Method |"))
        assert "| Worst task |" in header
        row = next(line for line in md.splitlines() if line.startswith("| `maml` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        titles = [c.strip() for c in header.strip("|").split("|")]
        assert cells[titles.index("Worst task")].endswith("(halfcheetah-vel)")
        assert 'data-key="worst_task"' in (board / "index.html").read_text()

        # the stored summary does not carry the new metric and stays valid; a claimed value of it is checked
        (path,) = (board / "submissions" / "mini-maml").glob("*.json")
        doc = json.loads(path.read_text())
        assert "worst_task" not in doc["summary"]["methods"]["maml"]
        doc["summary"]["methods"]["maml"]["worst_task"] = 0.99
        path.write_text(json.dumps(doc))
        validation = validate(read_submission_file(path), Leaderboard(board, [REPO / "suites"]), stored=True)
        assert len(validation.problems) == 1 and any(
            "summary.methods.maml.worst_task: claims 0.99" in p for p in validation.problems
        ), validation.problems
    # without the metric, the board builds as before (the extra claimed value is refused) …
    path.write_text(
        json.dumps(
            {
                **doc,
                "summary": {
                    **doc["summary"],
                    "methods": {
                        **doc["summary"]["methods"],
                        "maml": {k: v for k, v in doc["summary"]["methods"]["maml"].items() if k != "worst_task"},
                    },
                },
            }
        )
    )
    assert main(["leaderboard", "build", *args, "--reps", "20", "--no-plots"]) == 0
    assert "Worst task" not in (board / "README.md").read_text()


def test_a_missing_required_metric_is_still_refused(tmp_path: Path):
    board = _committed_board(tmp_path, "mini-maml")
    (path,) = (board / "submissions" / "mini-maml").glob("*.json")
    doc = json.loads(path.read_text())
    del doc["summary"]["methods"]["maml"]["iqm"]
    path.write_text(json.dumps(doc))
    validation = validate(read_submission_file(path), Leaderboard(board, [REPO / "suites"]), stored=True)
    assert any("summary.methods.maml.iqm: missing" in p for p in validation.problems), validation.problems


def test_every_committed_entry_still_validates_and_builds(tmp_path: Path):
    """A change to a method's defaults, a record field or a metric that stales a committed entry fails here."""
    board = tmp_path / "leaderboard"
    shutil.copytree(REPO / "leaderboard" / "submissions", board / "submissions")
    shutil.copytree(REPO / "leaderboard" / "verifications", board / "verifications")
    args = ["--leaderboard", str(board), "--suites", str(REPO / "suites")]
    assert main(["leaderboard", "build", *args, "--reps", "20", "--no-plots"]) == 0
    suites = {p.name for p in (REPO / "leaderboard" / "submissions").iterdir() if p.is_dir()}
    md = (board / "README.md").read_text()
    assert suites and all(f"`{s}`" in md or s in md for s in suites)
