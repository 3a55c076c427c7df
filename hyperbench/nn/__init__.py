"""Pure-torch hypernetworks and their initialisations (no SB3 imports)."""

from hyperbench.nn.hypernet import (
    PRIMARY_PRESETS,
    DynamicLayerParams,
    HyperNetwork,
    PrimaryConfig,
    n_parameters,
    resolve_primary,
)
from hyperbench.nn.init import BASE_INITS, INIT_SCHEMES, apply_init, get_base_init
from hyperbench.nn.layers import EnsembleLinear, EnsembleResBlock
from hyperbench.nn.normalize import RunningNormalizer

__all__ = [
    "BASE_INITS",
    "INIT_SCHEMES",
    "PRIMARY_PRESETS",
    "DynamicLayerParams",
    "EnsembleLinear",
    "EnsembleResBlock",
    "HyperNetwork",
    "PrimaryConfig",
    "RunningNormalizer",
    "apply_init",
    "get_base_init",
    "n_parameters",
    "resolve_primary",
]
