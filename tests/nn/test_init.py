"""The generated network's statistics at initialisation, per scheme (Beck et al. 2022; Chang, Flokas & Lipson 2020).

The HFI / Weight-HyperInit / Bias-HyperInit checks through the real primary and real meta inputs are in
``test_init_real_inputs.py``; this file covers the base-initialisation targets, the naive and published
schemes, and the error messages."""

from __future__ import annotations

import math

import pytest
import torch as th

from hyperbench.nn import BASE_INITS, HyperNetwork, get_base_init

META, BASE, OUT, HIDDEN = 11, 6, 1, (128, 64)


def make(init: str, base_init: str = "kaiming-uniform", primary: str | tuple[int, ...] = "lite") -> HyperNetwork:
    th.manual_seed(0)
    return HyperNetwork(META, BASE, OUT, dynamic_hidden=HIDDEN, primary=primary, init=init, base_init=base_init)


def layer_shapes(net: HyperNetwork) -> list[tuple[int, int]]:
    return list(zip(net.layer_sizes[:-1], net.layer_sizes[1:]))


@pytest.mark.parametrize("base_init", sorted(BASE_INITS))
def test_bias_hyperinit_is_one_draw_of_the_target(base_init: str) -> None:
    net = make("bias-hyperinit", base_init)
    params = net.generate(th.randn(64, META) * 3.0)
    target = get_base_init(base_init)
    for (fan_in, fan_out), p in zip(layer_shapes(net), params):
        # Identical for every meta input ...
        assert th.equal(p.weight, p.weight[:, :1].expand_as(p.weight))
        assert th.equal(p.bias, p.bias[:, :1].expand_as(p.bias))
        assert p.gain is not None and th.count_nonzero(p.gain) == 0
        # ... and a draw of the target: per-layer variance within 10%.
        var = p.weight[0, 0].var().item()
        expected = target.weight_variance(fan_in, fan_out)
        if fan_in * fan_out >= 256:  # the variance of a handful of numbers is itself too noisy to test
            assert var == pytest.approx(expected, rel=0.10), (fan_in, fan_out)


def test_bias_hyperinit_draws_are_independent_per_member() -> None:
    th.manual_seed(0)
    net = HyperNetwork(META, BASE, OUT, n_members=2, init="bias-hyperinit")
    w = net.generate(th.randn(4, META))[0].weight
    assert not th.allclose(w[0], w[1])


def test_naive_kaiming_is_badly_scaled() -> None:
    """Claim 1 of Beck et al.: naive init does not give the generated network a standard scale.

    A generated weight's variance is set by the latent's second moment and the latent width — the same
    for every dynamic layer — instead of shrinking with each layer's fan-in. Measured (3 seeds, meta ~
    N(0, 1), dynamic 6→128→64→1), as a multiple of the Kaiming-uniform target per layer:
    lite ≈ [0.43–0.48, 8.9–10.9, 4.3–5.4], paper ≈ [0.15, 3.1–3.4, 1.4–1.6].
    """
    net = make("kaiming")
    params = net.generate(th.randn(2048, META))
    target = get_base_init("kaiming-uniform")
    ratios = [p.weight.var().item() / target.weight_variance(fi, fo) for (fi, fo), p in zip(layer_shapes(net), params)]
    assert ratios[0] < 0.7  # the input layer is under-scaled ...
    assert ratios[1] > 4.0  # ... the wide hidden layer over-scaled by about an order of magnitude ...
    assert max(ratios) / min(ratios) > 10.0  # ... where a standard init has ratio 1 in every layer.


@pytest.mark.parametrize(("preset", "low", "high"), [("lite", 0.01, 0.03), ("paper", 0.012, 0.025)])
def test_hyperl_generated_weights_are_about_2_percent_of_kaiming(preset: str, low: float, high: float) -> None:
    """The published scheme is said to resemble Kaiming on average; measured (seeds 0–2, meta ~ N(0, 1),
    dynamic 6 → 256 → 1), its generated-weight variance is 1.4–2.1% (lite) and 1.7–1.9% (paper) of
    Kaiming-uniform's in both layers."""
    th.manual_seed(0)
    net = HyperNetwork(17, 6, 1, dynamic_hidden=(256,), primary=preset, init="hyperl")
    with th.no_grad():
        params = net.generate(th.randn(512, 17))
    for (fan_in, fan_out), p in zip(layer_shapes(net), params):
        ratio = p.weight.var().item() / get_base_init("kaiming-uniform").weight_variance(fan_in, fan_out)
        assert low < ratio < high, (fan_in, ratio)


def test_hyperl_matches_published_scales() -> None:
    net = make("hyperl")
    last = net.head_slices[-1]
    first = net.head_slices[0]
    assert net.heads.weight[..., first.weight].abs().max() <= 0.05
    assert net.heads.weight[..., last.weight].abs().max() <= 0.008
    assert net.heads.weight[..., last.weight].abs().max() > 0.007
    assert th.count_nonzero(net.heads.bias) == 0
    for layer in net.primary.layers.modules():
        if hasattr(layer, "weight") and layer.weight.dim() == 3:
            assert layer.weight.abs().max() <= 1 / (2 * math.sqrt(layer.in_features))


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"bias-hyperinit.*Did you mean 'bias-hyperinit'"):
        make("bias-hyperint")
    with pytest.raises(ValueError, match="valid names"):
        make("bias-hyperinit", base_init="kaiming")
    with pytest.raises(ValueError, match="lite"):
        make("hyperl", primary="lit")
