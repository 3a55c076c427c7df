"""Meta-RL learners with one SB3-shaped contract (:class:`MetaLearner`, ``docs/meta-learners.md``): MAML,
Context-MAML, Hyper-MAML, PEARL, Hyper-PEARL, all driven by the shared rollout loop (:class:`RolloutLoop`)."""

from hyperbench.meta.base import (
    CheckpointError,
    EvalResult,
    MetaLearner,
    load_learner,
    read_checkpoint,
)
from hyperbench.meta.maml import MAML, VARIANTS, MAMLConfig, MAMLState
from hyperbench.meta.pearl import PEARL, PEARL_VARIANTS, PEARLConfig, PEARLState
from hyperbench.meta.policies import HyperGaussianPolicy, MLPGaussianPolicy
from hyperbench.meta.rollout import EpisodeBatch, Headline, Phase, RolloutLoop, Transition

__all__ = [
    "MAML",
    "PEARL",
    "PEARL_VARIANTS",
    "VARIANTS",
    "CheckpointError",
    "EpisodeBatch",
    "EvalResult",
    "Headline",
    "HyperGaussianPolicy",
    "MAMLConfig",
    "MAMLState",
    "MLPGaussianPolicy",
    "MetaLearner",
    "PEARLConfig",
    "PEARLState",
    "Phase",
    "RolloutLoop",
    "Transition",
    "load_learner",
    "read_checkpoint",
]
