"""Hypernetworks: a primary network turns a meta input into the weights of a per-sample dynamic MLP.

Sarafian, Keynan & Kraus (ICML 2021), "Recomposing the Reinforcement Learning Building Blocks with
Hypernetworks": for a pair (z, x) the primary network maps the meta variable z to a latent, linear heads
map the latent to the weights ``W_l(z)``, biases ``b_l(z)`` and gains ``g_l(z)`` of every dynamic layer,
and the dynamic network evaluates, per sample,

    x_{l+1} = act((1 + g_l(z)) ⊙ (x_l W_l(z)) + b_l(z))

with a linear output layer (own gain and bias). All heads are *fused*: one matmul produces every generated
tensor of every dynamic layer. Every module carries a leading member dimension ``E`` so twin critics are
one module evaluated with batched matmuls (see :mod:`hyperbench.nn.layers`).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch as th
from torch import nn

from hyperbench.nn.layers import EnsembleLinear, EnsembleResBlock, n_evaluated
from hyperbench.nn.normalize import RunningNormalizer


@dataclass(frozen=True)
class PrimaryConfig:
    """Shape of the primary (meta input → latent) residual network.

    The network is ``Linear(meta, w_0) → blocks × ResBlock(w_0) → Linear(w_0, w_1) → ... → ReLU``; the
    latent width is the last entry of ``widths``.
    """

    widths: tuple[int, ...]
    """Width of each stage; the last one is the latent size."""
    blocks_per_width: int
    """Residual blocks after each stage's input projection."""


PRIMARY_PRESETS: dict[str, PrimaryConfig] = {
    # The published SA-Hyper primary: 256/512/1024 widths, two residual blocks each, latent 1024.
    "paper": PrimaryConfig(widths=(256, 512, 1024), blocks_per_width=2),
    # CPU-scale: ~1/50 of the paper primary's multiply-adds, same structure.
    "lite": PrimaryConfig(widths=(64, 128), blocks_per_width=1),
}


def resolve_primary(primary: str | Sequence[int] | PrimaryConfig, blocks_per_width: int | None = None) -> PrimaryConfig:
    """Turn a preset name, a sequence of widths or a :class:`PrimaryConfig` into a :class:`PrimaryConfig`.

    :param primary: ``"paper"``, ``"lite"``, custom widths such as ``(128, 256)``, or a config
    :param blocks_per_width: residual blocks per stage for custom widths (default 1)
    """
    if isinstance(primary, PrimaryConfig):
        return primary
    if isinstance(primary, str):
        if primary not in PRIMARY_PRESETS:
            close = difflib.get_close_matches(primary, PRIMARY_PRESETS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"Unknown primary preset {primary!r}; valid presets: {sorted(PRIMARY_PRESETS)}.{hint}")
        return PRIMARY_PRESETS[primary]
    widths = tuple(int(w) for w in primary)
    if not widths or min(widths) < 1:
        raise ValueError(f"Primary widths must be a non-empty sequence of positive ints, got {primary!r}")
    return PrimaryConfig(widths=widths, blocks_per_width=1 if blocks_per_width is None else blocks_per_width)


class PrimaryNetwork(nn.Module):
    """Residual primary network, meta input ``(E, B, meta_dim)`` → latent ``(E, B, widths[-1])``.

    :param n_members: independent members ``E``
    :param meta_dim: meta input size
    :param config: stage widths and blocks
    :param meta_norm: standardise the meta input with running statistics first
        (:class:`~hyperbench.nn.normalize.RunningNormalizer`, shared by the members)
    :param meta_norm_momentum: the normaliser's ``momentum`` (``None``: exact running statistics)
    """

    def __init__(
        self,
        n_members: int,
        meta_dim: int,
        config: PrimaryConfig,
        meta_norm: bool = False,
        meta_norm_momentum: float | None = None,
    ) -> None:
        super().__init__()
        self.n_members = n_members
        # Inside the primary (not in HyperNetwork.latent) so that every caller of the primary — including
        # functional calls on it, as Hyper-MAML's inner loop makes — sees the same normalised input.
        self.meta_norm = RunningNormalizer(meta_dim, momentum=meta_norm_momentum) if meta_norm else None
        layers: list[nn.Module] = []
        in_width = meta_dim
        for width in config.widths:
            layers.append(EnsembleLinear(n_members, in_width, width))
            layers.extend(EnsembleResBlock(n_members, width) for _ in range(config.blocks_per_width))
            in_width = width
        self.layers = nn.Sequential(*layers)
        self.latent_dim = in_width

    def forward(self, meta: th.Tensor) -> th.Tensor:
        """:param meta: ``(E, B, meta_dim)``, or ``(e, B, meta_dim)`` for the first ``e`` members only
        :return: ``(E, B, latent_dim)`` (``(e, B, latent_dim)``)"""
        if self.meta_norm is not None:
            n = meta.shape[0]
            if n < self.n_members:
                # The first members of a shared input (TD3's actor loss): the running statistics take the
                # batch as a full evaluation would, so reading fewer members leaves them exactly as before.
                meta = self.meta_norm(meta[:1].expand(self.n_members, *meta.shape[1:]))[:n]
            else:
                meta = self.meta_norm(meta)
        return th.relu_(self.layers(meta))  # in place: the last layer's output is not needed by its backward


class DynamicLayerParams(NamedTuple):
    """Generated parameters of one dynamic layer, for every member and sample."""

    weight: th.Tensor
    """``(E, B, in, out)``"""
    bias: th.Tensor
    """``(E, B, out)``"""
    gain: th.Tensor | None
    """``(E, B, out)``, applied as ``1 + gain``; ``None`` when the network has no gain heads."""


class HeadSlices(NamedTuple):
    """Where one dynamic layer's tensors live in the fused head output."""

    weight: slice
    bias: slice
    gain: slice | None


def _per_sample_matmul(x: th.Tensor, weight: th.Tensor) -> th.Tensor:
    """``x[e, b] @ weight[e, b]`` for every member and sample: ``(E, B, in)``, ``(E, B, in, out)`` → ``(E, B, out)``.

    One batched matmul over the ``E·B`` samples (the generated weights are strided views of the heads' output,
    so nothing is copied); a single output is a per-sample dot product. Both are 2-4x faster on CPU, forward
    and backward, than a broadcast multiply of ``(E, B, in, out)`` and a sum, which allocates and reads a
    full-size product and its gradient (``benchmarks/bench_sb3.py`` records the measurements).
    """
    if weight.shape[-1] == 1:
        return (x * weight.squeeze(-1)).sum(-1, keepdim=True)
    return th.matmul(x.unsqueeze(-2), weight).squeeze(-2)


class HyperNetwork(nn.Module):
    """Primary network + fused heads + per-sample dynamic MLP (Sarafian et al. 2021, §4).

    ``forward(meta, base)`` returns ``(E, B, out_dim)``: member ``e``'s dynamic network, with weights
    generated from ``meta[b]``, applied to ``base[b]``.

    :param meta_dim: size of the meta input ``z`` (the state, for an SA-Hyper critic)
    :param base_dim: size of the base input ``x`` (the action, for an SA-Hyper critic)
    :param out_dim: output size of the dynamic network
    :param dynamic_hidden: hidden widths of the dynamic MLP (the paper uses one layer of 256)
    :param primary: preset name (``"paper"``, ``"lite"``), custom widths, or a :class:`PrimaryConfig`
    :param blocks_per_width: residual blocks per stage when ``primary`` is a sequence of widths
    :param n_members: independent networks evaluated together (2 for twin critics)
    :param use_gain: generate the multiplicative gain ``1 + g_l(z)`` of every dynamic layer
    :param init: initialisation scheme name, see :data:`hyperbench.nn.init.INIT_SCHEMES`
    :param base_init: target initialisation of the generated network for the HyperInit schemes
    :param activation: activation of the dynamic hidden layers
    :param meta_norm: standardise the meta input with running statistics before the primary network
        (:class:`~hyperbench.nn.normalize.RunningNormalizer`). ``None`` (default): on for the schemes
        whose derivation assumes a standardised input (``hfi``, ``weight-hyperinit``, see
        :data:`hyperbench.nn.init.UNIT_LATENT_SCHEMES`), off for the others, which keeps them as published.
        Pass ``True`` to every scheme of a comparison that should differ in initialisation only.
    :param meta_norm_momentum: ``None``: exact running statistics (stationary inputs: states, task ids);
        a float: moving average for inputs that drift during training (a learned latent, a GRU state)
    """

    def __init__(
        self,
        meta_dim: int,
        base_dim: int,
        out_dim: int,
        dynamic_hidden: Sequence[int] = (256,),
        primary: str | Sequence[int] | PrimaryConfig = "lite",
        blocks_per_width: int | None = None,
        n_members: int = 1,
        use_gain: bool = True,
        init: str = "hyperl",
        base_init: str = "kaiming-uniform",
        activation: type[nn.Module] = nn.ReLU,
        meta_norm: bool | None = None,
        meta_norm_momentum: float | None = None,
    ) -> None:
        super().__init__()
        from hyperbench.nn.init import UNIT_LATENT_SCHEMES, apply_init  # local import: init.py imports this module

        for name, value in (("meta_dim", meta_dim), ("base_dim", base_dim), ("out_dim", out_dim), ("n_members", n_members)):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.meta_dim = int(meta_dim)
        self.base_dim = int(base_dim)
        self.out_dim = int(out_dim)
        self.n_members = int(n_members)
        self.use_gain = use_gain
        self.primary_config = resolve_primary(primary, blocks_per_width)
        self.layer_sizes: tuple[int, ...] = (self.base_dim, *(int(h) for h in dynamic_hidden), self.out_dim)
        self.activation = activation()

        self.meta_norm = init in UNIT_LATENT_SCHEMES if meta_norm is None else bool(meta_norm)
        self.primary = PrimaryNetwork(
            self.n_members, self.meta_dim, self.primary_config, meta_norm=self.meta_norm, meta_norm_momentum=meta_norm_momentum
        )
        self.head_slices: list[HeadSlices] = []
        offset = 0
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            w = slice(offset, offset + fan_in * fan_out)
            b = slice(w.stop, w.stop + fan_out)
            g = slice(b.stop, b.stop + fan_out) if use_gain else None
            offset = g.stop if g is not None else b.stop
            self.head_slices.append(HeadSlices(w, b, g))
        self.n_generated = offset
        self._split_sizes = [
            part.stop - part.start for sl in self.head_slices for part in (sl.weight, sl.bias, sl.gain) if part is not None
        ]
        self.heads = EnsembleLinear(self.n_members, self.primary.latent_dim, self.n_generated)

        self.init_scheme = init
        self.base_init = base_init
        apply_init(self, init, base_init=base_init)

    @property
    def latent_dim(self) -> int:
        """Width of the primary network's output (the heads' input)."""
        return self.primary.latent_dim

    @property
    def n_dynamic_layers(self) -> int:
        return len(self.layer_sizes) - 1

    # ------------------------------------------------------------------ input checks
    def _n_evaluated(self, members: int | None) -> int:
        """How many (leading) members an evaluation runs: ``members``, or all of them for ``None``."""
        return n_evaluated(members, self.n_members)

    def _as_members(self, x: th.Tensor, dim: int, what: str, members: int | None = None) -> th.Tensor:
        """Check ``x`` is ``(B, dim)`` or ``(e, B, dim)`` and return it as ``(e, B, dim)``, where ``e`` is
        ``members`` (the first ``e`` members are evaluated) or ``n_members``."""
        n = self._n_evaluated(members)
        param = self.heads.weight
        if not isinstance(x, th.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor of shape (batch, {dim}), got {type(x).__name__}")
        if x.dtype != param.dtype:
            raise TypeError(f"{what} has dtype {x.dtype}, expected {param.dtype} (the network's parameter dtype)")
        if x.dim() == 2 and x.shape[-1] == dim:
            return x.unsqueeze(0).expand(n, *x.shape)
        if x.dim() == 3 and x.shape[0] == n and x.shape[-1] == dim:
            return x
        raise ValueError(f"{what} has shape {tuple(x.shape)}, expected (batch, {dim}) or ({n}, batch, {dim})")

    # ------------------------------------------------------------------ meta-input statistics
    def update_meta_stats(self, meta: th.Tensor) -> None:
        """Merge a batch of meta inputs ``(B, meta_dim)`` (or ``(E, B, meta_dim)``) into the running statistics
        of the meta-input normaliser. A no-op for a network without one (``meta_norm=False``).

        In training mode the normaliser does this itself in every forward (unless its ``auto_update`` is
        off); call this to calibrate before the first forward or once per rollout.
        """
        if self.primary.meta_norm is not None:
            self.primary.meta_norm.update(self._as_members(meta, self.meta_dim, "meta input"))

    # ------------------------------------------------------------------ generation
    def latent(self, meta: th.Tensor, members: int | None = None) -> th.Tensor:
        """Primary network output ``(E, B, latent_dim)`` for meta input ``(B, meta_dim)`` or ``(E, B, meta_dim)``.

        :param members: evaluate only the first ``members`` members (output ``(members, B, latent_dim)``)
        """
        return self.primary(self._as_members(meta, self.meta_dim, "meta input", members))

    def generate_from_latent(self, latent: th.Tensor) -> list[DynamicLayerParams]:
        """Apply the fused heads to a latent ``(E, B, latent_dim)`` and split the result per dynamic layer."""
        flat = self.heads(latent)
        n_members, batch = flat.shape[:2]
        # One split (its backward is one concatenation) instead of per-tensor slicing (whose backward
        # zero-fills a full-size gradient for every slice).
        chunks = iter(flat.split(self._split_sizes, dim=-1))
        params = []
        for fan_in, fan_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            weight = next(chunks).view(n_members, batch, fan_in, fan_out)
            bias = next(chunks)
            gain = next(chunks) if self.use_gain else None
            params.append(DynamicLayerParams(weight, bias, gain))
        return params

    def generate(self, meta: th.Tensor, members: int | None = None) -> list[DynamicLayerParams]:
        """Weights, biases and gains of the dynamic network for every sample of ``meta``.

        :param members: generate only the first ``members`` members' networks
        """
        return self.generate_from_latent(self.latent(meta, members))

    # ------------------------------------------------------------------ dynamic network
    def dynamic_forward(self, params: Sequence[DynamicLayerParams], base: th.Tensor) -> th.Tensor:
        """Evaluate the per-sample dynamic MLP.

        :param params: output of :meth:`generate` (may be detached, e.g. for an actor update that must
            not back-propagate into the primary network)
        :param base: ``(B, base_dim)`` or ``(E, B, base_dim)``
        :return: ``(E, B, out_dim)`` (``E``: the members ``params`` were generated for)
        """
        x = self._as_members(base, self.base_dim, "base input", members=params[0].weight.shape[0])
        if x.shape[1] != params[0].weight.shape[1]:
            raise ValueError(
                f"base input has batch size {x.shape[1]}, but the weights were generated for batch {params[0].weight.shape[1]}"
            )
        last = len(params) - 1
        for i, (weight, bias, gain) in enumerate(params):
            h = _per_sample_matmul(x, weight)
            x = th.addcmul(bias, h, 1.0 + gain) if gain is not None else h + bias
            if i != last:
                x = self.activation(x)
        return x

    def forward(self, meta: th.Tensor, base: th.Tensor, members: int | None = None) -> th.Tensor:
        """:param meta: ``(B, meta_dim)`` or ``(E, B, meta_dim)``
        :param base: ``(B, base_dim)`` or ``(E, B, base_dim)``
        :param members: evaluate only the first ``members`` members (e.g. ``1`` for TD3's actor loss);
            the others are not computed at all
        :return: ``(E, B, out_dim)`` (``(members, B, out_dim)``)"""
        meta = self._as_members(meta, self.meta_dim, "meta input", members)
        base = self._as_members(base, self.base_dim, "base input", members)
        if meta.shape[1] != base.shape[1]:
            raise ValueError(f"meta input has batch size {meta.shape[1]} but base input has {base.shape[1]}")
        return self.dynamic_forward(self.generate(meta, members), base)

    # ------------------------------------------------------------------ fixed base network
    @th.no_grad()
    def set_base_network(self, weights: Sequence[tuple[th.Tensor, th.Tensor]], member: int | None = None) -> None:
        """Make the generated network a fixed MLP for every meta input (head weights 0, head biases = MLP).

        This is Bias-HyperInit's construction (Beck et al. 2022) and the hook for checking the dynamic
        forward against an ordinary MLP.

        :param weights: per dynamic layer ``(weight, bias)`` in ``nn.Linear`` layout ``(out, in)``, ``(out,)``
        :param member: member to set (default: all)
        """
        if len(weights) != self.n_dynamic_layers:
            raise ValueError(f"expected {self.n_dynamic_layers} (weight, bias) pairs, got {len(weights)}")
        members = range(self.n_members) if member is None else [member]
        for (fan_in, fan_out), sl, (w, b) in zip(zip(self.layer_sizes[:-1], self.layer_sizes[1:]), self.head_slices, weights):
            if tuple(w.shape) != (fan_out, fan_in) or tuple(b.shape) != (fan_out,):
                raise ValueError(
                    f"layer {fan_in}->{fan_out}: expected weight ({fan_out}, {fan_in}) and bias ({fan_out},), "
                    f"got {tuple(w.shape)} and {tuple(b.shape)}"
                )
            for e in members:
                self.heads.weight[e, :, sl.weight] = 0.0
                self.heads.weight[e, :, sl.bias] = 0.0
                self.heads.bias[e, 0, sl.weight] = w.t().reshape(-1).to(self.heads.bias)
                self.heads.bias[e, 0, sl.bias] = b.to(self.heads.bias)
                if sl.gain is not None:
                    self.heads.weight[e, :, sl.gain] = 0.0
                    self.heads.bias[e, 0, sl.gain] = 0.0

    def extra_repr(self) -> str:
        return (
            f"meta_dim={self.meta_dim}, dynamic={list(self.layer_sizes)}, primary={self.primary_config.widths}"
            f"x{self.primary_config.blocks_per_width}, n_members={self.n_members}, init={self.init_scheme!r}, "
            f"meta_norm={self.meta_norm}"
        )


def n_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
