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


@pytest.mark.parametrize(
    ("losses", "kls"),
    [
        ([0.5, 0.2, -0.1, -0.3], [0.5, 0.2, 0.005, 0.001]),  # the third candidate is the first acceptable one
        ([float("nan"), -1.0, -1.0, -1.0], [0.0, 0.0, 0.0, 0.0]),  # a non-finite candidate is skipped
        ([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]),  # none improves: no step
    ],
)
def test_batched_line_search_takes_the_sequential_search_s_step(losses: list[float], kls: list[float]) -> None:
    from hyperbench.meta.trpo import batched_trpo_line_search, trpo_line_search

    full = th.tensor([1.0, -2.0, 0.5])
    table = {round(f, 6): (loss, kl) for f, loss, kl in zip([1.0, 0.8, 0.64, 0.512], losses, kls)}

    def evaluate(step: th.Tensor) -> tuple[float, float]:
        return table[round(float(step[0]), 6)]

    step, result = trpo_line_search(evaluate, full, 0.0, 0.01, 0.8, 4)
    with count_host_syncs() as syncs:
        lookups = [evaluate(f * full) for f in (1.0, 0.8, 0.64, 0.512)]  # evaluate reads the step: outside the count
    assert len(syncs) == 4  # control: the table lookup reads the step on the host
    it = iter(lookups)
    with count_host_syncs() as syncs:
        b_step, b_result = batched_trpo_line_search(
            lambda s: tuple(th.tensor(v) for v in next(it)), full, th.tensor(0.0), 0.01, 0.8, 4
        )
    assert syncs == []
    assert th.equal(b_step, step)
    assert bool(b_result.accepted) == result.accepted and int(b_result.n_backtracks) == result.n_backtracks
    assert float(b_result.step_fraction) == pytest.approx(result.step_fraction)
