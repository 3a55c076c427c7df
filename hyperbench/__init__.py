"""hyperbench: hypernetwork critics and policies for stable-baselines3, and RL / meta-RL benchmark suites.

Importing :mod:`hyperbench` registers the Gymnasium task families (namespace ``hyperbench/``) and the SB3
policy aliases (``"SAHyperPolicy"`` and friends; registered when stable-baselines3 is imported, before or
after this package, so that ``import hyperbench`` itself does not load torch). Environments load their
simulators lazily.
"""

import hyperbench.envs  # noqa: F401  (registers the gymnasium ids)
from hyperbench._sb3_aliases import register_sb3_aliases_on_import
from hyperbench.version import __version__

register_sb3_aliases_on_import()

__all__ = ["__version__"]
