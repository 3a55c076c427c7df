"""`hyperbench diagnose maml-variance` and the (resumable) mini MAML study, at toy sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperbench.cli import main
from hyperbench.diagnostics.maml_study import StudyConfig, run_study
from hyperbench.envs import TaskFamily
from hyperbench.meta import MAML


def test_maml_variance_command_writes_json_and_plot(
    point_family: TaskFamily, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpts = []
    for variant in ("maml", "hyper-maml"):
        learner = MAML(point_family, variant=variant, config={"meta_batch_size": 2, "episodes_per_task": 1, "hidden": (16,)})
        ckpts.append(str(learner.save(tmp_path / variant)))
    args = ["diagnose", "maml-variance", *ckpts, "-k", "2", "--eval-tasks", "1", "--eval-episodes", "1"]
    code = main([*args, "--labels", "mlp", "hyper", "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    data = json.loads((tmp_path / "out" / "variance.json").read_text())
    assert [r["label"] for r in data["results"]] == ["mlp", "hyper"]
    assert len(data["results"][1]["returns"]) == 2 and data["results"][0]["settings"]["checkpoint"] == ckpts[0]
    assert (tmp_path / "out" / "variance.png").stat().st_size > 1000
    assert "hyper" in capsys.readouterr().out
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    assert main(["diagnose", "maml-variance", str(tmp_path / "junk.safetensors"), "--out", str(tmp_path / "x")]) == 2
    assert "is not a hyperbench meta-learner checkpoint" in capsys.readouterr().out


def test_study_runs_resumes_and_reports(tmp_path: Path) -> None:
    config = StudyConfig(
        seeds=(0,),
        iterations={"point-robot": 2},
        maml={"point-robot": {"meta_batch_size": 2, "episodes_per_task": 2, "hidden": (16,)}},
        eval_every=1,
        eval_tasks={"point-robot": (2, 1)},
        variance_iteration=1,
        variance_estimates=2,
        variance_eval=(1, 1),
    )
    lines: list[str] = []
    summary = run_study(config, tmp_path, log=lines.append)
    run = json.loads((tmp_path / "runs" / "point-robot" / "hyper-maml" / "seed-0.json").read_text())
    assert run["curve"]["iteration"] == [0, 1, 2] and len(run["train"]["kl"]) == 2
    assert run["steps"] == 2 * (2 * 2 * 20 * 2)  # iterations × (tasks × episodes × horizon × pre/post)
    assert set(summary["families"]["point-robot"]) == {"maml", "context-maml", "hyper-maml"}
    assert set(summary["variance"]) == {"maml", "context-maml", "hyper-maml"}
    assert any("pre ≈ post" in claim for claim in summary["claims"])
    report = (tmp_path / "report.md").read_text()
    assert "| point-robot | Hyper-MAML |" in report and "## The paper's claims at this scale" in report
    assert f"hyperbench diagnose maml-study --out {tmp_path} --seeds 0 --iterations point-robot=2" in report
    for png in ("curves.png", "variance.png"):
        assert (tmp_path / png).stat().st_size > 1000
    # resume: everything exists, nothing is recomputed
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*.json")}
    lines.clear()
    run_study(config, tmp_path, log=lines.append)
    assert all(line.lstrip().startswith("skip") for line in lines) and len(lines) == 6
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*.json")}
