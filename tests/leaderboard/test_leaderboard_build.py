"""`hyperbench leaderboard build`: the page shows exactly the numbers `hyperbench report` gives for the same
runs, is self-contained and deterministic, refuses a submission edited on the board, and the command path
for seeding the board with the real `mini-rl` suite works end to end (on synthetic records of its grid)."""

from __future__ import annotations

import base64
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from hyperbench.cli import main
from tests.leaderboard.conftest import REPS, TinyRun, tree_digest

REPO_SUITES = Path(__file__).resolve().parents[2] / "suites"


class BoardRows(HTMLParser):
    """Collect the rows of the board tables: ``{(entry, method): {column: (data-value, text)}}``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, tuple[str | None, str]]] = {}
        self.order: list[str] = []
        self._row: dict[str, tuple[str | None, str]] | None = None
        self._cell: tuple[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-method" in a:
            self._row = {}
            self.rows[(str(a["data-entry"]), str(a["data-method"]))] = self._row
            self.order.append(str(a["data-method"]))
        elif tag == "td" and self._row is not None:
            self._cell, self._text = (str(a["data-key"]), a.get("data-value")), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row[self._cell[0]] = (self._cell[1], "".join(self._text).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


def _md_rows(markdown: str, first_cell: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip().strip("|").split(" | ")]
        for line in markdown.splitlines()
        if line.startswith(f"| {first_cell}")
    ]


def test_board_numbers_are_the_report_numbers(tiny_run: TinyRun):
    html = (tiny_run.board / "index.html").read_text()
    board_md = (tiny_run.board / "README.md").read_text()
    parser = BoardRows()
    parser.feed(html)
    report = tiny_run.report["methods"]
    assert parser.order == sorted(report, key=lambda m: -report[m]["aggregates"]["iqm"]["point"])  # best IQM first
    from hyperbench.bench.metrics import metrics
    from hyperbench.leaderboard.page import columns

    titles = [c.title for c in columns()]
    for method, entry in report.items():
        cells = parser.rows[(tiny_run.submission_id, method)]
        (report_row,) = _md_rows(tiny_run.report_md, f"`{method}` | 1 × 2")
        (board_row,) = [r for r in _md_rows(board_md, f"`{method}` | Ada")]
        aggregate_titles = [m.header for m in metrics(table="aggregate")]
        baseline_titles = [m.header for m in metrics(table="baseline")]
        (papers_row,) = [  # the permutation-test rows also start with method and baseline
            r for r in _md_rows(tiny_run.report_md, f"`{method}` | `td3-mlp`") if len(r) == 2 + len(baseline_titles)
        ]
        # every registered board metric: the exact value (the page keeps the full float for sorting) and the same
        # printed text as report.md
        for metric in metrics():
            if not metric.board:
                continue
            value, text = cells[metric.name]
            board_text = board_row[titles.index(next(c.title for c in columns() if c.key == metric.name))]
            if metric.versus_baseline and metric.ci and method == entry["baseline"]:
                assert text == board_text == "(baseline)"
                continue
            assert float(value) == metric.point(entry)  # type: ignore[arg-type]
            if metric.table == "aggregate":
                report_text = report_row[2 + aggregate_titles.index(metric.header)]
            else:
                report_text = papers_row[2 + baseline_titles.index(metric.header)]
            assert board_text.split(" vs ")[0] == report_text.split(" vs ")[0]
            assert text.startswith(board_text.split(" vs ")[0])  # the page puts "vs <baseline>" on its own line
        assert cells["runs"][1] == "2 / 0"
        assert cells["rests_on"][1] == "1 × 2"
        assert cells["submitter"][1] == "Ada Lovelace"
    # the board's notes: 2 runs per task → under-coverage and the per-task permutation tests
    assert "2 run(s) per task (< 10)" in board_md and "exact permutation test" in board_md
    assert "vs td3-mlp: p 0.333" in board_md or "vs td3-mlp: p 1.000" in board_md  # 2 vs 2 seeds: p ∈ {1/3, 1}
    assert f"(submissions/lb-tiny/{tiny_run.submission_id}.json)" in board_md
    assert f'href="submissions/lb-tiny/{tiny_run.submission_id}.json"' in html


def test_page_is_self_contained_and_build_is_deterministic(tiny_run: TinyRun, board_copy: Path):
    html = (board_copy / "index.html").read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 5
    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in images)
    assert "<script>" in html and "<style>" in html
    before = tree_digest(board_copy)
    args = ["leaderboard", "build", "--leaderboard", str(board_copy), "--suites", str(tiny_run.suites), "--reps", str(REPS)]
    assert main(args) == 0
    assert tree_digest(board_copy) == before  # same submissions → the same bytes


def test_build_refuses_a_submission_edited_on_the_board(capsys, tiny_run: TinyRun, board_copy: Path):
    path = board_copy / "submissions" / "lb-tiny" / f"{tiny_run.submission_id}.json"
    doc = json.loads(path.read_text())
    rec = doc["records"][0]
    rec["final"]["returns"] = [x + 1000 for x in rec["final"]["returns"]]
    path.write_text(json.dumps(doc))
    pages = {p: p.read_bytes() for p in (board_copy / "README.md", board_copy / "index.html")}
    assert main(["leaderboard", "build", "--leaderboard", str(board_copy), "--suites", str(tiny_run.suites)]) == 2
    err = capsys.readouterr().err
    assert "nothing was written" in err and str(path) in err and "records_sha256 does not match" in err
    assert all(p.read_bytes() == data for p, data in pages.items())


def test_empty_board(tmp_path: Path, tiny_run: TinyRun):
    board = tmp_path / "empty"
    assert main(["leaderboard", "build", "--leaderboard", str(board), "--suites", str(tiny_run.suites)]) == 0
    md = (board / "README.md").read_text()
    assert "No submissions yet." in md and "`lb-tiny`" in md
    assert "No submissions yet." in (board / "index.html").read_text()


def _synthetic_suite_runs(suite_file: Path, runs: Path, failed: tuple[str, str, int] | None = None) -> None:
    """Records of a suite's whole grid as the runner writes them (returns made up, every invariant kept);
    the run ``failed`` ends with a failure after three evaluations."""
    from hyperbench.bench.files import atomic_write_json
    from hyperbench.bench.record import EvalSummary, Failure, LearningCurve, RunRecord, SuiteRef, Timing, record_path
    from hyperbench.bench.registry import thaw
    from hyperbench.bench.runner import eval_points
    from hyperbench.bench.suite import load_suite
    from hyperbench.leaderboard.scores import suite_json

    suite = load_suite(suite_file)
    rng = np.random.default_rng(0)
    skill = {m: 0.3 + 0.1 * i for i, m in enumerate(suite.method_names)}
    for spec in suite.grid():
        steps = eval_points(spec.budget, spec.eval.frequency)
        means = [float(skill[spec.method] * 1000 * (k + 1) / len(steps) + rng.normal(0, 20)) for k in range(len(steps))]
        returns = means[-1] + rng.normal(0, 30, spec.eval.episodes)
        returns = returns - returns.mean() + means[-1]
        fails = (spec.method, spec.task, spec.seed) == failed
        if fails:
            steps, means = steps[:3], means[:3]
        record = RunRecord(
            suite=SuiteRef(suite.name, suite.version, suite.hash),
            method=spec.method,
            method_id=spec.method_id,
            task=spec.task,
            seed=spec.seed,
            status="failed" if fails else "ok",
            budget=spec.budget,
            steps_done=steps[-1] if fails else spec.budget,
            eval_frequency=spec.eval.frequency,
            eval_episodes=spec.eval.episodes,
            eval_max_tasks=spec.eval.max_tasks,
            curve=LearningCurve(tuple(steps), tuple(means), tuple(30.0 for _ in steps)),
            final=None
            if fails
            else EvalSummary(spec.budget, float(np.mean(returns)), float(np.std(returns)), tuple(float(x) for x in returns)),
            failure=Failure("NonFiniteError: non-finite evaluation return", "NonFiniteError", "", steps[-1])
            if fails
            else None,
            config={"hyperparameters": thaw(spec.config), "env_kwargs": {}, "kind": "sb3", "observation": "plain"},
            config_hash=spec.config_hash,
            timing=Timing(60.0, 55.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00"),
            provenance={"hyperbench": "test", "git": {"commit": None, "dirty": None}, "hostname": "synthetic"},
        )
        record.save(record_path(runs, spec.method, spec.task, spec.seed))
    atomic_write_json(runs / "suite.json", suite_json(suite))
    shutil.copy(suite_file, runs / "suite.yaml")


def test_seeding_path_with_the_mini_rl_suite(capsys, tmp_path: Path):
    """The commands the README gives for seeding the board with mini-rl work on a full mini-rl grid."""
    runs, board = tmp_path / "runs" / "mini-rl", tmp_path / "leaderboard"
    _synthetic_suite_runs(REPO_SUITES / "mini-rl.yaml", runs, failed=("sac-as-hyper-lite", "Hopper-v5", 4))
    board_args = ["--leaderboard", str(board), "--suites", str(REPO_SUITES)]
    assert main(["submit", str(runs), "--name", "hyperbench maintainers", *board_args]) == 0
    assert "90 runs, 0 checkpoints" in capsys.readouterr().out
    assert main(["leaderboard", "build", *board_args, "--reps", "50", "--no-plots"]) == 0
    assert main(["report", str(runs), "--reps", "50", "--no-plots"]) == 0
    report = json.loads((runs / "report" / "scores.json").read_text())["methods"]
    parser = BoardRows()
    parser.feed((board / "index.html").read_text())
    assert len(parser.rows) == 6
    for (_entry, method), cells in parser.rows.items():
        assert float(cells["iqm"][0]) == report[method]["aggregates"]["iqm"]["point"]
        assert cells["verified"][1] == "no checkpoints"
    # SAC methods are compared with sac-mlp, as the suite file says
    sac_row = next(c for (_e, m), c in parser.rows.items() if m == "sac-sa-hyper-lite")
    assert sac_row["probability_of_improvement"][1].endswith("vs sac-mlp")
    # a failed run is accepted and shown (excluded from the scores, as in the report)
    failed_row = next(c for (_e, m), c in parser.rows.items() if m == "sac-as-hyper-lite")
    assert failed_row["runs"][1] == "14 / 1"
    assert report["sac-as-hyper-lite"]["seeds_used"] == [0, 1, 2, 3]
    assert "## mini-rl v1" in (board / "README.md").read_text()


@pytest.mark.parametrize("reps", [0])
def test_build_rejects_bad_reps(capsys, tmp_path: Path, reps: int):
    assert main(["leaderboard", "build", "--leaderboard", str(tmp_path), "--reps", str(reps)]) == 2
    assert "--reps must be at least 1" in capsys.readouterr().err
