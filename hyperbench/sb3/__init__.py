"""The SB3 plug-in layer: hypernetwork and baseline critics, context hyper-actors, TD3/SAC/TQC policies.

Importing this package registers the string aliases (``"SAHyperPolicy"``, ``"ASHyperPolicy"``,
``"HyperbenchPolicy"``, ``"ContextHyperPolicy"``) with TD3, SAC and TQC.
"""

from hyperbench.sb3.actors import CONTEXT_KEY, OBSERVATION_KEY, ContextExtractor, ContextHyperSACActor, ContextHyperTD3Actor
from hyperbench.sb3.critics import HyperbenchCritic, HyperbenchQuantileCritic
from hyperbench.sb3.policies import (
    POLICY_ALIASES,
    ASHyperSACPolicy,
    ASHyperTD3Policy,
    ASHyperTQCPolicy,
    ContextHyperSACPolicy,
    ContextHyperTD3Policy,
    HyperbenchSACPolicy,
    HyperbenchTD3Policy,
    HyperbenchTQCPolicy,
    SAHyperSACPolicy,
    SAHyperTD3Policy,
    SAHyperTQCPolicy,
    register_policy_aliases,
)

register_policy_aliases()

__all__ = [
    "CONTEXT_KEY",
    "OBSERVATION_KEY",
    "POLICY_ALIASES",
    "ASHyperSACPolicy",
    "ASHyperTD3Policy",
    "ASHyperTQCPolicy",
    "ContextExtractor",
    "ContextHyperSACActor",
    "ContextHyperSACPolicy",
    "ContextHyperTD3Actor",
    "ContextHyperTD3Policy",
    "HyperbenchCritic",
    "HyperbenchQuantileCritic",
    "HyperbenchSACPolicy",
    "HyperbenchTD3Policy",
    "HyperbenchTQCPolicy",
    "SAHyperSACPolicy",
    "SAHyperTD3Policy",
    "SAHyperTQCPolicy",
]
