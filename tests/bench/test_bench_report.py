"""Reports: report.md / scores.json / PNGs from records, the CLI commands, and the dry-run estimate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hb_bench_helpers import make_record, stub_reference, tiny_suite_dict, write_synthetic_runs

from hyperbench.bench.cli import register
from hyperbench.bench.costs import CostTable, cost_key, estimate_run
from hyperbench.bench.record import record_path
from hyperbench.bench.report import make_report
from hyperbench.bench.stats import aggregate_intervals, normalise
from hyperbench.bench.suite import parse_suite

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def synthetic_runs(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    progress = np.linspace(0.25, 1.0, 4)
    scores = {
        "mlp": 60 * progress * (1 + 0.1 * rng.random((5, 2, 1))),
        "hyper": 80 * progress * (1 + 0.1 * rng.random((5, 2, 1))),
        "other": 40 * progress * (1 + 0.1 * rng.random((5, 2, 1))),
    }
    runs = tmp_path / "runs"
    write_synthetic_runs(runs, scores, ["task-a", "task-b"], baseline="mlp")
    failed = make_record("other", "task-b", 4, [1.0], status="failed", budget=400)
    failed.save(record_path(runs, "other", "task-b", 4))
    return runs


def test_report_files_and_numbers(synthetic_runs):
    result = make_report(synthetic_runs, reps=300, reference=stub_reference)
    scores = json.loads(result.scores.read_text())
    md = result.markdown.read_text()
    assert scores["schema_version"] == 1 and scores["suite"]["name"] == "synthetic"
    assert scores["grid"] == {"expected": 30, "ok": 29, "failed": 1, "missing": 0}
    # the IQM in scores.json is rliable's IQM of the normalised final scores
    finals = np.array(
        [
            [
                json.loads(record_path(synthetic_runs, "hyper", t, s).read_text())["final"]["return_mean"]
                for t in ("task-a", "task-b")
            ]
            for s in range(5)
        ]
    )
    norm = np.stack([normalise(finals[:, 0], 0.0, 100.0), normalise(finals[:, 1], -50.0, 50.0)], axis=1)
    iqm = aggregate_intervals({"hyper": norm}, reps=300)["hyper"]["iqm"]
    assert scores["methods"]["hyper"]["aggregates"]["iqm"]["point"] == pytest.approx(iqm[0])
    assert scores["methods"]["hyper"]["aggregates"]["iqm"]["ci"] == pytest.approx([iqm[1], iqm[2]])
    assert scores["methods"]["hyper"]["probability_of_improvement"]["point"] == pytest.approx(1.0)
    assert scores["methods"]["other"]["seeds_used"] == [0, 1, 2, 3]  # seed 4 failed on task-b
    assert scores["normalisation"]["task-a"] == {
        "random": 0.0,
        "reference": 100.0,
        "normalised": True,
        "source": "hyperbench.envs.reference",
        "zero_action": None,  # task-a is not in hyperbench.envs.reference
        "zero_action_normalised": None,
        "zero_action_protocol": "not in hyperbench.envs.reference",
    }
    # failures are visible near the top of the report
    assert md.index("Failed runs (1)") < md.index("## Aggregate")
    assert "`other/task-b/seed-4`" in md and "non-finite" in md
    for name in ("learning_curves", "aggregates", "profiles", "probability_of_improvement", "sample_efficiency"):
        png = result.plots[name]
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000
        assert f"]({png.name})" in md
    # same seed → the same numbers; another seed → other bootstrap intervals
    again = make_report(synthetic_runs, synthetic_runs / "again", reps=300, reference=stub_reference, plots=False)
    assert json.loads(again.scores.read_text())["methods"] == scores["methods"]
    other = make_report(synthetic_runs, synthetic_runs / "other", reps=300, seed=1, reference=stub_reference, plots=False)
    assert json.loads(other.scores.read_text())["methods"]["hyper"]["aggregates"] != scores["methods"]["hyper"]["aggregates"]


def test_tasks_without_reference_are_flagged(synthetic_runs):
    result = make_report(synthetic_runs, reps=100, reference=lambda task: None, plots=False)
    assert "No reference scores for `task-a`, `task-b`" in result.markdown.read_text()


class _Out:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """Run `hyperbench ...` in this process (the test plugin is already imported) and capture its output."""
    from hyperbench.cli import main

    def run(*args: str) -> _Out:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return _Out(code, captured.out, captured.err)

    return run


def test_report_cli_and_corrupt_record(synthetic_runs, cli):
    out = cli("report", str(synthetic_runs), "--reps", "100", "--no-plots")
    assert out.returncode == 0, out.stderr
    assert f"report: {synthetic_runs / 'report' / 'report.md'}" in out.stdout
    bad = record_path(synthetic_runs, "mlp", "task-a", 2)
    bad.write_text(bad.read_text()[:40])
    out = cli("report", str(synthetic_runs), "--no-plots")
    assert out.returncode == 2 and str(bad) in out.stderr and "corrupt" in out.stderr


def test_run_cli_end_to_end(tmp_path, cli):
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump(tiny_suite_dict(methods=["hb-td3-tiny", "hb-raises"])))
    runs = str(tmp_path / "runs")
    out = cli("run", str(suite), "--out", runs, "--workers", "0", "--plugin", "hb_bench_plugin", "--reps", "100")
    assert out.returncode == 0, out.stderr
    assert "1 finished now, 1 failed now" in out.stdout and "boom" in out.stdout
    assert f"report: {tmp_path / 'runs' / 'report' / 'report.md'}" in out.stdout
    assert "Failed runs (1)" in (tmp_path / "runs" / "report" / "report.md").read_text()
    strict = cli("run", str(suite), "--out", runs, "--workers", "0", "--no-report", "--strict")
    assert strict.returncode == 1 and "2 already done" in strict.stdout


def test_run_cli_rejects_bad_suites(tmp_path, cli):
    suite = tmp_path / "bad.yaml"
    suite.write_text(yaml.safe_dump({**tiny_suite_dict(), "methods": ["td3-mpl"]}))
    out = cli("run", str(suite), "--dry-run")
    assert out.returncode == 2 and "did you mean 'td3-mlp'" in out.stderr
    out = cli("run", "smok")
    assert out.returncode == 2 and "'smoke'" in out.stderr


def test_dry_run_estimate_from_step_costs(tmp_path, cli):
    suite = parse_suite(tiny_suite_dict(budget=1000, seeds=3, config={"learning_starts": 100}))
    spec = suite.grid()[0]
    table = CostTable(train={cost_key(spec): {"hb/Bandit-v0": 0.01}}, eval={cost_key(spec): {"hb/Bandit-v0": 0.001}}, meta={})
    # 900 training steps at 10 ms + (100 warm-up steps + 10 evaluations × 3 episodes × horizon 1) at 1 ms
    assert estimate_run(spec, table).seconds == pytest.approx(9.0 + 0.13)
    assert estimate_run(spec, CostTable({}, {}, {})).seconds is None
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(yaml.safe_dump(tiny_suite_dict(budget=1000, seeds=3)))
    out = cli("run", str(suite_file), "--dry-run", "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    assert "3 runs = 1 methods × 1 tasks × 3 seeds" in out.stdout and "no measured step cost (hb-td3-tiny)" in out.stdout
    measured = cli("run", str(suite_file), "--dry-run", "--measure", "--out", str(tmp_path / "r"))
    assert measured.returncode == 0, measured.stderr
    assert "ms per training step" in measured.stdout and "core-hours" in measured.stdout
    assert "no measured step cost" not in measured.stdout
    assert (tmp_path / "r" / "step_costs.json").exists() and not (tmp_path / "r" / "records").exists()


def test_list_methods_and_parser_registration(capsys):
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["run", "--list-methods"])
    assert args.func(args) == 0
    listing = capsys.readouterr().out
    assert "td3-sa-hyper" in listing and "sac-context-hyper" in listing


def test_gain_over_a_baseline_near_random_is_flagged(synthetic_runs):
    md = make_report(synthetic_runs, reps=100, reference=stub_reference, plots=False).markdown.read_text()
    assert "⚠ The gain divides" not in md  # mlp ends at 0.6 and 1.1 normalised

    def far_reference(task: str) -> tuple[float, float] | None:  # mlp's ~63 on task-a is now 0.06 of the range
        return (0.0, 1000.0) if task == "task-a" else stub_reference(task)

    md = make_report(synthetic_runs, reps=100, reference=far_reference, plots=False).markdown.read_text()
    assert "⚠ The gain divides by the baseline's improvement over random" in md
    assert "`mlp` on `task-a` (0.06)" in md and "`mlp` on `task-b`" not in md
