"""Hyper-MAML with a scheme that standardises its context (hfi, weight-hyperinit): calibrated once, then fixed."""

from __future__ import annotations

import numpy as np
import torch as th

from hyperbench.envs import TaskFamily
from hyperbench.meta import MAML


def test_context_statistics_come_from_the_training_tasks_and_stay_fixed(point_family: TaskFamily) -> None:
    config = {"meta_batch_size": 4, "episodes_per_task": 2, "hidden": (16,), "hyper_primary": (8,), "hyper_init": "hfi"}
    learner = MAML(point_family, variant="hyper-maml", config=config, seed=0)
    norm = learner.policy.hypernet.primary.meta_norm  # type: ignore[union-attr]
    assert norm is not None and not norm.auto_update
    contexts = np.stack([point_family.oracle_context(t) for t in point_family.train_tasks])
    np.testing.assert_allclose(norm.running_mean.numpy(), contexts.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.running_var.numpy(), contexts.var(0), rtol=1e-4, atol=1e-7)
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    # Inner steps and the TRPO line search run inside torch.func transforms; the statistics must not move.
    learner.learn(config["meta_batch_size"] * config["episodes_per_task"] * point_family.horizon)
    assert learner.last_update["train/step_accepted"] in (0.0, 1.0)
    for k, v in norm.state_dict().items():
        th.testing.assert_close(v, before[k], rtol=0, atol=0)
