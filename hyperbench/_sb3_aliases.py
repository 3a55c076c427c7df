"""Register the SB3 policy aliases when stable-baselines3 is imported, without importing it (or torch) first.

``import hyperbench`` must make ``TD3("SAHyperPolicy", env)`` work, whichever of the two a script imports
first, but importing torch takes seconds, which the ``hyperbench`` command (``--help``, argument errors,
``envs list``) should not pay. So: if ``stable_baselines3`` is already imported, the aliases are registered
at once; otherwise a finder on ``sys.meta_path`` waits for its import and registers them right after it
has finished executing. The aliases also need sb3-contrib's TQC, and sb3-contrib imports stable-baselines3
half-way through its own import, so the finder watches both and registers when the outermost of the two
imports is complete.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["register_sb3_aliases_on_import"]

_TRIGGERS = ("stable_baselines3", "sb3_contrib")
_depth = 0  # watched imports in progress


def _register_now() -> None:
    importlib.import_module("hyperbench.sb3")  # its import registers the aliases


class _RegisteringLoader(importlib.abc.Loader):
    """Delegates to stable-baselines3's own loader, then registers the aliases."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        global _depth
        _depth += 1
        try:
            self._loader.exec_module(module)
        finally:
            _depth -= 1
        # Put the real loader back so the module looks as if we had never been here.
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        if _depth == 0:
            _remove_finder()
            _register_now()

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, get_data, …
        return getattr(self._loader, name)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loaders of ``stable_baselines3`` and ``sb3_contrib``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _TRIGGERS:
            return None
        spec = None
        for finder in sys.meta_path:  # the finders after this one, as the import system would ask them
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return None  # let the normal machinery report the missing package
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _AliasFinder)]


def register_sb3_aliases_on_import() -> None:
    """Register the policy aliases now if stable-baselines3 is loaded, otherwise as soon as it is."""
    if _TRIGGERS[0] in sys.modules:
        _register_now()
    elif not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
