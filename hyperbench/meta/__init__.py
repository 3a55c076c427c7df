"""Meta-RL learners with one SB3-shaped interface (:class:`MetaLearner`): MAML, Context-MAML, Hyper-MAML."""

from hyperbench.meta.base import CheckpointError, EvalResult, MetaLearner, load_learner, read_checkpoint
from hyperbench.meta.maml import MAML, VARIANTS, MAMLConfig, MAMLState
from hyperbench.meta.policies import HyperGaussianPolicy, MLPGaussianPolicy

__all__ = [
    "MAML",
    "VARIANTS",
    "CheckpointError",
    "EvalResult",
    "HyperGaussianPolicy",
    "MAMLConfig",
    "MAMLState",
    "MLPGaussianPolicy",
    "MetaLearner",
    "load_learner",
    "read_checkpoint",
]
