"""Diagnostics: the meta-gradient variance of MAML-family learners (and its study), the gradient accuracy of
TD3/SAC/TQC critics (grad-cs), and the probe of a hypernetwork's initialisation on real meta inputs.

Exports are loaded lazily so that ``hyperbench --help`` does not import torch; the function
:func:`~hyperbench.diagnostics.grad_cs.grad_cs` (NumPy only at import) is bound eagerly, because its module has
the same name and would otherwise shadow it once imported.
"""

from __future__ import annotations

import importlib
from typing import Any

from hyperbench.diagnostics.grad_cs import grad_cs

_VARIANCE = ["VarianceResult", "meta_gradient_variance", "plot_variance"]
_GRAD_CS = ["GradCSConfig", "GradCSResult", "plot_grad_cs"]
_CALLBACK = ["GradCSCallback"]
_INIT_PROBE = ["InitProbe", "env_meta_inputs", "plot_probes", "probe_init"]

__all__ = [*_VARIANCE, *_GRAD_CS, *_CALLBACK, *_INIT_PROBE, "grad_cs"]

_LAZY = {
    **{name: "hyperbench.diagnostics.variance" for name in _VARIANCE},
    **{name: "hyperbench.diagnostics.grad_cs" for name in _GRAD_CS},
    **{name: "hyperbench.diagnostics.grad_cs_callback" for name in _CALLBACK},
    **{name: "hyperbench.diagnostics.init_probe" for name in _INIT_PROBE},
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hyperbench.diagnostics' has no attribute {name!r}")
