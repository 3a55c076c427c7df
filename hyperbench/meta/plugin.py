"""Import to make sure ``maml``, ``context-maml`` and ``hyper-maml`` are registered with the suite runner.

The bench registry registers them itself; this module (``--plugin hyperbench.meta.plugin``) is a no-op then,
and registers them when used with a bench that does not.
"""

from __future__ import annotations

from hyperbench.bench.registry import list_methods, register_method
from hyperbench.meta.registry import METHODS, register_all

if not set(METHODS) <= set(list_methods()):
    register_all(register_method, replace=True)
