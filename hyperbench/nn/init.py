"""Named initialisation schemes for :class:`~hyperbench.nn.hypernet.HyperNetwork`.

A hypernetwork's *generated* weights are what the base (dynamic) network computes with, so "initialised
well" means the generated weights look like a standard initialisation of the base network. The schemes:

========================  =========================================================================
``kaiming``               naive: every layer, heads included, initialised like an ordinary ``nn.Linear``
``hyperl``                the published SA-Hyper code (Sarafian et al. 2021), TD3 variant
``hyperl-sac``            the same, with the SAC variant's primary scale
``hfi``                   hyperfan-in (Chang, Flokas & Lipson, ICLR 2020)
``bias-hyperinit``        Beck et al. (CoRL 2022): heads' weights 0, heads' biases = a base-init draw
``weight-hyperinit``      Beck et al. (CoRL 2022): heads' biases 0, heads' weight columns = base-init draws
========================  =========================================================================

The target base initialisation for the HyperInit schemes is selectable (:data:`BASE_INITS`).

**The unit-second-moment assumption.** HFI and Weight-HyperInit scale the heads for a latent ``e`` (the
primary network's output) with ``E[e_k²] = 1``. That is false for a primary at PyTorch's default
initialisation (``E[e²] ≈ 0.02–0.07`` for a standardised input, measured on the ``lite`` and ``paper``
presets) and false again for raw inputs (a state feature with std 5 multiplies it by ≈ 25). For these two
schemes (:data:`UNIT_LATENT_SCHEMES`) the assumption is made true by two documented pieces:

1. the meta input is standardised with running statistics
   (:class:`~hyperbench.nn.normalize.RunningNormalizer`, on by default for these schemes), as Beck et al.'s
   code does, so the primary always sees zero-mean, unit-variance features — for raw states, one-hot ids,
   posterior statistics and recurrent states alike, at initialisation and as the input drifts in training;
2. the primary is initialised to carry that unit second moment to the latent
   (:func:`init_unit_latent_primary`): variance-preserving stage projections, residual branches that start
   at zero (Goyal et al. 2017; Zhang, Dauphin & Ma, Fixup, ICLR 2019), and a gain of √2 before the final
   ReLU, so ``E[e_k²] = 1`` in expectation over the draw.

Both are what an experimenter would check by hand; ``hyperbench diagnose init`` measures the result for any
preset and meta-input distribution. ``kaiming``, ``hyperl``/``hyperl-sac`` and ``bias-hyperinit`` are
unchanged (no normaliser unless asked for, PyTorch-default or published primaries).

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
from hyperbench.nn.layers import EnsembleLinear, EnsembleResBlock, ensemble_linears


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
    bias_variance: Callable[[int, int], float]
    """``(fan_in, fan_out) -> Var(b_i)``"""


def _uniform(shape: tuple[int, ...], bound: float) -> th.Tensor:
    return th.empty(shape).uniform_(-bound, bound)


BASE_INITS: dict[str, BaseInit] = {
    # PyTorch's nn.Linear default, kaiming_uniform_(a=√5): U(±1/√fan_in), Var = 1/(3·fan_in); bias alike.
    "kaiming-uniform": BaseInit(
        "kaiming-uniform",
        weight_variance=lambda fan_in, fan_out: 1.0 / (3.0 * fan_in),
        sample_weight=lambda fan_in, fan_out: _uniform((fan_out, fan_in), 1.0 / math.sqrt(fan_in)),
        sample_bias=lambda fan_in, fan_out: _uniform((fan_out,), 1.0 / math.sqrt(fan_in)),
        bias_variance=lambda fan_in, fan_out: 1.0 / (3.0 * fan_in),
    ),
    # He et al. 2015 for ReLU: N(0, 2/fan_in), bias 0.
    "kaiming-normal": BaseInit(
        "kaiming-normal",
        weight_variance=lambda fan_in, fan_out: 2.0 / fan_in,
        sample_weight=lambda fan_in, fan_out: th.randn(fan_out, fan_in) * math.sqrt(2.0 / fan_in),
        sample_bias=lambda fan_in, fan_out: th.zeros(fan_out),
        bias_variance=lambda fan_in, fan_out: 0.0,
    ),
    # Glorot & Bengio 2010: U(±√(6/(fan_in+fan_out))), bias 0.
    "xavier-uniform": BaseInit(
        "xavier-uniform",
        weight_variance=lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
        sample_weight=lambda fan_in, fan_out: _uniform((fan_out, fan_in), math.sqrt(6.0 / (fan_in + fan_out))),
        sample_bias=lambda fan_in, fan_out: th.zeros(fan_out),
        bias_variance=lambda fan_in, fan_out: 0.0,
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


def _uniform_(tensor: th.Tensor, variance: float) -> None:
    bound = math.sqrt(3.0 * variance)  # U(±b) has variance b²/3
    nn.init.uniform_(tensor, -bound, bound)


@th.no_grad()
def init_unit_latent_primary(net: HyperNetwork) -> None:
    """Initialise the primary so that a standardised meta input gives a latent with ``E[e_k²] = 1``.

    The primary is ``Linear → ResBlocks → Linear → ResBlocks → … → ReLU`` on a residual stream that is not
    passed through a ReLU between stages. With every bias 0:

    * each stage's input projection has weight variance ``1/fan_in`` (the stream keeps the input's second
      moment; the input is unit-variance per feature after the meta-input normaliser), except the last,
      which has ``2/fan_in`` to pay for the final ReLU, which halves the second moment of a symmetric input;
    * in each residual block ``x + fc2(ReLU(fc1(ReLU(x))))`` ``fc1`` is He-initialised (variance
      ``2/fan_in``) and ``fc2`` is zero, so every block is the identity at initialisation (zero-initialised
      residual branches: Goyal et al. 2017; Fixup, Zhang, Dauphin & Ma, ICLR 2019). ``fc2`` receives
      gradient from the first step, ``fc1`` from the second.

    Then ``E[e_k²] = 1`` in expectation over the draw, for any standardised input distribution (correlated
    or one-hot features included; a low-rank input makes the finite-width spread larger, see the tests).
    """
    stage_projections = [m for m in net.primary.layers if isinstance(m, EnsembleLinear)]
    for i, layer in enumerate(stage_projections):
        gain2 = 2.0 if i == len(stage_projections) - 1 else 1.0
        _uniform_(layer.weight, gain2 / layer.in_features)
        layer.bias.zero_()
    for block in net.primary.layers:
        if isinstance(block, EnsembleResBlock):
            _uniform_(block.fc1.weight, 2.0 / block.fc1.in_features)
            block.fc1.bias.zero_()
            block.fc2.weight.zero_()
            block.fc2.bias.zero_()


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
    every dynamic layer but the last and U(±0.008) for the last; head biases 0. ``base_init`` is ignored
    (sources: docs/sources.md §4).

    The paper describes the result as resembling Kaiming initialisation on average; measured, it is far
    smaller: for meta inputs ~ N(0, 1) and the dynamic network 6 → 256 → 1, the generated weights' variance
    is ≈ 1.4–2.1% of Kaiming-uniform's ``1/(3·fan_in)`` in both layers with the ``lite`` primary and
    ≈ 1.7–1.9% with ``paper`` (seeds 0–2; ``hyperbench diagnose init --init hyperl``). Kept exactly as
    published: it is the configuration whose results the paper reports.
    """
    _init_hyperl(net, lambda fan_in: 1.0 / (2.0 * math.sqrt(fan_in)))


@th.no_grad()
def init_hyperl_sac(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """As :func:`init_hyperl`, with the SAC variant's primary weights ~ U(±1/√(2·fan_in)).

    Measured as for :func:`init_hyperl`: generated-weight variance ≈ 3.5–4.8% (``lite``) and ≈ 5.4–6.4%
    (``paper``) of Kaiming-uniform's.
    """
    _init_hyperl(net, lambda fan_in: 1.0 / math.sqrt(2.0 * fan_in))


def hfi_gain(net: HyperNetwork, layer: int) -> float:
    """Hyperfan-in's gain: √2 for layers followed by ReLU, 1 for the linear output layer."""
    return 1.0 if layer == net.n_dynamic_layers - 1 else math.sqrt(2.0)


@th.no_grad()
def init_hfi(net: HyperNetwork, base_init: str = "kaiming-uniform") -> None:
    """Hyperfan-in (Chang, Flokas & Lipson, "Principled Weight Initialization for Hypernetworks", ICLR 2020).

    With ``d`` the latent width and ``gain`` from :func:`hfi_gain`: weight-head entries have variance
    ``gain² / (2·d·fan_in·E[e²])`` and bias-head entries ``gain² / (2·d·E[e²])``, so that the generated
    weight and bias each carry half of the variance-preserving budget: generated weights have variance
    ``gain² / (2·fan_in)``, generated biases ``gain² / 2``. Gain heads and all head biases are 0.

    **How E[e²] = 1 is made true**: the meta input is standardised by the network's running normaliser
    (``meta_norm``, on by default for this scheme) and the primary is :func:`init_unit_latent_primary`.
    ``base_init`` is ignored: HFI derives its own target (variance preservation, a larger scale than
    PyTorch's ``nn.Linear`` default, which shrinks a signal's second moment ≈ 6× per ReLU layer).
    """
    init_unit_latent_primary(net)
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

    With latent entries of unit second moment, ``E[e_k²] = 1``, every generated weight (and bias) has
    exactly the base initialisation's variance. (Beck et al.'s code leaves out the ``1/√d`` and reasons
    about a one-hot latent; for a latent of unit second moment per unit the ``1/√d`` is what matches.)

    **How E[e²] = 1 is made true**: as for :func:`init_hfi`, the running meta-input normaliser (on by
    default for this scheme) and :func:`init_unit_latent_primary`.
    """
    base = get_base_init(base_init)
    init_unit_latent_primary(net)
    d = net.latent_dim
    net.heads.bias.zero_()
    net.heads.weight.zero_()
    scale = 1.0 / math.sqrt(d)
    for member in range(net.n_members):
        for (fan_in, fan_out), sl in zip(_layer_shapes(net), net.head_slices):
            draws = [(base.sample_weight(fan_in, fan_out), base.sample_bias(fan_in, fan_out)) for _ in range(d)]
            net.heads.weight[member, :, sl.weight] = th.stack([w.t().reshape(-1) for w, _ in draws]) * scale
            net.heads.weight[member, :, sl.bias] = th.stack([b for _, b in draws]) * scale


InitFn = Callable[[HyperNetwork, str], None]

#: Schemes whose head scales assume a unit-second-moment latent. A :class:`HyperNetwork` with one of these
#: standardises its meta input by default (``meta_norm=None``) and initialises its primary with
#: :func:`init_unit_latent_primary`.
UNIT_LATENT_SCHEMES: frozenset[str] = frozenset({"hfi", "weight-hyperinit"})

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


@dataclass(frozen=True)
class LayerTarget:
    """What one generated layer should look like at initialisation under a scheme."""

    fan_in: int
    fan_out: int
    weight_variance: float
    """target ``Var(W_ij)``"""
    bias_variance: float
    """target ``Var(b_i)``"""
    sample: Callable[[], tuple[th.Tensor, th.Tensor]]
    """draw ``(weight (out, in), bias (out,))`` of an ``nn.Linear`` at the target, for a reference MLP"""


def _hfi_target(fan_in: int, fan_out: int, gain: float) -> LayerTarget:
    w_var, b_var = gain**2 / (2 * fan_in), gain**2 / 2

    def sample() -> tuple[th.Tensor, th.Tensor]:
        w, b = th.empty(fan_out, fan_in), th.empty(fan_out)
        _uniform_(w, w_var)
        _uniform_(b, b_var)
        return w, b

    return LayerTarget(fan_in, fan_out, w_var, b_var, sample)


def _base_target(fan_in: int, fan_out: int, base: BaseInit) -> LayerTarget:
    return LayerTarget(
        fan_in,
        fan_out,
        base.weight_variance(fan_in, fan_out),
        base.bias_variance(fan_in, fan_out),
        lambda: (base.sample_weight(fan_in, fan_out), base.sample_bias(fan_in, fan_out)),
    )


def init_targets(net: HyperNetwork) -> list[LayerTarget]:
    """The per-layer target of ``net``'s scheme: HFI's own variance-preserving target for ``hfi``, the
    ``base_init`` for the HyperInit schemes, and, as the nominal reference, ``base_init`` (PyTorch's
    ``nn.Linear`` default unless changed) for ``kaiming``, ``hyperl`` and ``hyperl-sac``.
    """
    if net.init_scheme == "hfi":
        return [_hfi_target(i, o, hfi_gain(net, k)) for k, (i, o) in enumerate(_layer_shapes(net))]
    base = get_base_init(net.base_init)
    return [_base_target(i, o, base) for i, o in _layer_shapes(net)]
