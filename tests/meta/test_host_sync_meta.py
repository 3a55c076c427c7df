"""MAML's and PEARL's update steps make no host round-trip (see tests/host_sync.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch as th

from hyperbench.meta import MAML, PEARL
from tests.host_sync import count_host_syncs

from .conftest import TINY

PEARL_SMALL = {
    "hidden": (16, 16), "encoder_hidden": (16,), "meta_batch_size": 4, "context_batch_size": 8, "batch_size": 16,
    "initial_steps": 20, "tasks_per_iteration": 3, "prior_steps": 20, "posterior_steps": 20, "gradient_steps": 2,
    "hyper_primary": (8,), "hyper_dynamic": (16,),
}  # fmt: skip


@pytest.mark.parametrize("variant", ["maml", "hyper-maml"])
def test_maml_meta_update_has_no_round_trip_with_the_batched_line_search(point_family: Any, variant: str) -> None:
    config = {**TINY, "meta_batch_size": 4, "episodes_per_task": 4, "hidden": (16,), "hyper_primary": (8,)}
    steps = {}
    for mode in ("batched", "sequential"):
        learner = MAML(point_family, variant=variant, config={**config, "line_search": mode}, seed=0, device="cpu")
        mb = learner.collect_meta_batch()  # collection (environments on the host) is not the update
        with count_host_syncs() as syncs:
            meta = learner.compute_meta_step(mb)
            learner.apply_step(meta.step)
        steps[mode] = (meta, syncs)
    batched, sequential = steps["batched"], steps["sequential"]
    assert batched[1] == []
    # in-situ control: the sequential search reads every candidate's loss and KL, and the counter sees it
    assert len(sequential[1]) >= 2
    # the same step either way
    assert bool(batched[0].search.accepted) == sequential[0].search.accepted
    assert int(batched[0].search.n_backtracks) == sequential[0].search.n_backtracks
    th.testing.assert_close(batched[0].step, sequential[0].step, rtol=0, atol=0)
    assert float(batched[0].search.kl) == sequential[0].search.kl


@pytest.mark.parametrize("variant", ["pearl", "hyper-pearl"])
def test_pearl_gradient_step_has_no_round_trip(point_family: Any, variant: str) -> None:
    learner = PEARL(point_family, variant=variant, config=PEARL_SMALL, seed=0, device="cpu")
    learner.learn(1)  # one iteration: collection fills the buffers, then updates
    with count_host_syncs() as syncs:
        stats = learner.gradient_step()
    assert syncs == []
    assert all(isinstance(v, th.Tensor) and v.dim() == 0 for v in stats.values())  # read after the step
