"""Meta-RL learners with one SB3-shaped contract (:class:`MetaLearner`, ``docs/meta-learners.md``): MAML,
Context-MAML, Hyper-MAML, PEARL, Hyper-PEARL, VariBAD, RL2 and their hypernetwork variants, all driven by the
shared rollout loop (:class:`RolloutLoop`)."""

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
from hyperbench.meta.rl2 import RL2, RL2_VARIANTS, RL2Config
from hyperbench.meta.rollout import EpisodeBatch, Headline, Phase, RolloutLoop, Transition
from hyperbench.meta.varibad import VARIBAD_VARIANTS, RecurrentState, VariBAD, VariBADConfig

__all__ = [
    "MAML",
    "PEARL",
    "PEARL_VARIANTS",
    "RL2",
    "RL2_VARIANTS",
    "VARIANTS",
    "VARIBAD_VARIANTS",
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
    "RL2Config",
    "RecurrentState",
    "RolloutLoop",
    "Transition",
    "VariBAD",
    "VariBADConfig",
    "load_learner",
    "read_checkpoint",
]
