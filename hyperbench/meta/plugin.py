"""Import to register ``maml``, ``context-maml`` and ``hyper-maml`` with the suite runner.

``hyperbench run SUITE --plugin hyperbench.meta.plugin`` (needed only while the bench registry does not call
:func:`hyperbench.meta.registry.register_all` itself).
"""

from __future__ import annotations

from hyperbench.bench.registry import list_methods, register_method
from hyperbench.meta.registry import METHODS, register_all

if not set(METHODS) <= set(list_methods()):
    register_all(register_method, replace=True)
