"""rl-baselines3-zoo's own ``train`` and ``enjoy`` scripts with hyperbench policies (TD3, SAC, TQC).

The zoo replays a model with ``custom_objects={"learning_rate": 0.0, "lr_schedule": lambda _: 0.0}``, which
is how a separate critic learning rate once failed (a division by the zero rate). The scripts run
in-process with tiny budgets: the point is the zoo's code paths, not learning.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

rl_zoo3 = pytest.importorskip("rl_zoo3")
pytest.importorskip("requests")  # the zoo's enjoy script imports it


def _zoo(script: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import rl_zoo3.enjoy
    import rl_zoo3.train

    monkeypatch.setattr(sys, "argv", [script, *argv])
    getattr(rl_zoo3, script).__dict__[script]()


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("algo", ["td3", "sac", "tqc"])
def test_zoo_trains_saves_and_replays_a_hyperbench_policy(
    algo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--algo", algo, "--env", "Pendulum-v1", "--gym-packages", "hyperbench", "-f", str(tmp_path)]
    params = [
        "learning_starts:40",
        "batch_size:16",
        "policy:'SAHyperPolicy'",
        "policy_kwargs:dict(preset='lite', critic_lr=3e-4, dynamic_hidden=(32,), net_arch=dict(pi=[32], qf=[]))",
    ]
    _zoo("train", [*common, "-n", "60", "--eval-freq", "-1", "--seed", "0", "-params", *params], monkeypatch)
    saved = tmp_path / algo / "Pendulum-v1_1" / "Pendulum-v1.zip"
    assert saved.is_file()
    capsys.readouterr()

    _zoo("enjoy", [*common, "-n", "20", "--no-render", "--deterministic"], monkeypatch)
    out = capsys.readouterr().out
    assert f"Loading {saved}" in out

    # The replayed model is the trained one: same policy class, critic and separate critic rate.
    from rl_zoo3 import ALGOS

    model = ALGOS[algo].load(saved, custom_objects={"learning_rate": 0.0, "lr_schedule": lambda _: 0.0})
    assert type(model.policy).__name__ == f"SAHyper{algo.upper()}Policy"
    assert model.critic.critic_name == "sa-hyper"
    assert model.policy.critic_lr == pytest.approx(3e-4)
    # The saved ratio turns the zoo's learning rate (TD3 on Pendulum: 1e-3) into the critic's 3e-4.
    ratio = model.critic.optimizer.param_groups[0]["lr_ratio"]
    assert ratio * ALGOS[algo].load(saved).lr_schedule(1.0) == pytest.approx(3e-4)
