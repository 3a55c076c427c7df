"""`probe_init` and `hyperbench diagnose init`: the numbers it prints, the files it writes, the inputs it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch as th

from hyperbench.cli import main
from hyperbench.diagnostics import probe_init
from hyperbench.nn import HyperNetwork
from hyperbench.nn.init import init_targets


def test_probe_agrees_with_a_direct_measurement() -> None:
    meta = 5.0 + np.random.default_rng(0).standard_normal((128, 17))
    probe = probe_init(meta, "weight-hyperinit", "lite", n_members=2, n_reference=8, seed=3)
    th.manual_seed(3)
    net = HyperNetwork(17, 6, 1, dynamic_hidden=(256,), primary="lite", n_members=2, init="weight-hyperinit")
    z = th.as_tensor(meta, dtype=th.float32)
    net.update_meta_stats(z)
    with th.no_grad():
        params = net.eval().generate(z)
    for lp, p, t in zip(probe.layers, params, init_targets(net)):
        assert lp.weight_ratio == pytest.approx(p.weight.double().var(unbiased=False).item() / t.weight_variance, rel=1e-6)
        assert lp.weight_ratio == pytest.approx(1.0, rel=0.25)
        assert 0.5 < lp.z_share < 0.9 and not lp.identical_across_inputs
    assert probe.meta_norm and probe.latent_second_moment == pytest.approx(1.0, rel=0.25)


def test_probe_shows_what_the_issue_measured() -> None:
    """Naive Kaiming on a non-centred input: generated weights ≈ 96% the same for every input; Bias-HyperInit:
    exactly the same, on target."""
    meta = 5.0 + np.random.default_rng(0).standard_normal((128, 17))
    kaiming = probe_init(meta, "kaiming", "lite", n_members=1, n_reference=4)
    assert all(lp.z_share < 0.1 for lp in kaiming.layers)
    assert kaiming.layers[1].weight_ratio > 10.0
    bias = probe_init(meta, "bias-hyperinit", "lite", n_members=1, n_reference=4)
    assert all(lp.identical_across_inputs and lp.z_share == 0.0 for lp in bias.layers)
    assert bias.layers[0].weight_ratio == pytest.approx(1.0, rel=0.1)


def test_command_writes_json_and_plot_from_a_npy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "meta.npy", 3.0 * np.random.default_rng(0).standard_normal((64, 5)))
    args = ["diagnose", "init", "--meta", str(tmp_path / "meta.npy"), "--preset", "lite", "16,32", "--init", "hfi"]
    assert main([*args, "bias-hyperinit", "--members", "1", "--dynamic-hidden", "16", "--out", str(tmp_path / "out")]) == 0
    data = json.loads((tmp_path / "out" / "init.json").read_text())
    assert [p["label"] for p in data["probes"]] == ["lite hfi", "lite bias-hyperinit", "16x32 hfi", "16x32 bias-hyperinit"]
    assert data["probes"][0]["layers"][0]["fan_in"] == 6 and data["probes"][0]["settings"]["meta_dim"] == 5
    assert "64 × 5" in data["meta_inputs"]
    assert (tmp_path / "out" / "init.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "Var W/target" in out and "0 (same)" in out


def test_command_samples_gaussian_and_environment_inputs(tmp_path: Path) -> None:
    common = ["--preset", "8", "--init", "weight-hyperinit", "--members", "1", "--n", "32", "--dynamic-hidden", "8"]
    assert main(["diagnose", "init", "--meta-dim", "3", "--meta-std", "5", *common, "--out", str(tmp_path / "g")]) == 0
    assert json.loads((tmp_path / "g" / "init.json").read_text())["probes"][0]["settings"]["meta_dim"] == 3
    assert main(["diagnose", "init", "--meta", "env:Pendulum-v1", *common, "--out", str(tmp_path / "e")]) == 0
    assert "env:Pendulum-v1" in json.loads((tmp_path / "e" / "init.json").read_text())["meta_inputs"]


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        (None, ["--init", "bias-hyperint"], "Did you mean 'bias-hyperinit'"),
        (None, ["--preset", "lit"], "unknown primary preset 'lit'"),
        (None, ["--meta", "states.csv"], "must be 'gaussian', 'env:ID' or a .npy file"),
        (np.array([{"a": 1}, {"b": 2}], dtype=object), [], "not a plain numeric .npy array"),
        (np.zeros(5), [], "shape (n, meta_dim)"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), [], "NaN or infinite"),
        (None, ["--meta", "env:NoSuchEnv-v0"], "cannot make Gymnasium environment"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: np.ndarray | None, extra: list[str], message: str
) -> None:
    args = ["diagnose", "init", "--out", str(tmp_path / "out")]
    if setup is not None:
        np.save(tmp_path / "meta.npy", setup, allow_pickle=True)  # an object array can only be written with pickle
        args += ["--meta", str(tmp_path / "meta.npy")]
    assert main(args + extra) == 2
    assert message in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
