"""Named initialisation schemes for :class:`~hyperbench.nn.hypernet.HyperNetwork`.

A hypernetwork's *generated* weights are what the base (dynamic) network computes with, so "initialised
well" means the generated weights look like a standard initialisation of the base network. The schemes:

========================  =========================================================================
``kaiming``               naive: every layer, heads included, initialised like an ordinary ``nn.Linear``
``hyperl``                the published SA-Hyper code (Sarafian et al. 2021), TD3 variant
``hyperl-sac``            the same, with the SAC variant's primary scale
``hfi``                   hyperfan-in (Chang, Sacramento & Grewe, ICLR 2020)
``bias-hyperinit``        Beck et al. (CoRL 2022): heads' weights 0, heads' biases = a base-init draw
``weight-hyperinit``      Beck et al. (CoRL 2022): heads' biases 0, heads' weight columns = base-init draws
========================  =========================================================================

The target base initialisation for the HyperInit schemes is selectable (:data:`BASE_INITS`).

Layout reminder: the fused head is an :class:`~hyperbench.nn.layers.EnsembleLinear` with weight
``(E, latent, n_generated)`` — row ``k`` is what latent unit ``k`` contributes to every generated number,
i.e. what Beck et al. call a *column* of the head matrix in ``W_gen = H z + h`` notation.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch as th
from torch import nn

from hyperbench.nn.hypernet import HyperNetwork
from hyperbench.nn.layers import ensemble_linears


@dataclass(frozen=True)
class BaseInit:
    """A standard initialisation of an ``nn.Linear(fan_in, fan_out)`` (the target for generated weights)."""

    name: str
    weight_variance: Callable[[int, int], float]
    """``(fan_in, fan_out) -> Var(W_ij)``"""
    sample_weight: Callable[[int, int], th.Tensor]
    """``(fan_in, fan_out) -> W`` in ``nn.Linear`` layout ``(out, in)``"""
    sample_bias: Callable[[int, int], th.Tensor]
    """``(fan_in, fan_out) -> b`` of shape ``(out,)``"""


def _uniform(shape: tuple[int, ...], bound: float) -> th.Tensor:
    return th.empty(shape).uniform_(-bound, bound)


BASE_INITS: dict[str, BaseInit] = {
    # PyTorch's nn.Linear default, kaiming_uniform_(a=√5): U(±1/√fan_in), Var = 1/(3·fan_in); bias alike.
    "kaiming-uniform": BaseInit(
        "kaiming-uniform",
        weight_variance=lambda fan_in, fan_out: 1.0 / (3.0 * fan_in),
        sample_weight=lambda fan_in, fan_out: _uniform((fan_out, fan_in), 1.0 / math.sqrt(fan_in)),
        sample_bias=lambda fan_in, fan_out: _uniform((fan_out,), 1.0 / math.sqrt(fan_in)),
    ),
    # He et al. 2015 for ReLU: N(0, 2/fan_in), bias 0.
    "kaiming-normal": BaseInit(
        "kaiming-normal",
        weight_variance=lambda fan_in, fan_out: 2.0 / fan_in,
        sample_weight=lambda fan_in, fan_out: th.randn(fan_out, fan_in) * math.sqrt(2.0 / fan_in),
        sample_bias=lambda fan_in, fan_out: th.zeros(fan_out),
    ),
    # Glorot & Bengio 2010: U(±√(6/(fan_in+fan_out))), bias 0.
    "xavier-uniform": BaseInit(
        "xavier-uniform",
        weight_variance=lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
        sample_weight=lambda fan_in, fan_out: _uniform((fan_out, fan_in), math.sqrt(6.0 / (fan_in + fan_out))),
        sample_bias=lambda fan_in, fan_out: th.zeros(fan_out),
    ),
}


def get_base_init(name: str) -> BaseInit:
    """Look up a base initialisation by name, with a helpful error for unknown names."""
    if name not in BASE_INITS:
        raise ValueError(_unknown("base initialisation", name, BASE_INITS))
    return BASE_INITS[name]


def _unknown(kind: str, name: str, valid: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown {kind} {name!r}; valid names: {sorted(valid)}.{hint}"


def _layer_shapes(net: HyperNetwork) -> list[tuple[int, int]]:
    return list(zip(net.layer_sizes[:-1], net.layer_sizes[1:]))


def _default_primary(net: HyperNetwork) -> None:
    for layer in ensemble_linears(net.primary):
        layer.reset_parameters()


@th.no_grad()
def init_kaiming(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """Naive initialisation: the primary network *and the heads* get PyTorch's ``nn.Linear`` default.

    The heads' fan-in is the latent width, so a generated weight's variance is set by the latent's scale
    and the latent width, not by the base layer's fan-in: Beck et al. (2022, claim 1) show this is badly
    scaled for the generated network and learns poorly. ``base_init`` is ignored.
    """
    for layer in ensemble_linears(net):
        layer.reset_parameters()


def _init_hyperl(net: HyperNetwork, primary_bound: Callable[[int], float]) -> None:
    for layer in ensemble_linears(net.primary):
        layer.reset_parameters()  # biases keep PyTorch's default
        nn.init.uniform_(layer.weight, -primary_bound(layer.in_features), primary_bound(layer.in_features))
    net.heads.bias.zero_()
    last = net.n_dynamic_layers - 1
    for i, sl in enumerate(net.head_slices):
        bound = 0.008 if i == last else 0.05
        for part in (sl.weight, sl.bias, sl.gain):
            if part is not None:
                nn.init.uniform_(net.heads.weight[..., part], -bound, bound)


@th.no_grad()
def init_hyperl(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """The published SA-Hyper code's scheme (Sarafian et al. 2021, TD3 variant).

    Primary weights ~ U(±1/(2√fan_in)), primary biases PyTorch's default; head weights ~ U(±0.05) for
    every dynamic layer but the last and U(±0.008) for the last; head biases 0. A hand-tuned
    approximation of "generated weights resemble Kaiming-uniform on average", not an exact match
    (docs/sources.md §4). ``base_init`` is ignored.
    """
    _init_hyperl(net, lambda fan_in: 1.0 / (2.0 * math.sqrt(fan_in)))


@th.no_grad()
def init_hyperl_sac(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """As :func:`init_hyperl`, with the SAC variant's primary weights ~ U(±1/√(2·fan_in))."""
    _init_hyperl(net, lambda fan_in: 1.0 / math.sqrt(2.0 * fan_in))


def hfi_gain(net: HyperNetwork, layer: int) -> float:
    """Hyperfan-in's gain: √2 for layers followed by ReLU, 1 for the linear output layer."""
    return 1.0 if layer == net.n_dynamic_layers - 1 else math.sqrt(2.0)


@th.no_grad()
def init_hfi(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """Hyperfan-in (Chang, Sacramento & Grewe, "Principled Weight Initialization for Hypernetworks", 2020).

    With ``d`` the latent width and ``gain`` from :func:`hfi_gain`: weight-head entries have variance
    ``gain² / (2·d·fan_in)`` and bias-head entries ``gain² / (2·d)``, so that the generated weight and
    bias each carry half of the variance-preserving budget. Gain heads and all head biases are 0.

    **Assumption**: latent entries have unit second moment, ``E[z_k²] = 1``; then the generated weights
    have variance ``gain² / (2·fan_in)``. The primary keeps PyTorch's default initialisation.
    ``base_init`` is ignored: HFI derives its own target (variance preservation).
    """
    _default_primary(net)
    d = net.latent_dim
    net.heads.bias.zero_()
    net.heads.weight.zero_()
    for i, ((fan_in, _), sl) in enumerate(zip(_layer_shapes(net), net.head_slices)):
        gain2 = hfi_gain(net, i) ** 2
        # Uniform with variance v has bound √(3v).
        w_bound = math.sqrt(3 * gain2 / (2 * d * fan_in))
        b_bound = math.sqrt(3 * gain2 / (2 * d))
        nn.init.uniform_(net.heads.weight[..., sl.weight], -w_bound, w_bound)
        nn.init.uniform_(net.heads.weight[..., sl.bias], -b_bound, b_bound)


@th.no_grad()
def init_bias_hyperinit(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """Bias-HyperInit (Beck, Jackson, Vuorio & Whiteson, "Hypernetworks in Meta-RL", CoRL 2022).

    The heads' weight matrix is 0 and their bias is one draw of the base network's initialisation, so at
    initialisation the generated network is that draw for *every* meta input; gains start at 0
    (``1 + g = 1``). The primary keeps PyTorch's default. Each member gets its own draw.
    """
    base = get_base_init(base_init)
    _default_primary(net)
    for member in range(net.n_members):
        layers = [(base.sample_weight(i, o), base.sample_bias(i, o)) for i, o in _layer_shapes(net)]
        net.set_base_network(layers, member=member)


@th.no_grad()
def init_weight_hyperinit(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """Weight-HyperInit (Beck et al., CoRL 2022).

    The heads' bias is 0; each latent unit's column of the head matrix (a row of our ``(latent, n_generated)``
    weight) is an independent draw of the base initialisation, scaled by ``1/√d`` (``d`` = latent width),
    so the generated weights vary with the input. Gain heads are 0.

    **Assumption**: latent entries have unit second moment, ``E[z_k²] = 1``; then every generated weight
    (and bias) has exactly the base initialisation's variance. (For a unit-*norm* latent, drop the 1/√d:
    that is the paper's unscaled construction.) The primary keeps PyTorch's default.
    """
    base = get_base_init(base_init)
    _default_primary(net)
    d = net.latent_dim
    net.heads.bias.zero_()
    net.heads.weight.zero_()
    scale = 1.0 / math.sqrt(d)
    for member in range(net.n_members):
        for (fan_in, fan_out), sl in zip(_layer_shapes(net), net.head_slices):
            for k in range(d):
                net.heads.weight[member, k, sl.weight] = base.sample_weight(fan_in, fan_out).t().reshape(-1) * scale
                net.heads.weight[member, k, sl.bias] = base.sample_bias(fan_in, fan_out) * scale


InitFn = Callable[[HyperNetwork, str], None]

INIT_SCHEMES: dict[str, InitFn] = {
    "kaiming": init_kaiming,
    "hyperl": init_hyperl,
    "hyperl-sac": init_hyperl_sac,
    "hfi": init_hfi,
    "bias-hyperinit": init_bias_hyperinit,
    "weight-hyperinit": init_weight_hyperinit,
}


def apply_init(net: HyperNetwork, scheme: str, base_init: str = "kaiming-uniform") -> None:
    """Initialise ``net`` in place with a named scheme.

    :param net: the hypernetwork
    :param scheme: a key of :data:`INIT_SCHEMES`
    :param base_init: a key of :data:`BASE_INITS` (target of the HyperInit schemes)
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(_unknown("init scheme", scheme, INIT_SCHEMES))
    get_base_init(base_init)  # validate even for schemes that ignore it
    INIT_SCHEMES[scheme](net, base_init)
