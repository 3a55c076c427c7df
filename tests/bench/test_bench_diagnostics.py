"""Suites ask for grad-cs during training: validation, the runner's callback, files and records, resume, the CLI."""

from __future__ import annotations

import json

import pytest

from hyperbench.bench.runner import RunOptions, run_one
from hyperbench.bench.suite import SuiteError
from hyperbench.diagnostics.grad_cs_callback import load_curve

GRAD_CS = {"grad_cs": {"steps": [200, 100], "states": 3, "actions": 4}}


class Interrupt(BaseException):
    """Stands for a kill."""


def test_diagnostics_block_is_validated_with_every_problem_named(tiny_suite):
    suite = tiny_suite(diagnostics=GRAD_CS)
    block = suite.diagnostics["grad_cs"]
    assert list(block["steps"]) == [100, 200] and block["std"] == 0.3 and block["hold"] == 3 and block["head"] == "actor"
    spec = suite.grid()[0]
    assert spec.diagnostics["grad_cs"]["states"] == 3
    # measurements do not change the experiment: same config hash as without them; the suite hash does change
    plain = tiny_suite()
    assert spec.config_hash == plain.grid()[0].config_hash and suite.hash != plain.hash
    assert "diagnostics" not in plain.to_dict() and "diagnostics" not in plain.grid()[0].to_dict()
    assert type(spec).from_dict(spec.to_dict()) == spec

    block = {"steps": [0, 5000], "states": 2, "actionz": 3, "std": -1, "head": "q3", "methods": ["td3"]}
    bad = {"grad_cs": block, "gradcs": {}}
    with pytest.raises(SuiteError) as info:
        tiny_suite(diagnostics=bad)
    text = str(info.value)
    for expected in (
        "unknown diagnostic 'gradcs'; did you mean 'grad_cs'",
        "diagnostics.grad_cs: unknown key 'actionz'; did you mean 'actions'",
        "diagnostics.grad_cs.steps[0] must be an integer ≥ 1",
        "diagnostics.grad_cs.steps [5000] are beyond every task's budget (at most 200): never measured",
        "diagnostics.grad_cs.std must be a positive number",
        "diagnostics.grad_cs.head must be one of ['actor', 'q1']",
        "diagnostics.grad_cs.methods: 'td3' is not a method of this suite",
    ):
        assert expected in text
    with pytest.raises(SuiteError, match="steps must be a non-empty list"):
        tiny_suite(diagnostics={"grad_cs": {"states": 3}})


def test_methods_restriction_selects_the_measured_methods(tiny_suite):
    suite = tiny_suite(diagnostics={"grad_cs": {"steps": [100], "methods": ["hb-td3-tiny"]}})
    assert "grad_cs" in suite.grid()[0].diagnostics
    suite = tiny_suite(
        methods=["hb-td3-tiny", {"name": "other", "method": "hb-td3-tiny"}],
        diagnostics={"grad_cs": {"steps": [100], "methods": ["other"]}},
    )
    assert {s.method: bool(s.diagnostics) for s in suite.grid()} == {"hb-td3-tiny": False, "other": True}


def test_runner_records_grad_cs_without_changing_the_run(tmp_path, tiny_suite):
    spec = tiny_suite(diagnostics=GRAD_CS).grid()[0]
    rec = run_one(spec, tmp_path / "with")
    assert rec.ok and rec.artifacts["grad_cs"] == "diagnostics/hb-td3-tiny/hb__Bandit-v0/seed-0/grad_cs.json"
    curve = load_curve(tmp_path / "with" / rec.artifacts["grad_cs"])
    assert [m["step"] for m in curve["measurements"]] == [100, 200] and curve["label"] == "hb-td3-tiny"
    first = curve["measurements"][0]
    assert len(first["states"]["cs"]) == 3 and all(abs(c) <= 1 + 1e-9 for c in first["states"]["cs"] if c is not None)
    assert first["settings"]["config"]["actions"] == 4 and first["settings"]["algorithm"] == "td3"
    csv = (tmp_path / "with" / "logs" / "hb-td3-tiny" / "hb__Bandit-v0" / "seed-0" / "attempt-1" / "progress.csv").read_text()
    assert "grad_cs/mean" in csv.splitlines()[0]
    # the same run without the diagnostic learns exactly the same policy
    plain = run_one(tiny_suite().grid()[0], tmp_path / "without")
    assert plain.curve.return_mean == rec.curve.return_mean and plain.final is not None and rec.final is not None
    assert plain.final.returns == rec.final.returns and "grad_cs" not in plain.artifacts


def test_resumed_run_keeps_measurements_up_to_its_checkpoint(tmp_path, tiny_suite):
    spec = tiny_suite(budget=300, diagnostics={"grad_cs": {"steps": [100, 200, 300], "states": 2, "actions": 3}}).grid()[0]

    def crash(step: int) -> None:
        if step == 200:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_one(spec, tmp_path, _after_checkpoint=crash)
    target = tmp_path / "diagnostics" / "hb-td3-tiny" / "hb__Bandit-v0" / "seed-0" / "grad_cs.json"
    assert [m["step"] for m in load_curve(target)["measurements"]] == [100, 200]
    rec = run_one(spec, tmp_path)
    assert rec.ok and rec.timing.resumed_from == (200,)
    assert [m["step"] for m in load_curve(target)["measurements"]] == [100, 200, 300]


def test_cli_on_a_saved_policy_and_refuses_an_sb3_zip(tmp_path, tiny_suite, capsys):
    from stable_baselines3 import TD3

    from hyperbench.cli import main

    spec = tiny_suite().grid()[0]
    rec = run_one(spec, tmp_path / "runs", RunOptions(save_policy=True))
    policy_dir = tmp_path / "runs" / rec.artifacts["policy"]
    TD3("MlpPolicy", "Pendulum-v1", policy_kwargs={"net_arch": [8]}, seed=0).save(tmp_path / "pendulum.zip")
    out = tmp_path / "out"
    small = ["--states", "2", "--actions", "3", "--out", str(out), "--quiet"]

    assert main(["diagnose", "grad-cs", str(policy_dir), *small]) == 0
    doc = json.loads((out / "grad_cs.json").read_text())
    assert doc["results"][0]["label"] == "hb-td3-tiny" and (out / "grad_cs.png").stat().st_size > 1000
    assert doc["results"][0]["settings"]["env"] == "hb/Bandit-v0" and "mean CS" in capsys.readouterr().out

    zip_file = tmp_path / "pendulum.zip"
    before = zip_file.read_bytes()
    assert main(["diagnose", "grad-cs", str(zip_file), "--env", "Pendulum-v1", *small]) == 2
    assert "hyperbench never unpickles a file" in capsys.readouterr().out and zip_file.read_bytes() == before
    assert main(["diagnose", "grad-cs", str(policy_dir / "spec.json"), *small]) == 2
    assert "expected a `hyperbench run --save-policies` directory" in capsys.readouterr().out
