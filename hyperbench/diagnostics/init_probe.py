"""Probe a hypernetwork's initialisation on the meta inputs it will really see (``hyperbench diagnose init``).

A hypernetwork is initialised well when the network it *generates* looks like a standard initialisation of
that network (Beck et al., CoRL 2022; Chang, Flokas & Lipson, ICLR 2020). Whether it does depends on the
meta inputs, so :func:`probe_init` builds the network, shows it a sample of meta inputs (Gaussian, the
states of a random policy in a Gymnasium environment, or a ``.npy`` file) and measures, per generated
layer:

* the variance of the generated weights (pooled over inputs and entries) as a ratio to the scheme's target
  (:func:`hyperbench.nn.init.init_targets`), and the same for the biases where the target is not 0;
* the share of that variance that depends on the meta input: ``mean_j Var_z(W_j(z)) / Var_{j,z}(W)``
  (0 for Bias-HyperInit, whose generated network is the same for every input);

and for the whole generated network, the variance of its output on base inputs ``x ~ N(0, I)`` as a ratio
to that of same-shape MLPs drawn from the target (and from ``nn.Linear``'s default). A network with a
meta-input normaliser is first calibrated on the sample: that is what the normaliser does with the first
training batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from torch import nn

__all__ = ["InitProbe", "LayerProbe", "env_meta_inputs", "load_meta_inputs", "plot_probes", "probe_init", "save_probes"]


@dataclass
class LayerProbe:
    """Statistics of one generated layer ``fan_in → fan_out``."""

    fan_in: int
    fan_out: int
    weight_variance: float
    """variance of the generated weights, pooled over meta inputs, members and entries"""
    target_weight_variance: float
    weight_ratio: float
    """``weight_variance / target_weight_variance`` (1 = on target)"""
    z_share: float
    """share of the weight variance that depends on the meta input (0: the same weights for every input)"""
    bias_variance: float
    target_bias_variance: float
    bias_ratio: float | None
    """``bias_variance / target_bias_variance``; ``None`` where the target bias is 0"""
    identical_across_inputs: bool
    """the generated weights and biases are exactly equal for every meta input"""


@dataclass
class InitProbe:
    """Outcome of :func:`probe_init` for one (primary, scheme, meta-input sample)."""

    label: str
    preset: str
    init: str
    meta_norm: bool
    latent_second_moment: float
    """``E[e²]`` of the primary's output (HFI and Weight-HyperInit assume 1)"""
    layers: list[LayerProbe]
    output_variance: float
    """variance of the generated network's output on ``x ~ N(0, I)``, pooled over inputs and members"""
    reference_output_variance: float
    """the same for same-shape MLPs drawn from the scheme's target"""
    default_mlp_output_variance: float
    """the same for same-shape ``nn.Linear`` MLPs at PyTorch's default initialisation"""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def output_ratio(self) -> float:
        """Output variance relative to the target MLP's (1 = like a standard network at the target)."""
        return self.output_variance / self.reference_output_variance

    @property
    def output_ratio_default(self) -> float:
        """Output variance relative to a default ``nn.Linear`` MLP's."""
        return self.output_variance / self.default_mlp_output_variance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (with the two output ratios)."""
        data = dataclasses.asdict(self)
        data.update(output_ratio=self.output_ratio, output_ratio_default=self.output_ratio_default)
        return data

    def table(self) -> str:
        """Human-readable per-layer table."""
        lines = [
            f"{self.label}: E[latent²] = {self.latent_second_moment:.3g}, meta_norm={self.meta_norm}",
            f"  {'layer':<12} {'Var W/target':>12} {'Var b/target':>12} {'z-share':>8}",
        ]
        for lp in self.layers:
            bias = f"{lp.bias_ratio:.3g}" if lp.bias_ratio is not None else "-"
            z = "0 (same)" if lp.identical_across_inputs else f"{lp.z_share:.2f}"
            lines.append(f"  {f'{lp.fan_in}->{lp.fan_out}':<12} {lp.weight_ratio:>12.3g} {bias:>12} {z:>8}")
        lines.append(
            f"  output variance / target MLP's: {self.output_ratio:.3g}   / default nn.Linear MLP's: "
            f"{self.output_ratio_default:.3g}"
        )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------- meta inputs
def load_meta_inputs(path: str | Path) -> np.ndarray:
    """Load a ``(n, meta_dim)`` sample of meta inputs from a ``.npy`` file (never unpickled).

    :raises ValueError: if the file is not a 2-D numeric array of at least 2 finite rows
    """
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"{path}: meta inputs must be a .npy file (np.save(path, array) with shape (n, meta_dim))")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise ValueError(f"{path}: not a plain numeric .npy array ({exc}); save a float array instead") from exc
    return _check_meta_array(array, str(path))


def _check_meta_array(array: np.ndarray, source: str) -> np.ndarray:
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{source}: expected a real numeric array of shape (n, meta_dim), got {array.dtype} {array.shape}")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise ValueError(f"{source}: need at least 2 samples of at least 1 feature, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{source}: contains NaN or infinite values")
    return array.astype(np.float32)


def env_meta_inputs(env_id: str, n: int = 512, seed: int = 0) -> np.ndarray:
    """States visited by a uniform-random policy in a Gymnasium environment, ``(n, obs_dim)``.

    Dict observations (e.g. the contextual mode of hyperbench's families) are flattened. hyperbench's own
    environments (``hyperbench/...``) are registered on import.

    :param env_id: a registered Gymnasium id, e.g. ``"HalfCheetah-v5"``
    :param n: number of states
    :param seed: seed of the environment and of the random policy
    """
    import gymnasium as gym

    import hyperbench.envs  # noqa: F401  (registers hyperbench/...)

    try:
        env = gym.make(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"cannot make Gymnasium environment {env_id!r}: {exc}") from exc
    try:
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        states = []
        for _ in range(n):
            states.append(gym.spaces.flatten(env.observation_space, obs))
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, _ = env.reset()
    finally:
        env.close()
    return _check_meta_array(np.asarray(states, dtype=np.float64), env_id)


# ---------------------------------------------------------------------------------------- the probe
def _pooled_variance(x: th.Tensor) -> float:
    return float(x.double().var(unbiased=False))


def _mlp_output_variance(targets: Sequence[Any], x: th.Tensor, n_draws: int, default: bool) -> float:
    outs = []
    for _ in range(n_draws):
        h = x
        for k, t in enumerate(targets):
            if default:
                linear = nn.Linear(t.fan_in, t.fan_out)
                w, b = linear.weight.detach(), linear.bias.detach()
            else:
                w, b = t.sample()
            h = h @ w.t() + b
            if k != len(targets) - 1:
                h = th.relu(h)
        outs.append(h)
    return _pooled_variance(th.stack(outs))


@th.no_grad()
def probe_init(
    meta: np.ndarray | th.Tensor,
    init: str = "weight-hyperinit",
    preset: str | Sequence[int] = "lite",
    *,
    base_dim: int = 6,
    out_dim: int = 1,
    dynamic_hidden: Sequence[int] = (256,),
    base_init: str = "kaiming-uniform",
    meta_norm: bool | None = None,
    n_members: int = 4,
    n_reference: int = 64,
    seed: int = 0,
    label: str | None = None,
) -> InitProbe:
    """Build ``HyperNetwork(meta_dim, base_dim, out_dim, …)`` and measure its initialisation on ``meta``.

    :param meta: meta-input sample ``(n, meta_dim)``, ``n ≥ 2`` (e.g. :func:`env_meta_inputs`)
    :param init: initialisation scheme (:data:`hyperbench.nn.INIT_SCHEMES`)
    :param preset: primary preset or custom widths
    :param base_dim: base input size of the generated network (an SA-Hyper critic: the action size)
    :param out_dim: output size of the generated network
    :param dynamic_hidden: hidden widths of the generated network
    :param base_init: target of the HyperInit schemes (:data:`hyperbench.nn.BASE_INITS`)
    :param meta_norm: the network's meta-input normaliser (``None``: the scheme's default)
    :param n_members: independent draws of the network, pooled (one draw of a small layer is noisy)
    :param n_reference: MLPs drawn for each reference output variance
    :param seed: torch seed of the network, the base inputs and the reference MLPs
    :param label: name in tables and plots (default ``"<preset> <init>"``)
    """
    from hyperbench.nn import HyperNetwork
    from hyperbench.nn.init import init_targets

    meta_np = _check_meta_array(np.asarray(meta.detach().cpu() if isinstance(meta, th.Tensor) else meta), "meta inputs")
    z = th.as_tensor(meta_np, dtype=th.float32)
    preset_value: str | tuple[int, ...] = preset if isinstance(preset, str) else tuple(int(w) for w in preset)
    preset_name = preset_value if isinstance(preset_value, str) else "x".join(map(str, preset_value))
    with th.random.fork_rng(devices=[]):
        th.manual_seed(seed)
        net = HyperNetwork(
            z.shape[1],
            base_dim,
            out_dim,
            dynamic_hidden=tuple(dynamic_hidden),
            primary=preset_value,
            n_members=n_members,
            init=init,
            base_init=base_init,
            meta_norm=meta_norm,
        )
        net.eval()
        net.update_meta_stats(z)  # what the normaliser does with the first training batch; no-op without one
        latent = net.latent(z)
        params = net.generate_from_latent(latent)
        x = th.randn(z.shape[0], base_dim)
        out = net.dynamic_forward(params, x)
        targets = init_targets(net)
        reference = _mlp_output_variance(targets, x, n_reference, default=False)
        default = _mlp_output_variance(targets, x, n_reference, default=True)

    layers = []
    for p, t in zip(params, targets):
        w = p.weight.double()  # (E, B, in, out)
        total = _pooled_variance(w)
        per_entry = w.var(dim=1, unbiased=False).mean()  # Var over meta inputs, averaged over members and entries
        bias_var = _pooled_variance(p.bias)
        identical = bool(th.equal(p.weight, p.weight[:, :1].expand_as(p.weight))) and bool(
            th.equal(p.bias, p.bias[:, :1].expand_as(p.bias))
        )
        layers.append(
            LayerProbe(
                fan_in=t.fan_in,
                fan_out=t.fan_out,
                weight_variance=total,
                target_weight_variance=t.weight_variance,
                weight_ratio=total / t.weight_variance,
                z_share=float(per_entry) / total if total > 0 else 0.0,
                bias_variance=bias_var,
                target_bias_variance=t.bias_variance,
                bias_ratio=bias_var / t.bias_variance if t.bias_variance > 0 else None,
                identical_across_inputs=identical,
            )
        )
    return InitProbe(
        label=label or f"{preset_name} {init}",
        preset=preset_name,
        init=init,
        meta_norm=net.meta_norm,
        latent_second_moment=float(latent.double().square().mean()),
        layers=layers,
        output_variance=_pooled_variance(out),
        reference_output_variance=reference,
        default_mlp_output_variance=default,
        settings={
            "n_meta_inputs": int(z.shape[0]),
            "meta_dim": int(z.shape[1]),
            "meta_mean_abs": float(z.mean(0).abs().mean()),
            "meta_std_mean": float(z.std(0).mean()),
            "dynamic": list(net.layer_sizes),
            "base_init": base_init,
            "n_members": n_members,
            "n_reference": n_reference,
            "seed": seed,
        },
    )


# ---------------------------------------------------------------------------------------- outputs
def save_probes(probes: Sequence[InitProbe], path: str | Path, source: str = "") -> None:
    """Write the probes as JSON (atomically).

    :param probes: results of :func:`probe_init`
    :param path: output ``.json``
    :param source: description of the meta inputs, stored with the results
    """
    from hyperbench.bench.files import atomic_write_json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"meta_inputs": source, "probes": [p.to_dict() for p in probes]})


def plot_probes(probes: Sequence[InitProbe], path: str | Path, title: str = "") -> None:
    """Bar charts of the per-layer weight-variance ratio, the z-dependent share and the output ratio.

    :param probes: results of :func:`probe_init`
    :param path: output ``.png``
    :param title: figure title (e.g. the meta-input source)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_layers = max(len(p.layers) for p in probes)
    fig, axes = plt.subplots(1, 3, figsize=(15, 0.4 * len(probes) + 3.2))
    y = np.arange(len(probes))
    height = 0.8 / n_layers
    for k in range(n_layers):
        ratios = [p.layers[k].weight_ratio if k < len(p.layers) else math.nan for p in probes]
        shares = [p.layers[k].z_share if k < len(p.layers) else math.nan for p in probes]
        name = f"layer {k}"
        axes[0].barh(y + k * height, ratios, height=height, label=name)
        axes[1].barh(y + k * height, shares, height=height, label=name)
    axes[0].set_xscale("log")
    axes[0].axvspan(0.75, 1.25, color="green", alpha=0.15, label="target ±25%")
    axes[0].axvline(1.0, color="green")
    axes[0].set_xlabel("generated-weight variance / target")
    axes[1].set_xlim(0, 1)
    axes[1].set_xlabel("share of the variance that depends on the meta input")
    axes[2].barh(y, [p.output_ratio for p in probes], height=0.8, color="tab:purple")
    axes[2].set_xscale("log")
    axes[2].axvspan(0.5, 2.0, color="green", alpha=0.15, label="within 2×")
    axes[2].axvline(1.0, color="green")
    axes[2].set_xlabel("output variance / same-shape MLP at the target")
    for ax in axes:
        ax.set_yticks(y + 0.4 - height / 2)
        ax.set_yticklabels([p.label for p in probes], fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
