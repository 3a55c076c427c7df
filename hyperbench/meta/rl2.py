"""RL2 (Duan et al. 2016; Wang et al. 2016), with plain or hypernetwork policies (Beck et al., CoRL 2022).

A recurrent policy over ``(s_t, a_{t-1}, r_{t-1}, d_{t-1})`` trained end to end with PPO across whole
meta-episodes; the recurrent state is kept across the episodes of a meta-episode (``d`` tells it that an
episode ended) and reset only at the meta-episode boundary. It is :class:`~hyperbench.meta.varibad.VariBAD`'s
machinery without the VAE: the same GRU (fed ``(a, r, s', d)`` after every step), its state ``h_t`` is the
task representation, and the PPO loss back-propagates through the GRU over the whole meta-episode (the
reference implementation's RL2 is VariBAD's code with the decoder disabled and the RL loss through the
encoder, too). ``policy="plain"`` (variant ``rl2``) is an MLP over ``[s_t, h_t]``; ``hyper-rl2`` is Beck et
al.'s "RNN + HN": a hypernetwork maps ``h_t`` to every layer of the policy (and value) network over ``s_t``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hyperbench.meta.varibad import VariBAD, VariBADConfig

__all__ = ["RL2", "RL2_VARIANTS", "RL2Config"]

#: The two RL2 variants.
RL2_VARIANTS: tuple[str, ...] = ("rl2", "hyper-rl2", "film-rl2")


@dataclass
class RL2Config(VariBADConfig):
    """Hyperparameters of :class:`RL2`: :class:`VariBADConfig`'s policy, PPO and encoder fields (its VAE fields
    are unused), the policy gradient through the recurrent network."""

    VARIANTS: ClassVar[tuple[str, ...]] = RL2_VARIANTS

    variant: str = "rl2"
    """``"rl2"`` (MLP over ``[s, h]``), ``"hyper-rl2"`` (hypernetwork ``h`` → policy over ``s``) or ``"film-rl2"``"""
    policy_through_encoder: bool = True
    """RL2 trains its recurrent network with the policy loss (set False only for ablations)"""


class RL2(VariBAD):
    """RL2 and Hyper-RL2 as a hyperbench meta learner (same constructor as :class:`VariBAD`)."""

    config_cls = RL2Config
    default_variant = "rl2"
    uses_vae = False
    done_input = True
