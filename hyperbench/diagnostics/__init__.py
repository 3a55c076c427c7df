"""Diagnostics of trained learners: the meta-gradient variance of MAML-family learners (and its study).

Exports are loaded lazily so that ``hyperbench --help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["VarianceResult", "meta_gradient_variance", "plot_variance"]

_LAZY = {name: "hyperbench.diagnostics.variance" for name in __all__}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hyperbench.diagnostics' has no attribute {name!r}")
