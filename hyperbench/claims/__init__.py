"""The papers' claims as data, decided from this repository's results (``hyperbench claims``).

:mod:`hyperbench.claims.registry` holds the claims (plain data), :mod:`hyperbench.claims.evaluate` decides
them from results directories, :mod:`hyperbench.claims.table` renders the table. Exports load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CLAIMS", "Claim", "Evidence", "Finding", "Rule", "claims_table", "evaluate_claims", "get_claim"]

_LAZY = {
    "CLAIMS": "hyperbench.claims.registry",
    "Claim": "hyperbench.claims.registry",
    "Evidence": "hyperbench.claims.registry",
    "Rule": "hyperbench.claims.registry",
    "get_claim": "hyperbench.claims.registry",
    "Finding": "hyperbench.claims.evaluate",
    "evaluate_claims": "hyperbench.claims.evaluate",
    "claims_table": "hyperbench.claims.table",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hyperbench.claims' has no attribute {name!r}")
