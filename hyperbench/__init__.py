"""hyperbench: hypernetwork critics and policies for stable-baselines3, and RL / meta-RL benchmark suites.

Importing :mod:`hyperbench` registers the Gymnasium task families (namespace ``hyperbench/``) and the SB3
policy aliases (``"SAHyperPolicy"`` and friends). Environments load their simulators lazily.
"""

import hyperbench.envs  # registers the gymnasium ids
import hyperbench.sb3  # noqa: F401  (registers the SB3 policy aliases)
from hyperbench.version import __version__

__all__ = ["__version__"]
