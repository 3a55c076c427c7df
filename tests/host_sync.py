"""Count host round-trips (tensor → Python value or host memory) made while a block of code runs.

On a GPU every one of these waits for the device to finish its queued work and copies the value back, so
an update step that makes none can run ahead of the device. The counter patches the ``torch.Tensor``
methods such a round-trip goes through (``item``, ``cpu``, ``numpy``, ``tolist`` and the conversions
``bool()``, ``float()``, ``int()``, ``operator.index()``; ``np.asarray(tensor)`` and f-string formatting
go through ``numpy`` and ``item``) and records, for each call, the first calling frame outside torch.

It counts calls on CPU tensors too (the tests run on a CPU), so code that keeps host-side bookkeeping
should keep it in NumPy or Python values, not in tensors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import torch as th

METHODS = ("item", "cpu", "numpy", "tolist", "__bool__", "__float__", "__int__", "__index__")
_TORCH_DIR = os.path.dirname(th.__file__)


class HostSync(NamedTuple):
    """One round-trip: the method and the ``file:line`` that asked for it."""

    method: str
    where: str


def _caller() -> str:
    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith(_TORCH_DIR) or frame.f_code.co_filename == __file__):
        frame = frame.f_back  # type: ignore[assignment]
    return "?" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


@contextmanager
def count_host_syncs() -> Iterator[list[HostSync]]:
    """``with count_host_syncs() as syncs: ...`` fills ``syncs`` with every round-trip made inside the block."""
    syncs: list[HostSync] = []
    originals = {name: getattr(th.Tensor, name) for name in METHODS}
    depth = [0]

    def wrap(name: str, original: Any) -> Any:
        def counted(self: th.Tensor, *args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:  # a conversion that calls another (e.g. __float__ -> item) is one round-trip
                syncs.append(HostSync(name, _caller()))
            depth[0] += 1
            try:
                return original(self, *args, **kwargs)
            finally:
                depth[0] -= 1

        return counted

    for name, original in originals.items():
        setattr(th.Tensor, name, wrap(name, original))
    try:
        yield syncs
    finally:
        for name, original in originals.items():
            setattr(th.Tensor, name, original)
