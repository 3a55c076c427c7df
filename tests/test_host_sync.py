"""The round-trip counter itself: it must see every kind of round-trip (negative control) and nothing else."""

from __future__ import annotations

import numpy as np
import torch as th

from tests.host_sync import count_host_syncs


def test_the_counter_catches_every_kind_of_round_trip() -> None:
    x = th.tensor([1.5, -2.0])
    s = x.sum()
    with count_host_syncs() as syncs:
        s.item()
        float(s)
        int(s)
        bool(s > 0)
        if s < 0:
            pass
        x.cpu()
        x.numpy()
        np.asarray(x)
        x.tolist()
        [0, 1, 2][th.tensor(1)]
        f"{s:.2f}"
    methods = [sync.method for sync in syncs]
    assert methods == [
        "item", "__float__", "__int__", "__bool__", "__bool__", "cpu", "numpy", "numpy", "tolist", "__index__", "item",
    ]  # fmt: skip
    assert all(sync.where.startswith(__file__) for sync in syncs), syncs


def test_the_counter_ignores_device_side_work_and_restores_torch() -> None:
    original = th.Tensor.item
    x = th.randn(8, 4, requires_grad=True)
    with count_host_syncs() as syncs:
        y = (x @ x.T).relu().sum()
        y.backward()
        th.where(y > 0, y, -y)
        th.optim.Adam([x], lr=0.1, fused=True).step()
    assert syncs == []
    assert th.Tensor.item is original
