"""The MAML family as suite methods: ``maml``, ``context-maml``, ``hyper-maml``.

This module does not import :mod:`hyperbench.bench` (``meta`` sits below ``bench``): the bench registry
(``hyperbench.bench.methods``) calls :func:`register_all` with its own ``register_method``.

Every :class:`~hyperbench.meta.MAMLConfig` field except ``variant`` is a configurable default, so a suite
may write e.g. ``{name: hyper-maml, config: {meta_batch_size: 20, hidden: [64, 64]}}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from hyperbench.meta.maml import MAML, VARIANTS, MAMLConfig

__all__ = ["METHODS", "load_maml", "make_context_maml", "make_hyper_maml", "make_maml", "maml_defaults", "register_all"]

_DESCRIPTIONS = {
    "maml": "MAML-TRPO (Finn et al. 2017): MLP policy, no context, one inner policy-gradient step",
    "context-maml": "Context-MAML (Sarafian et al. 2021): MAML with an MLP on [state, oracle context]",
    "hyper-maml": "Hyper-MAML (Sarafian et al. 2021): MAML with a hypernetwork policy, oracle context -> weights",
}


def maml_defaults(variant: str) -> dict[str, Any]:
    """The configurable defaults of one variant, as plain values (``variant`` itself is fixed by the name).

    :param variant: one of :data:`~hyperbench.meta.maml.VARIANTS`
    """
    values = MAMLConfig(variant=variant).to_dict()
    values.pop("variant")
    return values


def _build(ctx: Any, variant: str) -> MAML:
    family = ctx.task.family
    if family is None:
        raise ValueError(f"{variant} is a meta-learner: it needs a task family (e.g. point-robot), not {ctx.task.name!r}")
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(ctx.config).items()}
    known = {f.name for f in dataclasses.fields(MAMLConfig)}
    config = {k: v for k, v in config.items() if k in known}  # e.g. a suite-wide "device" is not ours
    return MAML(family, variant=variant, config=config, seed=int(ctx.seed), tensorboard_log=None)


def make_maml(ctx: Any) -> MAML:
    """Factory of ``maml`` (``ctx``: the bench's ``BuildContext``)."""
    return _build(ctx, "maml")


def make_context_maml(ctx: Any) -> MAML:
    """Factory of ``context-maml``."""
    return _build(ctx, "context-maml")


def make_hyper_maml(ctx: Any) -> MAML:
    """Factory of ``hyper-maml``."""
    return _build(ctx, "hyper-maml")


def load_maml(path: str, ctx: Any) -> MAML:
    """Restore a checkpoint for a resumed run, attached to the run's own family object."""
    return MAML.load(path, family=ctx.task.family)


#: name → keyword arguments of the bench's ``register_method`` (lazy string entry points).
METHODS: dict[str, dict[str, Any]] = {
    name: {
        "factory": f"hyperbench.meta.registry:make_{name.replace('-', '_')}",
        "kind": "meta",
        "defaults": maml_defaults(name),
        "description": _DESCRIPTIONS[name],
        "loader": "hyperbench.meta.registry:load_maml",
    }
    for name in VARIANTS
}


def register_all(register_method: Callable[..., Any], replace: bool = False) -> list[str]:
    """Register every method of :data:`METHODS` with the bench's ``register_method``.

    :param register_method: ``hyperbench.bench.registry.register_method``
    :param replace: replace existing registrations of the same names
    :return: the registered names
    """
    for name, kwargs in METHODS.items():
        register_method(name, **_plain(kwargs), replace=replace)
    return list(METHODS)


def _plain(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in kwargs.items()}
