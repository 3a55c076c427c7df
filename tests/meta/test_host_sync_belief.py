"""VariBAD's and RL2's update steps (PPO, and VariBAD's VAE) make no host round-trip (see tests/host_sync.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch as th

import hyperbench.meta.varibad as varibad_module
from hyperbench.meta import RL2, VariBAD
from hyperbench.meta.varibad import Trajectories
from tests.host_sync import count_host_syncs

TINY = {"meta_batch_size": 2, "policy_hidden": [16], "gru_hidden": 16, "n_epochs": 2}


def _learner_and_data(cls: type, variant: str) -> tuple[Any, Trajectories, dict[str, th.Tensor]]:
    learner = cls("gridnavi", variant=variant, config=TINY, seed=0, device="cpu")
    learner._train_iteration()  # fills the VAE buffer
    s = learner.settings
    rollout = learner.rollout.run(
        learner, learner.family.train_tasks[:2], learner.meta_episode(s.episodes_per_meta_episode), learner.rng,
        learner.torch_rng,
    )  # fmt: skip
    traj, extras = learner._join(rollout.batches)  # collection (environments on the host) is not the update
    return learner, traj, extras


@pytest.mark.parametrize(
    ("cls", "variant"), [(VariBAD, "varibad"), (VariBAD, "hyper-varibad"), (RL2, "rl2"), (RL2, "hyper-rl2")]
)
def test_update_has_no_round_trip(cls: type, variant: str) -> None:
    learner, traj, extras = _learner_and_data(cls, variant)
    with count_host_syncs() as syncs:
        stats = learner._ppo_update(traj, extras)
        if learner.uses_vae:
            learner._buffer_add(traj)
            stats.update(learner._vae_update())
    assert syncs == []
    assert set(stats) >= {"train/policy_loss", "train/value_loss", "train/entropy", "train/explained_variance"}
    if learner.uses_vae:
        assert {"vae/reconstruction", "vae/kl"} <= set(stats)
    assert all(isinstance(v, th.Tensor) and v.dim() == 0 for v in stats.values())  # read after the update
    assert all(th.isfinite(v) for k, v in stats.items() if k != "train/explained_variance")


def test_the_counter_sees_a_read_inside_the_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-situ control: the same update with a loss read back per minibatch is caught, once per minibatch."""
    learner, traj, extras = _learner_and_data(VariBAD, "varibad")
    original = varibad_module.ppo_losses
    calls = []

    def reading(*args: Any) -> Any:
        out = original(*args)
        calls.append(out[0].item())
        return out

    monkeypatch.setattr(varibad_module, "ppo_losses", reading)
    with count_host_syncs() as syncs:
        learner._ppo_update(traj, extras)
    assert len(calls) > 0 and len(syncs) == len(calls)
    assert all(sync.method == "item" and "test_host_sync_belief.py" in sync.where for sync in syncs)
