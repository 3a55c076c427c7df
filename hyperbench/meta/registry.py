"""The in-repo meta learners as suite methods (``maml``, ``context-maml``, ``hyper-maml``, ``pearl``, ``hyper-pearl``,
``varibad``, ``hyper-varibad``, ``film-varibad``, ``rl2``, ``hyper-rl2``, ``film-rl2``).

This module does not import :mod:`hyperbench.bench` (``meta`` sits below ``bench``): the bench registry
(``hyperbench.bench.methods``) calls :func:`register_all` with its own ``register_method``.

A suite method is a learner class plus fixed constructor arguments (MAML's ``variant``) and the learner's
configurable defaults; every method is built by the same factory (:func:`build_method`) and restored by the
bench's generic loader (:func:`hyperbench.meta.load_learner`, whatever the checkpoint's class). Adding a
learner is one :class:`LearnerMethod` entry in :data:`METHODS`: its class must provide
``suite_defaults(**fixed)`` (the configurable values) and ``from_suite(family, config, seed, **fixed)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hyperbench.meta.base import MetaLearner
from hyperbench.meta.maml import MAML, VARIANTS
from hyperbench.meta.pearl import PEARL, PEARL_VARIANTS
from hyperbench.meta.rl2 import RL2, RL2_VARIANTS
from hyperbench.meta.varibad import VARIBAD_VARIANTS, VariBAD

__all__ = ["METHODS", "LearnerMethod", "build_method", "register_all"]


@dataclass(frozen=True)
class LearnerMethod:
    """One suite method of an in-repo learner."""

    learner: type[MetaLearner]
    """the learner class"""
    fixed: Mapping[str, Any]
    """constructor arguments the method name fixes (not overridable by suites)"""
    description: str
    """one line for listings and reports"""
    action_kinds: tuple[str, ...] = ("box", "discrete")
    """action spaces the learner can act in"""
    needs_context: bool = False
    """the learner reads the oracle context"""
    episodes_per_task: int = 1
    """episodes of one task per meta-episode"""
    requires: tuple[str, ...] = field(default_factory=tuple)
    """modules that must import for the method to run"""

    def defaults(self) -> dict[str, Any]:
        """The configurable defaults, as plain values."""
        return dict(self.learner.suite_defaults(**self.fixed))


def build_method(ctx: Any, *, name: str) -> MetaLearner:
    """Factory of every method of :data:`METHODS` (``ctx``: the bench's ``BuildContext``).

    :param ctx: build context (``ctx.task.family``, ``ctx.config``, ``ctx.seed``)
    :param name: the method's name
    """
    entry = METHODS[name]
    family = ctx.task.family
    if family is None:
        raise ValueError(f"{name} is a meta-learner: it needs a task family (e.g. point-robot), not {ctx.task.name!r}")
    known = set(entry.defaults())
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(ctx.config).items() if k in known}
    # keys outside the learner's defaults (e.g. a suite-wide "device") are not ours
    return entry.learner.from_suite(family, config, int(ctx.seed), **entry.fixed)


_MAML_DESCRIPTIONS = {
    "maml": "MAML-TRPO (Finn et al. 2017): MLP policy, no context, one inner policy-gradient step",
    "context-maml": "Context-MAML (Sarafian et al. 2021): MAML with an MLP on [state, oracle context]",
    "hyper-maml": "Hyper-MAML (Sarafian et al. 2021): MAML with a hypernetwork policy, oracle context -> weights",
}

#: name → method. MAML's Gaussian policy needs Box actions; its meta-episode holds adaptation and
#: post-adaptation episodes of one task.
METHODS: dict[str, LearnerMethod] = {
    name: LearnerMethod(
        MAML,
        {"variant": name},
        _MAML_DESCRIPTIONS[name],
        action_kinds=("box",),
        needs_context=name != "maml",
        episodes_per_task=2,
    )
    for name in VARIANTS
}

_PEARL_DESCRIPTIONS = {
    "pearl": "PEARL (Rakelly et al. 2019): SAC on a latent task variable inferred from context (product of Gaussians)",
    "hyper-pearl": "Hyper-PEARL (Sarafian et al. 2021): PEARL, policy primary(z) -> net(s), critic primary(s) -> net(a, z)",
}

#: PEARL's SAC needs Box actions; its meta-episode holds context-collecting (prior) and posterior episodes.
METHODS.update(
    {
        name: LearnerMethod(PEARL, {"variant": name}, _PEARL_DESCRIPTIONS[name], action_kinds=("box",), episodes_per_task=2)
        for name in PEARL_VARIANTS
    }
)

_RECURRENT_DESCRIPTIONS = {
    "varibad": "VariBAD (Zintgraf et al. 2020): PPO policy on [s, posterior mean, variance] of a recurrent VAE's belief",
    "hyper-varibad": "Hyper-VariBAD (Beck et al. 2022): VariBAD, a hypernetwork maps the belief to every policy layer over s "
    "(config init: kaiming / hfi / weight-hyperinit / bias-hyperinit)",
    "rl2": "RL2 (Duan et al. 2016): GRU policy over (s, a_prev, r_prev, done) trained with PPO across the meta-episode",
    "hyper-rl2": "Hyper-RL2 (Beck et al. 2022): RL2, a hypernetwork maps the GRU state to every policy layer over s "
    "(config init: kaiming / hfi / weight-hyperinit / bias-hyperinit)",
    "film-varibad": "FiLM-VariBAD (Beck et al. 2022's FiLM arm): VariBAD, the belief scales and shifts the policy layers",
    "film-rl2": "FiLM-RL2: RL2, a policy over s whose layers the GRU state scales and shifts (FiLM)",
}

#: VariBAD and RL2 act in Box and Discrete spaces; a meta-episode holds several episodes of one task (the
#: training default: 4 on Discrete families such as GridNavi, 2 on Box families).
METHODS.update(
    {
        name: LearnerMethod(cls, {"variant": name}, _RECURRENT_DESCRIPTIONS[name], episodes_per_task=2)
        for cls, variants in ((VariBAD, VARIBAD_VARIANTS), (RL2, RL2_VARIANTS))
        for name in variants
    }
)


def register_all(register_method: Callable[..., Any], replace: bool = False) -> list[str]:
    """Register every method of :data:`METHODS` with the bench's ``register_method``.

    :param register_method: ``hyperbench.bench.registry.register_method``
    :param replace: replace existing registrations of the same names
    :return: the registered names
    """
    for name, entry in METHODS.items():
        register_method(
            name,
            functools.partial(build_method, name=name),
            kind="meta",
            defaults=entry.defaults(),
            description=entry.description,
            action_kinds=entry.action_kinds,
            needs_context=entry.needs_context,
            episodes_per_task=entry.episodes_per_task,
            requires=entry.requires,
            replace=replace,
        )
    return list(METHODS)
